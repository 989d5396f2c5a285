"""Start the real `gatekeeper serve` on loopback, in its own process, for tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from gatekeeper.config import Workspace
from gatekeeper.service.tokens import TokenFile, open_tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    url: str
    tokens: dict[str, str]
    log: Path
    pid: int = 0  # the server process (a test may kill -9 it)

    def client(self, role: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


def _token(tokens: TokenFile, role: str, agency: str | None = None) -> str:
    """A token named agent-1 (agent-2 when a service started before in this workspace)."""
    names = {t["name"] for t in tokens.listing() if not t.get("revoked_at")}
    name = next(f"{role}-{n}" for n in range(1, 100) if f"{role}-{n}" not in names)
    return tokens.add(name, role, agency)


@contextmanager
def running_service(ws: Workspace, as_of: str | None = None, timeout: float = 30,
                    dialer_agency: str = "callpro", options: tuple[str, ...] = ()
                    ) -> Iterator[Service]:
    """`gatekeeper serve` on loopback with a token per role, once /healthz answers
    (`timeout`: a 10M-call ledger takes seconds to read before it does). The dialer's
    token is bound to `dialer_agency` (the demo's VICIdial centre, whose calls the benches
    post); `options` go to `serve` (e.g. its timeouts)."""
    tokens = open_tokens(ws)
    made = {role: _token(tokens, role, dialer_agency if role == "dialer" else None)
            for role in ("agent", "dialer", "privacy", "manager")}
    port = free_port()
    log = ws.root / "service.log"
    args = [sys.executable, "-m", "gatekeeper.cli", "--home", str(ws.root), "serve",
            "--port", str(port), *options] + (["--as-of", as_of] if as_of else [])
    with serving(args, port, log, timeout=timeout) as (url, pid):
        yield Service(url, made, log, pid)


@contextmanager
def serving(args: list[str], port: int, log: Path, *, timeout: float = 30,
            env: dict[str, str] | None = None, cwd: Path | None = None
            ) -> Iterator[tuple[str, int]]:
    """A `serve` command line started with its output in `log`: (its URL, its pid) once
    /healthz answers; stopped on the way out. A test that launches the CLI otherwise (a
    country registered first) shares the wait and the stop."""
    with log.open("w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"service did not start: {log.read_text()}")
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)
