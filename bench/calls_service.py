"""POST /v1/calls benchmark: the real `gatekeeper serve` on loopback, driven open-loop.

    python bench/calls_service.py                       # 100 and 200 calls/s, 20 s each
    python bench/calls_service.py --rates 200 --seconds 20 --per-request 4

The ledger's one write path (Ledger.record: journal first, then calls.jsonl, group
commit) is what a dialer waits on for every call it reports, so its latency under load
is measured here, not in a unit test: a demo workspace as after the README's quick start
(bench/service.py's), a dialer token, and requests sent on schedule whether or not
earlier ones answered (slow answers show as latency instead of a lower rate). About a
third of the calls end in `optout`, so the journal's appends are in the measurement too,
as on a real floor's worst days. The machine is shared and noisy: compare two versions
with alternating runs and quote medians of several.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import service as bench  # bench/service.py: demo workspace, driver, report

from tests.service_helper import running_service

OUTCOMES = ("no_answer", "busy", "answered", "optout")


def request(token: str, i: int, per_request: int) -> bytes:
    """Request i: its calls to numbers of a pool of 5,000, every tenth an objection first."""
    calls = [{"call_id": f"b{i}-{j}", "phone": f"+39333{7000000 + (i * per_request + j) % 5000}",
              "started_at": "2026-11-20T10:00:00+01:00",
              "outcome": OUTCOMES[(i + j) % 4] if j or i % 10 else "optout"}
             for j in range(per_request)]
    body = json.dumps({"calls": calls} if per_request > 1 else calls[0]).encode()
    return (f"POST /v1/calls HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def cpu_seconds(pid: int) -> float:
    """The server's CPU time so far (user + system): on a shared machine, where latency
    also measures the neighbours, the work a request costs is the steadier number."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(url: str, pid: int, token: str, rates: list[float], seconds: float,
                per_request: int) -> None:
    await bench.drive(url, 50, 1, lambda i: request(token, 10**6 + i, per_request))  # warm up
    for rate in rates:
        offset = int(rate) * 10**4  # each rate's call ids its own: every call is new
        cpu = cpu_seconds(pid)
        latencies = await bench.drive(url, rate, seconds,
                                      lambda i, at=offset: request(token, at + i, per_request))
        bench.report(f"calls@{rate:g}", latencies, seconds, 25)
        print(f"  {'':12s} server CPU {(cpu_seconds(pid) - cpu) / len(latencies) * 1000:.2f} "
              "ms a request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="100,200", help="requests a second, comma-separated")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--per-request", type=int, default=1, help="calls in each request")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gk-calls-")) / "ws"
    try:
        ws = bench.demo_workspace(root)
        with running_service(ws, bench.AS_OF) as service:
            print(f"POST /v1/calls benchmark on {service.url}, {args.per_request} call(s) a "
                  "request")
            asyncio.run(drive(service.url, service.pid, service.tokens["dialer"],
                              [float(r) for r in args.rates.split(",")], args.seconds,
                              args.per_request))
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
