"""`gatekeeper rpo check`: the RPO round trip through its web service (adapter "http").

What matters here is money and evidence: a number is bought only when it has no valid
result (15 days) and is not already in a job; every batch's key and numbers are in the
store before it is submitted and its job id right after, so a crash anywhere resumes the
same job (the idempotency key makes a retried submit free); retries back off with jitter
and honour Retry-After. Results land through `record_checks`, exactly as `rpo import`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import ssl
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from gatekeeper.config import Config, Workspace
from gatekeeper.core.errors import ConfigError, RegistryError
from gatekeeper.core.faults import crash_point
from gatekeeper.core.progress import Progress
from gatekeeper.core.timeutil import now_utc
from gatekeeper.jurisdictions import Jurisdiction
from gatekeeper.registers import candidates, numbers_needing_check, record_checks, wire
from gatekeeper.store import Store
from gatekeeper.store import rpo as rpo_store


@dataclass(frozen=True)
class HttpSettings:
    """Where and how to reach the registry ([registry] in gatekeeper.toml)."""

    base_url: str
    client_cert: Path | None = None
    client_key: Path | None = None
    ca_bundle: Path | None = None
    token: str | None = None
    batch_size: int = 5000
    timeout: float = 30.0
    max_attempts: int = 8
    backoff_base: float = 0.2
    backoff_cap: float = 10.0
    poll_interval: float = 0.5
    poll_timeout: float = 600.0

    @classmethod
    def from_config(cls, ws: Workspace, config: Config, *, base_url: str | None = None,
                    tls_dir: Path | None = None, batch_size: int | None = None,
                    poll_timeout: float | None = None) -> HttpSettings:
        opts = config.registry.options

        def path(key: str, fallback: str) -> Path | None:
            if tls_dir is not None:
                return tls_dir / fallback
            value = opts.get(key)
            return (ws.root / value) if value else None

        url = base_url or opts.get("base_url")
        if not url:
            raise ConfigError("[registry] base_url is required for the web-service adapter "
                              "(or pass --base-url)", file=ws.config_path, key="base_url")
        settings = cls(
            base_url=str(url).rstrip("/"), client_cert=path("client_cert", "client.pem"),
            client_key=path("client_key", "client.key"), ca_bundle=path("ca_bundle", "ca.pem"),
            token=opts.get("token"), batch_size=batch_size or int(opts.get("batch_size", 5000)),
            timeout=float(opts.get("timeout_seconds", 30.0)),
            poll_timeout=poll_timeout if poll_timeout is not None else 600.0)
        for key in ("client_cert", "client_key", "ca_bundle"):
            value = getattr(settings, key)
            if value is not None and not value.is_file():
                raise ConfigError(f"{key} file not found: {value}", file=ws.config_path,
                                  key=f"registry.{key}")
        if settings.batch_size < 1:
            raise ConfigError("batch_size must be at least 1", key="registry.batch_size")
        return settings


class RegistryClient:
    """HTTP calls with mutual TLS, retries with backoff and jitter, Retry-After honoured."""

    def __init__(self, settings: HttpSettings, rng: random.Random | None = None,
                 progress: Progress | None = None, http: httpx.Client | None = None) -> None:
        """`http` is the transport seam: unit tests hand in an httpx.Client with a
        MockTransport; by default a client with mutual TLS to settings.base_url."""
        self.settings = settings
        self.progress = progress
        self.rng = rng or random.Random()
        self.http = http or self._tls_client(settings)
        self.retries = 0

    @staticmethod
    def _tls_client(settings: HttpSettings) -> httpx.Client:
        context = ssl.create_default_context(
            cafile=str(settings.ca_bundle) if settings.ca_bundle else None)
        if settings.client_cert:
            context.load_cert_chain(str(settings.client_cert),
                                    str(settings.client_key) if settings.client_key else None)
        headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
        return httpx.Client(base_url=settings.base_url, verify=context, headers=headers,
                            timeout=settings.timeout)

    def close(self) -> None:
        self.http.close()

    def _wait(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                pass
        cap = min(self.settings.backoff_cap, self.settings.backoff_base * 2 ** attempt)
        return self.rng.uniform(0, cap)  # full jitter: retries of many clients spread out

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return dict(self.request_raw(method, path, **kwargs).json())

    def request_raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The first answer under 400, after retries (the body kept as it came)."""
        last = ""
        for attempt in range(self.settings.max_attempts):
            retry_after = None
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:  # timeouts, refused, dropped, TLS
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response
                detail = wire.error_message(_json(response))
                if response.status_code == 429 or response.status_code >= 500:
                    last = f"HTTP {response.status_code}: {detail}"
                    retry_after = response.headers.get("Retry-After")
                else:
                    raise RegistryError(f"{method} {path} refused with HTTP "
                                        f"{response.status_code}: {detail}")
            if attempt + 1 < self.settings.max_attempts:
                self.retries += 1
                wait = self._wait(attempt, retry_after)
                if self.progress:  # a slow or failing registry is never a silent wait
                    self.progress(f"the registry did not answer ({last}); attempt "
                                  f"{attempt + 2} of {self.settings.max_attempts} in "
                                  f"{wait:.1f} s")
                time.sleep(wait)
        raise RegistryError(f"{method} {path}: no answer after {self.settings.max_attempts} "
                            f"attempts ({last}); nothing is lost, run 'gatekeeper rpo check' "
                            "again")

    def submit(self, key: str, numbers: list[str]) -> wire.Job:
        return wire.parse_job(self.request("POST", wire.SUBMIT_PATH,
                                           json=wire.submit_body(numbers),
                                           headers={wire.IDEMPOTENCY_HEADER: key}))

    def poll(self, job_id: str) -> wire.Job:
        return wire.parse_job(self.request("GET", wire.job_path(job_id)))

    def result(self, job_id: str) -> tuple[wire.Result, bytes]:
        """The job's result, and its body byte for byte (kept as the exchange's evidence)."""
        response = self.request_raw("GET", wire.result_path(job_id))
        return wire.parse_result(response.json()), response.content


