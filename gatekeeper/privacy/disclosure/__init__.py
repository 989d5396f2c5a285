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
from typing import Any

import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.core.timeutil import local_iso, local_iso_expr, now_utc
from gatekeeper.dial.ledger import open_ledger
from gatekeeper.intake.normalise import key_of, phone_of
from gatekeeper.jurisdictions import Jurisdiction
from gatekeeper.privacy.disclosure.letter import held_names
from gatekeeper.privacy.erasure.erase import ErasePlan, EraseResult, erase, erase_plan
from gatekeeper.privacy.optouts import open_journal
from gatekeeper.privacy.requests import record_request
from gatekeeper.store import Store
from gatekeeper.store import people as people_store
from gatekeeper.store import rpo as rpo_store
from gatekeeper.store import runs as run_store
from gatekeeper.store import suppliers as supplier_store

DISCLOSURE_KEYS = ("phone", "sources", "rpo_checks", "optouts", "campaigns", "erased",
                   "calls")


def _records(frame: pl.DataFrame, zone: str) -> list[dict[str, Any]]:
    """Rows as dicts with instants (local time with their offset) and dates as ISO text
    (JSON- and letter-ready)."""
    out = frame.with_columns(
        local_iso_expr(c, zone) for c, t in frame.schema.items()
        if isinstance(t, pl.Datetime)
    ).with_columns(
        pl.col(c).dt.strftime("%Y-%m-%d") for c, t in frame.schema.items() if t == pl.Date)
    return out.to_dicts()


CONSENT_KEYS = ("marketing", "third_party", "date", "channel", "proof", "collector", "ip",
                "at", "method", "text_id", "sectors")
DILIGENCE_KEYS = ("reviewed_on", "reviewed_by", "outcome", "next_review", "collection",
                  "sector_choice", "privacy_notice_sha256")


def _diligence(store: Store, zone: str) -> dict[str, dict[str, Any]]:
    """Each supplier's due diligence as last loaded, by supplier id."""
    records = _records(supplier_store.newest_suppliers(store).select(
        "supplier_id", *DILIGENCE_KEYS), zone)
    return {r.pop("supplier_id"): r for r in records}


def _sources(store: Store, phone: str, zone: str) -> list[dict[str, Any]]:
    rows = people_store.source_rows_of(store, phone).select(
        "source_id", pl.col("source_version").alias("version"), "kind", "received_on", "file",
        "file_sha256", "loaded_at", "row", "raw", "name", "customer_id", "contract_status",
        "contract_end", *(f"consent_{k}" for k in CONSENT_KEYS), "supplier_id",
        "supplier_name", "supplier_vat", "supplier_contact", "supplier_contract_ref",
        "purposes")
    diligence = _diligence(store, zone) if rows.height else {}
    result = []
    for rec in _records(rows, zone):
        supplier = {k: rec.pop(f"supplier_{k}") for k in ("id", "name", "vat", "contact",
                                                         "contract_ref")}
        reviewed = diligence.get(supplier["id"] or "")
        supplier["due_diligence"] = reviewed if reviewed and reviewed["outcome"] else None
        rec["supplier"] = supplier if supplier["name"] else None
        rec["consent"] = {k: rec.pop(f"consent_{k}") for k in CONSENT_KEYS}
        result.append(rec)
    return result


def _rpo_checks(store: Store, phone: str, zone: str) -> list[dict[str, Any]]:
    return _records(rpo_store.checks_of(store, phone), zone)


def _campaigns(store: Store, phone: str, zone: str) -> list[dict[str, Any]]:
    return _records(run_store.campaigns_of(store, phone), zone)


def _optouts(events: pl.DataFrame, zone: str) -> list[dict[str, Any]]:
    events = events.sort("seq")
    return _records(events.select("seq", "type", "at", "channel", "scope", "recorded_by",
                                  "note", "evidence", "recorded_at"), zone)


def _calls(ws: Workspace, phone: str, jurisdiction: Jurisdiction) -> list[dict[str, Any]]:
    """Every call made to (or from) the number: when, which campaign, which call centre
    (its name as its manifest gives it), the number shown, the outcome."""
    from gatekeeper.dial.agencies import discover_agencies

    agencies, _ = discover_agencies(ws.root / "agencies", jurisdiction)
    zone = jurisdiction.timezone_name
    calls = open_ledger(ws).calls(key_of(phone)).sort("started_at")
    return [{"started_at": local_iso(c["started_at"], zone), "direction": c["direction"],
             "campaign": c["campaign"], "agency": c["agency"],
             "agency_name": agencies[c["agency"]].name if c["agency"] in agencies else None,
             "caller_id": c["caller_id"], "outcome": c["outcome"],
             "duration_s": c["duration_s"]} for c in calls.iter_rows(named=True)]


def _erased(store: Store, phone: str, zone: str) -> dict[str, Any] | None:
    rows = _records(people_store.erasure_of(store, phone), zone)
    if not rows:
        return None
    erased = rows[0]
    erased["copies"] = json.loads(erased.pop("copies_json") or "[]")
    return erased


def _names_warning(sources: list[dict[str, Any]]) -> list[str]:
    """The number held under more than one name: the letter names nobody (it could be
    sent to someone other than the person named), and the DPO should know before sending."""
    names = held_names(sources)
    if len(names) < 2:
        return []
    where = sorted({s["source_id"] for s in sources if (s.get("name") or "").strip()})
    return [f"this number is held under {len(names)} different names (in {', '.join(where)}): "
            "the letter names nobody and leaves out customer codes; check that the person "
            "asking is the one the data is about before sending (the names are in the JSON "
            "and the preview)"]


def disclose(ws: Workspace, value: str, *, ref: str | None = None,
             received_on: dt.date | None = None) -> dict[str, Any]:
    """Everything held about one number; `held` is false when there is nothing at all.

    With a request reference the access request is recorded as answered now (request log).
    """
    jurisdiction = ws.config().jurisdiction  # read once: parsing it costs ~10 ms
    phone = phone_of(value, jurisdiction)
    zone = jurisdiction.timezone_name
    events, holding, unreadable = open_journal(ws).about(phone)
    optouts = _optouts(events, zone)
    with Store(ws.store_path, read_only=ref is None) as store:
        data: dict[str, Any] = {
            "phone": phone,
            "sources": _sources(store, phone, zone),
            "rpo_checks": _rpo_checks(store, phone, zone),
            "optouts": optouts,
            "campaigns": _campaigns(store, phone, zone),
            "calls": _calls(ws, phone, jurisdiction),
            "erased": _erased(store, phone, zone),
        }
        if ref:
            record_request(store, ref, "access", phone, received_on, zone, answered=True)
    data["held"] = any(data[k] for k in DISCLOSURE_KEYS[1:])
    # For the privacy officer, not the letter: what this answer may be missing.
    fix = ("repair the journal from a backup (gatekeeper optout repair) before sending "
           "this answer")
    data["warnings"] = [
        *_names_warning(data["sources"]),
        *(f"the opt-out journal's line {n} is damaged and holds this number's digits: an "
          f"opt-out of it may be missing from this answer; {fix}" for n in holding),
        *(f"the opt-out journal's line {n} is damaged beyond reading: an opt-out of this "
          f"number may be among it; {fix}" for n in unreadable)]
    data["generated_at"] = local_iso(now_utc(), zone)
    data["timezone"] = zone  # the zone its instants are written in (the letter's clock)
    return data


__all__ = ["DISCLOSURE_KEYS", "ErasePlan", "EraseResult", "disclose", "erase", "erase_plan"]
