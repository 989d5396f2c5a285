"""Concurrency trial: readers beside a storm of opt-outs never report damage that is not there.

    python bench/concurrency.py                      # 1 trial of 60 s, 260 opt-outs/s asked
    python bench/concurrency.py --trials 3 --seconds 60
    python bench/concurrency.py --seconds 10 --service-rate 300 --cli-rate 0

PRODUCT.md, Quality bars, "Concurrent": opt-outs written while runs, checks and backups
read never make a reader report damage that is not there, and never make a check answer
503 for lack of a lock. Each trial builds a fresh copy of the demo workspace (the README's
quick start) in a temporary folder, starts the real `gatekeeper serve` on 127.0.0.1 and,
for `--seconds`:

- writes opt-outs: POST /v1/optouts open-loop at `--service-rate`, and `--cli-agents`
  processes each running `gatekeeper optout add` (the CLI's own code, in a loop in one
  interpreter: a new one per objection costs ~0.5 s) at their share of `--cli-rate`;
- reads: GET /v1/check open-loop at `--check-rate`, `gatekeeper run` and `gatekeeper
  check` each back to back as separate processes, and `gatekeeper audit verify`.

It prints per trial the achieved write rate, checks answered and how many got 503, the
runs, checks and audits refused for damage ("cut", "damaged", "cannot be trusted"), and
the medians over the trials. Every write is acknowledged or counted as failed; everything
stops by itself; the exit status is 1 when any false refusal or 503 was seen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from service import Connection, copy_demo, gk  # noqa: E402  (bench/service.py)

from gatekeeper.config import Workspace  # noqa: E402
from tests.service_helper import running_service  # noqa: E402

RUN_AS_OF = "2026-11-22T12:00"  # the demo run's instant
DIAL_AT = "2026-11-23T10:00"  # Monday 11:00 in Rome: inside the calling hours
REFUSAL_WORDS = ("cut", "damaged", "cannot be trusted", "not a journal entry", "shorter")

# An agent's `gatekeeper optout add` at a fixed rate, for a bounded time, counting what was
# acknowledged (exit 0) and what was not.
AGENT = textwrap.dedent("""
    import sys, time
    from gatekeeper.cli import cli
    home, agent, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \\
        float(sys.argv[4])
    begin, done, failed = time.monotonic(), 0, 0
    while (now := time.monotonic()) < begin + seconds:
        due = begin + (done + failed) / rate
        if due > now:
            time.sleep(due - now)
        try:
            cli.main(["--home", home, "optout", "add", f"349{agent:02d}{done + failed:05d}",
                      "--channel", "operator", "--by", f"agent{agent}"],
                     standalone_mode=False)
            done += 1
        except SystemExit as exc:
            done, failed = (done + 1, failed) if not exc.code else (done, failed + 1)
        except Exception:
            failed += 1
    print(done, failed, flush=True)
