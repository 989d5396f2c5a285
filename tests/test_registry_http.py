"""`rpo check` against the real emulator on loopback, over mutual TLS (no mocked transport)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import polars as pl
import pytest

from gatekeeper.config import Workspace
from gatekeeper.store import Store
from gatekeeper.store import rpo as rpo_store

from .conftest import AS_OF, REPO, gk
from .service_helper import free_port

CHECKED_AT = "2026-11-20T10:00"


@dataclass
class Emulator:
    url: str
    tls: Path
    proc: subprocess.Popen[bytes]

    def stats(self) -> dict[str, int]:
        context = ssl.create_default_context(cafile=str(self.tls / "ca.pem"))
        context.load_cert_chain(str(self.tls / "client.pem"), str(self.tls / "client.key"))
        with httpx.Client(verify=context) as client:
            return dict(client.get(f"{self.url}/v1/stats").json())


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def start(*faults: str) -> Emulator:
        tls, port = tmp_path / f"tls{len(started)}", free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "gatekeeper.cli", "rpo", "emulator", "--registry",
             str(REPO / "data" / "rpo" / "registered.txt"), "--port", str(port),
             "--tls-dir", str(tls), "--checked-at", CHECKED_AT, "--job-seconds", "0.3",
             *faults], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        emu = Emulator(f"https://127.0.0.1:{port}", tls, proc)
        started.append(emu)
        deadline = time.monotonic() + 30
        while True:
            try:
                emu.stats()
                return emu
            except (httpx.TransportError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("emulator did not start") from None
                time.sleep(0.1)

    yield start
    for emu in started:
        emu.proc.terminate()
        emu.proc.wait(10)


def _check(ws: Workspace, emu: Emulator, *extra: str) -> tuple[int, str]:
    result = gk(ws, "rpo", "check", "--base-url", emu.url, "--tls-dir", str(emu.tls), *extra)
    return result.exit_code, result.output


def _decisions(ws: Workspace, campaign: str) -> pl.DataFrame:
    assert gk(ws, "run", "--campaign", campaign, "--purpose", "telemarketing", "--as-of",
              AS_OF).exit_code == 0
    return pl.read_parquet(ws.report_dir(campaign) / "decisions.parquet").select(
        "source_id", "row", "phone", "decision", "reason", "basis")


def test_web_service_round_trip_decides_like_the_file_round_trip(
        demo: Workspace, tmp_path: Path, emulator: Callable[..., Emulator]) -> None:
    emu = emulator()
    assert gk(demo, "load").exit_code == 0
    code, out = _check(demo, emu, "--as-of", AS_OF)
    assert code == 0, out
    assert "recorded 5,293 results" in out
    by_web = _decisions(demo, "web")
    # The same workspace through the bundled request/response files.
    other = Workspace(tmp_path / "files")
    import shutil

    shutil.copytree(demo.root, other.root, ignore=shutil.ignore_patterns("*.duckdb*",
                                                                         "reports"))
    assert gk(other, "load").exit_code == 0
    assert gk(other, "rpo", "import", "--request", "data/rpo/2026-11-20-request.txt",
              "--response", "data/rpo/2026-11-20-response.txt", "--checked-at",
              CHECKED_AT).exit_code == 0
    by_file = _decisions(other, "files")
    assert by_web.equals(by_file)
    assert by_web.filter(pl.col("reason") == "RPO_REGISTERED").height > 100
    # Within 15 days a second check buys nothing.
    before = emu.stats()
    code, out = _check(demo, emu, "--as-of", AS_OF)
    assert code == 0 and "submitted 0 numbers" in out and "saved: 5,293" in out
    assert emu.stats()["jobs"] == before["jobs"]
    dry = _check(demo, emu, "--as-of", "2026-12-20", "--dry-run")[1]
    assert "would submit 5,293 of 5,293 numbers" in dry  # expired 15 days later


def test_client_without_certificate_is_refused(emulator: Callable[..., Emulator],
                                               demo: Workspace) -> None:
    emu = emulator()
    context = ssl.create_default_context(cafile=str(emu.tls / "ca.pem"))  # no client cert
    with pytest.raises(httpx.TransportError), httpx.Client(verify=context) as client:
        client.get(f"{emu.url}/v1/stats").raise_for_status()
    assert gk(demo, "load").exit_code == 0
    # A client certificate from another CA (not the one the registry issued) is refused.
    import trustme

    stranger = trustme.CA().issue_cert("intruder@example.invalid")
    no_cert = emu.tls.parent / "no-cert"
    no_cert.mkdir()
    (no_cert / "ca.pem").write_bytes((emu.tls / "ca.pem").read_bytes())
    stranger.cert_chain_pems[0].write_to_path(str(no_cert / "client.pem"))
    stranger.private_key_pem.write_to_path(str(no_cert / "client.key"))
    code, out = _check(demo, Emulator(emu.url, no_cert, emu.proc), "--as-of", AS_OF)
    assert code == 2 and "no answer after" in out
    assert emu.stats()["jobs"] == 0


def test_retries_through_faults_end_correct_and_never_double_billed(
        demo: Workspace, emulator: Callable[..., Emulator]) -> None:
    emu = emulator("--fail-rate", "0.2", "--http-429", "0.15", "--drop-rate", "0.15",
                   "--retry-after", "0", "--seed", "7")
    assert gk(demo, "load").exit_code == 0
    code, out = _check(demo, emu, "--as-of", AS_OF, "--batch-size", "500")
    assert code == 0, out
    stats = emu.stats()
    assert stats["faults"] > 5 and "retries" in out
    assert stats["jobs"] == 11 and stats["billed_numbers"] == 5293  # each number bought once
    registered = set((REPO / "data" / "rpo" / "registered.txt").read_text().split())
    with Store(demo.store_path, read_only=True) as store:
        rows = rpo_store.every_check(store).select("phone", "registered").rows()
    assert len(rows) == 5293
    assert all(flag == (phone.removeprefix("+39") in registered) for phone, flag in rows)


def test_retry_after_is_honoured(demo: Workspace, emulator: Callable[..., Emulator]) -> None:
    emu = emulator("--http-429", "0.5", "--retry-after", "1", "--seed", "2")
    assert gk(demo, "load").exit_code == 0
    start = time.monotonic()
    code, out = _check(demo, emu, "--as-of", AS_OF)
    assert code == 0, out
    throttled = emu.stats()["faults"]
    assert throttled >= 1 and time.monotonic() - start >= throttled * 1.0


def test_killed_after_submit_resumes_the_same_job(demo: Workspace,
                                                  emulator: Callable[..., Emulator]) -> None:
    emu = emulator()
    assert gk(demo, "load").exit_code == 0
    env = {**os.environ, "GATEKEEPER_FAULT": "rpo.after_submit:kill"}
    killed = subprocess.run([sys.executable, "-m", "gatekeeper.cli", "--home", str(demo.root),
                             "rpo", "check", "--base-url", emu.url, "--tls-dir", str(emu.tls),
                             "--as-of", AS_OF], env=env, capture_output=True, check=False)
    assert killed.returncode == -9
    assert emu.stats()["jobs"] == 1
    code, out = _check(demo, emu, "--as-of", AS_OF)
    assert code == 0, out
    # Two batches of 5,000 at most: the killed one is resumed (same key, same job, not
    # billed again), the one never submitted is submitted now.
    assert "resumed 2 job(s)" in out and "recorded 5,293 results" in out
    stats = emu.stats()
    assert stats["jobs"] == 2 and stats["billed_numbers"] == 5293


def test_a_job_that_stays_pending_is_never_bought_again(demo: Workspace,
                                                   emulator: Callable[..., Emulator]) -> None:
    stuck = emulator("--pending-forever")
    assert gk(demo, "load").exit_code == 0
    code, out = _check(demo, stuck, "--as-of", AS_OF, "--poll-timeout", "1")
    assert code == 1 and "still pending" in out
    dry = _check(demo, stuck, "--as-of", AS_OF, "--dry-run")[1]
    assert "would submit 0 of 5,293" in dry and "2 unfinished job(s)" in dry
    assert stuck.stats()["jobs"] == 2


def test_the_client_retries_through_its_transport_seam() -> None:
    """RegistryClient takes its transport: a MockTransport answering 503, then 429 with
    Retry-After, then the job; every retry is said to the person watching."""
    from gatekeeper.registers.http import HttpSettings, RegistryClient

    answers = iter([httpx.Response(503, json={"error": {"message": "down"}}),
                    httpx.Response(429, headers={"Retry-After": "0"}, json={}),
                    httpx.Response(200, json={"job_id": "j1", "status": "pending"})])
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    said: list[str] = []
    settings = HttpSettings("https://registry.test", backoff_base=0.001, backoff_cap=0.01)
    client = RegistryClient(settings, progress=said.append, http=httpx.Client(
        base_url=settings.base_url, transport=httpx.MockTransport(handler)))
    job = client.submit("key-1", ["3331234567"])
    assert (job.job_id, job.done, client.retries) == ("j1", False, 2)
    assert all(r.headers["Idempotency-Key"] == "key-1" for r in seen)  # same key: one bill
    assert "HTTP 503: down" in said[0] and "attempt 2 of 8" in said[0]


def test_the_console_checks_through_the_web_service_once(
        demo: Workspace, emulator: Callable[..., Emulator]) -> None:
    """The Registro page's "Verifica ora" is `rpo check` in the console: the same job, its
    cost shown, and a second press buys nothing."""
    import re

    from .service_helper import running_service

    emu = emulator()
    config = demo.config_path.read_text()
    config = re.sub(r"\[registry\][^\[]*", "", config) + (
        f'\n[registry]\nadapter = "http"\nbase_url = "{emu.url}"\n'
        f'client_cert = "{emu.tls / "client.pem"}"\nclient_key = "{emu.tls / "client.key"}"\n'
        f'ca_bundle = "{emu.tls / "ca.pem"}"\n')
    demo.config_path.write_text(config)
    assert gk(demo, "load").exit_code == 0
    with running_service(demo, "2026-11-23T11:00") as svc, httpx.Client(
            base_url=svc.url, timeout=30) as web:
        page = web.get("/console/accesso").text
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token
        home = web.post("/console/accesso", data={"csrf": token.group(1),
                                                   "token": svc.tokens["manager"]},
                        follow_redirects=True)
        csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)
        assert csrf
        assert 'id="web-check"' in web.get("/console/registro").text
        costs = []
        for _ in range(2):
            started = web.post("/console/registro/web", data={"csrf": csrf.group(1)})
            assert started.status_code == 303, started.text
            deadline = time.monotonic() + 120
            while web.get(started.headers["location"] + "/stato").json()["state"] in (
                    "queued", "running"):
                assert time.monotonic() < deadline
                time.sleep(0.3)
            done = web.get(started.headers["location"]).text
            assert 'id="check-done"' in done, done
            costs.append(re.search(r"Inviati ([\d.]+) numeri", done))
        first, second = (c.group(1) if c else None for c in costs)
    assert first and int(first.replace(".", "")) > 0
    assert second == "0"
    assert emu.stats()["billed_numbers"] == int(first.replace(".", ""))
