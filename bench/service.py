"""Service benchmark: the real `gatekeeper serve` on loopback, driven at a fixed rate.

    python bench/service.py                      # check at 500/s, opt-outs at 50/s, 10 s each
    python bench/service.py --check-rate 800 --seconds 20

Builds a copy of the demo workspace (load, RPO import, run), starts the service in its
own process and sends requests open-loop (on schedule, whether or not earlier ones have
answered), so slow answers show up as latency instead of lowering the rate. Prints
throughput and p50/p99/max latency. Targets: check p99 < 10 ms at 500/s; durable
opt-outs p99 < 25 ms at 50/s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from click.testing import CliRunner, Result  # noqa: E402

from gatekeeper.cli import cli  # noqa: E402
from gatekeeper.config import Workspace  # noqa: E402
from tests.service_helper import running_service  # noqa: E402  (no pytest needed)

AS_OF = "2026-11-22T12:00"


def copy_demo(root: Path) -> Workspace:
    """The repository's demo workspace (config, manifests, suppliers, lists, RPO files,
    opt-outs)."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "gatekeeper.toml", root)
    shutil.copytree(REPO / "sources", root / "sources")
    shutil.copytree(REPO / "suppliers", root / "suppliers")
    for part in ("lists", "rpo", "suppliers"):
        shutil.copytree(REPO / "data" / part, root / "data" / part)
    shutil.copy(REPO / "data" / "optouts-demo.csv", root / "data")
    return Workspace(root)


def gk(ws: Workspace, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(ws.root), *args])


def demo_workspace(root: Path) -> Workspace:
    """The demo after the README's quick start: load, RPO import, opt-outs, run."""
    ws = copy_demo(root)
    for args in (("load",), ("rpo", "import", "--request", "data/rpo/2026-11-20-request.txt",
                             "--response", "data/rpo/2026-11-20-response.txt",
                             "--checked-at", "2026-11-20T10:00"),
                 ("optout", "import", "data/optouts-demo.csv"),
                 ("run", "--campaign", "demo", "--purpose", "telemarketing", "--as-of", AS_OF)):
        result = gk(ws, *args)
        if result.exit_code != 0:
            raise SystemExit(f"gatekeeper {' '.join(args)} failed: {result.output}")
    return ws


class Connection:
    """One keep-alive HTTP/1.1 connection speaking raw bytes: a client that costs
    microseconds per request, so the numbers measure the service, not httpx."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, payload: bytes) -> int:
        self.writer.write(payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await self.reader.readexactly(length)
        return status


async def drive(url: str, rate: float, seconds: float, payload, connections: int = 32
                ) -> list[float]:
    """Send payload(i) every 1/rate s for `seconds` over a pool of connections.

    Latency counts from the scheduled instant (so waiting for a free connection counts:
    no coordinated omission). Returns latencies in ms.
    """
    host, port = url.removeprefix("http://").split(":")
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection(*await asyncio.open_connection(host, int(port))))
    latencies: list[float] = []
    failures = 0

    async def one(i: int, scheduled: float) -> None:
        nonlocal failures
        conn = await pool.get()
        try:
            status = await conn.send(payload(i))
        finally:
            pool.put_nowait(conn)
        latencies.append((time.perf_counter() - scheduled) * 1000)
        failures += status >= 400

    tasks = []
    # The client's own garbage collector paused it for 60-90 ms once or twice a run (the
    # service's access log showed no such request), which read as service latency.
    gc.collect()
    gc.disable()
    begin = time.perf_counter()
    for i in range(int(rate * seconds)):
        scheduled = begin + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    gc.enable()
    while not pool.empty():
        pool.get_nowait().writer.close()
    if failures:
        raise SystemExit(f"{failures} requests failed")
    return latencies


def report(label: str, latencies: list[float], seconds: float, target: float) -> None:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    verdict = "meets" if p99 < target else "MISSES"
    print(f"  {label:<9}{len(ordered) / seconds:7.0f} req/s  p50 {statistics.median(ordered):5.1f}"
          f" ms  p99 {p99:5.1f} ms  max {ordered[-1]:6.1f} ms  ({verdict} p99 < {target} ms)")


async def main_async(args: argparse.Namespace, service, phones: list[str]) -> None:
    dialer, agent = service.tokens["dialer"], service.tokens["agent"]

    def check(i: int) -> bytes:
        phone = phones[i % len(phones)].replace("+", "%2B")
        return (f"GET /v1/check?phone={phone}&purpose=telemarketing HTTP/1.1\r\n"
                f"Host: bench\r\nAuthorization: Bearer {dialer}\r\n\r\n").encode()

    def optout(i: int) -> bytes:
        body = json.dumps({"phone": phones[-1 - i % len(phones)]}).encode()
        return (f"POST /v1/optouts HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer "
                f"{agent}\r\nContent-Type: application/json\r\nContent-Length: "
                f"{len(body)}\r\n\r\n").encode() + body

    await drive(service.url, 200, 1, check)  # warm up
    report("check", await drive(service.url, args.check_rate, args.seconds, check),
           args.seconds, 10)
    report("opt-out", await drive(service.url, args.optout_rate, args.seconds, optout),
           args.seconds, 25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check-rate", type=float, default=500)
    parser.add_argument("--optout-rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gk-service-")) / "ws"
    try:
        ws = demo_workspace(root)
        phones = pl.read_csv(ws.report_dir("demo") / "dialable.csv")["phone"].to_list()
        with running_service(ws, AS_OF) as service:
            print(f"service benchmark on {service.url} ({len(phones):,} dialable numbers)")
            asyncio.run(main_async(args, service, phones))
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
