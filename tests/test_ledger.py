"""The contact ledger: a call acknowledged is never lost and never counted twice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.core.timeutil import instants
from gatekeeper.dial.ledger import CallFacts, Ledger, LedgerIndex, call_facts, conform, facts_many
from gatekeeper.jurisdictions import IT
from gatekeeper.privacy.optouts import Journal

ROME = ZoneInfo(IT.timezone_name)


class Medium:
    """Where a test's ledger and journal live: data/ files, or a shared PostgreSQL store
    (both pass every test here but the torn line, which only a file can have)."""

    def __init__(self, folder: Path, url: str | None) -> None:
        self.folder, self.url = folder, url

    def ledger(self) -> Ledger:
        if self.url is None:
            return Ledger(self.folder / "ledger")
        from gatekeeper.shared import shared_store
        from gatekeeper.shared.ledger import SharedLedger

        return SharedLedger(shared_store(self.url), self.folder / "ledger")

    def journal(self) -> Journal:
        if self.url is None:
            return Journal(self.folder / "optouts.jsonl")
        from gatekeeper.shared import shared_store
        from gatekeeper.shared.journal import SharedJournal

        return SharedJournal(shared_store(self.url), self.folder / "optouts.jsonl")


@pytest.fixture(params=["files", "postgresql"])
def medium(request: pytest.FixtureRequest, tmp_path: Path) -> Medium:
    if request.param == "files":
        return Medium(tmp_path, None)
    from gatekeeper.shared import shared_store
    from gatekeeper.shared.schema import migrate

    url = request.getfixturevalue("shared_url")
    with shared_store(url).connection() as conn:
        migrate(conn)
    return Medium(tmp_path, url)

T0 = dt.datetime(2026, 11, 20, 9, 0)  # naive UTC
DAY = dt.timedelta(days=1)


def _calls(*rows: tuple[str, str, dt.datetime, str], agency: str = "callpro",
           direction: str = "outbound") -> pl.DataFrame:
    return conform(pl.DataFrame([{
        "agency": agency, "call_id": call_id, "phone": phone,
        "phone_key": int(phone.removeprefix("+")), "direction": direction,
        "started_at": at, "outcome": outcome, "recorded_at": T0, "via": "test",
        "agent": "a7"} for call_id, phone, at, outcome in rows]))


def test_a_call_reported_twice_is_stored_once_and_answered_as_first_stored(
        tmp_path: Path, medium: Medium) -> None:
    ledger = medium.ledger()
    LedgerIndex(ledger)  # the service's: the writer asks it what is held
    journal = medium.journal()
    first = ledger.record(_calls(("c1", "+393331234567", T0, "answered")), journal)
    assert first.stored.height == 1 and first.repeated.is_empty()
    again = ledger.record(_calls(("c1", "+393331234567", T0 + DAY, "sale"),
                                 ("c2", "+393331234567", T0, "busy")), journal)
    assert again.stored["call_id"].to_list() == ["c2"]
    assert again.repeated.select("call_id", "outcome").rows() == [("c1", "answered")]
    # The same call_id of another agency is another call.
    other = ledger.record(_calls(("c1", "+393331234567", T0, "answered"), agency="connecto"),
                          journal)
    assert other.stored.height == 1
    assert medium.ledger().calls().height == 3
    # One number's calls, some columns only (the service's calls.jsonl holds them).
    mine = medium.ledger().calls(int("393331234567"), columns=["call_id"])
    assert sorted(mine["call_id"].to_list()) == ["c1", "c1", "c2"]


def test_an_optout_outcome_records_the_objection_first(
        tmp_path: Path, medium: Medium) -> None:
    journal = medium.journal()
    medium.ledger().record(_calls(("c9", "+393331234567", T0, "optout")), journal)
    event = journal.read().events.row(0, named=True)
    assert (event["phone"], event["channel"], event["recorded_by"]) == (
        "+393331234567", "operator", "a7")
    assert event["at"] == T0  # received during the call


def test_an_objection_under_a_reused_call_id_is_recorded_once_and_the_clash_said(
        tmp_path: Path, medium: Medium) -> None:
    """A dialer that reuses call ids: the other person's "don't call me" must not be lost
    as a mere repeat, and resending it must not record it again (a withdrawal since would
    be undone); a true retry of a call is no clash at all."""
    journal = medium.journal()
    ledger = medium.ledger()
    LedgerIndex(ledger)

    def record(*rows: tuple[str, str, dt.datetime, str]) -> Any:
        return ledger.record(_calls(*rows), journal)

    def phones() -> list[str]:
        return journal.read().events["phone"].to_list()

    assert record(("c1", "+393331234567", T0, "answered")).stored.height
    retry = record(("c1", "+393331234567", T0, "answered"))
    assert (retry.stored.height, retry.clashes.height, retry.optouts) == (0, 0, 0)
    reused = record(("c1", "+393339999999", T0 + DAY, "optout"))
    assert reused.stored.is_empty() and reused.optouts == 1
    assert reused.clashes["phone"].to_list() == ["+393339999999"]
    assert reused.repeated["phone"].to_list() == ["+393331234567"]  # as first stored
    assert phones() == ["+393339999999"]
    resent = record(("c1", "+393339999999", T0 + DAY, "optout"))  # the dialer retries it
    assert resent.optouts == 0 and resent.clashes.height and phones() == ["+393339999999"]
    # Objected, withdrew, objected again on a later call that reused the id: recorded.
    assert record(("w1", "+393338888888", T0 - 20 * DAY, "optout")).optouts == 1
    again = record(("w1", "+393338888888", T0, "optout"))
    assert again.optouts == 1 and phones()[-2:] == ["+393338888888", "+393338888888"]
    # The same clash twice in one batch: one objection.
    both = record(("c2", "+393331111111", T0, "busy"), ("c2", "+393332222222", T0, "optout"),
                  ("c2", "+393332222222", T0, "optout"))
    assert both.stored.height == 1 and both.optouts == 1 and phones()[-1] == "+393332222222"
    # An export does the same: a reused id's objection (in the ledger, or earlier in the
    # file) is recorded, once, however often the export is sent again.
    files = medium.ledger()  # `calls import`: no index, the files are asked
    rows = _calls(("c1", "+393334444444", T0, "optout"), ("c1", "+393331234567", T0, "answered"),
                  ("c5", "+393335555555", T0, "busy"), ("c5", "+393336666666", T0, "optout"))
    before = len(phones())
    assert files.record(rows, journal, source="import:sha-x").stored.height == 1
    assert phones()[before:] == ["+393334444444", "+393336666666"]
    again = files.record(rows, journal, source="import:sha-y")  # re-exported
    assert (again.stored.height, again.repeated.height) == (0, 4)
    assert len(phones()) == before + 2


def test_requests_written_together_are_each_told_what_became_of_their_own_calls(
        tmp_path: Path, medium: Medium) -> None:
    """The service's requests arrive from many threads and are written together (one
    append, one fsync): each request is answered for its own calls only, a call two of
    them report is stored once (and repeated for the other, as first stored), and its
    objection is in the journal once."""
    from concurrent.futures import ThreadPoolExecutor

    ledger = medium.ledger()
    index = LedgerIndex(ledger)
    journal = medium.journal()
    shared = ("shared", "+393330000001", T0, "optout")

    def post(n: int) -> Any:
        return ledger.record(_calls((f"c{n}", f"+39333{1000000 + n}", T0, "busy"), shared),
                             journal)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(post, range(64)))
    for n, result in enumerate(results):
        assert set(result.stored["call_id"]) - {"shared"} == {f"c{n}"}
        assert result.clashes.is_empty()
    assert sum("shared" in r.stored["call_id"] for r in results) == 1
    assert sum(r.repeated.height for r in results) == 63
    assert sum(r.optouts for r in results) == 1
    assert journal.read().events["phone"].to_list() == ["+393330000001"]
    assert ledger.calls().height == 65
    assert index.facts(393330000001, T0 + DAY, 30, 60).attempts == 1


def test_a_batch_writes_its_objections_together_and_tells_each_request_its_own(
        tmp_path: Path, medium: Medium) -> None:
    """Requests written together put their objections in the journal in one append where
    no number is in two of them; a number two requests share (a retry racing its original)
    is asked of the journal after the first is written, so it is recorded once, and each
    request is told how many of its own were new."""
    import threading
    import time

    ledger = medium.ledger()
    LedgerIndex(ledger)
    journal = medium.journal()
    many = [(f"m{n}", f"+39333{2000000 + n}", T0, "optout") for n in range(9)]
    requests = [
        _calls(("a", "+393331000001", T0, "optout")),
        _calls(("b", "+393331000002", T0, "optout"), ("b2", "+393331000003", T0, "busy")),
        _calls(("a", "+393331000001", T0, "optout")),  # a retry of the first
        _calls(("c", "+393331000001", T0 + DAY, "optout")),  # the same person, again
        _calls(*many),  # more numbers than are looked up one by one
    ]
    results: dict[int, Any] = {}

    def post(n: int) -> None:
        results[n] = ledger.record(requests[n], journal)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(requests))]
    with ledger._leader:  # held: every request waits in the queue, then one batch
        for thread in threads:
            thread.start()
            while len(ledger._queue) < threads.index(thread) + 1:
                time.sleep(0.001)
    for thread in threads:
        thread.join()
    assert [results[n].optouts for n in range(len(requests))] == [1, 1, 0, 1, 9]
    assert results[2].repeated["call_id"].to_list() == ["a"]
    events = journal.read().events
    assert events.height == 12 and events.select("phone", "note").n_unique() == 12
    assert len(journal.checkpoints()) == 3  # the first two together; the retry adds none


def test_compaction_and_imports_keep_every_call_once(
        tmp_path: Path, medium: Medium) -> None:
    service = medium.ledger()
    index = LedgerIndex(service)
    journal = medium.journal()
    service.record(_calls(("c1", "+393331234567", T0, "answered"),
                          ("c2", "+393331234568", T0, "busy")), journal)
    ledger = medium.ledger()  # `calls import`, another process
    assert ledger.compact() == 2 and ledger.wal_size() == ledger.wal_start()
    imported = ledger.record(
        _calls(("c2", "+393331234568", T0, "busy"), ("c3", "+393331234569", T0, "refused")),
        journal, source="import:sha-1")
    assert (imported.stored.height, imported.repeated.height, imported.same_file) == (
        1, 1, False)
    assert ledger.record(_calls(("c4", "+393331234569", T0, "sale")), journal,
                         source="import:sha-1").same_file
    index.refresh()
    again = service.record(_calls(("c3", "+393331234569", T0, "refused")), journal)
    assert again.stored.is_empty() and again.repeated["outcome"].to_list() == ["refused"]
    assert sorted(ledger.calls()["call_id"].to_list()) == ["c1", "c2", "c3"]


def test_attempts_and_refusals_count_inside_their_windows_only(
        tmp_path: Path, medium: Medium) -> None:
    """Outbound, not failed, within attempt_window_days; a refusal within the cooldown.
    The same answer from memory (the service) and from the files (check, replay)."""
    phone = "+393331234567"
    at = T0 + 30 * DAY
    rows = [(f"c{i}", phone, at - dt.timedelta(days=d), o) for i, (d, o) in enumerate([
        (30, "answered"),  # exactly 30 days before: out of the window, like the refusal
        (31, "answered"),  # outside
        (5, "failed"),  # does not count
        (1, "no_answer"),
        (0.0001, "busy")])]
    rows.append(("c9", phone, at + dt.timedelta(seconds=1), "answered"))  # after: not yet
    inbound = _calls(("in1", phone, at - DAY, "answered"), direction="inbound")
    refused = [("r1", phone, at - 60 * DAY, "refused")]  # exactly 60 days: over
    ledger = medium.ledger()
    index = LedgerIndex(ledger)
    ledger.record(pl.concat([_calls(*rows), inbound, _calls(*refused)]),
                  medium.journal())
    from_files = call_facts(ledger.calls(int(phone[1:])), at, 30, 60)
    from_memory = index.facts(int(phone[1:]), at, 30, 60)
    assert from_files == from_memory
    assert (from_files.attempts, from_files.last_refusal) == (2, None)
    later = call_facts(ledger.calls(int(phone[1:])), at - dt.timedelta(seconds=1), 30, 60)
    assert later.last_refusal == at - 60 * DAY  # one second earlier: within the cooldown
    assert later.attempts == 3  # a second earlier the 30-day-old call is inside the window
    assert index.facts(int(phone[1:]), at - dt.timedelta(seconds=1), 30, 60) == later
    # Many numbers at once (POST /v1/check, contract replay): the same counts, whether the
    # calls are in calls.jsonl or, after a compaction, in a segment.
    keys = np.array([int(phone[1:]), 393330000000, int(phone[1:])], np.int64)
    ledger.compact()
    restarted = LedgerIndex(ledger)  # a service started after the compaction
    restarted.refresh()
    assert not restarted.tail and index.tail
    for held in (index, restarted):
        attempts, recent = held.facts_of(keys, at - dt.timedelta(seconds=1), 30, 60)
        assert (attempts.tolist(), recent.tolist()) == ([3, 0, 3], [True, False, True])
    asked = pl.DataFrame({"phone_key": keys, "at": [at, at, at - dt.timedelta(seconds=1)]})
    assert facts_many(ledger.calls(), asked, 30, 60) == [from_files, CallFacts(0, None),
                                                         later]


def test_a_torn_line_is_dropped_before_the_next_call_is_written(tmp_path: Path) -> None:
    """A service killed mid-write leaves half a line it never acknowledged; the next call
    must not be glued to it (that would make both unreadable)."""
    ledger = Ledger(tmp_path / "ledger")
    LedgerIndex(ledger)
    journal = Journal(tmp_path / "optouts.jsonl")
    ledger.record(_calls(("a", "+393331234567", T0, "answered")), journal)
    with ledger.wal.open("ab") as handle:
        handle.write(b'{"agency": "connecto", "call_id": "b", "pho')
    assert ledger.calls()["call_id"].to_list() == ["a"]
    restarted = Ledger(tmp_path / "ledger")
    LedgerIndex(restarted)
    restarted.record(_calls(("c", "+393331234567", T0 + DAY, "busy")), journal)
    assert ledger.calls()["call_id"].to_list() == ["a", "c"]
    assert ledger.wal.read_bytes().count(b"\n") == 2 and ledger.wal.read_bytes().endswith(b"\n")


def _zoned(form: str) -> bool:
    """The forms an offset may follow: ISO dates with seconds (no dialer writes 31/12/2026
    10:00+01:00)."""
    return form.startswith("%Y") and form.count(":") == 2


LOCAL_FORMS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S",
               "%d/%m/%Y %H:%M", "%Y-%m-%dT%H:%M:%S.%f"]
OFFSETS = [None, "Z", "+01:00", "+0200", "-03:30"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2060, 12, 31)),
              st.sampled_from(LOCAL_FORMS), st.sampled_from(OFFSETS)),
    st.sampled_from(["", "ieri", "2026-02-30 10:00", "  2026-03-29 02:30:00 ", None])),
    max_size=25))
def test_a_column_of_call_times_reads_each_value_as_it_is_read_alone(
        cells: list[Any]) -> None:
    """A dialer's export mixes forms (a manual fix in another format, an offset here and
    there): the column is read format by format, and each value must come out as it
    would alone, and as the instant it names (Rome time without an offset)."""
    cells = [(c[0], c[1], c[2] if _zoned(c[1]) else None) if isinstance(c, tuple) else c
             for c in cells]
    values = [c[0].strftime(c[1]) + (c[2] or "") if isinstance(c, tuple) else c
              for c in cells]
    column = pl.DataFrame({"t": values}, schema={"t": pl.String})
    together = column.select(instants(pl.col("t"), ROME))["t"].to_list()
    alone = [column.slice(n, 1).select(instants(pl.col("t"), ROME))["t"].item()
             for n in range(len(values))]
    assert together == alone
    for cell, value, read in zip(cells, values, together, strict=True):
        if not isinstance(cell, tuple):
            continue
        moment, form, offset = cell
        moment = moment.replace(microsecond=moment.microsecond if "%f" in form else 0,
                                second=moment.second if form.count(":") == 2 else 0,
                                fold=0)  # text has no fold: a repeated hour is its first
        if offset is not None:
            zone = dt.UTC if offset == "Z" else dt.datetime.strptime(offset, "%z").tzinfo
            assert read == moment.replace(tzinfo=zone).astimezone(dt.UTC).replace(
                tzinfo=None), value
        else:  # Rome time; the hour the clocks skip is no instant
            rome = moment.replace(tzinfo=ROME)
            back = rome.astimezone(dt.UTC).astimezone(ROME).replace(tzinfo=None)
            expected = rome.astimezone(dt.UTC).replace(tzinfo=None) if back == moment else None
            assert read == expected, value
