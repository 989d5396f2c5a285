"""The shared store (PostgreSQL): the opt-out journal as rows keeps every promise the file
keeps, and several service instances agree on an objection within a second.

The journal tests run over both implementations (`journal` is parametrised): the same
events make the same bytes, the same chain and the same receipts in a file and in
PostgreSQL, and the same tampering is found in both. PostgreSQL is a real server
(tests/postgres.py), never a mock.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import psycopg
import pytest

from gatekeeper.config import Workspace
from gatekeeper.core.errors import SharedUnavailable
from gatekeeper.privacy.optouts import Journal, open_journal
from gatekeeper.privacy.optouts.journal import GENESIS
from gatekeeper.shared import shared_store
from gatekeeper.shared.journal import SharedJournal
from gatekeeper.shared.schema import migrate

from .conftest import DIAL_AT, gk, use_shared
from .postgres import Postgres
from .service_helper import running_service

EVENT = {"type": "optout", "phone": "+393331234567", "at": "2026-11-20T09:00:00Z",
         "channel": "operator", "recorded_by": "anna", "scope": "all", "note": "",
         "recorded_at": "2026-11-20T09:00:01Z"}


def _event(n: int, **changes: str) -> dict[str, str]:
    return {**EVENT, "phone": f"+39333{1000000 + n:07d}", **changes}


def _shared_journal(url: str, folder: Path) -> SharedJournal:
    store = shared_store(url)
    with store.connection() as conn:
        migrate(conn)
    return SharedJournal(store, folder / "optouts.jsonl")


def _tamper(journal: Journal, line: int, body: bytes | None) -> None:
    """Edit (or, with None, remove) a complete line as someone with access would."""
    if isinstance(journal, SharedJournal):
        with journal.store.connection() as conn:
            if body is None:
                conn.execute("DELETE FROM optout_lines WHERE line = %s", (line,))
            else:
                conn.execute("UPDATE optout_lines SET body = %s WHERE line = %s", (body, line))
        return
    lines = journal.path.read_bytes().split(b"\n")
    if body is None:
        del lines[line - 1]
    else:
        lines[line - 1] = body
    journal.path.write_bytes(b"\n".join(lines))


def test_the_same_events_make_the_same_bytes_chain_and_receipts(journal: Journal,
                                                                tmp_path: Path) -> None:
    reference = Journal(tmp_path / "reference.jsonl")
    for batch in ([_event(1)], [_event(2), _event(3, scope="telemarketing")]):
        mine, theirs = journal.append(batch), reference.append(batch)
        assert (mine.position, mine.hash) == (theirs.position, theirs.hash)
        assert mine.entries == theirs.entries
    assert journal.contents() == reference.contents()
    assert journal.head() == reference.head() == (mine.position, mine.hash)
    state, problems = journal.verify()
    assert problems == [] and state.entries == 3
    assert [c.position for c in journal.checkpoints()] == [
        c.position for c in reference.checkpoints()]
    events = journal.events_of("+393331000002")
    assert events["seq"].to_list() == [2]
    assert journal.snapshot()[:2] == (mine.position, mine.hash)


def test_an_empty_journal_is_the_genesis(journal: Journal) -> None:
    assert journal.head() == (0, GENESIS)
    assert journal.read().entries == 0 and journal.verify()[1] == []


def test_an_edited_entry_and_a_removed_one_are_found(journal: Journal) -> None:
    journal.append([_event(n) for n in range(1, 5)])
    edited = journal.contents()[0].split(b"\n")[1].replace(b"+393331000002", b"+393331000009")
    _tamper(journal, 2, edited)
    problems = journal.verify()[1]
    assert any("line 2" in p and "does not match its hash" in p for p in problems), problems
    _tamper(journal, 3, None)
    assert any("chain broken" in p for p in journal.verify()[1])


def test_a_damaged_line_blocks_decisions_until_repaired(journal: Journal) -> None:
    from gatekeeper.privacy.optouts import repair_journal, require_whole

    journal.append([_event(1), _event(2)])
    first = journal.contents()[0].split(b"\n")[0]
    _tamper(journal, 1, b"\xff" * len(first))  # a disk error: same length, not an entry
    state, receipts = journal.view()
    with pytest.raises(Exception, match="not a journal entry"):
        require_whole(state, receipts)
    damaged, result = repair_journal(journal, "dpo", "disk error, checked")
    assert [b.line for b in damaged] == [1] and result is not None
    state, receipts = journal.view()
    require_whole(state, receipts)  # acknowledged: decisions resume
    assert "+393331000002" in state.events["phone"].to_list()


def test_concurrent_appenders_keep_one_chain(journal: Journal) -> None:
    def agent(worker: int) -> None:
        for n in range(15):
            journal.append([_event(worker * 100 + n)])

    threads = [threading.Thread(target=agent, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    state, problems = journal.verify()
    assert problems == [] and state.entries == 60
    assert sorted(state.events["seq"].to_list()) == list(range(1, 61))


# --- the workspace: init, migrate, and every command reading the shared register -----

def test_init_migrate_and_commands_read_the_shared_register(scrubbed: Workspace,
                                                           shared_url: str) -> None:
    before = Journal(scrubbed.journal_path)
    state = before.read()
    data, receipts = before.contents()
    use_shared(scrubbed, shared_url)
    assert not scrubbed.journal_path.exists()  # set aside, kept as evidence
    assert Path(f"{scrubbed.journal_path}.moved-to-shared").read_bytes() == data
    shared = open_journal(scrubbed)
    assert isinstance(shared, SharedJournal)
    assert shared.contents() == (data, receipts)
    again = gk(scrubbed, "shared", "init")
    assert again.exit_code == 0 and "up to date" in again.output
    # Every door reads the rows: list, check, run, audit, disclosure.
    added = gk(scrubbed, "optout", "add", "3331112222", "--channel", "operator", "--by", "bo")
    assert added.exit_code == 0, added.output
    listed = gk(scrubbed, "optout", "list")
    assert "+393331112222" in listed.output
    assert f"{state.entries + 1} journal entries" in gk(scrubbed, "audit", "verify").output
    first = state.events["phone"][0]
    checked = gk(scrubbed, "check", first, "--purpose", "telemarketing")
    assert "OPTED_OUT" in checked.output, checked.output
    ran = gk(scrubbed, "run", "--campaign", "again", "--purpose", "telemarketing",
             "--as-of", "2026-11-22T12:00")
    assert ran.exit_code == 0, ran.output
    letter = gk(scrubbed, "disclose", "3331112222")
    assert letter.exit_code == 0 and "opposizione" in letter.output.lower(), letter.output


def test_a_journal_file_left_beside_a_shared_store_stops_every_decision(
        scrubbed: Workspace, shared_url: str) -> None:
    with scrubbed.config_path.open("a") as config:
        config.write(f'\n[shared]\nurl = "{shared_url}"\n')
    assert gk(scrubbed, "shared", "init").exit_code == 0
    for args in (("run", "--campaign", "x", "--purpose", "telemarketing"),
                 ("check", "3331234567", "--purpose", "telemarketing"), ("optout", "list")):
        refused = gk(scrubbed, *args)
        assert refused.exit_code != 0
        assert "shared migrate --from-files" in refused.output, refused.output


def test_migrate_refuses_a_register_holding_other_entries(scrubbed: Workspace,
                                                          shared_url: str) -> None:
    other = _shared_journal(shared_url, scrubbed.data_dir)
    other.append([_event(1)])
    with scrubbed.config_path.open("a") as config:
        config.write(f'\n[shared]\nurl = "{shared_url}"\n')
    refused = gk(scrubbed, "shared", "migrate", "--from-files")
    assert refused.exit_code != 0 and "already holds other entries" in refused.output
    assert scrubbed.journal_path.exists()  # the file stays authoritative


def test_migrate_refuses_a_journal_whose_chain_does_not_verify(scrubbed: Workspace,
                                                               shared_url: str) -> None:
    journal = Journal(scrubbed.journal_path)
    lines = journal.path.read_bytes().split(b"\n")
    lines[0] = lines[0].replace(b'"scope": "all"', b'"scope": "survey"')
    journal.path.write_bytes(b"\n".join(lines))
    with scrubbed.config_path.open("a") as config:
        config.write(f'\n[shared]\nurl = "{shared_url}"\n')
    refused = gk(scrubbed, "shared", "migrate", "--from-files")
    assert refused.exit_code != 0 and "only when its chain verifies" in refused.output
    assert _shared_journal(shared_url, scrubbed.data_dir).is_empty()


def test_a_url_that_is_not_postgresql_is_a_config_error(scrubbed: Workspace) -> None:
    with scrubbed.config_path.open("a") as config:
        config.write('\n[shared]\nurl = "mysql://db/gk"\n')
    refused = gk(scrubbed, "shared", "init")
    assert refused.exit_code != 0 and "[shared] url must be a PostgreSQL URL" in refused.output


# --- several instances --------------------------------------------------------------

def _second_host(ws: Workspace, root: Path) -> Workspace:
    """The same workspace on another machine: its files copied, the shared store the
    same."""
    shutil.copytree(ws.root, root, ignore=shutil.ignore_patterns("service.log"))
    return Workspace(root)


def _check(client: httpx.Client, phone: str) -> dict[str, object]:
    answer = client.get("/v1/check", params={"phone": phone, "purpose": "telemarketing"})
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()
    return result


def test_an_optout_at_one_instance_is_answered_by_the_other_within_a_second(
        scrubbed: Workspace, shared_url: str, tmp_path: Path) -> None:
    use_shared(scrubbed, shared_url)
    other = _second_host(scrubbed, tmp_path / "host-b")
    dialable = gk(scrubbed, "optout", "list")  # numbers not in it were dialable in the run
    assert dialable.exit_code == 0
    phones = [f"+39347{n:07d}" for n in range(20)]
    waits = []
    with (running_service(scrubbed, as_of="2026-11-22T12:00") as a,
          running_service(other, as_of="2026-11-22T12:00") as b,
          a.client("agent") as agent, b.client("dialer") as dialer):
        for phone in phones:
            before = _check(dialer, phone)
            assert before["reason"] != "OPTED_OUT"
            posted = agent.post("/v1/optouts", json={"phone": phone})
            assert posted.status_code == 201, posted.text
            start = time.monotonic()
            while _check(dialer, phone)["reason"] != "OPTED_OUT":
                assert time.monotonic() - start < 1.0, "not blocked within 1 s"
                time.sleep(0.005)
            waits.append(time.monotonic() - start)
    assert max(waits) < 1.0


@pytest.fixture
def own_postgres() -> Iterator[Postgres]:
    """A server of its own, for a test that stops it."""
    server = Postgres(Path(tempfile.mkdtemp(prefix="gk-pg-")))
    yield server
    server.close()


def test_postgresql_away_checks_fail_closed_writes_503_and_all_resume(
        scrubbed: Workspace, own_postgres: Postgres) -> None:
    use_shared(scrubbed, own_postgres.database())
    opted = open_journal(scrubbed).read().events["phone"][0]
    with (running_service(scrubbed, as_of="2026-11-22T12:00") as service,
          service.client("dialer") as dialer, service.client("agent") as agent):
        assert _check(dialer, "+393471234567")["reason"] != "OPTOUTS_UNAVAILABLE"
        own_postgres.stop()
        deadline = time.monotonic() + 3
        while _check(dialer, "+393471234567")["reason"] != "OPTOUTS_UNAVAILABLE":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for phone in ("+393471234567", opted):
            answer = _check(dialer, phone)
            assert answer["dialable"] is False and answer["reason"] == "OPTOUTS_UNAVAILABLE"
            assert "non raggiungibile" in str(answer["reason_text"])
        batch = dialer.post("/v1/check", json={"purpose": "telemarketing",
                                               "numbers": ["3471234567", "3471234568"]})
        assert {a["reason"] for a in batch.json()} == {"OPTOUTS_UNAVAILABLE"}
        refused = agent.post("/v1/optouts", json={"phone": "3471234567"})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "shared_store_unavailable"
        own_postgres.start()
        back = time.monotonic()
        while _check(dialer, opted)["reason"] == "OPTOUTS_UNAVAILABLE":
            assert time.monotonic() - back < 5, "not resumed within 5 s"
            time.sleep(0.05)
        assert _check(dialer, opted)["reason"] == "OPTED_OUT"
        posted = agent.post("/v1/optouts", json={"phone": "3471234567"})
        assert posted.status_code == 201, posted.text
        assert _check(dialer, "+393471234567")["reason"] == "OPTED_OUT"


def test_a_command_while_postgresql_is_away_says_so(scrubbed: Workspace,
                                                    own_postgres: Postgres) -> None:
    use_shared(scrubbed, own_postgres.database())
    own_postgres.stop()
    try:
        refused = gk(scrubbed, "optout", "add", "3471234567", "--channel", "operator",
                     "--by", "bo")
        assert refused.exit_code == SharedUnavailable.exit_code, refused.output
        assert "cannot be reached" in refused.output and "Traceback" not in refused.output
    finally:
        own_postgres.start()


def test_the_schema_refuses_a_newer_database(shared_url: str, tmp_path: Path) -> None:
    journal = _shared_journal(shared_url, tmp_path)
    with psycopg.connect(shared_url, autocommit=True) as conn:
        conn.execute("INSERT INTO gatekeeper_schema (version) VALUES (99)")
    fresh = SharedJournal(journal.store, tmp_path / "optouts.jsonl")
    with pytest.raises(Exception, match="newer than this gatekeeper knows"):
        fresh.head()


def test_backup_and_restore_keep_or_put_back_the_shared_register(scrubbed: Workspace,
                                                                  shared_url: str,
                                                                  tmp_path: Path) -> None:
    use_shared(scrubbed, shared_url)
    saved = tmp_path / "backup.tar"
    assert gk(scrubbed, "backup", str(saved)).exit_code == 0
    journal = open_journal(scrubbed)
    at_backup = journal.contents()
    assert gk(scrubbed, "optout", "add", "3339998877", "--channel", "operator",
              "--by", "bo").exit_code == 0
    kept = gk(scrubbed, "restore", str(saved), "--force")
    assert kept.exit_code == 0, kept.output
    assert "+393339998877" in journal.read().events["phone"].to_list()  # newer one kept
    # The database lost its rows (restored from an older dump): the backup puts them back.
    with psycopg.connect(shared_url, autocommit=True) as conn:
        conn.execute("DELETE FROM optout_lines")
        conn.execute("DELETE FROM optout_receipts")
    replaced = gk(scrubbed, "restore", str(saved), "--force")
    assert replaced.exit_code == 0, replaced.output
    assert journal.contents() == at_backup
    assert not scrubbed.journal_path.exists()  # nothing of the backup left as a file
    assert gk(scrubbed, "audit", "verify").exit_code == 0


# --- the contact ledger ---------------------------------------------------------------

def _call(call_id: str, phone: str, at: str = "2026-11-23 10:00",
          outcome: str = "no_answer") -> dict[str, str]:
    return {"call_id": call_id, "agency": "connecto", "phone": phone, "started_at": at,
            "outcome": outcome, "agent": "a1"}


def test_a_call_retried_at_the_other_instance_is_stored_once(
        scrubbed: Workspace, shared_url: str, tmp_path: Path) -> None:
    from gatekeeper.dial.ledger import open_ledger

    imported = gk(scrubbed, "calls", "import", "data/calls/connecto-2026-11-23.csv",
                  "--agency", "connecto")
    assert imported.exit_code == 0, imported.output
    before = open_ledger(scrubbed).calls().height
    use_shared(scrubbed, shared_url)  # the imported segment moves in with the journal
    assert Path(f"{scrubbed.ledger_dir}/segments.jsonl.moved-to-shared").exists()
    ledger = open_ledger(scrubbed)
    assert ledger.calls().height == before
    other = _second_host(scrubbed, tmp_path / "host-b")
    phone = str(pl.read_csv(scrubbed.root / "reports" / "demo" / "dialable.csv",
                            infer_schema=False)["phone"][0])
    free = gk(other, "check", phone, "--purpose", "telemarketing", "--at", "2026-11-23T10:30")
    assert free.exit_code == 0, free.output  # dialable before the calls
    with (running_service(scrubbed, as_of=DIAL_AT) as a,
          running_service(other, as_of=DIAL_AT) as b,
          a.client("agent") as at_a, b.client("agent") as at_b):
        first = at_a.post("/v1/calls", json=_call("r1", phone))
        assert first.status_code == 201, first.text
        again = at_b.post("/v1/calls", json=_call("r1", phone))
        assert again.status_code == 200, again.text  # known: stored once
        for n in range(2, 5):  # three more attempts, alternating instances
            client = at_a if n % 2 else at_b
            assert client.post("/v1/calls", json=_call(f"r{n}", phone,
                                                        f"2026-11-23 10:0{n}")).status_code == 201
        objection = at_b.post("/v1/calls", json=_call("r9", "+393471112244",
                                                      outcome="optout"))
        assert objection.status_code == 201
    calls = open_ledger(other).calls()
    assert calls.height == before + 5
    assert calls.filter(calls["call_id"] == "r1").height == 1
    assert "+393471112244" in open_journal(scrubbed).read().events["phone"].to_list()
    # Every door counts the calls of both instances: the fourth attempt reaches the limit.
    checked = gk(other, "check", phone, "--purpose", "telemarketing", "--at",
                 "2026-11-23T10:30")
    assert "ATTEMPT_LIMIT" in checked.output, checked.output
    verified = gk(scrubbed, "audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_kill_an_instance_during_calls_loses_nothing_acknowledged(
        scrubbed: Workspace, shared_url: str, tmp_path: Path) -> None:
    from gatekeeper.dial.ledger import open_ledger

    use_shared(scrubbed, shared_url)
    other = _second_host(scrubbed, tmp_path / "host-b")
    acknowledged: list[str] = []
    objections: list[str] = []
    with (running_service(scrubbed, as_of=DIAL_AT) as a,
          running_service(other, as_of=DIAL_AT) as b,
          a.client("agent") as at_a, b.client("agent") as at_b):
        killer = threading.Timer(1.0, os.kill, (a.pid, signal.SIGKILL))
        killer.start()
        dead = False
        for i in range(400):
            outcome = ("no_answer", "optout", "busy")[i % 3]
            phone = f"+39347{2000000 + i}"
            client = at_b if dead or i % 2 else at_a
            try:
                answer = client.post("/v1/calls", json=_call(f"k{i}", phone, outcome=outcome))
            except httpx.TransportError:
                dead = True  # not acknowledged: the dialer retries it at the other
                answer = at_b.post("/v1/calls", json=_call(f"k{i}", phone, outcome=outcome))
            assert answer.status_code in (200, 201), answer.text
            acknowledged.append(f"k{i}")
            if outcome == "optout":
                objections.append(phone)
            if dead and len(acknowledged) > 60 and i % 50 == 0:
                break
        killer.join()
        assert dead, "instance A was never killed"
    ids = open_ledger(other).calls(columns=["call_id"])["call_id"].to_list()
    assert set(acknowledged) <= set(ids) and len(ids) == len(set(ids))
    events = open_journal(other).read().events["phone"].to_list()
    assert set(objections) <= set(events) and len(events) == len(set(events))


def test_an_erasure_at_one_host_is_answered_by_the_other_instance(
        scrubbed: Workspace, shared_url: str, tmp_path: Path) -> None:
    use_shared(scrubbed, shared_url)
    other = _second_host(scrubbed, tmp_path / "host-b")
    phone = str(pl.read_csv(scrubbed.root / "reports" / "demo" / "dialable.csv",
                            infer_schema=False)["phone"][1])
    with running_service(other, as_of=DIAL_AT) as b, b.client("dialer") as dialer:
        assert _check(dialer, phone)["reason"] != "ERASED"
        erased = gk(scrubbed, "erase", phone, "--ref", "REQ-7")  # at host A
        assert erased.exit_code == 0, erased.output
        start = time.monotonic()
        while _check(dialer, phone)["reason"] != "ERASED":
            assert time.monotonic() - start < 3, "the erasure did not reach instance B"
            time.sleep(0.05)
    # The command line of host B, whose own store never saw the erasure, says so too.
    checked = gk(other, "check", phone, "--purpose", "telemarketing", "--at", DIAL_AT)
    assert "ERASED" in checked.output, checked.output


def test_a_token_made_or_revoked_at_one_host_holds_at_every_instance(
        scrubbed: Workspace, shared_url: str, tmp_path: Path) -> None:
    from gatekeeper.service.tokens import TokenFile

    local = TokenFile(scrubbed.data_dir / "tokens.json").add("old-agent", "agent")
    use_shared(scrubbed, shared_url)  # the file's tokens move in
    assert Path(f"{scrubbed.data_dir}/tokens.json.moved-to-shared").exists()
    other = _second_host(scrubbed, tmp_path / "host-b")
    made = gk(scrubbed, "token", "add", "anna", "--role", "agent")  # at host A
    assert made.exit_code == 0, made.output
    token = next(w for w in made.output.split() if w.startswith("gk_"))
    with running_service(other, as_of=DIAL_AT) as b:
        for secret in (token, local):
            answer = httpx.get(f"{b.url}/v1/check", params={"phone": "3471234567"},
                               headers={"Authorization": f"Bearer {secret}"})
            assert answer.status_code == 200, answer.text
        assert gk(scrubbed, "token", "revoke", "anna").exit_code == 0
        start = time.monotonic()
        while httpx.get(f"{b.url}/v1/check", params={"phone": "3471234567"},
                        headers={"Authorization": f"Bearer {token}"}).status_code != 401:
            assert time.monotonic() - start < 2, "the revocation did not reach instance B"
            time.sleep(0.05)


def test_an_instance_started_while_postgresql_is_away_comes_up_and_resumes(
        scrubbed: Workspace, own_postgres: Postgres) -> None:
    """It starts and stays up; it can authenticate nobody until it has read the tokens
    (401: no answer at all, so nothing is dialled), then answers as any other."""
    from gatekeeper.service.tokens import open_tokens

    from .service_helper import free_port, serving

    use_shared(scrubbed, own_postgres.database())
    opted = open_journal(scrubbed).read().events["phone"][0]
    token = open_tokens(scrubbed).add("dialer-x", "dialer", "callpro")
    own_postgres.stop()
    port = free_port()
    args = [sys.executable, "-m", "gatekeeper.cli", "--home", str(scrubbed.root), "serve",
            "--port", str(port), "--as-of", DIAL_AT]
    try:
        with (serving(args, port, scrubbed.root / "service.log") as (url, _),
              httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                           timeout=10) as dialer):
            assert dialer.get("/v1/check", params={"phone": opted}).status_code == 401
            own_postgres.start()
            back = time.monotonic()
            while True:
                answer = dialer.get("/v1/check", params={"phone": opted,
                                                         "purpose": "telemarketing"})
                if answer.status_code == 200 and answer.json()["reason"] == "OPTED_OUT":
                    break
                assert time.monotonic() - back < 5, f"not resumed within 5 s: {answer.text}"
                time.sleep(0.05)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            own_postgres.start()  # already running: pg_ctl says so


def test_erase_backup_and_restore_with_a_shared_ledger(scrubbed: Workspace, shared_url: str,
                                                       tmp_path: Path) -> None:
    from gatekeeper.dial.ledger import open_ledger

    imported = gk(scrubbed, "calls", "import", "data/calls/connecto-2026-11-23.csv",
                  "--agency", "connecto")
    assert imported.exit_code == 0, imported.output
    use_shared(scrubbed, shared_url)
    ledger = open_ledger(scrubbed)
    calls = ledger.calls()
    phone = str(calls.filter(pl.col("phone").is_not_null())["phone"][0])
    saved = tmp_path / "backup.tar"
    assert gk(scrubbed, "backup", str(saved)).exit_code == 0
    erased = gk(scrubbed, "erase", phone, "--ref", "REQ-9")
    assert erased.exit_code == 0, erased.output
    after = ledger.calls()
    assert after.height == calls.height  # the calls stay, as evidence of the calls
    assert phone not in after["phone"].drop_nulls().to_list()  # the number leaves them
    verified = gk(scrubbed, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    # Restored into a new folder on the same database: the shared ledger (newer, erased)
    # is kept and no ledger file is left beside it.
    fresh = tmp_path / "restored"
    restored = gk(scrubbed, "--home", str(fresh), "restore", str(saved))
    assert restored.exit_code == 0, restored.output
    assert not (fresh / "data" / "ledger" / "segments.jsonl").exists()
    kept = open_ledger(Workspace(fresh)).calls()
    assert kept.height == calls.height and phone not in kept["phone"].drop_nulls().to_list()


def test_rows_deleted_behind_a_run_stop_runs_checks_and_the_audit(scrubbed: Workspace,
                                                                  shared_url: str) -> None:
    """The shared register's "cut": its last rows deleted (by hand, or a database restored
    from an older dump) after a run recorded where the journal ended."""
    use_shared(scrubbed, shared_url)
    assert gk(scrubbed, "optout", "add", "3339990001", "--channel", "operator",
              "--by", "bo").exit_code == 0
    ran = gk(scrubbed, "run", "--campaign", "cut", "--purpose", "telemarketing",
             "--as-of", "2026-11-22T12:00")
    assert ran.exit_code == 0, ran.output
    with psycopg.connect(shared_url, autocommit=True) as conn:
        conn.execute("DELETE FROM optout_lines WHERE line = (SELECT max(line) "
                     "FROM optout_lines)")
        conn.execute("DELETE FROM optout_receipts WHERE id = (SELECT max(id) "
                     "FROM optout_receipts)")
    for args in (("run", "--campaign", "cut", "--purpose", "telemarketing"),
                 ("check", "3339990001", "--purpose", "telemarketing")):
        refused = gk(scrubbed, *args)
        assert refused.exit_code == 5, (args, refused.output)
        assert "journal" in refused.output, refused.output
    audit = gk(scrubbed, "audit", "verify")
    assert audit.exit_code == 1 and "NOT intact" in audit.output
    assert "shorter" in audit.output, audit.output
