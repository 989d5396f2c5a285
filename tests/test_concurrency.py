"""Readers beside writers: opt-outs and calls recorded while runs, checks, audits and
backups read never make a reader report damage that is not there (PRODUCT.md, Quality
bars, "Concurrent"). Each test writes for a few seconds, bounded, then stops by itself."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import polars as pl

from gatekeeper.config import Workspace

from .conftest import AS_OF, DIAL_AT, gk
from .service_helper import running_service

WRITE_SECONDS = 2.5

# An agent's `gatekeeper optout add`, in a loop for a bounded time (the CLI's own code, in
# one process: a new interpreter per objection would write a few a second, not hundreds).
AGENT = textwrap.dedent("""
    import sys, time
    from gatekeeper.cli import cli
    home, agent, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    end, written = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        phone = f"347{agent * 1000000 + written:07d}"
        try:
            cli.main(["--home", home, "optout", "add", phone, "--channel", "operator",
                      "--by", f"agent{agent}"], standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                raise
        written += 1
    print(written, flush=True)
""")


@contextmanager
def serving(ws: Workspace) -> Iterator[httpx.Client]:
    """The real `gatekeeper serve` on loopback (its clock at DIAL_AT), and a client with an
    agent's token; a long timeout, since the machine is kept busy on purpose."""
    with running_service(ws, as_of=DIAL_AT) as svc, httpx.Client(
            base_url=svc.url, headers={"Authorization": f"Bearer {svc.tokens['agent']}"},
            timeout=30) as client:
        yield client


def _agents(ws: Workspace, count: int, seconds: float) -> list[subprocess.Popen[str]]:
    return [subprocess.Popen([sys.executable, "-c", AGENT, str(ws.root), str(n), str(seconds)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for n in range(count)]


def _written(agents: list[subprocess.Popen[str]]) -> int:
    total = 0
    for agent in agents:
        out, err = agent.communicate(timeout=60)
        assert agent.returncode == 0, err
        total += int(out.split()[-1])
    return total


def test_runs_checks_and_audits_see_no_cut_while_agents_record(scrubbed: Workspace) -> None:
    """The journal and its receipts were read one after the other: a receipt written in
    between pointed past the journal read, and `run`, `check` and `audit verify` reported
    "entries were cut" on a whole journal (10 runs in 10 at ~180 writes/s)."""
    phone = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"][0]
    agents = _agents(scrubbed, 2, WRITE_SECONDS)
    refusals: list[str] = []
    reads = 0
    try:
        end = time.monotonic() + WRITE_SECONDS
        while time.monotonic() < end:
            for args, fine in (
                    *[(("check", phone, "--purpose", "telemarketing", "--at", DIAL_AT),
                       (0, 1))] * 3,
                    (("run", "--campaign", "busy", "--purpose", "telemarketing", "--as-of",
                      AS_OF), (0,)),
                    (("audit", "verify"), (0,))):
                result = gk(scrubbed, *args)
                reads += 1
                if result.exit_code not in fine:
                    refusals.append(f"{args[0]}: exit {result.exit_code}: {result.output}")
    finally:
        written = _written(agents)
    assert not refusals, refusals[:3]
    assert written > 100 and reads >= 3  # the readers really read beside the writers


RUNS = textwrap.dedent("""
    import sys, time
    from gatekeeper.cli import cli
    home, seconds, as_of = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    end, n = time.monotonic() + seconds, 0
    # At least two runs, however slow the machine (an audit holds the store meanwhile).
    while time.monotonic() < end or (n < 2 and time.monotonic() < end + 4 * seconds):
        cli.main(["--home", home, "optout", "add", f"3470{n:06d}", "--channel", "operator",
                  "--by", "agent"], standalone_mode=False)  # a new run id each time
        try:
            cli.main(["--home", home, "run", "--campaign", "demo", "--purpose",
                      "telemarketing", "--as-of", as_of], standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                raise
        n += 1
    print(n, flush=True)
""")


def test_audit_verify_beside_runs_sees_no_edited_report(scrubbed: Workspace) -> None:
    """A run swaps its reports in, then records itself (after the audit's read of the
    store): read in between, its new files were "edited after the run"."""
    runs = subprocess.Popen([sys.executable, "-c", RUNS, str(scrubbed.root),
                             str(WRITE_SECONDS), AS_OF], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    refused, audits = [], 0
    try:
        end = time.monotonic() + 5 * WRITE_SECONDS  # a bound; the runs end it first
        while time.monotonic() < end and (runs.poll() is None or audits < 3):
            verified = gk(scrubbed, "audit", "verify")
            audits += 1
            if verified.exit_code:
                refused.append(verified.output)
    finally:
        out, err = runs.communicate(timeout=60)
    assert runs.returncode == 0, err
    assert not refused, refused[:1]
    assert audits >= 3 and int(out.split()[-1]) >= 2


def test_the_service_answers_every_check_while_agents_record(scrubbed: Workspace) -> None:
    """The service compares the journal with its receipts when the store changes (a run):
    a false cut there answered 503 to every check until the next change."""
    phones = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"].head(20)
    statuses: dict[str, list[int]] = {"check": [], "optout": [], "call": []}
    with serving(scrubbed) as agent:
        stop = threading.Event()

        def ask(kind: str, n: int) -> None:
            with httpx.Client(base_url=agent.base_url, headers=agent.headers,
                              timeout=30) as client:
                i = 0
                while not stop.is_set():
                    if kind == "check":
                        answer = client.get("/v1/check", params={"phone": phones[i % 20]})
                    elif kind == "call":
                        answer = client.post("/v1/calls", json={
                            "call_id": f"mixed-{i}", "agency": "connecto",
                            "phone": phones[i % 20], "started_at": "2026-11-23 10:00",
                            "outcome": "optout" if i % 10 == 0 else "no_answer",
                            "agent": "a1"})
                    else:
                        answer = client.post("/v1/optouts", json={
                            "phone": f"348{n * 1000000 + i:07d}", "note": "in chiamata"})
                    statuses[kind].append(answer.status_code)
                    i += 1

        threads = [threading.Thread(target=ask, args=(kind, n))
                   for n, kind in enumerate(("check", "check", "optout", "optout", "call"))]
        agents = _agents(scrubbed, 1, WRITE_SECONDS)
        for thread in threads:
            thread.start()
        try:
            end = time.monotonic() + WRITE_SECONDS
            runs, failed = 0, list[str]()
            while time.monotonic() < end:  # each run changes the store: the service re-reads
                ran = gk(scrubbed, "run", "--campaign", f"c{runs % 2}", "--purpose",
                         "telemarketing", "--as-of", AS_OF)
                failed += [ran.output] if ran.exit_code else []
                runs += 1
            time.sleep(1.5)  # the service's refresh after the last run
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
            _written(agents)
    log = (scrubbed.root / "service.log").read_text()
    assert set(statuses["check"]) == {200}, (
        f"{statuses['check'].count(503)} check(s) answered 503; {log[-500:]}")
    assert set(statuses["optout"]) == {201} and not failed, failed[:1]
    assert set(statuses["call"]) == {201}
    assert runs >= 2 and len(statuses["check"]) > 100 and len(statuses["optout"]) > 50
    verified = gk(scrubbed, "audit", "verify")  # what the service wrote is whole evidence
    assert verified.exit_code == 0, verified.output


# A dialer's exports imported one after another with `gatekeeper calls import`, each of
# new calls (each a new segment of the ledger), until told to stop (a file STOP beside
# the exports) or for at most a bounded time.
IMPORTER = textwrap.dedent("""
    import os, sys, time
    import polars as pl
    from gatekeeper.cli import cli
    home, folder, rows, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    end, n = time.monotonic() + seconds, 0
    while time.monotonic() < end and not os.path.exists(f"{folder}/STOP"):
        export = f"{folder}/calls-{n}.csv"
        pl.DataFrame({
            "call_id": [f"BK{n}-{i}" for i in range(rows)],
            "phone": [f"347{(n * rows + i) % 10_000_000:07d}" for i in range(rows)],
            "started_at": "2026-11-20 10:00:00", "outcome": "no_answer",
            "direction": "outbound", "agent": "op01", "campaign": "demo", "duration_s": 0,
            "caller_id": "+390287650001"}).write_csv(export)
        try:
            cli.main(["--home", home, "calls", "import", export, "--agency", "connecto"],
                     standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                raise
        n += 1
    print(n, flush=True)
""")


def _importer(ws: Workspace, folder: Path, rows: int, seconds: float
              ) -> subprocess.Popen[str]:
    folder.mkdir()
    return subprocess.Popen([sys.executable, "-c", IMPORTER, str(ws.root), str(folder),
                             str(rows), str(seconds)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_backup_during_calls_imports_restores_whole(scrubbed: Workspace,
                                                      tmp_path: Path) -> None:
    """The backup walked data/ledger/ before a segment was written, then copied the segment
    list after it was listed: the restored ledger named a file it did not have, and every
    check, list and replay failed (6 trials in 10)."""
    # The exports kept in the workspace, as call centres do (data/calls/): the backup
    # copies them before the ledger, as it would a week of real exports.
    week = pl.DataFrame({"call_id": pl.int_range(300_000, eager=True).shuffle(1)})
    week.with_columns(phone=pl.col("call_id") * 7919 % 10_000_000).write_csv(
        scrubbed.root / "data" / "calls" / "last-week.csv")
    today = scrubbed.root / "data" / "calls" / "today"
    importer = _importer(scrubbed, today, 20_000, 60)
    backups = []
    try:
        listed = scrubbed.ledger_dir / "segments.jsonl"
        deadline = time.monotonic() + 30
        while not listed.exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # backups of a ledger there is, while it grows
        end = time.monotonic() + WRITE_SECONDS
        while time.monotonic() < end:
            made = gk(scrubbed, "backup", str(tmp_path / f"b{len(backups)}.tar.gz"))
            assert made.exit_code == 0, made.output
            backups.append(tmp_path / f"b{len(backups)}.tar.gz")
    finally:
        (today / "STOP").touch()
        out, err = importer.communicate(timeout=60)
    assert importer.returncode == 0, err
    assert int(out.split()[-1]) >= 2 and len(backups) >= 2
    for n, saved in enumerate(backups):
        ws = Workspace(tmp_path / f"restored{n}")
        done = gk(scrubbed, "--home", str(ws.root), "restore", str(saved))
        assert done.exit_code == 0, done.output
        verified = gk(ws, "audit", "verify")
        assert verified.exit_code == 0, verified.output
        checked = gk(ws, "check", "3470000001", "--purpose", "telemarketing", "--at", DIAL_AT)
        assert checked.exit_code in (0, 1), checked.output
        listed = (ws.ledger_dir / "segments.jsonl")
        for line in listed.read_text().splitlines() if listed.exists() else []:
            segment = json.loads(line)
            data = (ws.ledger_dir / "segments" / segment["name"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == segment["sha256"]


def test_audit_verify_names_a_missing_or_changed_segment(scrubbed: Workspace,
                                                         tmp_path: Path) -> None:
    for n in (0, 1):
        pl.read_csv(scrubbed.root / "data" / "calls" / "connecto-2026-11-23.csv",
                    infer_schema=False).with_columns(
            pl.col("call_id") + f"-{n}").write_csv(tmp_path / f"calls-{n}.csv")
        imported = gk(scrubbed, "calls", "import", str(tmp_path / f"calls-{n}.csv"),
                      "--agency", "connecto")
        assert imported.exit_code == 0, imported.output
    assert gk(scrubbed, "audit", "verify").exit_code == 0
    first, second = (json.loads(line)["name"] for line in
                     (scrubbed.ledger_dir / "segments.jsonl").read_text().splitlines()[:2])
    (scrubbed.ledger_dir / "segments" / first).unlink()
    with (scrubbed.ledger_dir / "segments" / second).open("ab") as handle:
        handle.write(b"x")
    found = gk(scrubbed, "audit", "verify")
    assert found.exit_code == 1
    assert f"{first} is missing" in found.output and f"{second} differs" in found.output
    assert "Traceback" not in found.output


def test_audit_verify_names_an_unreadable_calls_file(scrubbed: Workspace) -> None:
    scrubbed.ledger_dir.mkdir(parents=True, exist_ok=True)
    (scrubbed.ledger_dir / "calls.jsonl").write_bytes(b'{"agency": "connecto"}\n\x00\x01{\n')
    found = gk(scrubbed, "audit", "verify")
    assert found.exit_code == 1 and "calls.jsonl" in found.output, found.output
    assert "Traceback" not in found.output


def test_service_answers_while_calls_are_imported(scrubbed: Workspace, tmp_path: Path) -> None:
    """A dialer's import holds the ledger for writing; checks go on being answered."""
    with serving(scrubbed) as client:
        importer = _importer(scrubbed, tmp_path / "exports", 20_000, WRITE_SECONDS)
        codes = []
        try:
            end = time.monotonic() + 2
            while time.monotonic() < end:
                try:
                    codes.append(client.get("/v1/check",
                                            params={"phone": "3470000001"}).status_code)
                except httpx.TimeoutException:
                    codes.append(0)
        finally:
            importer.communicate(timeout=60)
    assert codes and set(codes) == {200}, codes.count(503)
