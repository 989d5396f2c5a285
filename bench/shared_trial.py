"""Shared-store trial (issue 26): several `gatekeeper serve` instances on one PostgreSQL.

    python bench/shared_trial.py                          # all four parts
    python bench/shared_trial.py --part propagation --trials 1000
    python bench/shared_trial.py --part kill --trials 15
    python bench/shared_trial.py --part outage
    python bench/shared_trial.py --part checks --calls 10000000 --keep /tmp/gk-shared-10m

Every part runs the real service on loopback, in its own processes, against a real
PostgreSQL on a unix socket (tests/postgres.py), on copies of the demo workspace after the
README's quick start (bench/service.py's demo_workspace) whose gatekeeper.toml names the
server ([shared] url, then `shared init` and `shared migrate --from-files`); a second
"host" is a copy of that folder with its own service.

propagation  Instances A and B on one database. Each trial takes a new +39347 number that
             is in no demo list (B answers NO_SOURCE for it first), posts its opt-out to A
             and polls B's /v1/check back to back until it answers OPTED_OUT: the delay
             from A's 201 to B's first OPTED_OUT (it includes one check's round trip).
             Prints p50/p99/max and how many took over 1 s (target: p99 < 1 s).
             `--trials` (default 1000).
kill         Per trial a fresh database and instances A and B (the demo's agencies
             added: the calls are connecto's); 8 client threads each alternate an opt-out
             (POST /v1/optouts) and a call (POST /v1/calls, its own call_id, outcome
             no_answer or optout by turns), for numbers of their own (each once), two
             requests at A then two at B; after 1-2 s (spread evenly over the trials) A
             gets SIGKILL; a client whose request to A fails goes on at B only, for 0.5 s
             more, and a call that failed at A is sent again, same call_id, to B first (as
             a dialer retries): 201 (stored now) or 200 (A had stored it) expected. Then
             the register and the ledger are read from B's workspace: every acknowledged
             opt-out and every acknowledged `optout` call's number in the journal, none
             twice, none never sent; every acknowledged call_id in
             open_ledger(...).calls() and stored exactly once (its raw rows counted, not
             the de-duplicated view); journal.verify() finds no problem. `--trials`
             (default 15).
outage       One instance (the demo's agencies added and served as of Monday 11:00 in
             Rome, so some numbers are dialable), a thread checking ~200/s; PostgreSQL is
             stopped for 10 s and started again. Prints how soon checks answered
             OPTOUTS_UNAVAILABLE, any answer during the outage that was dialable or not
             HTTP 200, the check latency before/during/after, the opt-outs and calls
             posted meanwhile (503 expected, and how long the 503 took), the time from
             start() returning to the first normal answer (target < 5 s) and to the first
             201 of an opt-out and of a call, and whether the instance is still alive.
checks       GET /v1/check with the dial-time rules (campaign, agency, caller id: as
             bench/ledger.py's target 2) at 500/s at EACH of two instances at once
             (1,000/s in all) with `--calls` (default 10M) calls held: the workspace is
             bench/ledger.py's (built, or reused from `--keep DIR`, which bench/ledger.py
             --keep DIR can share), copied, pointed at PostgreSQL and `shared migrate
             --from-files` timed (its segments become blobs); a copy of it is host B.
             10 s runs, 3 of them: per instance and combined p50/p99/max, the rate
             achieved and the CPU each process used; the median of the combined p99s is
             judged (target < 10 ms). `--rate` changes the 500/s per instance.

Servers, instances and temporary folders are removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
import ledger as ledger_bench  # noqa: E402  (bench/ledger.py: its 10M-call builder)
from service import AS_OF, demo_workspace, drive, gk  # noqa: E402  (bench/service.py)

from gatekeeper.config import Workspace  # noqa: E402
from gatekeeper.dial.ledger import open_ledger, wal_calls  # noqa: E402
from gatekeeper.privacy.optouts import open_journal  # noqa: E402
from gatekeeper.shared import shared_store  # noqa: E402
from gatekeeper.shared.admin import MOVED_SUFFIX  # noqa: E402
from tests.postgres import Postgres  # noqa: E402  (no pytest run needed)
from tests.service_helper import Service, running_service  # noqa: E402

DIAL_AT = "2026-11-23T10:00"  # Monday 11:00 in Rome: inside the calling hours
PURPOSE = "telemarketing"
KILL_CLIENTS = 8
AFTER_KILL = 0.5  # seconds the clients go on at B once A is killed
OUTAGE = 10.0  # seconds PostgreSQL stays stopped
CHECK_RATE = 200  # checks per second during the outage part
AGENCY = "connecto"  # the agency whose calls the kill and outage parts post
CALL_AT = "2026-11-23 10:00"  # the calls' started_at (Rome time)
INSTANCE_RATE = 500  # checks per second at each instance in the checks part
CHECK_SECONDS = 10.0
CHECK_RUNS = 3
PARTS = ("propagation", "kill", "outage", "checks")


# --- set-up ---------------------------------------------------------------------------

def new_postgres() -> Postgres:
    return Postgres(Path(tempfile.mkdtemp(prefix="gk-pg-")))


def shared_workspace(template: Path, root: Path, url: str, *, agencies: bool = False
                     ) -> Workspace:
    """A copy of the demo workspace whose opt-out register is the database at url
    (with the repository's agencies/ when asked: calls posted for connecto)."""
    shutil.copytree(template, root, ignore=shutil.ignore_patterns("service.log"))
    if agencies and not (root / "agencies").exists():
        shutil.copytree(REPO / "agencies", root / "agencies")
    return point_at(Workspace(root), url)[0]


def point_at(ws: Workspace, url: str) -> tuple[Workspace, float, str]:
    """[shared] url in gatekeeper.toml, `shared init`, `shared migrate --from-files`:
    the workspace, the migration's seconds and what it said."""
    with ws.config_path.open("a") as config:
        config.write(f'\n[shared]\nurl = "{url}"\n')
    took, said = 0.0, ""
    for args in (("shared", "init"), ("shared", "migrate", "--from-files")):
        begin = time.perf_counter()
        result = gk(ws, *args)
        took, said = time.perf_counter() - begin, result.output
        if result.exit_code != 0:
            raise SystemExit(f"gatekeeper {' '.join(args)} failed: {result.output}"
                             f"{result.exception or ''}")
    return ws, took, said


def second_host(ws: Workspace, root: Path) -> Workspace:
    """The same workspace on another machine: its files copied (not the service's log,
    nor the files a migration set aside), the shared store the same."""
    shutil.copytree(ws.root, root,
                    ignore=shutil.ignore_patterns("service.log", f"*{MOVED_SUFFIX}"))
    return Workspace(root)


def close_store(ws: Workspace) -> None:
    """This process's pool for the workspace's database (the set-up commands and the
    register's reading opened it): closed once the trial is done with it."""
    url = ws.config().shared_url
    if url is not None:
        shared_store(url).close()


def healthy(service: Service) -> bool:
    try:
        return httpx.get(f"{service.url}/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def check(client: httpx.Client, phone: str) -> dict[str, Any]:
    answer = client.get("/v1/check", params={"phone": phone, "purpose": PURPOSE})
    if answer.status_code != 200:
        raise SystemExit(f"check {phone}: HTTP {answer.status_code} {answer.text[:300]}")
    result: dict[str, Any] = answer.json()
    return result


# --- numbers --------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"p50 {statistics.median(values):7.1f} ms  p99 {percentile(values, 0.99):7.1f} ms"
            f"  max {max(values):7.1f} ms  (n={len(values)})")


# --- 1. propagation -------------------------------------------------------------------

def part_propagation(pg: Postgres, template: Path, tmp: Path, trials: int) -> bool:
    print(f"\n== propagation: opt-out posted to A, first OPTED_OUT at B ({trials} trials)")
    a_ws = shared_workspace(template, tmp / "prop-a", pg.database())
    b_ws = second_host(a_ws, tmp / "prop-b")
    delays: list[float] = []
    posts: list[float] = []
    polls: list[int] = []
    skipped = unfinished = 0
    counter = 0
    begin = time.perf_counter()
    try:
        with (running_service(a_ws, as_of=AS_OF) as a,
              running_service(b_ws, as_of=AS_OF) as b,
              a.client("agent") as agent, b.client("dialer") as dialer):
            for trial in range(1, trials + 1):
                while True:  # a number no demo list holds: NO_SOURCE before its opt-out
                    phone = f"+39347{counter:07d}"
                    counter += 1
                    if check(dialer, phone)["reason"] == "NO_SOURCE":
                        break
                    skipped += 1
                sent = time.perf_counter()
                posted = agent.post("/v1/optouts", json={"phone": phone})
                acknowledged = time.perf_counter()
                if posted.status_code != 201:
                    raise SystemExit(f"POST {phone} at A: HTTP {posted.status_code} "
                                     f"{posted.text[:300]}")
                posts.append((acknowledged - sent) * 1000)
                n = 0
                while True:
                    n += 1
                    if check(dialer, phone)["reason"] == "OPTED_OUT":
                        break
                    if time.perf_counter() - acknowledged > 10:
                        unfinished += 1
                        break
                delays.append((time.perf_counter() - acknowledged) * 1000)
                polls.append(n)
                if trial % 250 == 0 and trial < trials:
                    print(f"  {trial:5d} trials, {time.perf_counter() - begin:5.1f} s: "
                          f"so far p50 {statistics.median(delays):.1f} ms, max "
                          f"{max(delays):.1f} ms")
    finally:
        close_store(a_ws)
    over = sum(d > 1000 for d in delays)
    p99 = percentile(delays, 0.99)
    print(f"  A POST /v1/optouts (201, durable)   {summary(posts)}")
    print(f"  A's 201 -> B's first OPTED_OUT      {summary(delays)}")
    print(f"  checks at B per trial: median {statistics.median(polls):.0f}, max {max(polls)}; "
          f"numbers skipped (in a demo list) {skipped}; never OPTED_OUT within 10 s "
          f"{unfinished}")
    print(f"  over 1 s: {over} of {len(delays)}   ({time.perf_counter() - begin:.0f} s)")
    ok = p99 < 1000 and unfinished == 0
    print(f"  {'PASS' if ok else 'FAIL'}: p99 {p99:.1f} ms {'<' if p99 < 1000 else '>='} 1 s")
    return ok


# --- 2. kill -9 of one instance during a burst of opt-outs and calls ----------------------

def call_body(call_id: str, phone: str, outcome: str) -> dict[str, str]:
    """One call as a dialer reports it (POST /v1/calls)."""
    return {"call_id": call_id, "agency": AGENCY, "phone": phone, "started_at": CALL_AT,
            "outcome": outcome, "agent": "a1"}


@dataclass
class Sent:
    """One request of the burst."""

    kind: str  # "optout" or "call"
    phone: str
    call_id: str | None  # a call's id (None: an opt-out)
    outcome: str | None  # a call's outcome
    target: str  # "A" or "B"
    status: int | str  # HTTP status, or the transport error's name
    sent: float
    answered: float
    retry: bool = False  # a call sent again at B after it failed at A

    @property
    def acked(self) -> bool:
        """Acknowledged: an opt-out's 201; a call's 201 (stored) or 200 (a repeat of a
        stored call)."""
        return self.status == 201 or (self.kind == "call" and self.status == 200)


def burst(a: Service, b: Service, kill_after: float, trial: int
          ) -> tuple[list[Sent], float]:
    """8 clients each alternating an opt-out and a call, two requests at A then two at B,
    A killed after kill_after s; a call whose request to A failed is sent again to B.
    Returns every request and the instant of the kill."""
    stop = threading.Event()
    records: list[list[Sent]] = [[] for _ in range(KILL_CLIENTS)]

    def client(worker: int) -> None:
        mine = records[worker]
        with a.client("agent") as to_a, b.client("agent") as to_b:

            def send(kind: str, phone: str, call_id: str | None, outcome: str | None,
                     target: str, retry: bool = False) -> Sent:
                http = to_a if target == "A" else to_b
                sent = time.perf_counter()
                try:
                    if kind == "optout":
                        answer = http.post("/v1/optouts", json={"phone": phone})
                    else:
                        assert call_id is not None and outcome is not None
                        answer = http.post("/v1/calls",
                                           json=call_body(call_id, phone, outcome))
                    status: int | str = answer.status_code
                except httpx.TransportError as exc:
                    status = type(exc).__name__
                done = Sent(kind, phone, call_id, outcome, target, status, sent,
                            time.perf_counter(), retry)
                mine.append(done)
                return done

            a_gone = False
            i = 0
            while not stop.is_set():
                phone = f"+39347{worker}{i:06d}"  # each number sent once
                target = "B" if a_gone or (i // 2 + worker) % 2 else "A"
                if i % 2 == 0:
                    done = send("optout", phone, None, None, target)
                else:
                    outcome = "optout" if (i // 2) % 2 else "no_answer"
                    call_id = f"trial{trial}-w{worker}-{i}"
                    done = send("call", phone, call_id, outcome, target)
                    if isinstance(done.status, str) and target == "A":
                        send("call", phone, call_id, outcome, "B", retry=True)
                if isinstance(done.status, str) and target == "A":
                    a_gone = True
                i += 1

    threads = [threading.Thread(target=client, args=(w,), daemon=True)
               for w in range(KILL_CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(kill_after)
    os.kill(a.pid, signal.SIGKILL)
    killed = time.perf_counter()
    time.sleep(AFTER_KILL)
    stop.set()
    for thread in threads:
        thread.join(30)
    if any(thread.is_alive() for thread in threads):
        raise SystemExit("a client thread did not stop within 30 s")
    return [r for rs in records for r in rs], killed


def raw_call_ids(ws: Workspace) -> tuple[set[str], collections.Counter[str]]:
    """The ledger's call ids as open_ledger(...).calls() gives them (each once), and as
    stored: every row of every segment and of the calls rows counted, so a call stored
    twice shows (calls() keeps one of each (agency, call_id))."""
    ledger = open_ledger(ws)
    held = set(ledger.calls(columns=["call_id"])["call_id"].to_list())
    rows: collections.Counter[str] = collections.Counter()
    for segment in ledger.segments():
        rows.update(pl.read_parquet(ledger.segment_path(segment),
                                    columns=["call_id"])["call_id"].to_list())
    rows.update(wal_calls(ledger.wal_read()[0])["call_id"].to_list())
    return held, rows


KILL_COLUMNS = ("trial", "kill@ s", "opt-outs sent/acked", "calls sent/acked", "acked at A",
                "lost at A o/c", "retries 201/200", "unacked stored o", "journal + o/c",
                "ledger +", "missing", "dup", "never sent", "other", "B max ms", "verify")


def part_kill(pg: Postgres, template: Path, tmp: Path, trials: int,
              before: set[str]) -> bool:
    print(f"\n== kill: {KILL_CLIENTS} clients each alternating opt-outs and calls at A and B, "
          f"kill -9 of A after 1-2 s, {AFTER_KILL} s more at B, a call lost at A retried at "
          f"B ({trials} trials)")
    print("  " + "  ".join(KILL_COLUMNS))
    print("  (acked: an opt-out's 201, a call's 201 or 200; lost at A: requests to A that "
          "failed once it was killed (opt-outs/calls); retries: those calls sent again to "
          "B, answered 201 (stored now) / 200 (A had stored it); unacked stored o: opt-outs "
          "committed whose answer was lost with A; journal + o/c: this trial's numbers in the "
          "register, of opt-outs / of `optout` calls; ledger +: its call rows in the "
          "ledger; calls sent: call ids, a retry not counted again)")
    failures = 0
    begin = time.perf_counter()
    for k in range(trials):
        kill_after = 1.0 + (k / (trials - 1) if trials > 1 else 0.5)
        a_ws = shared_workspace(template, tmp / f"kill{k}-a", pg.database(), agencies=True)
        b_ws = second_host(a_ws, tmp / f"kill{k}-b")
        try:
            with (running_service(a_ws, as_of=AS_OF) as a,
                  running_service(b_ws, as_of=AS_OF) as b):
                records, killed = burst(a, b, kill_after, k + 1)
                b_alive = healthy(b)
            journal = open_journal(b_ws)
            events = journal.read().events
            problems = journal.verify()[1]
            held, rows = raw_call_ids(b_ws)
        finally:
            close_store(a_ws)
            shutil.rmtree(a_ws.root, ignore_errors=True)
            shutil.rmtree(b_ws.root, ignore_errors=True)
        ok, cells, notes = judge_kill(records, killed, events, problems, held, rows, before)
        ok = ok and b_alive
        failures += not ok
        cells = (k + 1, f"{kill_after:.2f}", *cells,
                 ("ok" if not problems else "PROBLEMS") + ("" if ok else "  <- FAIL"))
        print("  " + "  ".join(f"{c!s:>{len(h)}}"
                               for c, h in zip(cells, KILL_COLUMNS, strict=True)))
        for note in notes:
            print(f"         {note}")
        if not b_alive:
            print("         B did not answer /healthz after the kill")
    print(f"  ({time.perf_counter() - begin:.0f} s)")
    print(f"  {'PASS' if not failures else 'FAIL'}: {trials - failures} of {trials} trials "
          "kept every acknowledged opt-out and call, each call stored once, a call lost at A "
          "accepted at B, no number twice in a register that verifies")
    return not failures


def judge_kill(records: list[Sent], killed: float, events: pl.DataFrame,
               problems: list[str], held: set[str], rows: collections.Counter[str],
               before: set[str]) -> tuple[bool, tuple[Any, ...], list[str]]:
    """One trial's requests against what the register and the ledger hold: (passed, the
    table's cells from "opt-outs sent/acked" to "B max ms", lines worth printing)."""
    optouts = [r for r in records if r.kind == "optout"]
    calls = [r for r in records if r.kind == "call"]
    # A's requests that failed because it was killed: not acknowledged, and fine.
    lost = [r for r in records
            if r.target == "A" and isinstance(r.status, str) and r.answered >= killed]
    retries = [r for r in calls if r.retry]
    unexpected = [r for r in records if not r.acked and r not in lost]
    acked_optouts = {r.phone for r in optouts if r.acked}
    acked_calls = {r.call_id for r in calls if r.acked}
    objections = {r.phone for r in calls if r.acked and r.outcome == "optout"}
    call_ids = {r.call_id for r in calls}
    # numbers that may be in the register: every opt-out sent, every `optout` call sent
    may_hold = {r.phone for r in optouts} | {r.phone for r in calls if r.outcome == "optout"}
    sent_phones = {r.phone for r in records}
    counts = collections.Counter(events["phone"].to_list())
    in_journal = {p for p in counts if p in sent_phones}
    missing_optouts = (acked_optouts | objections) - in_journal
    twice = sorted(p for p in sent_phones if counts[p] > 1)
    unknown = sorted(set(counts) - may_hold - before)
    missing_calls = acked_calls - held
    call_rows = {c: n for c, n in rows.items() if c in call_ids}
    calls_twice = sorted(c for c, n in call_rows.items() if n > 1)
    strange_calls = sorted(c for c in rows if c.startswith("trial") and c not in call_ids)
    unacked_stored_calls = sorted(set(call_rows) - acked_calls)
    retry_bad = [r for r in retries if r.status not in (200, 201)]
    lost_calls = [r for r in lost if r.kind == "call"]
    unretried = {r.call_id for r in lost_calls} - {r.call_id for r in retries}
    b_after = [(r.answered - r.sent) * 1000 for r in records
               if r.target == "B" and r.answered > killed]
    acked_after = sum(r.acked and r.target == "B" and r.sent > killed for r in records)
    missing = len(missing_optouts) + len(missing_calls)
    duplicates = len(twice) + len(calls_twice)
    never = len(unknown) + len(strange_calls)
    ok = (not missing and not duplicates and not never and not unexpected and not problems
          and not retry_bad and not unretried and not unacked_stored_calls
          and acked_after > 0)
    optout_phones = {r.phone for r in optouts}
    cells = (f"{len(optouts)}/{len(acked_optouts)}",
             f"{len(call_ids)}/{len(acked_calls)}",
             sum(r.acked and r.target == "A" for r in records),
             f"{sum(r.kind == 'optout' for r in lost)}/{len(lost_calls)}",
             f"{sum(r.status == 201 for r in retries)}/{sum(r.status == 200 for r in retries)}",
             len(in_journal & (optout_phones - acked_optouts)),
             f"{len(in_journal & optout_phones)}/{len(in_journal - optout_phones)}",
             sum(call_rows.values()), missing, duplicates, never,
             len(unexpected) + len(retry_bad), f"{max(b_after, default=0):.1f}")
    notes = [f"verify: {line}" for line in problems[:5]]
    notes += [f"unexpected: {r.kind} {r.phone} at {r.target}: {r.status}"
              for r in unexpected[:5]]
    notes += [f"retry of {r.call_id} at B: {r.status}" for r in retry_bad[:5]]
    if missing_optouts:
        notes.append(f"not in the register: {', '.join(sorted(missing_optouts)[:10])}")
    if missing_calls:
        notes.append(f"acknowledged calls not in the ledger: "
                     f"{', '.join(sorted(str(c) for c in missing_calls)[:10])}")
    if twice or calls_twice:
        notes.append(f"twice: {', '.join([*twice[:5], *calls_twice[:5]])}")
    if unknown or strange_calls:
        notes.append(f"never sent: {', '.join([*unknown[:5], *strange_calls[:5]])}")
    if unretried or unacked_stored_calls:
        notes.append(f"calls lost at A not retried {sorted(str(c) for c in unretried)[:5]}; "
                     f"stored, never acknowledged {unacked_stored_calls[:5]}")
    if not acked_after:
        notes.append("nothing acknowledged at B after the kill")
    return ok, cells, notes


# --- 3. PostgreSQL away for 10 s under one instance -------------------------------------

def part_outage(template: Path, tmp: Path) -> bool:
    print(f"\n== outage: one instance, checks at ~{CHECK_RATE}/s, PostgreSQL stopped for "
          f"{OUTAGE:.0f} s")
    pg = new_postgres()
    ws: Workspace | None = None
    try:
        # agencies/: so numbers are dialable, and connecto's calls may be posted
        ws = shared_workspace(template, tmp / "outage", pg.database(), agencies=True)
        opted = str(open_journal(ws).read().events["phone"][0])
        with (running_service(ws, as_of=DIAL_AT) as service,
              service.client("dialer") as dialer, service.client("agent") as agent):
            return outage(pg, ws, service, dialer, agent, opted)
    finally:
        if ws is not None:
            close_store(ws)
        pg.close()


def outage(pg: Postgres, ws: Workspace, service: Service, dialer: httpx.Client,
           agent: httpx.Client, opted: str) -> bool:
    candidates = pl.read_csv(ws.root / "reports" / "demo" / "dialable.csv")["phone"]
    dialable = [p for p in candidates.head(30).to_list() if check(dialer, p)["dialable"]][:3]
    if not dialable or check(dialer, opted)["reason"] != "OPTED_OUT":
        raise SystemExit(f"no dialable demo number ({dialable}) or {opted} not OPTED_OUT")
    phones = [*dialable, opted]
    print(f"  checked in turn: {', '.join(dialable)} (dialable) and {opted} (opted out)")
    log: list[tuple[float, float, str, int | str, bool | None, str | None]] = []
    stop = threading.Event()

    def checker() -> None:
        with service.client("dialer") as client:
            due = time.perf_counter()
            i = 0
            while not stop.is_set():
                phone = phones[i % len(phones)]
                i += 1
                sent = time.perf_counter()
                try:
                    answer = client.get("/v1/check", params={"phone": phone,
                                                             "purpose": PURPOSE})
                    status: int | str = answer.status_code
                    body = answer.json() if status == 200 else {}
                except httpx.TransportError as exc:
                    status, body = type(exc).__name__, {}
                log.append((sent, time.perf_counter(), phone, status, body.get("dialable"),
                            body.get("reason")))
                due += 1 / CHECK_RATE
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                else:
                    due = time.perf_counter()  # behind: no catching up in a burst

    numbers = iter(range(9_000_000, 10_000_000))

    def post(kind: str = "optout") -> tuple[int | str, str, float, str]:
        """An opt-out (POST /v1/optouts) or a call (POST /v1/calls) for a new number:
        (status, error code, ms, number)."""
        n = next(numbers)
        phone = f"+39347{n:07d}"
        sent = time.perf_counter()
        try:
            answer = (agent.post("/v1/optouts", json={"phone": phone}) if kind == "optout"
                      else agent.post("/v1/calls", json=call_body(
                          f"outage-{n}", phone, "no_answer")))
            status: int | str = answer.status_code
            code = (answer.json().get("error", {}).get("code", "")
                    if status not in (200, 201) else "")
        except httpx.TransportError as exc:
            status, code = type(exc).__name__, ""
        return status, code, (time.perf_counter() - sent) * 1000, phone

    thread = threading.Thread(target=checker, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        stop_called = time.perf_counter()
        pg.stop()
        stopped = time.perf_counter()
        during: list[tuple[str, float, tuple[int | str, str, float, str]]] = []
        for at in (1.0, 5.0, 8.0):  # an opt-out and a call while it is away, three times
            time.sleep(max(0.0, stopped + at - time.perf_counter()))
            for kind in ("optout", "call"):
                posted_at = time.perf_counter()
                during.append((kind, posted_at, post(kind)))
        time.sleep(max(0.0, stopped + OUTAGE - time.perf_counter()))
        start_called = time.perf_counter()
        pg.start()
        started = time.perf_counter()
        refused_after = dict.fromkeys(("optout", "call"), 0)
        first_201: dict[str, float] = {}
        accepted: dict[str, str] = {}
        while time.perf_counter() - started < 30 and len(first_201) < 2:
            for kind in refused_after:
                if kind in first_201:
                    continue
                status, _code, _ms, phone = post(kind)
                if status == 201:
                    first_201[kind], accepted[kind] = time.perf_counter() - started, phone
                else:
                    refused_after[kind] += 1
            time.sleep(0.05)
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline and not any(
                r[0] >= start_called and r[3] == 200 and r[5] != "OPTOUTS_UNAVAILABLE"
                for r in log[-50:]):
            time.sleep(0.05)
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join(30)
    accepted_blocked = ("optout" in accepted
                        and check(dialer, accepted["optout"])["reason"] == "OPTED_OUT")
    call_held = False
    if "call" in accepted:
        wanted = int(accepted["call"].lstrip("+"))
        # (every column: calls(phone_key=..., columns=[...]) needs phone_key among them)
        call_held = open_ledger(ws).calls(phone_key=wanted).height == 1
    try:
        os.kill(service.pid, 0)
        alive = healthy(service)
    except ProcessLookupError:
        alive = False
    problems = open_journal(ws).verify()[1]

    first_unavailable = next((r[1] for r in log if r[0] >= stop_called
                              and r[5] == "OPTOUTS_UNAVAILABLE"), None)
    before_noticed = [r for r in log if stop_called <= r[0]
                      and (first_unavailable is None or r[1] < first_unavailable)]
    away = [r for r in log if r[0] >= stopped and r[1] <= start_called]
    away_dialable = sum(r[4] is True for r in away)
    away_not_200 = sum(r[3] != 200 for r in away)
    away_other = collections.Counter(str(r[5]) for r in away
                                     if r[3] == 200 and r[5] != "OPTOUTS_UNAVAILABLE")
    first_normal = next((r[1] for r in log if r[1] >= start_called and r[3] == 200
                         and r[5] != "OPTOUTS_UNAVAILABLE"), None)
    relapses = sum(r[5] == "OPTOUTS_UNAVAILABLE" for r in log
                   if first_normal is not None and r[0] > first_normal)
    opted_dialable = sum(r[2] == opted and r[4] is True for r in log)
    not_200 = sum(r[3] != 200 for r in log)
    span = log[-1][1] - log[0][0]

    print(f"  checks: {len(log)} in {span:.1f} s ({len(log) / span:.0f}/s), not HTTP 200: "
          f"{not_200}; the opted-out number answered dialable: {opted_dialable} times")
    print(f"  pg_ctl stop (fast) took {(stopped - stop_called) * 1000:.0f} ms; pg_ctl start "
          f"took {(started - start_called) * 1000:.0f} ms")
    if first_unavailable is None:
        print("  checks NEVER answered OPTOUTS_UNAVAILABLE")
    else:
        print(f"  first OPTOUTS_UNAVAILABLE {(first_unavailable - stop_called) * 1000:.0f} ms "
              f"after stop() was called ({(first_unavailable - stopped) * 1000:+.0f} ms from "
              f"its return); {len(before_noticed)} answers before it, "
              f"{sum(r[4] is True for r in before_noticed)} of them dialable")
    print(f"  while away ({OUTAGE:.0f} s, {len(away)} checks): OPTOUTS_UNAVAILABLE "
          f"{sum(r[5] == 'OPTOUTS_UNAVAILABLE' for r in away)}, dialable true {away_dialable},"
          f" not HTTP 200 {away_not_200}, other reasons {dict(away_other) or 0}")
    phases = (("before stop", [r for r in log if r[0] < stop_called]), ("while away", away),
              ("after start", [r for r in log if r[0] >= started]))
    for label, rows in phases:
        seconds = (rows[-1][1] - rows[0][0]) if rows else 0.0
        print(f"  check latency {label:<12}{summary([(r[1] - r[0]) * 1000 for r in rows])}"
              f"  {len(rows) / seconds if seconds else 0:4.0f}/s")
    slow = [r for r in log if r[1] - r[0] > 0.1]
    held = sum(r[1] - r[0] for r in slow if r[0] >= stopped and r[1] <= start_called)
    print(f"  checks slower than 100 ms: {len(slow)} ({held:.1f} s of the {OUTAGE:.0f} s away "
          f"spent waiting on them)"
          + "".join(f"; {(r[0] - stop_called):+.2f} s from stop: {(r[1] - r[0]) * 1000:.0f} ms"
                    for r in slow[:8]))
    for kind, at, (status, code, ms, phone) in during:
        print(f"  POST /v1/{kind}s while away ({phone}, {at - stop_called:+.2f} s from "
              f"stop): {status} {code} in {ms:.0f} ms")
    if first_normal is None:
        print("  checks did NOT answer normally again within 30 s of start()")
    else:
        print(f"  first normal check answer {(first_normal - started) * 1000:.0f} ms after "
              f"start() returned ({(first_normal - start_called) * 1000:.0f} ms after it was "
              f"called); OPTOUTS_UNAVAILABLE after that: {relapses}")
    for kind, after in (("optout", "that number answers " + (
            "OPTED_OUT" if accepted_blocked else "NOT OPTED_OUT")), ("call", (
            "the ledger holds it once" if call_held else "the ledger does NOT hold it once"))):
        if kind not in first_201:
            print(f"  no POST /v1/{kind}s answered 201 within 30 s of start()")
        else:
            print(f"  first 201 of POST /v1/{kind}s {first_201[kind] * 1000:.0f} ms after "
                  f"start() returned ({refused_after[kind]} refused before it); {after}")
    print(f"  instance pid {service.pid} {'alive, /healthz 200' if alive else 'NOT alive'}; "
          f"register verify: {'no problem' if not problems else problems[:3]}")
    ok = (first_unavailable is not None and away_dialable == 0 and away_not_200 == 0
          and all(d[0] == 503 and d[1] == "shared_store_unavailable" for _, _, d in during)
          and first_normal is not None and first_normal - started < 5
          and len(first_201) == 2 and accepted_blocked and call_held and alive
          and not problems and opted_dialable == 0)
    print(f"  {'PASS' if ok else 'FAIL'}: fail closed while away, 503 for opt-outs and "
          "calls, resumed within 5 s (201 again for both), instance alive")
    return ok


# --- 4. checks at 1,000/s across two instances, 10M calls held ---------------------------

def built_ledger(calls: int, keep: Path | None, tmp: Path) -> Workspace:
    """bench/ledger.py's workspace with `calls` synthetic calls (its options and seed, so
    a --keep folder serves both scripts), built in keep/ (reused when built before) or in
    tmp."""
    numbers = max(calls // 4, 10_000)
    segments, seed = 20, 15
    wanted = {"calls": calls, "numbers": numbers, "segments": segments, "seed": seed}

    def make(root: Path) -> dict[str, Any]:
        begin = time.perf_counter()
        ws = ledger_bench.demo_workspace(root)
        demo_s = time.perf_counter() - begin
        spent = ledger_bench.fill_ledger(ws, calls, numbers, segments, seed)
        print(f"  built: demo {demo_s:.1f} s, {calls:,} calls to {int(spent['numbers']):,} "
              f"numbers generated in {spent['generate']:.1f} s, written as {segments} "
              f"segments in {spent['write']:.1f} s")
        return {"demo_s": demo_s, **spent}

    ws, _ = ledger_bench.kept(keep or tmp / "checks-build", wanted, make)
    return ws


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user + system, all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def checks_at_both(a: Service, b: Service, phones: list[str], rate: float,
                         seconds: float) -> list[tuple[list[float], float]]:
    """bench/service.py's open-loop client at `rate` checks/s at each instance at once:
    for each, the latencies (ms, from the scheduled instant) and the seconds from the
    first send to the last answer."""

    async def one(svc: Service, offset: int) -> tuple[list[float], float]:
        token = svc.tokens["dialer"]
        begin = time.perf_counter()
        latencies = await drive(svc.url, rate, seconds, lambda i: ledger_bench.request(
            "GET", ledger_bench.with_rules(phones[(i * 31 + offset) % len(phones)]), token))
        return latencies, time.perf_counter() - begin

    return list(await asyncio.gather(one(a, 0), one(b, 7)))


def part_checks(tmp: Path, calls: int, keep: Path | None, rate: int) -> bool:
    held = f"{calls / 1e6:g}M calls"
    print(f"\n== checks: GET /v1/check (campaign, agency, caller id) at {rate}/s at "
          f"each of two instances, {held} held in PostgreSQL ({CHECK_RUNS} runs of "
          f"{CHECK_SECONDS:.0f} s)")
    begin = time.perf_counter()
    base = built_ledger(calls, keep, tmp)
    print(f"  workspace with {held} ready in {time.perf_counter() - begin:.1f} s "
          f"({base.root})")
    pg = new_postgres()
    a_ws: Workspace | None = None
    try:
        copying = time.perf_counter()
        shutil.copytree(base.root, tmp / "checks-a",
                        ignore=shutil.ignore_patterns("service.log", "import-scratch"))
        copied = time.perf_counter() - copying
        ledger_mb = sum(f.stat().st_size for f in (tmp / "checks-a" / "data" / "ledger")
                        .rglob("*") if f.is_file()) / 1e6
        a_ws, migrated, said = point_at(Workspace(tmp / "checks-a"), pg.database())
        print(f"  copied in {copied:.1f} s (ledger files {ledger_mb:,.0f} MB); shared "
              f"migrate --from-files took {migrated:.1f} s:")
        for line in said.strip().splitlines():
            print(f"    {line}")
        b_ws = second_host(a_ws, tmp / "checks-b")
        segments = open_ledger(a_ws).segments()
        print(f"  the shared ledger: {len(segments)} segments, "
              f"{sum(s.rows for s in segments):,} calls")
        return measure_checks(a_ws, b_ws, rate)
    finally:
        if a_ws is not None:
            close_store(a_ws)
        pg.close()
        for name in ("checks-a", "checks-b"):
            shutil.rmtree(tmp / name, ignore_errors=True)


def measure_checks(a_ws: Workspace, b_ws: Workspace, rate: int) -> bool:
    phones = pl.read_csv(a_ws.report_dir("demo") / "dialable.csv",
                         infer_schema=False)["phone"].to_list()
    started = time.perf_counter()
    with running_service(a_ws, as_of=ledger_bench.SERVE_AS_OF, timeout=600) as a:
        a_up = time.perf_counter() - started
        started = time.perf_counter()
        with running_service(b_ws, as_of=ledger_bench.SERVE_AS_OF, timeout=600) as b:
            b_up = time.perf_counter() - started
            for name, svc, up in (("A", a, a_up), ("B", b, b_up)):
                now, peak = ledger_bench.rss_mb(svc.pid)
                with svc.client("dialer") as dialer:
                    answer = dialer.get(ledger_bench.with_rules(phones[0])).json()
                print(f"  instance {name} up in {up:.1f} s, RSS {now:,.0f} MB (peak "
                      f"{peak:,.0f}); {phones[0]} answers {answer.get('reason')} "
                      f"(dialable {answer.get('dialable')})")
                if str(answer.get("reason", "")).endswith("UNAVAILABLE"):
                    raise SystemExit(f"instance {name} answers {answer}: not ready")
            asyncio.run(checks_at_both(a, b, phones, 200, 1))  # warm-up
            p99s: list[float] = []
            for run in range(1, CHECK_RUNS + 1):
                cpu = (cpu_seconds(a.pid), cpu_seconds(b.pid), time.process_time())
                (at_a, a_s), (at_b, b_s) = asyncio.run(
                    checks_at_both(a, b, phones, rate, CHECK_SECONDS))
                used = (cpu_seconds(a.pid) - cpu[0], cpu_seconds(b.pid) - cpu[1],
                        time.process_time() - cpu[2])
                both = at_a + at_b
                for label, values, seconds in (("A", at_a, a_s), ("B", at_b, b_s),
                                               ("A+B", both, max(a_s, b_s))):
                    print(f"  run {run} {label:<4}{summary(values)}  "
                          f"{len(values) / seconds:5.0f}/s")
                seconds = max(a_s, b_s)
                print(f"  run {run} CPU used per second of the run: A {used[0] / seconds:.2f}, "
                      f"B {used[1] / seconds:.2f}, this client {used[2] / seconds:.2f} "
                      f"(of {os.cpu_count()} cores)")
                p99s.append(percentile(both, 0.99))
            for name, svc in (("A", a), ("B", b)):
                now, peak = ledger_bench.rss_mb(svc.pid)
                print(f"  instance {name} RSS {now:,.0f} MB now, peak {peak:,.0f} MB")
    median = statistics.median(p99s)
    ok = median < 10
    print(f"  combined p99 per run: {', '.join(f'{p:.1f}' for p in p99s)} ms")
    print(f"  {'PASS' if ok else 'FAIL'}: median of the combined p99s {median:.1f} ms "
          f"{'<' if ok else '>='} 10 ms at {2 * rate:,}/s across two instances")
    return ok


# --- main -------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=(*PARTS, "all"), default="all")
    parser.add_argument("--trials", type=int, default=None,
                        help="propagation: 1000 by default; kill: 15 by default")
    parser.add_argument("--calls", type=int, default=10_000_000,
                        help="checks: synthetic calls held (default 10,000,000)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="checks: build the calls' workspace in this folder and keep "
                        "it; reused when built before with the same --calls (bench/ledger.py"
                        " --keep shares it)")
    parser.add_argument("--rate", type=int, default=INSTANCE_RATE,
                        help=f"checks: per instance, a second (default {INSTANCE_RATE})")
    args = parser.parse_args()
    parts = PARTS if args.part == "all" else (args.part,)
    tmp = Path(tempfile.mkdtemp(prefix="gk-shared-trial-"))
    pg: Postgres | None = None
    results: dict[str, bool] = {}
    begin = time.perf_counter()
    try:
        template = tmp / "template"
        before: set[str] = set()
        if set(parts) - {"checks"}:
            demo_workspace(template)
            before = set(open_journal(Workspace(template)).read().events["phone"].to_list())
            print(f"demo workspace ready ({len(before)} opt-outs of its own) in "
                  f"{time.perf_counter() - begin:.1f} s")
        if "propagation" in parts or "kill" in parts:
            pg = new_postgres()
        if "propagation" in parts:
            assert pg is not None
            results["propagation"] = part_propagation(pg, template, tmp, args.trials or 1000)
        if "kill" in parts:
            assert pg is not None
            results["kill"] = part_kill(pg, template, tmp, args.trials or 15, before)
        if "outage" in parts:
            results["outage"] = part_outage(template, tmp)
        if "checks" in parts:
            if pg is not None:  # one server at a time beside two 10M-call instances
                pg.close()
                pg = None
            results["checks"] = part_checks(tmp, args.calls, args.keep, args.rate)
    finally:
        if pg is not None:
            pg.close()
        shutil.rmtree(tmp, ignore_errors=True)
    verdicts = "  ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in results.items())
    print(f"\n{verdicts}   ({time.perf_counter() - begin:.0f} s in all)")
    if not all(results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
