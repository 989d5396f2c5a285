"""Contact-ledger benchmark: the targets of issue 15, measured on the real service.

    python bench/ledger.py                           # 10M calls, every target, 3 runs each
    python bench/ledger.py --calls 1000000 --runs 1  # a quick look
    python bench/ledger.py --keep /tmp/gk-ledger     # build once, keep the workspace ...
    python bench/ledger.py --keep /tmp/gk-ledger     # ... and reuse it the next time

Targets (PRODUCT.md "The contact ledger" and "Dial-time rules"):

1. POST /v1/calls p99 < 25 ms at 200 calls/s while GET /v1/check runs at 500/s;
2. GET /v1/check with the dial-time rules (campaign, agency, caller id): p99 < 10 ms at
   1,000/s with 10M ledger entries held;
3. POST /v1/check with 10,000 numbers: < 100 ms;
4. `gatekeeper calls import` of 1M records: < 5 s (wall time and peak RSS of the command).

It builds the demo workspace as the README's quick start does (plus agencies/ and
data/calls/), fills the ledger with `--calls` seeded synthetic calls (generated columnar,
written by the library as `--segments` imports, as a dialer's daily exports would arrive),
starts the real `gatekeeper serve --as-of 2026-11-23T10:00` (a Monday inside the calling
hours) in its own process and drives it open-loop with bench/service.py's client: latency
counts from the scheduled instant, so a slow answer shows as latency, not as a lower rate.
Every target is measured `--runs` times and the median is what is judged: the machine is
noisy. Target 4 runs the command as a subprocess on a copy of the workspace restored to
the filled ledger before each run, and reads its peak RSS from the kernel.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from service import copy_demo, drive, gk  # noqa: E402  (bench/service.py)

from gatekeeper.config import Workspace  # noqa: E402
from gatekeeper.core.timeutil import parse_instant  # noqa: E402
from gatekeeper.dial.ledger import Ledger, conform  # noqa: E402
from gatekeeper.jurisdictions import IT  # noqa: E402
from tests.service_helper import Service, running_service  # noqa: E402

RUN_AS_OF = "2026-11-22"  # the README's quick start (the demo's RPO answer is of 11-20)
SERVE_AS_OF = "2026-11-23T10:00"  # Monday 10:00 in Rome: inside the calling hours
LEDGER_END = dt.datetime(2026, 11, 23)  # synthetic calls: the 60 days before this (UTC)
DAYS = 60
AGENCIES = {"connecto": ("+390287650001", "+390287650002"),
            "callpro": ("+390299990001", "+390299990002")}
# A dialer's day: mostly nobody answers; refusals and objections are a few percent.
OUTCOME_WEIGHTS = {"no_answer": 0.34, "busy": 0.08, "failed": 0.05, "voicemail": 0.15,
                   "answered": 0.20, "refused": 0.08, "callback": 0.04, "optout": 0.01,
                   "wrong_number": 0.03, "sale": 0.02}
IMPORT_ROWS = 1_000_000
TARGETS = {1: 25.0, 2: 10.0, 3: 100.0, 4: 5.0}


# --- the workspace ---------------------------------------------------------------------

def demo_workspace(root: Path) -> Workspace:
    """The README's quick start on a copy of the demo, with the agencies and their calls."""
    ws = copy_demo(root)
    shutil.copytree(REPO / "agencies", root / "agencies")
    shutil.copytree(REPO / "data" / "calls", root / "data" / "calls")
    for args in (("load",), ("rpo", "import", "--request", "data/rpo/2026-11-20-request.txt",
                             "--response", "data/rpo/2026-11-20-response.txt",
                             "--checked-at", "2026-11-20T10:00"),
                 ("optout", "import", "data/optouts-demo.csv"),
                 ("run", "--campaign", "demo", "--purpose", "telemarketing",
                  "--as-of", RUN_AS_OF)):
        result = gk(ws, *args)
        if result.exit_code != 0:
            raise SystemExit(f"gatekeeper {' '.join(args)} failed: {result.output}")
    return ws


