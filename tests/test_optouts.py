"""The opt-out journal: nothing acknowledged is ever lost, tampering is detected."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from gatekeeper.cli import cli
from gatekeeper.config import Workspace
from gatekeeper.core.errors import InputError
from gatekeeper.core.timeutil import parse_instant
from gatekeeper.decide.run import run_campaign
from gatekeeper.dial.check import check_number
from gatekeeper.jurisdictions import IT
from gatekeeper.privacy.optouts import Journal, add_optout, import_optouts

ZONE = IT.timezone_name  # local times in these tests are Italy's

BURST = textwrap.dedent("""
    import sys
    from pathlib import Path
    from gatekeeper.jurisdictions import IT
    from gatekeeper.privacy.optouts import Journal, add_optout
    url, path, worker = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    if url == "-":
        journal = Journal(path)
    else:
        from gatekeeper.shared import shared_store
        from gatekeeper.shared.journal import SharedJournal
        journal = SharedJournal(shared_store(url), path)
    i = 0
    while True:
        phone = f"+39333{worker * 1000000 + i:07d}"
        add_optout(journal, IT, phone=phone, channel="operator", by="agent")
        print(phone, flush=True)   # acknowledged only after add returned
        i += 1
""")


def _burst(journal: Journal, worker: int) -> subprocess.Popen[str]:
    from gatekeeper.shared.journal import SharedJournal

    url = journal.store.url if isinstance(journal, SharedJournal) else "-"
    return subprocess.Popen([sys.executable, "-c", BURST, url, str(journal.path), str(worker)],
                            stdout=subprocess.PIPE, text=True)


def test_kill_during_burst_loses_no_acknowledged_optout(journal: Journal) -> None:
    """In the file and in the shared register alike (the `journal` fixture)."""
    workers = [_burst(journal, w) for w in range(3)]  # several agents at the same moment
    acknowledged: list[str] = []
    deadline = time.monotonic() + 60
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        for proc in workers:
            assert proc.stdout is not None
            acknowledged.append(proc.stdout.readline().strip())
    for proc in workers:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.stdout is not None
        acknowledged += [line.strip() for line in proc.stdout if line.strip()]
        proc.stdout.close()
    state = journal.read()
    phones = state.events["phone"].to_list()
    stored = set(phones)
    assert len(acknowledged) >= 150
    assert set(acknowledged) <= stored
    assert len(phones) == len(stored)  # none twice
    verified, problems = journal.verify()
    assert verified.entries == state.events.height
    assert [p for p in problems if "torn" not in p] == []


def test_torn_last_line_is_reported_and_set_aside(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "optouts.jsonl")
    add_optout(journal, IT, phone="3331234567", channel="email", by="bo")
    with journal.path.open("ab") as handle:
        handle.write(b'{"type": "optout", "phone": "+3933')  # crash mid-write
    state = journal.read()
    assert state.events.height == 1 and state.torn_bytes > 0
    result = add_optout(journal, IT, phone="3331234568", channel="email", by="bo")
    assert result.warnings and "torn" in result.warnings[0]
    assert Path(f"{journal.path}.torn").read_bytes().startswith(b'{"type"')
    assert journal.read().events["phone"].to_list() == ["+393331234567", "+393331234568"]
    verified, problems = journal.verify()
    assert (verified.entries, problems) == (2, [])


def test_edited_entry_breaks_the_chain(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "optouts.jsonl")
    for n in ("3331234567", "3331234568", "3331234569"):
        add_optout(journal, IT, phone=n, channel="letter", by="bo")
    lines = journal.path.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["phone"] = "+393339999999"
    lines[1] = json.dumps(entry, sort_keys=True)
    journal.path.write_text("\n".join(lines) + "\n")
    verified, problems = journal.verify()
    assert verified.entries == 3 and "line 2" in problems[0]


def test_removed_entry_breaks_the_chain(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "optouts.jsonl")
    for n in ("3331234567", "3331234568", "3331234569"):
        add_optout(journal, IT, phone=n, channel="letter", by="bo")
    lines = journal.path.read_text().splitlines()
    journal.path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    assert Journal(journal.path).verify()[1]


def test_bad_phone_and_bad_import_rows_are_clear_errors(tmp_path: Path, journal: Journal) -> None:
    with pytest.raises(InputError, match="not a valid phone number"):
        add_optout(journal, IT, phone="n/d", channel="operator", by="a")
    csv = tmp_path / "o.csv"
    csv.write_text("phone,channel,received_at,by\n3331234567,operator,2026-11-01,a\n"
                   "3331234568,fax,2026-11-01,a\n")
    with pytest.raises(InputError, match="unknown channel 'fax'") as err:
        import_optouts(journal, csv, IT)
    assert err.value.row == 2
    assert not journal.path.exists() or journal.read().events.height == 0  # all or nothing



@pytest.mark.parametrize(("rows", "row", "message"), [
    # The first row with a problem, with the first of its problems (who, when, channel,
    # scope), whatever comes after it: each distinct value is checked once.
    (["3331234567,fax,2026-11-01,a,", "3331234568,operator,2026-11-01, ,"], 1,
     "unknown channel 'fax'"),
    (["3331234567,operator,2026-11-01,a,", "3331234568,fax,2099-01-01, ,"], 2,
     "'by' is empty"),
    (["3331234567,operator,2026-11-01,a,", "3331234568,fax,2099-01-01,a,"], 2,
     "is in the future"),
    (["3331234567,operator,1/11/2026,a,", "3331234568,fax,2026-11-01,a,"], 1,
     "is not ISO 8601"),
    (["3331234567,operator,2026-11-01,a,all", "3331234568,operator,2026-11-01,a,tutto"], 2,
     "unknown scope 'tutto'"),
])
def test_an_import_names_its_first_bad_row_and_records_nothing(
        tmp_path: Path, journal: Journal, rows: list[str], row: int, message: str) -> None:
    csv = tmp_path / "o.csv"
    csv.write_text("phone,channel,received_at,by,scope\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError, match=message) as err:
        import_optouts(journal, csv, IT)
    assert err.value.row == row
    assert not journal.path.exists() or journal.read().events.height == 0


def test_an_import_records_each_row_as_one_objection_would(tmp_path: Path,
                                                            journal: Journal) -> None:
    """Blank scope is "all"; the instant is the local time given, in UTC, as add_optout
    writes it."""
    csv = tmp_path / "o.csv"
    csv.write_text("phone,channel,received_at,by,scope,note\n"
                   "3331234567,operator,2026-11-01T10:30,ada,,first\n"
                   "+39 06 1234 5678,letter,2026-11-02,bo,telemarketing,\n")
    import_optouts(journal, csv, IT)
    events = journal.read().events.select("phone", "channel", "scope", "recorded_by", "at")
    assert events.rows() == [
        ("+393331234567", "operator", "all", "ada", dt.datetime(2026, 11, 1, 9, 30)),
        ("+390612345678", "letter", "telemarketing", "bo", dt.datetime(2026, 11, 1, 23, 0))]


HOLDER = textwrap.dedent("""
    import sys, time
    from gatekeeper.store import Store
    store = Store(sys.argv[1])
    store.con.execute("BEGIN TRANSACTION")
    print("holding", flush=True)
    time.sleep(60)
