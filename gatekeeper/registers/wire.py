"""The RPO web service's wire format (docs/registry-protocol.md), and nothing else.

Paths, headers and JSON shapes live here so a real provider's format can replace ours
without touching batching, retries or evidence (registers/http.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

SUBMIT_PATH = "/v1/checks"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def job_path(job_id: str) -> str:
    return f"/v1/checks/{job_id}"


def result_path(job_id: str) -> str:
    return f"/v1/checks/{job_id}/result"


def submit_body(numbers: list[str]) -> dict[str, Any]:
    return {"numbers": numbers}


@dataclass(frozen=True)
class Job:
    job_id: str
    done: bool


def parse_job(body: dict[str, Any]) -> Job:
    return Job(str(body["job_id"]), body.get("status") == "done")


@dataclass(frozen=True)
class Result:
    checked_at: dt.datetime  # naive UTC
    cleansed: list[str]  # national numbers not registered


def parse_result(body: dict[str, Any]) -> Result:
    when = dt.datetime.fromisoformat(str(body["checked_at"]).replace("Z", "+00:00"))
    if when.tzinfo:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return Result(when, [str(n) for n in body["cleansed"]])


def error_message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or body["error"].get("code"))
    return "no error detail"
