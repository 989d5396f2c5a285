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
from ..errors import InputError
from ..load import PERSONAL_FIELDS, sha256_file
from ..normalise import phone_of
from ..optouts import Journal
from ..store import Store
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
    rows = store.frame(
        """SELECT r.source_id, r.source_version AS version, v.kind, v.received_on, v.file,
                  v.file_sha256, v.loaded_at, r."row", r.raw, r.name, r.customer_id,
                  r.contract_status, r.contract_end, r.consent_marketing,
                  r.consent_third_party, r.consent_date, r.consent_channel, r.consent_proof,
                  r.consent_collector, v.supplier_name, v.supplier_vat, v.supplier_contact,
                  v.supplier_contract_ref, v.purposes
           FROM source_rows r JOIN source_versions v
             ON r.source_id = v.source_id AND r.source_version = v.version
           WHERE r.phone = ? ORDER BY r.source_id, r.source_version, r."row" """, [phone])
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
    return _records(store.frame(
        """SELECT c.checked_at, c.registered, c.registered_at, c.exchange_id, e.adapter
           FROM rpo_checks c LEFT JOIN rpo_exchanges e USING (exchange_id)
           WHERE c.phone = ? ORDER BY c.checked_at, c.exchange_id""", [phone]))


def _campaigns(store: Store, phone: str) -> list[dict[str, Any]]:
    return _records(store.frame(
        """SELECT r.campaign, r.purpose, r.as_of, r.executed_at, d.basis, d.source_id,
                  r.run_id
           FROM run_dialable d JOIN runs r USING (run_id)
           WHERE d.phone = ? ORDER BY r.executed_at, r.run_id""", [phone]))


def _optouts(journal: Journal, phone: str) -> list[dict[str, Any]]:
    events = journal.events_of(phone).sort("seq")
    return _records(events.select("seq", "type", "at", "channel", "scope", "recorded_by",
                                  "note", "evidence", "recorded_at"))


def _erased(store: Store, phone: str) -> dict[str, Any] | None:
    rows = _records(store.frame("SELECT erased_at, request_ref, recorded_by FROM erasures "
                                "WHERE phone = ? ORDER BY erased_at", [phone]))
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
    for run_id, campaign, outputs_json in store.con.execute(
            "SELECT run_id, campaign, outputs_json FROM runs "
            "ORDER BY executed_at DESC, rowid DESC").fetchall():
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
        store.con.execute("UPDATE runs SET outputs_json = ? WHERE run_id = ?",
                          [json.dumps(outputs), run_id])
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
    national = phone.removeprefix("+39")
    with Store(ws.store_path) as store:
        prior = store.one("SELECT erased_at FROM erasures WHERE phone = ? AND request_ref = ?",
                          [phone, ref])
        with store.transaction():
            blank = ", ".join(f"{c} = NULL" for c in PERSONAL_FIELDS)
            rows = store.scalar("SELECT count(*) FROM source_rows WHERE phone = ?", [phone])
            store.con.execute(f"UPDATE source_rows SET {blank}, erased_ref = ? WHERE phone = ?",
                              [ref, phone])
            rejects = store.scalar(
                "SELECT count(*) FROM source_rejects WHERE contains(reason, ?)", [national])
            store.con.execute("DELETE FROM source_rejects WHERE contains(reason, ?)",
                              [national])
            campaigns = store.scalar("SELECT count(*) FROM run_dialable WHERE phone = ?",
                                     [phone])
            store.con.execute("DELETE FROM run_dialable WHERE phone = ?", [phone])
            if not prior:
                store.con.execute("INSERT INTO erasures VALUES (?,?,?,?)",
                                  [phone, now, ref, by])
            store.check_fault("erase.before_commit")
            record_request(store, ref, "erasure", phone, received_on, answered=True)
            store.note_journal_head(*Journal(ws.journal_path).head(), "erase", now)
        reports = _rewrite_reports(ws, store, phone)
    return EraseResult(phone, ref, iso(prior[0] if prior else now) or "", int(rows),
                       int(rejects), int(campaigns), reports, already=bool(prior))