def number_pool(ws: Workspace, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` phone keys (E.164 without '+'): the demo's dialable numbers (so checks
    find calls for the numbers they ask about) and random Italian mobiles."""
    dialable = pl.read_csv(ws.report_dir("demo") / "dialable.csv", infer_schema=False)
    demo = dialable["phone"].str.strip_prefix("+").cast(pl.Int64).unique().to_numpy()
    mobiles = 393_100_000_000 + rng.integers(0, 900_000_000, max(count - len(demo), 0))
    return np.unique(np.concatenate([demo, mobiles]))


def synthetic_calls(pool: np.ndarray, count: int, rng: np.random.Generator, *,
                    first_id: int = 0, end: dt.datetime = LEDGER_END) -> pl.DataFrame:
    """`count` calls in LEDGER_SCHEMA, columnar (no Python loop per call): numbers drawn
    from `pool`, started in the DAYS days before `end` between 07:00 and 19:00 UTC,
    agencies, caller ids and outcomes drawn with fixed weights, 2% inbound."""
    end_us = int((end - dt.datetime(1970, 1, 1)).total_seconds() * 1_000_000)
    day = rng.integers(1, DAYS + 1, count)
    second = rng.integers(7 * 3600, 19 * 3600, count)
    started = end_us - day * 86_400_000_000 + second * 1_000_000
    names = list(AGENCIES)
    agency = rng.integers(0, len(names), count)
    outcome = rng.choice(len(OUTCOME_WEIGHTS), count,
                         p=np.array(list(OUTCOME_WEIGHTS.values())) / sum(
                             OUTCOME_WEIGHTS.values()))
    keys = pool[rng.integers(0, len(pool), count)]
    caller = rng.integers(0, 2, count)
    frame = pl.DataFrame({
        "agency": pl.Series(agency, dtype=pl.UInt32).replace_strict(
            dict(enumerate(names)), return_dtype=pl.String),
        "call_id": pl.int_range(first_id, first_id + count, eager=True).cast(pl.String),
        "phone_key": keys,
        "campaign": pl.repeat("demo", count, eager=True),
        "agent": "agent" + pl.Series(rng.integers(1, 41, count)).cast(pl.String).str.zfill(2),
        "caller_pick": caller,
        "direction": np.where(rng.random(count) < 0.02, "inbound", "outbound"),
        "started_at": pl.Series(started).cast(pl.Datetime("us")),
        "duration_s": np.where(rng.random(count) < 0.5, 0, rng.integers(5, 900, count)),
        "outcome": pl.Series(outcome, dtype=pl.UInt32).replace_strict(
            dict(enumerate(OUTCOME_WEIGHTS)), return_dtype=pl.String),
    })
    shown = {f"{a}{i}": ids[i] for a, ids in AGENCIES.items() for i in range(2)}
    return conform(frame.with_columns(
        ("+" + pl.col("phone_key").cast(pl.String)).alias("phone"),
        (pl.col("agency") + pl.col("caller_pick").cast(pl.String))
        .replace_strict(shown, return_dtype=pl.String).alias("caller_id"),
        pl.lit(LEDGER_END, pl.Datetime("us")).alias("recorded_at"),
        pl.lit("import").alias("via")))


def fill_ledger(ws: Workspace, calls: int, numbers: int, segments: int, seed: int
                ) -> dict[str, float]:
    """Write `calls` synthetic calls through Ledger.record as `segments` imports
    (each a slice of the period, as daily exports come); returns the times spent."""
    rng = np.random.default_rng(seed)
    begin = time.perf_counter()
    pool = number_pool(ws, numbers, rng)
    frame = synthetic_calls(pool, calls, rng).sort("started_at")
    generated = time.perf_counter()
    ledger = Ledger(ws.ledger_dir)
    size = -(-calls // segments)
    for n, start in enumerate(range(0, calls, size)):
        part = frame.slice(start, size)
        # synthetic history: no journal, its `optout` calls are no objections (as before)
        repeated = ledger.record(part, None,
                                 source=f"import:bench-{seed}-{n}").repeated.height
        if repeated:
            raise SystemExit(f"synthetic calls repeated: {repeated}")
    written = time.perf_counter()
    return {"generate": generated - begin, "write": written - generated,
            "numbers": float(len(pool))}


def import_csv(path: Path, rows: int, pool: np.ndarray, seed: int) -> None:
    """A 1M-row export in the ledger's own column names (connecto has no [calls] map),
    as a dialer writes it: national numbers, Rome-time stamps without an offset."""
    rng = np.random.default_rng(seed + 1)
    calls = synthetic_calls(pool, rows, rng, first_id=10**12)
    calls.select(
        "call_id", pl.col("phone").str.strip_prefix("+39").alias("phone"),
        pl.col("started_at").dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Rome")
        .dt.strftime("%Y-%m-%d %H:%M:%S").alias("started_at"),
        "outcome", "agent", "campaign", "duration_s",
        pl.col("caller_id").str.strip_prefix("+39").alias("caller_id"), "direction",
    ).write_csv(path)


# --- the service -----------------------------------------------------------------------

@contextmanager
def serving(ws: Workspace) -> Iterator[tuple[Service, float]]:
    """The tests' `gatekeeper serve --as-of SERVE_AS_OF` on loopback (a token per role),
    and its start-up time: until /healthz answers, the service reads the ledger first."""
    begin = time.perf_counter()
    with running_service(ws, as_of=SERVE_AS_OF, timeout=600) as svc:
        yield svc, time.perf_counter() - begin


def kept(parent: Path, wanted: dict[str, Any], make: Callable[[Path], dict[str, Any]]
         ) -> tuple[Workspace, dict[str, Any]]:
    """The workspace in parent/ws as `make` builds it, reused when built before with the
    same `wanted` options (built.json); `make` returns figures of the build to keep."""
    root, marker = parent / "ws", parent / "built.json"
    if marker.exists() and json.loads(marker.read_text()).get("wanted") == wanted:
        built: dict[str, Any] = json.loads(marker.read_text())
        print(f"reusing {root} (built {built['built_s']:.0f} s)")
        return Workspace(root), built
    shutil.rmtree(parent, ignore_errors=True)
    parent.mkdir(parents=True)
    begin = time.perf_counter()
    spent = make(root)
    built = {"wanted": wanted, "built_s": time.perf_counter() - begin, **spent}
    marker.write_text(json.dumps(built))
    return Workspace(root), built


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process, MB, from /proc."""
    fields = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def request(method: str, path: str, token_: str, body: bytes = b"") -> bytes:
    """One raw HTTP/1.1 request (bench/service.py's client speaks bytes)."""
    head = (f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token_}\r\n")
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[max(int(len(ordered) * 0.99) - 1, 0)]


def describe(latencies: list[float], seconds: float) -> str:
    ordered = sorted(latencies)
    return (f"{len(ordered) / seconds:6.0f} req/s  p50 {statistics.median(ordered):6.1f} ms"
            f"  p99 {p99(ordered):6.1f} ms  max {ordered[-1]:7.1f} ms")


# --- the targets -----------------------------------------------------------------------

def with_rules(phone: str) -> str:
    """A check as a dialer asks it under the dial-time rules (campaign, agency, caller)."""
    return (f"/v1/check?phone={phone.replace('+', '%2B')}&purpose=telemarketing"
            f"&campaign=demo&agency=callpro&caller_id=%2B390299990001")


async def target_1(svc: Service, phones: list[str], seconds: float, run: int
                   ) -> tuple[list[float], list[float]]:
    """POST /v1/calls at 200/s while GET /v1/check runs at 500/s, together."""
    dialer = svc.tokens["dialer"]
    stamp = parse_instant(SERVE_AS_OF, IT.timezone_name) - dt.timedelta(minutes=30)
    # New calls each time, even in a kept workspace: a repeated call_id is another path.
    fresh = f"{time.time_ns():x}"

    def call(i: int) -> bytes:
        body = json.dumps({
            "call_id": f"bench-{fresh}-{run}-{i}", "agency": "callpro",
            "phone": phones[(i * 7919) % len(phones)],
            "started_at": (stamp + dt.timedelta(milliseconds=i)).isoformat() + "Z",
            "outcome": ("no_answer", "busy", "answered", "voicemail")[i % 4],
            "campaign": "demo", "caller_id": "+390299990001"}).encode()
        return request("POST", "/v1/calls", dialer, body)

    def check(i: int) -> bytes:
        return request("GET", with_rules(phones[i % len(phones)]), dialer)

    calls, checks = await asyncio.gather(drive(svc.url, 200, seconds, call),
                                         drive(svc.url, 500, seconds, check))
    return calls, checks


async def target_2(svc: Service, phones: list[str], seconds: float) -> list[float]:
    """GET /v1/check with campaign, agency and caller id at 1,000/s."""
    dialer = svc.tokens["dialer"]
    return await drive(svc.url, 1000, seconds,
                       lambda i: request("GET", with_rules(phones[(i * 31) % len(phones)]),
                                         dialer))


def target_3(svc: Service, numbers: list[str], runs: int) -> list[float]:
    """POST /v1/check with 10,000 numbers, one at a time (ms from send to last byte)."""
    body = {"purpose": "telemarketing", "campaign": "demo", "agency": "callpro",
            "caller_id": "+390299990001", "numbers": numbers}
    times = []
    with httpx.Client(base_url=svc.url, timeout=60,
                      headers={"Authorization": f"Bearer {svc.tokens['dialer']}"}) as client:
        client.post("/v1/check", json=body).raise_for_status()  # warm up
        for _ in range(runs):
            begin = time.perf_counter()
            response = client.post("/v1/check", json=body)
            times.append((time.perf_counter() - begin) * 1000)
            response.raise_for_status()
            if len(response.json()) != len(numbers):
                raise SystemExit("POST /v1/check answered a different number of numbers")
    return times


MUTABLE = ("data/ledger/segments.jsonl", "data/optouts.jsonl", "data/optouts.checkpoints")


def restore(base: Path, scratch: Path) -> None:
    """The scratch workspace as `base` (hard links; the files an import appends to are
    copied), so every import run starts from the filled ledger."""
    shutil.rmtree(scratch, ignore_errors=True)
    subprocess.run(["cp", "-al", str(base), str(scratch)], check=True)
    for name in MUTABLE:
        if (base / name).exists():
            (scratch / name).unlink()
            shutil.copy2(base / name, scratch / name)


def target_4(ws: Workspace, csv: Path, runs: int) -> list[tuple[float, float, str]]:
    """`gatekeeper calls import CSV --agency connecto` as a subprocess: (wall s, peak RSS
    MB, its output) per run, each on a copy of the workspace with the filled ledger."""
    scratch = ws.root.parent / "import-scratch"
    results = []
    for _ in range(runs):
        restore(ws.root, scratch)
        begin = time.perf_counter()
        out = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m",
                              "gatekeeper.cli", "--home", str(scratch), "calls", "import",
                              str(csv), "--agency", "connecto"],
                             capture_output=True, text=True)
        wall = time.perf_counter() - begin
        if out.returncode != 0:
            raise SystemExit(f"calls import failed: {out.stdout}{out.stderr}")
        peak_kb = int(out.stderr.strip().splitlines()[-1])
        results.append((wall, peak_kb / 1024, out.stdout.strip()))
    shutil.rmtree(scratch, ignore_errors=True)
    return results


def verdict(label: str, figure: float, unit: str, target: float, note: str = "") -> str:
    ok = "PASS" if figure < target else "FAIL"
    return f"{label:<58}{figure:8.1f} {unit:<3} (target < {target:g} {unit})  {ok}{note}"


def median_of(runs: list[float]) -> float:
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000_000,
                        help="synthetic calls in the ledger (default 10,000,000)")
    parser.add_argument("--numbers", type=int, default=0,
                        help="distinct numbers they go to (default calls / 4)")
    parser.add_argument("--segments", type=int, default=20,
                        help="imports the calls arrive in (default 20)")
    parser.add_argument("--seconds", type=float, default=10, help="length of a rate run")
    parser.add_argument("--runs", type=int, default=3, help="runs per target (median)")
    parser.add_argument("--import-rows", type=int, default=IMPORT_ROWS)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--only", default="1,2,3,4", help="targets to measure, e.g. 2,3")
    parser.add_argument("--keep", type=Path, help="build the workspace here and keep it; "
                        "reused if it was built before with the same --calls")
    args = parser.parse_args()
    only = {int(t) for t in args.only.split(",")}
    numbers = args.numbers or max(args.calls // 4, 10_000)
    parent = args.keep or Path(tempfile.mkdtemp(prefix="gk-ledger-"))
    wanted = {"calls": args.calls, "numbers": numbers, "segments": args.segments,
              "seed": args.seed}

    def make(root: Path) -> dict[str, Any]:
        begin = time.perf_counter()
        ws = demo_workspace(root)
        demo_s = time.perf_counter() - begin
        spent = fill_ledger(ws, args.calls, numbers, args.segments, args.seed)
        print(f"built: demo {demo_s:.1f} s, {args.calls:,} calls to "
              f"{int(spent['numbers']):,} numbers generated in {spent['generate']:.1f} s, "
              f"written as {args.segments} segments in {spent['write']:.1f} s")
        return {"demo_s": demo_s, **spent}

    try:
        ws, _ = kept(parent, wanted, make)
        dialable = pl.read_csv(ws.report_dir("demo") / "dialable.csv", infer_schema=False)
        phones = dialable["phone"].to_list()
        rows: list[str] = []
        measure(args, ws, phones, only, rows)
        print()
        for row in rows:
            print(row)
    finally:
        if not args.keep:
            shutil.rmtree(parent, ignore_errors=True)


def measure(args: argparse.Namespace, ws: Workspace, phones: list[str],
            only: set[int], rows: list[str]) -> None:
    runs, seconds = args.runs, args.seconds
    held = f"{args.calls / 1e6:g}M calls held"
    if only & {1, 2, 3}:
        with serving(ws) as (svc, started_in):
            rss, _ = rss_mb(svc.pid)
            print(f"service up in {started_in:.1f} s with {held}, RSS {rss:,.0f} MB")
            asyncio.run(drive(svc.url, 200, 1, lambda i: request(
                "GET", with_rules(phones[i % len(phones)]), svc.tokens["dialer"])))
            first: list[float] = []
            if 1 in only:
                posts, checks = [], []
                for run in range(runs):
                    calls, during = asyncio.run(target_1(svc, phones, seconds, run))
                    print(f"  1 POST /v1/calls  {describe(calls, seconds)}   "
                          f"(GET /v1/check alongside: {describe(during, seconds)})")
                    posts.append(p99(calls))
                    checks.append(p99(during))
                first = posts
                rows.append(verdict("1 POST /v1/calls p99 at 200/s with checks at 500/s",
                                    median_of(posts), "ms", TARGETS[1],
                                    f"  (checks alongside p99 {median_of(checks):.1f} ms)"))
            if 2 in only:
                p99s = []
                for _ in range(runs):
                    latencies = asyncio.run(target_2(svc, phones, seconds))
                    print(f"  2 GET /v1/check   {describe(latencies, seconds)}")
                    p99s.append(p99(latencies))
                rows.append(verdict(f"2 GET /v1/check (rules) p99 at 1,000/s, {held}",
                                    median_of(p99s), "ms", TARGETS[2]))
            if 3 in only:
                rng = np.random.default_rng(args.seed + 2)
                pool = number_pool(ws, 20_000, rng)
                numbers = [*phones, *("+" + str(k) for k in pool)][:10_000]
                times = target_3(svc, numbers, max(runs, 5))
                print("  3 POST /v1/check  10,000 numbers: "
                      + ", ".join(f"{t:.0f}" for t in times) + " ms")
                rows.append(verdict("3 POST /v1/check, 10,000 numbers", median_of(times),
                                    "ms", TARGETS[3]))
            rss, peak = rss_mb(svc.pid)
            rows.append(f"service start-up with {held}: {started_in:.1f} s; RSS "
                        f"{rss:,.0f} MB now, peak {peak:,.0f} MB")
            del first
    if 4 in only:
        csv = ws.root.parent / f"calls-{args.import_rows}.csv"
        if not csv.exists():
            rng = np.random.default_rng(args.seed)
            pool = number_pool(ws, max(args.calls // 4, 10_000), rng)
            import_csv(csv, args.import_rows, pool, args.seed)
        results = target_4(ws, csv, runs)
        for wall, peak, output in results:
            print(f"  4 calls import    {wall:.2f} s, peak RSS {peak:,.0f} MB: {output}")
        rows.append(verdict(f"4 calls import of {args.import_rows:,} rows into {held}",
                            median_of([r[0] for r in results]), "s", TARGETS[4],
                            f"  (peak RSS {median_of([r[1] for r in results]):,.0f} MB)"))
        print(f"  the command alone: {restore_hint(ws, csv)}")


def restore_hint(ws: Workspace, csv: Path) -> str:
    """The command alone, on a copy made as `restore` makes it: every file an import
    appends to copied, not linked (a linked opt-out checkpoint file corrupts the base)."""
    scratch = ws.root.parent / "import-scratch"
    copies = "; ".join(f"cp --remove-destination {ws.root}/{name} {scratch}/{name}"
                       for name in MUTABLE if (ws.root / name).exists())
    return (f"cp -al {ws.root} {scratch}; {copies}; gatekeeper --home {scratch} calls import "
            f"{csv} --agency connecto")


if __name__ == "__main__":
    main()
