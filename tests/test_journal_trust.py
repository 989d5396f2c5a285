"""The opt-out journal as evidence: objections that take effect at once, damage that stops
decisions but never an agent, and cuts or rewrites that are caught by every checkpoint."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.config import Workspace
from gatekeeper.core.errors import InputError
from gatekeeper.core.timeutil import iso, now_utc
from gatekeeper.jurisdictions import IT
from gatekeeper.privacy.optouts import Journal, add_optout, open_journal
from gatekeeper.privacy.optouts.journal import digest

from .conftest import AS_OF, DIAL_AT, gk

RUN = ("run", "--campaign", "again", "--purpose", "telemarketing", "--as-of", AS_OF)


def _opted_out(ws: Workspace, campaign: str) -> int:
    summary = json.loads((ws.report_dir(campaign) / "summary.json").read_text())
    return int(summary["suppressed"].get("OPTED_OUT", 0))


# --- 3. an objection dated in the future is refused, never acknowledged ------------------

def test_optout_dated_in_the_future_is_refused_by_every_door(scrubbed_anywhere: Workspace,
                                                             tmp_path: Path) -> None:
    scrubbed = scrubbed_anywhere
    before = open_journal(scrubbed).contents()
    added = gk(scrubbed, "optout", "add", "3331234567", "--channel", "operator", "--by", "a7",
               "--at", "2099-01-01")
    assert added.exit_code == 2 and "in the future" in added.output
    bulk = tmp_path / "o.csv"
    bulk.write_text("phone,channel,received_at,by\n3331234567,letter,2026-11-01,bo\n"
                    "3331234568,letter,2099-01-01T10:00,bo\n")
    imported = gk(scrubbed, "optout", "import", str(bulk))
    assert imported.exit_code == 2 and "row 2" in imported.output
    assert "in the future" in imported.output
    assert open_journal(scrubbed).contents() == before  # nothing acknowledged


def test_a_device_clock_slightly_ahead_takes_effect_now(journal: Journal) -> None:
    ahead = now_utc() + dt.timedelta(minutes=2)
    entry = add_optout(journal, IT, phone="3331234567", channel="api", by="dialer",
                       at=ahead).entries[0]
    assert entry["at"] == entry["recorded_at"]  # in force from when we received it
    with pytest.raises(InputError, match="in the future"):
        add_optout(journal, IT, phone="3331234567", channel="api", by="dialer",
                   at=now_utc() + dt.timedelta(hours=1))


# --- 4. a damaged line stops decisions, never an agent -----------------------------------

def test_damaged_line_blocks_decisions_until_repaired_but_never_an_optout(
        scrubbed: Workspace) -> None:
    with scrubbed.journal_path.open("ab") as handle:
        handle.write(b"\x00\x01garbage\n")
    damaged_line = scrubbed.journal_path.read_bytes().count(b"\n")
    phone = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"][0]
    added = gk(scrubbed, "optout", "add", phone, "--channel", "operator", "--by", "a7",
               "--at", "2026-11-22T09:00")
    assert added.exit_code == 0, added.output  # an agent can always record an objection
    for args in (RUN, ("check", phone, "--purpose", "telemarketing")):
        refused = gk(scrubbed, *args)
        assert refused.exit_code == 2, refused.output
        assert f"line {damaged_line}" in refused.output and "optout repair" in refused.output
    listed = gk(scrubbed, "optout", "list")
    assert listed.exit_code == 0 and f"line {damaged_line}" in listed.output
    assert gk(scrubbed, "audit", "verify").exit_code == 1

    repaired = gk(scrubbed, "optout", "repair", "--by", "dpo", "--reason", "disk error")
    assert repaired.exit_code == 0 and f"line {damaged_line}" in repaired.output
    assert b"\x00\x01garbage\n" in scrubbed.journal_path.read_bytes()  # kept as evidence
    assert gk(scrubbed, "audit", "verify").exit_code == 0
    assert gk(scrubbed, *RUN).exit_code == 0
    decisions = pl.read_parquet(scrubbed.report_dir("again") / "decisions.parquet")
    assert decisions.filter(pl.col("phone") == phone)["reason"].unique().to_list() == [
        "OPTED_OUT"]


def test_disclosure_warns_when_a_damaged_line_may_hold_the_persons_optout(
        scrubbed: Workspace) -> None:
    """A disk error in the middle of the person's opt-out: the answer to "what do you hold
    about me?" would leave it out, so the privacy officer is told before sending it."""
    phone = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"][0]
    other = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"][1]
    with scrubbed.journal_path.open("ab") as handle:
        handle.write(b'{"type": "optout", "phone": "' + phone.encode() + b'", "at\x00\x01\n')
    damaged_line = scrubbed.journal_path.read_bytes().count(b"\n")
    told = gk(scrubbed, "disclose", phone, "--format", "json")
    assert f"line {damaged_line} is damaged and holds this number's digits" in told.stderr
    assert json.loads(told.stdout)["warnings"]
    # For anyone else the line is unreadable: it may hold their objection too.
    assert "damaged beyond reading" in gk(scrubbed, "disclose", other).stderr
    gk(scrubbed, "optout", "repair", "--by", "dpo", "--reason", "restored from backup")
    for person in (phone, other):  # acknowledged: no warning any more
        assert "warning" not in gk(scrubbed, "disclose", person).stderr
    # The damage hit the digits themselves and left the line looking like an entry.
    digits = phone.removeprefix("+39")
    with scrubbed.journal_path.open("ab") as handle:
        handle.write(b'{"type": "optout", "phone": "+39' + digits[:3].encode() + b"\xff"
                     + digits[4:].encode() + b'", "scope": "all"}\n')
    hit = gk(scrubbed, "disclose", phone).stderr
    assert "damaged beyond reading" in hit, hit
    gk(scrubbed, "optout", "repair", "--by", "dpo", "--reason", "restored from backup")
    for person in (phone, other):
        assert "warning" not in gk(scrubbed, "disclose", person).stderr