""")


def _prepared(demo: Workspace) -> None:
    from .conftest import gk

    assert gk(demo, "load").exit_code == 0
    assert gk(demo, "rpo", "import", "--request", "data/rpo/2026-11-20-request.txt",
              "--response", "data/rpo/2026-11-20-response.txt", "--checked-at",
              "2026-11-20T10:00").exit_code == 0


# The demo's RPO answer is from 2026-11-20: runs are pinned so tests never depend on today.
AS_OF = parse_instant("2026-11-22T12:00", ZONE)


def test_optout_while_another_process_holds_the_store(demo_anywhere: Workspace) -> None:
    demo = demo_anywhere
    _prepared(demo)
    first = run_campaign(demo, "before", "telemarketing", as_of=AS_OF)
    phone = (demo.report_dir("before") / "dialable.csv").read_text().splitlines()[1][:13]
    assert first.summary["dialable"] > 0
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(demo.store_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        result = CliRunner().invoke(cli, ["--home", str(demo.root), "optout", "add", phone,
                                          "--channel", "operator", "--by", "agent07",
                                          "--at", "2026-11-22T09:00"])
        assert result.exit_code == 0, result.output
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    assert check_number(demo, phone, "telemarketing", at=AS_OF).answer.reason == "OPTED_OUT"
    run_campaign(demo, "after", "telemarketing", as_of=AS_OF)
    assert phone not in (demo.report_dir("after") / "dialable.csv").read_text()


def test_optout_during_a_scrub_in_another_process(demo_anywhere: Workspace) -> None:
    demo = demo_anywhere
    _prepared(demo)
    run_campaign(demo, "c0", "telemarketing", as_of=AS_OF)
    assert "+390101112725" in (demo.report_dir("c0") / "dialable.csv").read_text()
    scrub = subprocess.Popen([sys.executable, "-m", "gatekeeper.cli", "--home", str(demo.root),
                              "run", "--campaign", "c1", "--purpose", "telemarketing",
                              "--as-of", "2026-11-22T12:00"])
    result = CliRunner().invoke(cli, ["--home", str(demo.root), "optout", "add", "0101112725",
                                      "--channel", "email", "--by", "bo",
                                      "--at", "2026-11-22T09:00"])
    assert result.exit_code == 0, result.output
    assert scrub.wait(timeout=120) == 0
    run_campaign(demo, "c2", "telemarketing", as_of=AS_OF)
    assert "+390101112725" not in (demo.report_dir("c2") / "dialable.csv").read_text()
    decisions = pl.read_parquet(demo.report_dir("c2") / "decisions.parquet")
    assert decisions.filter(pl.col("phone") == "+390101112725")["reason"].to_list() == [
        "OPTED_OUT"]