""")


def quick_start(root: Path) -> Workspace:
    """A copy of the demo after the README's quick start, with the demo's agencies and
    calls (load, RPO import, opt-outs, run), its commands run from inside it."""
    ws = copy_demo(root)
    shutil.copytree(REPO / "agencies", root / "agencies")
    shutil.copytree(REPO / "data" / "calls", root / "data" / "calls")
    with contextlib.chdir(root):  # the quick start's paths are the workspace's
        for args in (("load",), ("rpo", "import", "--request",
                                 "data/rpo/2026-11-20-request.txt", "--response",
                                 "data/rpo/2026-11-20-response.txt", "--checked-at",
                                 "2026-11-20T10:00"),
                     ("optout", "import", "data/optouts-demo.csv"),
                     ("run", "--campaign", "demo", "--purpose", "telemarketing", "--as-of",
                      RUN_AS_OF)):
            result = gk(ws, *args)
            if result.exit_code != 0:
                raise SystemExit(f"gatekeeper {' '.join(args)} failed: {result.output}")
    return ws


def gk_process(ws_root: Path, *args: str, timeout: float = 300) -> tuple[int, str]:
    """The real CLI in its own process (as a cron job or a second terminal runs it)."""
    done = subprocess.run([sys.executable, "-m", "gatekeeper.cli", "--home", str(ws_root),
                           *args], capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr


def false_refusal(code: int, output: str, fine: tuple[int, ...]) -> bool:
    """A reader saying the evidence is damaged (it is not: nothing here damages it): the
    journal refusals (exit 5/6, "cut", "damaged"), and any problem `audit verify` finds."""
    return code not in fine and (code in (1, 5, 6) or any(w in output for w in REFUSAL_WORDS))


class Readers(threading.Thread):
    """One CLI command run back to back until stopped; counts answers and refusals."""

    def __init__(self, ws_root: Path, args: tuple[str, ...], fine: tuple[int, ...],
                 stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.ws_root, self.args, self.fine, self.stop = ws_root, args, fine, stop
        self.runs = 0
        self.refused: list[str] = []
        self.other: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            code, output = gk_process(self.ws_root, *self.args)
            self.runs += 1
            if false_refusal(code, output, self.fine):
                self.refused.append(output.strip().splitlines()[-1][:300])
            elif code not in self.fine:
                self.other.append(f"exit {code}: {output.strip()[-300:]}")


async def open_loop(url: str, rate: float, seconds: float, payload: Any,
                    connections: int = 16) -> dict[int, int]:
    """payload(i) every 1/rate s for `seconds` over keep-alive connections; the count of
    each HTTP status (0: the connection failed)."""
    host, port = url.removeprefix("http://").split(":")
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection(*await asyncio.open_connection(host, int(port))))
    statuses: dict[int, int] = {}

    async def one(i: int) -> None:
        conn = await pool.get()
        try:
            status = await asyncio.wait_for(conn.send(payload(i)), 30)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            status = 0
            conn = Connection(*await asyncio.open_connection(host, int(port)))
        finally:
            pool.put_nowait(conn)
        statuses[status] = statuses.get(status, 0) + 1

    tasks = []
    begin = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = begin + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().writer.close()
    return statuses


def trial(args: argparse.Namespace, n: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="gk-concurrency-")) / "ws"
    try:
        ws = quick_start(root)
        phones = [line.split(",")[0] for line in
                  (ws.report_dir("demo") / "dialable.csv").read_text().splitlines()[1:]]
        with running_service(ws, DIAL_AT) as svc:
            agent = svc.tokens["agent"]

            def check(i: int) -> bytes:
                phone = phones[i % len(phones)].replace("+", "%2B")
                return (f"GET /v1/check?phone={phone}&purpose=telemarketing HTTP/1.1\r\n"
                        f"Host: bench\r\nAuthorization: Bearer {agent}\r\n\r\n").encode()

            def optout(i: int) -> bytes:
                body = json.dumps({"phone": f"348{n:02d}{i:05d}", "note": "bench"}).encode()
                return (f"POST /v1/optouts HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer "
                        f"{agent}\r\nContent-Type: application/json\r\nContent-Length: "
                        f"{len(body)}\r\n\r\n").encode() + body

            stop = threading.Event()
            readers = {
                "run": Readers(root, ("run", "--campaign", "busy", "--purpose",
                                      "telemarketing", "--as-of", RUN_AS_OF), (0,), stop),
                "check": Readers(root, ("check", phones[0], "--purpose", "telemarketing",
                                        "--at", DIAL_AT), (0, 1), stop),
                "audit": Readers(root, ("audit", "verify"), (0,), stop),
            }
            per_agent = args.cli_rate / max(args.cli_agents, 1)
            agents = [subprocess.Popen(
                [sys.executable, "-c", AGENT, str(root), str(a), str(per_agent),
                 str(args.seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True) for a in range(args.cli_agents if args.cli_rate > 0 else 0)]
            for reader in readers.values():
                reader.start()
            begin = time.monotonic()

            async def both() -> tuple[dict[int, int], dict[int, int]]:
                return await asyncio.gather(
                    open_loop(svc.url, args.check_rate, args.seconds, check),
                    open_loop(svc.url, args.service_rate, args.seconds, optout))

            checks, optouts = asyncio.run(both())
            elapsed = time.monotonic() - begin
            cli_done = cli_failed = 0
            for proc in agents:
                out, err = proc.communicate(timeout=120)
                if proc.returncode != 0:
                    raise SystemExit(f"an agent process failed: {err.strip()[-500:]}")
                done, failed = out.split()[-2:]
                cli_done, cli_failed = cli_done + int(done), cli_failed + int(failed)
            stop.set()
            for reader in readers.values():
                reader.join(600)
            final_code, final = gk_process(root, "audit", "verify")
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
    written = optouts.get(201, 0) + cli_done
    return {
        "write_rate": written / elapsed, "service_writes": optouts.get(201, 0),
        "service_write_failed": sum(v for k, v in optouts.items() if k != 201),
        "cli_writes": cli_done, "cli_write_failed": cli_failed,
        "checks": sum(checks.values()), "check_503": checks.get(503, 0),
        "check_other": sum(v for k, v in checks.items() if k not in (200, 503)),
        **{f"{k}_runs": r.runs for k, r in readers.items()},
        **{f"{k}_refused": len(r.refused) for k, r in readers.items()},
        "examples": [x for r in readers.values() for x in r.refused[:1] + r.other[:1]],
        "final_audit": final_code, "final_audit_words": final.strip().splitlines()[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="length of a trial")
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--service-rate", type=float, default=200,
                        help="POST /v1/optouts per second")
    parser.add_argument("--cli-rate", type=float, default=60,
                        help="'gatekeeper optout add' per second, over --cli-agents")
    parser.add_argument("--cli-agents", type=int, default=2)
    parser.add_argument("--check-rate", type=float, default=200,
                        help="GET /v1/check per second")
    args = parser.parse_args()
    results = []
    for n in range(args.trials):
        r = trial(args, n)
        results.append(r)
        print(f"trial {n + 1}: {r['write_rate']:.0f} opt-outs/s acknowledged "
              f"({r['service_writes']:,} by the service, {r['cli_writes']:,} by the CLI; "
              f"{r['service_write_failed'] + r['cli_write_failed']} failed); "
              f"{r['checks']:,} service checks, {r['check_503']} answered 503, "
              f"{r['check_other']} other errors; false refusals: run {r['run_refused']}/"
              f"{r['run_runs']}, check {r['check_refused']}/{r['check_runs']}, audit "
              f"{r['audit_refused']}/{r['audit_runs']}; audit afterwards exit "
              f"{r['final_audit']}", flush=True)
        for example in r["examples"]:
            print(f"  e.g. {example}")

    def median(key: str) -> float:
        return float(statistics.median(r[key] for r in results))

    print(f"median of {len(results)} trial(s) of {args.seconds:g} s: "
          f"{median('write_rate'):.0f} opt-outs/s, {median('checks'):,.0f} service checks, "
          f"503s {median('check_503'):g}, false refusals run {median('run_refused'):g} / "
          f"check {median('check_refused'):g} / audit {median('audit_refused'):g}")
    bad = any(r["check_503"] or r["run_refused"] or r["check_refused"] or r["audit_refused"]
              or r["final_audit"] or r["service_write_failed"] or r["cli_write_failed"]
              for r in results)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