def test_optout_list_warns_about_a_torn_tail(scrubbed: Workspace) -> None:
    with scrubbed.journal_path.open("ab") as handle:
        handle.write(b'{"type": "optout", "phone": "+3933')
    listed = gk(scrubbed, "optout", "list")
    assert listed.exit_code == 0 and "torn" in listed.output


# --- 5. cuts and rewrites are caught by every checkpoint ---------------------------------

def _lines(ws: Workspace) -> list[str]:
    return ws.journal_path.read_text().splitlines(keepends=True)


def _rehash(lines: list[str]) -> list[str]:
    """What a careful forger does: recompute every hash after an edit."""
    out, prev = [], "0" * 64
    for seq, line in enumerate(lines, 1):
        entry = json.loads(line)
        body = {k: v for k, v in entry.items() if k != "hash"} | {"seq": seq, "prev": prev}
        prev = digest(prev, body)
        out.append(json.dumps({**body, "hash": prev}, ensure_ascii=False, sort_keys=True)
                   + "\n")
    return out


def _forged_tail(lines: list[str]) -> list[str]:
    last = json.loads(lines[-1])
    forged = {k: v for k, v in last.items() if k != "hash"} | {"phone": "+393330000000"}
    return [*lines[:-1], json.dumps(forged, sort_keys=True) + "\n"]


@pytest.mark.parametrize("cut", [
    pytest.param(lambda lines: lines[:-1], id="last line deleted"),
    pytest.param(lambda lines: lines[:-5], id="last 5 lines deleted"),
    pytest.param(lambda lines: _rehash(_forged_tail(lines)), id="forged last line, re-hashed"),
    pytest.param(lambda lines: _rehash(lines[:3] + lines[4:]),
                 id="middle line deleted, rest re-hashed"),
])
def test_cut_or_rewritten_journal_is_refused_by_runs_and_audit(scrubbed: Workspace,
                                                               cut: object) -> None:
    # One more objection after the campaign: its receipt is the only checkpoint after it.
    gk(scrubbed, "optout", "add", "3471234567", "--channel", "email", "--by", "bo",
       "--at", "2026-11-21")
    scrubbed.journal_path.write_text("".join(cut(_lines(scrubbed))))  # type: ignore[operator]
    verified = gk(scrubbed, "audit", "verify")
    assert verified.exit_code == 1 and "NOT intact" in verified.output
    refused = gk(scrubbed, *RUN)
    assert refused.exit_code == 5, refused.output
    assert "cannot be trusted" in refused.output and "backup" in refused.output
    assert not scrubbed.report_dir("again").exists()


def test_a_cut_behind_a_run_is_caught_without_the_receipts(scrubbed: Workspace) -> None:
    """Deleting the receipts too does not help: the run's own checkpoint still holds."""
    before = _opted_out(scrubbed, "demo")
    assert before > 5
    scrubbed.journal_path.write_text("".join(_rehash(_lines(scrubbed)[5:])))
    Journal(scrubbed.journal_path).checkpoints_path.unlink()
    refused = gk(scrubbed, *RUN)
    assert refused.exit_code == 5 and "run " in refused.output


def test_receipt_is_printed_and_journal_tightened_to_owner_only(scrubbed: Workspace) -> None:
    os.chmod(scrubbed.journal_path, 0o644)
    added = gk(scrubbed, "optout", "add", "3471234567", "--channel", "email", "--by", "bo")
    assert added.exit_code == 0
    size = scrubbed.journal_path.stat().st_size
    assert f"journal position {size}" in added.output
    assert stat.S_IMODE(scrubbed.journal_path.stat().st_mode) == 0o600


