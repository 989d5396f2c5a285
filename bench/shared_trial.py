"""Shared-store trial (issue 26): several `gatekeeper serve` instances on one PostgreSQL.

    python bench/shared_trial.py                          # all three parts
    python bench/shared_trial.py --part propagation --trials 1000
    python bench/shared_trial.py --part kill --trials 15
    python bench/shared_trial.py --part outage

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
kill         Per trial a fresh database and instances A and B; 8 client threads post
             opt-outs for numbers of their own (each once), alternating A and B; after
             1-2 s (spread evenly over the trials) A gets SIGKILL; a client whose request
             to A fails goes on at B only, for 0.5 s more. Then the register is read
             (open_journal of B's workspace): every acknowledged (201) phone must be there,
             none twice, none never posted, and journal.verify() must find no problem.
             `--trials` (default 15).
outage       One instance (the demo's agencies added and served as of Monday 11:00 in
             Rome, so some numbers are dialable), a thread checking ~200/s; PostgreSQL is
             stopped for 10 s and started again. Prints how soon checks answered
             OPTOUTS_UNAVAILABLE, any answer during the outage that was dialable or not
             HTTP 200, the opt-outs posted meanwhile (503 expected), the time from start()
             returning to the first normal answer (target < 5 s) and to the first 201, and
             whether the instance is still alive.

Servers, instances and temporary folders are removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path
from typing import Any

import httpx
import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from service import AS_OF, demo_workspace, gk  # noqa: E402  (bench/service.py)

from gatekeeper.config import Workspace  # noqa: E402
from gatekeeper.privacy.optouts import open_journal  # noqa: E402
from gatekeeper.shared import shared_store  # noqa: E402
from tests.postgres import Postgres  # noqa: E402  (no pytest run needed)
from tests.service_helper import Service, running_service  # noqa: E402

DIAL_AT = "2026-11-23T10:00"  # Monday 11:00 in Rome: inside the calling hours
PURPOSE = "telemarketing"
KILL_CLIENTS = 8
AFTER_KILL = 0.5  # seconds the clients go on at B once A is killed
OUTAGE = 10.0  # seconds PostgreSQL stays stopped
CHECK_RATE = 200  # checks per second during the outage part


# --- set-up ---------------------------------------------------------------------------

def new_postgres() -> Postgres:
    return Postgres(Path(tempfile.mkdtemp(prefix="gk-pg-")))


def shared_workspace(template: Path, root: Path, url: str) -> Workspace:
    """A copy of the demo workspace whose opt-out register is the database at url."""
    shutil.copytree(template, root, ignore=shutil.ignore_patterns("service.log"))
    ws = Workspace(root)
    with ws.config_path.open("a") as config:
        config.write(f'\n[shared]\nurl = "{url}"\n')
    for args in (("shared", "init"), ("shared", "migrate", "--from-files")):
        result = gk(ws, *args)
        if result.exit_code != 0:
            raise SystemExit(f"gatekeeper {' '.join(args)} failed: {result.output}")
    return ws


def second_host(ws: Workspace, root: Path) -> Workspace:
    """The same workspace on another machine: its files copied, the shared store the same."""
    shutil.copytree(ws.root, root, ignore=shutil.ignore_patterns("service.log"))
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


# --- 2. kill -9 of one instance during a burst of opt-outs ------------------------------

def burst(a: Service, b: Service, kill_after: float) -> tuple[list[tuple[Any, ...]], float]:
    """8 clients posting opt-outs, alternating A and B, A killed after kill_after s.
    Returns every request (phone, target, status or error name, sent, answered) and the
    instant of the kill."""
    stop = threading.Event()
    records: list[list[tuple[Any, ...]]] = [[] for _ in range(KILL_CLIENTS)]

    def client(worker: int) -> None:
        mine = records[worker]
        with a.client("agent") as to_a, b.client("agent") as to_b:
            a_gone = False
            i = 0
            while not stop.is_set():
                phone = f"+39347{worker}{i:06d}"  # each number posted once
                target = "B" if a_gone or (i + worker) % 2 else "A"
                sent = time.perf_counter()
                try:
                    answer = (to_a if target == "A" else to_b).post(
                        "/v1/optouts", json={"phone": phone})
                    status: int | str = answer.status_code
                except httpx.TransportError as exc:
                    status = type(exc).__name__
                    a_gone = a_gone or target == "A"
                mine.append((phone, target, status, sent, time.perf_counter()))
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


def part_kill(pg: Postgres, template: Path, tmp: Path, trials: int,
              before: set[str]) -> bool:
    print(f"\n== kill: {KILL_CLIENTS} clients posting opt-outs to A and B, kill -9 of A "
          f"after 1-2 s, {AFTER_KILL} s more at B ({trials} trials)")
    columns = ("trial", "kill@ s", "posted", "acked", "at A", "at B", "B after kill",
               "lost at A", "stored", "stored unacked", "missing", "dup", "never posted",
               "other errors", "B max ms after kill", "verify")
    print("  " + "  ".join(columns))
    print("  (acked: answered 201; lost at A: requests to A that failed once it was killed; "
          "stored unacked: committed, the answer lost with A)")
    failures = 0
    begin = time.perf_counter()
    for k in range(trials):
        kill_after = 1.0 + (k / (trials - 1) if trials > 1 else 0.5)
        a_ws = shared_workspace(template, tmp / f"kill{k}-a", pg.database())
        b_ws = second_host(a_ws, tmp / f"kill{k}-b")
        try:
            with (running_service(a_ws, as_of=AS_OF) as a,
                  running_service(b_ws, as_of=AS_OF) as b):
                records, killed = burst(a, b, kill_after)
                b_alive = healthy(b)
            journal = open_journal(b_ws)
            events = journal.read().events
            problems = journal.verify()[1]
        finally:
            close_store(a_ws)
            shutil.rmtree(a_ws.root, ignore_errors=True)
            shutil.rmtree(b_ws.root, ignore_errors=True)
        posted = {r[0] for r in records}
        acked = [r for r in records if r[2] == 201]
        acked_phones = {r[0] for r in acked}
        ack_a = sum(r[1] == "A" for r in acked)
        ack_b_after = sum(r[1] == "B" and r[3] > killed for r in acked)
        # A's requests that failed because it was killed: not acknowledged, and fine.
        lost = [r[1] == "A" and isinstance(r[2], str) and r[4] >= killed for r in records]
        a_errors = [r for r, gone in zip(records, lost, strict=True) if gone]
        unexpected = [r for r, gone in zip(records, lost, strict=True)
                      if r[2] != 201 and not gone]
        b_after = [(r[4] - r[3]) * 1000 for r in records if r[1] == "B" and r[4] > killed]
        counts = collections.Counter(events["phone"].to_list())
        stored = {p for p in counts if p in posted}
        missing = acked_phones - stored
        duplicates = sorted(p for p in posted if counts[p] > 1)
        unknown = sorted(set(counts) - posted - before)  # in the register, never posted
        unacked_stored = stored - acked_phones  # committed, the answer lost with A
        ok = (not missing and not duplicates and not unknown and not unexpected
              and not problems and ack_b_after > 0 and b_alive)
        failures += not ok
        cells = (k + 1, f"{kill_after:.2f}", len(posted), len(acked), ack_a,
                 len(acked) - ack_a, ack_b_after, len(a_errors), len(stored),
                 len(unacked_stored), len(missing), len(duplicates), len(unknown),
                 len(unexpected), f"{max(b_after, default=0):.1f}",
                 ("ok" if not problems else "PROBLEMS") + ("" if ok else "  <- FAIL"))
        print("  " + "  ".join(f"{c!s:>{len(h)}}" for c, h in zip(cells, columns, strict=True)))
        for line in problems[:5]:
            print(f"         verify: {line}")
        for r in unexpected[:5]:
            print(f"         unexpected: {r[0]} at {r[1]}: {r[2]}")
        if missing:
            print(f"         missing: {', '.join(sorted(missing)[:10])}")
        if not b_alive:
            print("         B did not answer /healthz after the kill")
    print(f"  ({time.perf_counter() - begin:.0f} s)")
    print(f"  {'PASS' if not failures else 'FAIL'}: {trials - failures} of {trials} trials "
          "kept every acknowledged opt-out, none twice, and a register that verifies")
    return not failures


# --- 3. PostgreSQL away for 10 s under one instance -------------------------------------

def part_outage(template: Path, tmp: Path) -> bool:
    print(f"\n== outage: one instance, checks at ~{CHECK_RATE}/s, PostgreSQL stopped for "
          f"{OUTAGE:.0f} s")
    pg = new_postgres()
    ws: Workspace | None = None
    try:
        ws = shared_workspace(template, tmp / "outage", pg.database())
        shutil.copytree(REPO / "agencies", ws.root / "agencies")  # so numbers are dialable
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

    def post() -> tuple[int | str, str, float, str]:
        phone = f"+39347{next(numbers):07d}"
        sent = time.perf_counter()
        try:
            answer = agent.post("/v1/optouts", json={"phone": phone})
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
        during: list[tuple[int | str, str, float, str]] = []
        post_at: list[float] = []
        for at in (1.0, 5.0, 8.0):  # opt-outs while it is away
            time.sleep(max(0.0, stopped + at - time.perf_counter()))
            post_at.append(time.perf_counter())
            during.append(post())
        time.sleep(max(0.0, stopped + OUTAGE - time.perf_counter()))
        start_called = time.perf_counter()
        pg.start()
        started = time.perf_counter()
        refused_after = 0
        first_201: float | None = None
        accepted_phone = ""
        while time.perf_counter() - started < 30:
            status, _code, _ms, phone = post()
            if status == 201:
                first_201, accepted_phone = time.perf_counter() - started, phone
                break
            refused_after += 1
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
    accepted_blocked = (check(dialer, accepted_phone)["reason"] == "OPTED_OUT"
                        if accepted_phone else False)
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
    for (status, code, ms, phone), at in zip(during, post_at, strict=True):
        print(f"  POST /v1/optouts while away ({phone}, {at - stop_called:+.2f} s from stop):"
              f" {status} {code} in {ms:.0f} ms")
    if first_normal is None:
        print("  checks did NOT answer normally again within 30 s of start()")
    else:
        print(f"  first normal check answer {(first_normal - started) * 1000:.0f} ms after "
              f"start() returned ({(first_normal - start_called) * 1000:.0f} ms after it was "
              f"called); OPTOUTS_UNAVAILABLE after that: {relapses}")
    if first_201 is None:
        print("  no POST /v1/optouts answered 201 within 30 s of start()")
    else:
        print(f"  first 201 of POST /v1/optouts {first_201 * 1000:.0f} ms after start() "
              f"returned ({refused_after} refused before it); that number answers "
              f"{'OPTED_OUT' if accepted_blocked else 'NOT OPTED_OUT'}")
    print(f"  instance pid {service.pid} {'alive, /healthz 200' if alive else 'NOT alive'}; "
          f"register verify: {'no problem' if not problems else problems[:3]}")
    ok = (first_unavailable is not None and away_dialable == 0 and away_not_200 == 0
          and all(d[0] == 503 and d[1] == "shared_store_unavailable" for d in during)
          and first_normal is not None and first_normal - started < 5
          and first_201 is not None and accepted_blocked and alive and not problems
          and opted_dialable == 0)
    print(f"  {'PASS' if ok else 'FAIL'}: fail closed while away, 503 for writes, resumed "
          "within 5 s, instance alive")
    return ok


# --- main -------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("propagation", "kill", "outage", "all"),
                        default="all")
    parser.add_argument("--trials", type=int, default=None,
                        help="propagation: 1000 by default; kill: 15 by default")
    args = parser.parse_args()
    parts = ("propagation", "kill", "outage") if args.part == "all" else (args.part,)
    tmp = Path(tempfile.mkdtemp(prefix="gk-shared-trial-"))
    pg: Postgres | None = None
    results: dict[str, bool] = {}
    begin = time.perf_counter()
    try:
        template = tmp / "template"
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
