"""`gatekeeper rpo emulator`: the registry's web service on loopback, for tests and demos.

Serves docs/registry-protocol.md from a file of registered national numbers, over HTTPS
that requires a client certificate (a throwaway CA, server and client certificate are
made in --tls-dir on first use). It bills each new job once per idempotency key, and can
misbehave on purpose: failures, 429s, slow answers, dropped connections, stuck jobs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import random
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatekeeper.core.errors import InputError
from gatekeeper.core.timeutil import iso, now_utc
from gatekeeper.jurisdictions.it import IT  # the emulator plays Italy's register

TLS_FILES = ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")


def ensure_tls(tls_dir: Path) -> dict[str, Path]:
    """A throwaway CA with a server (127.0.0.1, localhost) and a client certificate."""
    paths = {name: tls_dir / name for name in TLS_FILES}
    if all(p.is_file() for p in paths.values()):
        return paths
    import trustme

    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = trustme.CA(organization_name="Gatekeeper RPO emulator")
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("gatekeeper-client@rpo-emulator.invalid")
    ca.cert_pem.write_to_path(str(paths["ca.pem"]))
    server.cert_chain_pems[0].write_to_path(str(paths["server.pem"]))
    server.private_key_pem.write_to_path(str(paths["server.key"]))
    client.cert_chain_pems[0].write_to_path(str(paths["client.pem"]))
    client.private_key_pem.write_to_path(str(paths["client.key"]))
    for name in ("server.key", "client.key"):
        os.chmod(paths[name], 0o600)
    return paths


@dataclass
class Faults:
    fail_rate: float = 0.0  # 500 before doing anything
    http_429: float = 0.0  # 429 with Retry-After
    drop_rate: float = 0.0  # carry out the request, then drop the connection mid-answer
    slow: float = 0.0  # seconds added to every answer
    pending_forever: bool = False  # jobs never finish
    retry_after: int = 1
    seed: int | None = None


@dataclass
class Registry:
    registered: set[str]
    job_seconds: float = 0.5
    checked_at: dt.datetime | None = None  # fixed answer time (demos); None = now
    token: str | None = None
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=lambda: {
        "requests": 0, "jobs": 0, "billed_numbers": 0, "faults": 0, "duplicate_submits": 0})


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers or None)


def _authorised(request: Request) -> bool:
    token = request.app.state.registry.token
    return not token or request.headers.get("authorization") == f"Bearer {token}"


async def submit(request: Request) -> JSONResponse:
    reg: Registry = request.app.state.registry
    if not _authorised(request):
        return _error(401, "unauthorized", "bearer token required")
    key = request.headers.get("idempotency-key")
    if not key:
        return _error(400, "missing_key", "Idempotency-Key header is required")
    try:
        numbers = (await request.json())["numbers"]
        assert isinstance(numbers, list) and all(isinstance(n, str) and n.isdigit()
                                                 for n in numbers)
    except (ValueError, KeyError, AssertionError, TypeError):
        return _error(400, "bad_body", 'body must be {"numbers": ["national digits", ...]}')
    digest = hashlib.sha256(json.dumps(numbers).encode()).hexdigest()
    if key in reg.keys:
        job = reg.jobs[reg.keys[key]]
        if job["digest"] != digest:
            return _error(409, "key_reused", "this Idempotency-Key was used for another list")
        reg.stats["duplicate_submits"] += 1
        return JSONResponse(_job_view(reg, job), status_code=200)
    job_id = f"j-{len(reg.jobs) + 1:06d}-{key[:8]}"
    job = {"job_id": job_id, "numbers": numbers, "digest": digest,
           "ready_at": time.monotonic() + reg.job_seconds}
    reg.jobs[job_id], reg.keys[key] = job, job_id
    reg.stats["jobs"] += 1
    reg.stats["billed_numbers"] += len(numbers)
    return JSONResponse(_job_view(reg, job), status_code=202)


def _done(request: Request, job: dict[str, Any]) -> bool:
    return (not request.app.state.faults.pending_forever
            and time.monotonic() >= job["ready_at"])


def _job_view(reg: Registry, job: dict[str, Any], done: bool = False) -> dict[str, Any]:
    return {"job_id": job["job_id"], "status": "done" if done else "pending",
            "numbers": len(job["numbers"])}


async def status(request: Request) -> JSONResponse:
    reg: Registry = request.app.state.registry
    job = reg.jobs.get(request.path_params["job_id"])
    if job is None:
        return _error(404, "unknown_job", "no such job")
    return JSONResponse(_job_view(reg, job, _done(request, job)))


async def result(request: Request) -> JSONResponse:
    reg: Registry = request.app.state.registry
    job = reg.jobs.get(request.path_params["job_id"])
    if job is None:
        return _error(404, "unknown_job", "no such job")
    if not _done(request, job):
        return _error(409, "pending", "the job is still being processed; poll its status")
    cleansed = [n for n in job["numbers"] if n not in reg.registered]
    return JSONResponse({"job_id": job["job_id"], "checked_at": iso(reg.checked_at or now_utc()),
                         "cleansed": cleansed})


async def stats(request: Request) -> JSONResponse:
    return JSONResponse(request.app.state.registry.stats)


class FaultInjector:
    """Misbehaves on /v1/checks* as configured, deterministically with --seed."""

    def __init__(self, app: ASGIApp, faults: Faults, registry: Registry) -> None:
        self.app, self.faults, self.registry = app, faults, registry
        self.rng = random.Random(faults.seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/checks"):
            await self.app(scope, receive, send)
            return
        f, stats = self.faults, self.registry.stats
        stats["requests"] += 1
        if f.slow:
            await asyncio.sleep(f.slow)
        roll = self.rng.random()
        if roll < f.fail_rate:
            stats["faults"] += 1
            await _error(500, "internal", "injected failure")(scope, receive, send)
            return
        if roll < f.fail_rate + f.http_429:
            stats["faults"] += 1
            await _error(429, "slow_down", "too many requests",
                         **{"Retry-After": str(f.retry_after)})(scope, receive, send)
            return
        if roll < f.fail_rate + f.http_429 + f.drop_rate:
            stats["faults"] += 1

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)  # the work is done...
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"100")]})
            raise ConnectionAbortedError("injected dropped connection")  # ...the answer lost
        await self.app(scope, receive, send)


def create_emulator(registered: set[str], faults: Faults | None = None, *,
                    job_seconds: float = 0.5, checked_at: dt.datetime | None = None,
                    token: str | None = None) -> ASGIApp:
    registry = Registry(registered, job_seconds, checked_at, token)
    app = Starlette(routes=[
        Route("/v1/checks", submit, methods=["POST"]),
        Route("/v1/checks/{job_id}", status),
        Route("/v1/checks/{job_id}/result", result),
        Route("/v1/stats", stats),
    ])
    app.state.registry = registry
    app.state.faults = faults or Faults()
    return FaultInjector(app, app.state.faults, registry)


def read_registry(path: Path) -> set[str]:
    if not path.is_file():
        raise InputError("registry file not found; give a file of registered national "
                         "numbers, one per line", file=path)
    numbers = {IT.national_one(line.strip()) for line in
               path.read_text(encoding="utf-8-sig").splitlines() if line.strip()}
    bad = sorted(n for n in numbers if not n.isdigit())
    if bad:
        raise InputError(f"'{bad[0]}' is not a national number (digits only)", file=path)
    return numbers


def run_emulator(registry_file: Path, tls_dir: Path, host: str = "127.0.0.1",
                 port: int = 8443, faults: Faults | None = None, job_seconds: float = 0.5,
                 checked_at: dt.datetime | None = None, token: str | None = None) -> None:
    import uvicorn

    paths = ensure_tls(tls_dir)
    app = create_emulator(read_registry(registry_file), faults, job_seconds=job_seconds,
                          checked_at=checked_at, token=token)
    uvicorn.run(app, host=host, port=port, log_level="critical", access_log=False,
                ssl_certfile=str(paths["server.pem"]), ssl_keyfile=str(paths["server.key"]),
                ssl_ca_certs=str(paths["ca.pem"]), ssl_cert_reqs=ssl.CERT_REQUIRED)