def test_service_refuses_an_objection_dated_in_the_future(scrubbed_anywhere: Workspace
                                                          ) -> None:
    from .service_helper import running_service

    scrubbed = scrubbed_anywhere
    with running_service(scrubbed, DIAL_AT) as service, service.client("agent") as agent:
        late = agent.post("/v1/optouts", json={"phone": "3331234567",
                                               "received_at": "2099-01-01T10:00"})
        assert late.status_code == 422 and "in the future" in late.json()["error"]["message"]
        ok = agent.post("/v1/optouts", json={"phone": "3331234567",
                                             "received_at": iso(now_utc())})
        assert ok.status_code == 201
        assert {"journal_position", "journal_hash"} <= set(ok.json())


def test_the_stores_high_water_mark_catches_a_cut_before_any_run(demo: Workspace) -> None:
    assert gk(demo, "optout", "import", "data/optouts-demo.csv").exit_code == 0
    assert gk(demo, "load").exit_code == 0  # the store notes the journal's head
    Journal(demo.journal_path).checkpoints_path.unlink()
    demo.journal_path.write_text("".join(_lines(demo)[:-3]))
    refused = gk(demo, *RUN)
    assert refused.exit_code == 5 and "recorded by load" in refused.output


def test_service_refuses_checks_on_a_damaged_or_cut_journal(scrubbed: Workspace) -> None:
    """Fail closed at dial time too: opt-outs still go in, no answer is "dialable"."""
    from .service_helper import running_service

    phone = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"][0]
    with running_service(scrubbed, DIAL_AT) as service, service.client("agent") as agent:
        assert agent.get("/v1/check", params={"phone": phone}).json()["dialable"]
        with scrubbed.journal_path.open("ab") as handle:
            handle.write(b"\x00\x01garbage\n")
        damaged = agent.get("/v1/check", params={"phone": phone})
        assert damaged.status_code == 503 and "optout repair" in damaged.json()["error"][
            "message"]
        assert agent.post("/v1/optouts", json={"phone": "3471234567"}).status_code == 201
        assert gk(scrubbed, "optout", "repair", "--by", "dpo", "--reason", "x").exit_code == 0
        assert agent.get("/v1/check", params={"phone": phone}).json()["dialable"]
        scrubbed.journal_path.write_text("".join(_lines(scrubbed)[:-2]))
        cut = agent.get("/v1/check", params={"phone": phone})
        assert cut.status_code == 503 and "cut" in cut.json()["error"]["message"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["optout", "withdraw"]),
                          st.sampled_from(["all", "telemarketing", "survey"]),
                          st.text(max_size=8)), min_size=1, max_size=12),
       st.sampled_from(["none", "garbage", "edited", "json-not-entry"]))
def test_the_fast_reading_is_the_careful_reading(tmp_path_factory: pytest.TempPathFactory,
                                                 events: list[tuple[str, str, str]],
                                                 damage: str) -> None:
    """The columnar reading of a whole journal says exactly what reading it line by line
    says (events, links, chain breaks), and steps aside whenever a line may be damaged."""
    from gatekeeper.privacy.optouts import journal as J

    journal = Journal(tmp_path_factory.mktemp("j") / "optouts.jsonl")
    for kind, scope, note in events:
        if kind == "optout":
            add_optout(journal, IT, phone="3331234567", channel="email", by="bo", scope=scope,
                       note=note)
        else:
            from gatekeeper.privacy.optouts import withdraw_optout
            withdraw_optout(journal, "3331234567", "PEC 1", "dpo", IT)
    data = journal.path.read_bytes()
    if damage == "garbage":
        data += b"\x00\x01garbage\n"
    elif damage == "edited":
        data = data.replace(b'"scope": "all"', b'"scope": "survey"', 1)
    elif damage == "json-not-entry":
        data += b'{"type": "optout", "seq": "x"}\n'
    fast = J.parse(data)
    careful = J._all_entries
    try:
        J._all_entries = lambda complete, count: None  # type: ignore[assignment]
        slow = J.parse(data)
    finally:
        J._all_entries = careful
    assert fast.events.equals(slow.events) and fast.links.equals(slow.links)
    assert (fast.damaged, fast.broken, fast.last_hash) == (slow.damaged, slow.broken,
                                                           slow.last_hash)


def test_service_refuses_checks_on_a_damaged_store(scrubbed: Workspace) -> None:
    """A damaged store is not a busy one: its runs and erasures cannot be relied on, so no
    answer is 'dialable' (the last snapshot is not served on)."""
    import time

    from .service_helper import running_service

    phone = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"][0]
    with running_service(scrubbed, DIAL_AT) as service, service.client("dialer") as dialer:
        assert dialer.get("/v1/check", params={"phone": phone}).json()["dialable"]
        scrubbed.store_path.write_bytes(os.urandom(300_000))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # the service notices within its refresh tick
            answer = dialer.get("/v1/check", params={"phone": phone})
            if answer.status_code != 200:
                break
            time.sleep(0.3)
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "store_damaged"