def rederive(request: bytes, response: bytes, jurisdiction: Jurisdiction) -> pl.DataFrame:
    """The checks a web-service exchange's kept bodies prove (phone, registered): the
    numbers submitted, registered unless the job's result kept them (adapters.WebService)."""
    asked = pl.Series("phone", request.decode().split(), dtype=pl.String)
    kept = pl.Series("n", wire.parse_result(json.loads(response)).cleansed, dtype=pl.String)
    answered = kept.to_frame("n").select(jurisdiction.international(pl.col("n")))
    return pl.DataFrame({"phone": asked}).select("phone", (~pl.col("phone").is_in(
        answered.to_series().implode())).alias("registered"))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@dataclass
class CheckReport:
    """What a check did (or would do): for the user, and for the bill."""

    candidates: int = 0
    to_submit: int = 0
    submitted: int = 0
    batches: int = 0
    resumed_jobs: int = 0
    recorded_numbers: int = 0
    registered: int = 0
    pending_jobs: int = 0
    retries: int = 0
    price_per_number: float = 0.0
    exchanges: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def saved(self) -> int:
        """Numbers not bought because a valid result (or a job) already covers them."""
        return self.candidates - self.to_submit

    @property
    def next_steps(self) -> list[str]:
        """Buy what a dry run priced, fetch what is pending, or decide the campaign."""
        from gatekeeper.next_steps import after_register

        if self.dry_run:
            return (["check them for real: gatekeeper rpo check (without --dry-run)"]
                    if self.to_submit or self.resumed_jobs else [])
        return after_register(self.recorded_numbers, self.pending_jobs)

    @property
    def cost(self) -> float:
        return self.to_submit * self.price_per_number


def _plan(ws: Workspace, as_of: dt.datetime, config: Config, j: Jurisdiction
          ) -> tuple[pl.DataFrame, int]:
    with Store(ws.store_path, read_only=True) as store:
        needed = numbers_needing_check(store, as_of, config.policy.rpo_validity_days, j)
        in_jobs = rpo_store.numbers_in_open_jobs(store)
        return needed.join(in_jobs, on="phone", how="anti"), candidates(store, j)


def _persist_batches(ws: Workspace, settings: HttpSettings, needed: pl.DataFrame) -> int:
    """Every batch's key and numbers are committed before anything is submitted."""
    phones = needed["phone"]
    batches = 0
    with Store(ws.store_path) as store, store.transaction():
        for start in range(0, phones.len(), settings.batch_size):
            rpo_store.add_job(store, uuid.uuid4().hex, settings.base_url,
                              phones.slice(start, settings.batch_size), now_utc())
            batches += 1
    return batches


def _jobs(ws: Workspace, settings: HttpSettings, *states: str
          ) -> list[tuple[str, str | None, int]]:
    with Store(ws.store_path, read_only=True) as store:
        return rpo_store.jobs(store, settings.base_url, states)


