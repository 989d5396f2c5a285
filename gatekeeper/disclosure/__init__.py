""""Where did you get my number?": everything held about one number, and its erasure.

GDPR art. 14(2)(f) and 15(1)(g) oblige the controller to say from which source a number
came; seed 000 promises the detail of third-party sources on request. `disclose` gathers
it from every version of every source that ever held the number, the RPO evidence, the
opt-out journal and the campaigns that dialled it. `erase` (art. 17) removes the personal
data and keeps only a suppression entry so the number is never dialled again.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ..config import Workspace
from ..digest import sha256_file
from ..errors import InputError
from ..normalise import phone_of
from ..optouts import Journal
from ..store import Store
from ..store import evidence as evidence_store
from ..store import people as people_store
from ..store import rpo as rpo_store
from ..store import runs as run_store
from ..store import sources as source_store
from ..timeutil import iso, now_utc
from .requests import record_request

DISCLOSURE_KEYS = ("phone", "sources", "rpo_checks", "optouts", "campaigns", "erased")


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with instants and dates as ISO text (JSON- and letter-ready)."""
    out = frame.with_columns(
        pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%SZ") for c, t in frame.schema.items()
        if isinstance(t, pl.Datetime)
    ).with_columns(
        pl.col(c).dt.strftime("%Y-%m-%d") for c, t in frame.schema.items() if t == pl.Date)
    return out.to_dicts()


def _sources(store: Store, phone: str) -> list[dict[str, Any]]:
    rows = people_store.source_rows_of(store, phone).select(
        "source_id", pl.col("source_version").alias("version"), "kind", "received_on", "file",
        "file_sha256", "loaded_at", "row", "raw", "name", "customer_id", "contract_status",
        "contract_end", "consent_marketing", "consent_third_party", "consent_date",
        "consent_channel", "consent_proof", "consent_collector", "supplier_name",
        "supplier_vat", "supplier_contact", "supplier_contract_ref", "purposes")
    result = []
    for rec in _records(rows):
        supplier = {k: rec.pop(f"supplier_{k}") for k in ("name", "vat", "contact",
                                                         "contract_ref")}
        consent = {k: rec.pop(f"consent_{k}") for k in ("marketing", "third_party", "date",
                                                        "channel", "proof", "collector")}
        rec["supplier"] = supplier if supplier["name"] else None
        rec["consent"] = consent
        result.append(rec)
    return result


def _rpo_checks(store: Store, phone: str) -> list[dict[str, Any]]:
    return _records(rpo_store.checks_of(store, phone))


def _campaigns(store: Store, phone: str) -> list[dict[str, Any]]:
    return _records(run_store.campaigns_of(store, phone))


def _optouts(journal: Journal, phone: str) -> list[dict[str, Any]]:
    events = journal.events_of(phone).sort("seq")
    return _records(events.select("seq", "type", "at", "channel", "scope", "recorded_by",
                                  "note", "evidence", "recorded_at"))


def _erased(store: Store, phone: str) -> dict[str, Any] | None:
    rows = _records(people_store.erasure_of(store, phone))
    return rows[0] if rows else None


def disclose(ws: Workspace, value: str, *, ref: str | None = None,
             received_on: dt.date | None = None) -> dict[str, Any]:
    """Everything held about one number; `held` is false when there is nothing at all.

    With a request reference the access request is recorded as answered now (request log).
    """
    phone = phone_of(value)
    optouts = _optouts(Journal(ws.journal_path), phone)
    with Store(ws.store_path, read_only=ref is None) as store:
        data: dict[str, Any] = {
            "phone": phone,
            "sources": _sources(store, phone),
            "rpo_checks": _rpo_checks(store, phone),
            "optouts": optouts,
            "campaigns": _campaigns(store, phone),
            "erased": _erased(store, phone),
        }
        if ref:
            record_request(store, ref, "access", phone, received_on, answered=True)
    data["held"] = any(data[k] for k in DISCLOSURE_KEYS[1:])
    data["generated_at"] = iso(now_utc())
    return data


@dataclass
class EraseResult:
    phone: str
    request_ref: str
    erased_at: str
    rows: int
    rejects: int
    campaigns: int
    reports_rewritten: list[str] = field(default_factory=list)
    already: bool = False


def _rewrite_reports(ws: Workspace, store: Store, phone: str) -> list[str]:
    """Blank the number in every campaign report still on disk (decisions and dialable).

    A folder is rewritten once, for the newest run that wrote it (its recorded sha256
    matches the file), and that run's record gets the new sha256s, so the service keeps
    trusting the files.
    """
    rewritten: list[str] = []
    seen: set[str] = set()
    for run_id, campaign, outputs_json in run_store.runs_newest_first(store):
        folder = ws.report_dir(campaign)
        decisions, dialable = folder / "decisions.parquet", folder / "dialable.csv"
        outputs = json.loads(outputs_json or "{}")
        if (campaign in seen or not decisions.is_file()
                or sha256_file(decisions) != outputs.get(decisions.name)):
            continue  # done, gone, or overwritten by a later run of the same campaign
        seen.add(campaign)
        frame = pl.read_parquet(decisions)
        hit = pl.col("phone") == phone
        if not frame.select(hit.any()).item():
            continue
        frame.with_columns(
            pl.when(hit).then(None).otherwise(pl.col(c)).alias(c) for c in ("raw", "phone")
        ).write_parquet(decisions, statistics=False)
        if dialable.is_file():
            dial = pl.read_csv(dialable, infer_schema=False)
            dial.filter(pl.col("phone") != phone).write_csv(dialable)
        outputs.update({p.name: sha256_file(p) for p in (decisions, dialable) if p.is_file()})
        run_store.set_outputs(store, run_id, outputs)
        rewritten.append(str(folder.relative_to(ws.root)))
    return sorted(rewritten)


def erase(ws: Workspace, value: str, ref: str, *, by: str = "privacy officer",
          received_on: dt.date | None = None) -> EraseResult:
    """Remove a person's data everywhere, keeping the number only as a suppression entry.

    Kept on purpose: RPO check evidence (5-year duty, code of conduct GU 27/3/2024) and
    the opt-out journal (the objection must go on being honoured); GDPR art. 17(3)(b).
    """
    if not ref.strip():
        raise InputError("--ref is required: the reference of the person's request")
    phone = phone_of(value)
    now = now_utc()
    with Store(ws.store_path) as store:
        prior = people_store.erasure_under(store, phone, ref)
        with store.transaction():
            rows, retired = source_store.erase_rows(store, phone, ref, now)
            rejects = source_store.erase_rejects(store, phone.removeprefix("+39"))
            campaigns, retired_lists = run_store.erase_listed(store, phone, ref, now)
            if not prior:
                people_store.record_erasure(store, phone, now, ref, by)
            store.fault("erase.before_commit")
            record_request(store, ref, "erasure", phone, received_on, answered=True)
            evidence_store.note_journal_head(store, *Journal(ws.journal_path).head(),
                                             "erase", now)
        for file in retired + retired_lists:  # the old files held the person's data
            store.remove_file(file)
        reports = _rewrite_reports(ws, store, phone)
    return EraseResult(phone, ref, iso(prior or now) or "", rows, rejects, campaigns, reports,
                       already=bool(prior))