def _record(ws: Workspace, client: RegistryClient, key: str, job_id: str,
            report: CheckReport, jurisdiction: Jurisdiction) -> None:
    result, body = client.result(job_id)
    exchange_id = f"http-{job_id}"
    with Store(ws.store_path) as store:
        asked = rpo_store.job_numbers(store, key).to_frame("phone")
        kept = pl.Series("n", result.cleansed, dtype=pl.String).to_frame().select(
            "n", jurisdiction.international(pl.col("n")).alias("phone"))
        extra = kept.filter(~pl.col("phone").is_in(asked["phone"].implode()))
        if extra.height:
            raise RegistryError(f"job {job_id} answered {extra.height} number(s) that were "
                                f"not submitted (first: {extra['n'][0]}); not recorded")
        if rpo_store.exchange(store, exchange_id) is None:
            results = asked.with_columns(
                (~pl.col("phone").is_in(kept["phone"].implode())).alias("registered"),
                pl.lit(None, pl.Datetime("us")).alias("registered_at"))
            request = ("\n".join(asked["phone"].to_list()) + "\n").encode()
            recorded = record_checks(
                store, results, result.checked_at, exchange_id, "http",
                {"request_file": f"{client.settings.base_url}{wire.job_path(job_id)}",
                 "request_sha256": hashlib.sha256(request).hexdigest(),
                 "response_file": f"{client.settings.base_url}{wire.result_path(job_id)}",
                 "response_sha256": hashlib.sha256(body).hexdigest()},
                [(request, "rpo request (numbers submitted)", None),
                 (body, "rpo response", None)],
                register=jurisdiction.register.code if jurisdiction.register else "rpo")
            report.recorded_numbers += recorded.numbers
            report.registered += recorded.registered
        rpo_store.job_done(store, key, exchange_id)
    report.exchanges.append(exchange_id)


def _status(done: int, total: int, pending: int | None, elapsed: float) -> str:
    eta = f", about {elapsed / done * (total - done):.0f} s to go" if 0 < done < total else ""
    jobs = "" if pending is None else f", {pending} job(s) pending at the registry"
    return f"submitted {done:,}/{total:,} numbers{jobs}{eta}"


def rpo_check(ws: Workspace, settings: HttpSettings, as_of: dt.datetime, *,
              dry_run: bool = False, progress: Progress | None = None,
              http: httpx.Client | None = None,
              jurisdiction: Jurisdiction | None = None) -> CheckReport:
    """Check every number that needs it through the web service; resume unfinished jobs.
    jurisdiction: whose register (None: the workspace's own country's)."""
    config = ws.config()
    j = jurisdiction or config.jurisdiction
    needed, candidates = _plan(ws, as_of, config, j)
    report = CheckReport(candidates=candidates, to_submit=needed.height,
                         price_per_number=config.registry.price_per_number, dry_run=dry_run)
    report.resumed_jobs = len(_jobs(ws, settings, "submitting", "submitted"))
    if dry_run:
        return report
    report.batches = _persist_batches(ws, settings, needed) if needed.height else 0
    client = RegistryClient(settings, progress=progress, http=http)
    started = time.monotonic()
    try:
        submitting = _jobs(ws, settings, "submitting")
        total = sum(n for _, _, n in submitting)
        for key, _, count in submitting:
            with Store(ws.store_path, read_only=True) as store:
                numbers = rpo_store.job_numbers(store, key)
            job = client.submit(key, numbers.to_frame().select(
                j.national(pl.col("phone"))).to_series().to_list())
            with Store(ws.store_path) as store:
                rpo_store.job_submitted(store, key, job.job_id, now_utc())
            crash_point("rpo.after_submit")
            report.submitted += count
            if progress:
                progress(_status(report.submitted, total, None, time.monotonic() - started),
                         report.submitted, total)
        deadline = time.monotonic() + settings.poll_timeout
        left = _jobs(ws, settings, "submitted")
        while True:
            still: list[tuple[str, str | None, int]] = []
            for key, job_id, count in left:
                assert job_id is not None
                if client.poll(job_id).done:
                    _record(ws, client, key, job_id, report, j)
                else:
                    still.append((key, job_id, count))
            left = still
            if progress:
                progress(_status(report.submitted, total, len(left),
                                 time.monotonic() - started), report.submitted, total)
            if not left or time.monotonic() >= deadline:
                report.pending_jobs = len(left)
                break
            time.sleep(settings.poll_interval)
    finally:
        report.retries = client.retries
        client.close()
    return report
