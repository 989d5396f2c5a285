"""The facts behind "may I dial?", gathered for `gatekeeper check` and the service.

A run's answer per number is read from the run's own report files (dialable.csv for the
basis in words, decisions.parquet for the reason), used only while their sha256 match
the run's record; when a later run of the same campaign has overwritten them, from the
store's copy of the run's outcome per number (the basis then in general words). Either
way the decision itself is `policy.may_dial`: this module only gathers facts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from . import policy as P
from .agencies import Agency, discover_agencies
from .config import Config, Workspace
from .digest import sha256_file
from .errors import InputError
from .ledger import CallFacts, Ledger, call_facts
from .normalise import key_of, normalise_one, phone_key
from .optouts import Journal, active_optouts, trusted_state
from .store import Store
from .store import evidence as evidence_store
from .store import people as people_store
from .store import runs as run_store
from .timeutil import local_words, now_utc, read_iso

OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "phone_key": pl.Int64(), "reason": pl.String(), "basis": pl.String(),
    "basis_text": pl.String(), "valid_until": pl.Datetime("us")}


@dataclass
class RunSnapshot:
    """One run's outcome per number, sorted by number for microsecond lookups."""

    ref: P.RunRef
    outcomes: pl.DataFrame  # OUTCOME_SCHEMA, sorted by phone_key, one row per number
    keys: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def __post_init__(self) -> None:
        self.keys = self.outcomes["phone_key"].to_numpy()

    def lookup(self, phone: str) -> P.RunOutcome | None:
        key = key_of(phone)
        i = int(np.searchsorted(self.keys, key))
        if i >= len(self.keys) or self.keys[i] != key:
            return None
        row = self.outcomes.row(i, named=True)
        return P.RunOutcome(row["reason"], row["basis"], row["basis_text"],
                            row["valid_until"])


def _from_reports(ws: Workspace, campaign: str, outputs_json: str | None
                  ) -> pl.DataFrame | None:
    folder = ws.report_dir(campaign)
    outputs = json.loads(outputs_json or "{}")
    files = {name: folder / name for name in ("dialable.csv", "decisions.parquet")}
    for name, path in files.items():  # overwritten by another run, or tampered: unusable
        if not path.is_file() or sha256_file(path) != outputs.get(name):
            return None
    key = phone_key(pl.col("phone")).alias("phone_key")
    dialable = pl.read_csv(files["dialable.csv"], infer_schema=False).select(
        key, pl.lit(None, pl.String).alias("reason"), "basis", "basis_text",
        read_iso(pl.col("valid_until")))  # an offset, or a Z in an older run's file
    # A number's first row (its first source, in file order) speaks for it (select.py).
    reasons = (pl.read_parquet(files["decisions.parquet"], columns=["phone", "reason"])
               .filter(pl.col("phone").is_not_null() & pl.col("reason").is_not_null())
               .unique("phone", keep="first", maintain_order=True)
               .select(key, "reason"))
    suppressed = reasons.join(dialable.select("phone_key"), on="phone_key", how="anti")
    return pl.concat([dialable, suppressed], how="diagonal").select(
        (pl.col(c).cast(t) for c, t in OUTCOME_SCHEMA.items())).sort("phone_key")


def _from_store(store: Store, run_id: str) -> pl.DataFrame:
    outcomes = run_store.outcomes(store, run_id)
    texts = {code: P.generic_basis_text(code) for code in P.BASIS_RANK}
    return outcomes.with_columns(
        pl.col("basis").replace_strict(texts, default=None, return_dtype=pl.String)
        .alias("basis_text")).select(
        (pl.col(c).cast(t) for c, t in OUTCOME_SCHEMA.items())).sort("phone_key")


def load_snapshot(ws: Workspace, store: Store, record: run_store.RunRecord) -> RunSnapshot:
    """A run's outcome per number: from its report files if intact, else from the store."""
    outcomes = _from_reports(ws, record.campaign, record.outputs_json)
    if outcomes is None:
        outcomes = _from_store(store, record.run_id)
    days = run_store.policy_of(store, record.run_id).get("rpo_validity_days")
    return RunSnapshot(P.RunRef(record.run_id, record.campaign, record.as_of),
                       _within_the_law(outcomes, days,
                                       ws.config().jurisdiction.register_validity_days))


def snapshot_from_reports(ws: Workspace, record: run_store.RunRecord,
                          policy_days: Any) -> RunSnapshot | None:
    """`load_snapshot` without the store, from the run's report files (None when they are
    not intact): the service answers a campaign's check this way while a load or run
    holds the store, from the run record and policy it read before."""
    outcomes = _from_reports(ws, record.campaign, record.outputs_json)
    if outcomes is None:
        return None
    return RunSnapshot(P.RunRef(record.run_id, record.campaign, record.as_of),
                       _within_the_law(outcomes, policy_days,
                                       ws.config().jurisdiction.register_validity_days))


def _within_the_law(outcomes: pl.DataFrame, days: Any, limit: int | None) -> pl.DataFrame:
    """A run made while the configuration allowed a longer register validity than the law
    (before it was refused) answers only as long as the law allows: its valid_until is
    brought back by the excess days."""
    if limit is None or not isinstance(days, int) or days <= limit:
        return outcomes
    return outcomes.with_columns(pl.col("valid_until") - pl.duration(days=days - limit))


def contact_facts(config: Config, agencies: Mapping[str, Agency], calls: CallFacts,
                  at: dt.datetime, *, campaign: str | None = None, agency: str | None = None,
                  caller_id: str | None = None) -> P.ContactFacts:
    """Steps 9-13's facts: the calling hours, the number's calls before `at`, and the
    agency and caller id the dialer names (an agency without a manifest is not
    authorised; a caller id without an agency must be one some agency declared)."""
    hours = config.calling_hours
    is_open = hours.is_open(at)
    known = agencies.get(agency) if agency else None
    if caller_id is None:
        declared = None
    elif agency:
        declared = known is not None and known.declared(caller_id, config.jurisdiction)
    else:
        declared = any(a.declared(caller_id, config.jurisdiction)
                       for a in agencies.values())
    return P.ContactFacts(
        is_open, None if is_open else hours.next_open(at), calls.attempts,
        config.contact.max_attempts, calls.last_refusal is not None,
        None if not agency else known is not None and known.authorised(at, campaign),
        declared)


def facts(phone: str | None, at: dt.datetime, *, erased: bool, opted_out: bool,
          snapshot: RunSnapshot | None, jurisdiction: Any,
          contact: P.ContactFacts | None = None,
          numbering: tuple[str | None, str | None] | None = None) -> P.DialFacts:
    """The DialFacts for an E.164 number (or None for a value that is no number);
    `numbering` (region, type) when the caller already normalised a batch."""
    if phone is None:
        return P.DialFacts(at, None, jurisdiction=jurisdiction)
    region, number_type = numbering or normalise_one(phone, jurisdiction)[2:]
    return P.DialFacts(at, phone, region, number_type, erased, opted_out,
                       snapshot.ref if snapshot else None,
                       snapshot.lookup(phone) if snapshot else None, jurisdiction, contact)


@dataclass
class CheckResult:
    """The answer, the purpose asked about, and the run's rows for the number (detail)."""

    answer: P.DialAnswer
    purpose: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_number(ws: Workspace, value: str, purpose: str, *, campaign: str | None = None,
                 at: dt.datetime | None = None, agency: str | None = None,
                 caller_id: str | None = None) -> CheckResult:
    """May this number be dialled at `at` (default now), for a purpose or a campaign, by
    an agency showing a caller id?

    As things stood then: the latest run of the campaign (or purpose) whose as_of is at or
    before `at`, opt-outs received and calls made by then, erasures, the calling hours and
    the agencies' manifests."""
    config = ws.config()
    if purpose not in ("telemarketing", "survey"):
        raise InputError(f"unknown purpose '{purpose}'; accepted: telemarketing, survey")
    when = at or now_utc()
    jurisdiction = config.jurisdiction
    phone, valid, _, _ = normalise_one(value, jurisdiction)
    if not valid or phone is None:
        return CheckResult(P.may_dial(facts(None, when, erased=False, opted_out=False,
                                            snapshot=None, jurisdiction=jurisdiction)),
                           purpose)
    with Store(ws.store_path, read_only=True) as store:
        journal = trusted_state(Journal(ws.journal_path),
                                evidence_store.journal_checkpoints(store))
        record = run_store.run_for(store, purpose, campaign, when)
        snapshot = load_snapshot(ws, store, record) if record else None
        # Every erasure counts, even one made after `at`: the rows an earlier answer rested
        # on are gone, so nothing but ERASED can be proven for the number any more.
        erased = not people_store.erased_numbers(store).filter(
            pl.col("phone") == phone).is_empty()
    opted = not active_optouts(journal.events, purpose, when).filter(
        pl.col("phone") == phone).is_empty()
    agencies, broken = discover_agencies(ws.root / "agencies", config.jurisdiction)
    calls = Ledger(ws.ledger_dir).calls(key_of(phone), until=when)
    contact = contact_facts(config, agencies, call_facts(
        calls, when, config.contact.attempt_window_days,
        config.contact.refusal_cooldown_days), when, campaign=campaign, agency=agency,
        caller_id=caller_id)
    answer = P.may_dial(facts(phone, when, erased=erased, opted_out=opted, snapshot=snapshot,
                              jurisdiction=jurisdiction, contact=contact))
    rows: list[dict[str, Any]] = []
    if record:
        rows = _rows_of(ws, record, phone)
    warnings = _unknown_agency(agency, agencies, broken)
    if campaign and record is None:  # NO_RUN's words speak of the purpose: name the campaign
        warnings.append(f"no run of campaign '{campaign}' for {purpose} as of "
                        f"{local_words(when, jurisdiction.timezone_name)} Rome time or "
                        "earlier (check the name, or run it)")
    return CheckResult(answer, purpose, rows, warnings)


def _unknown_agency(agency: str | None, agencies: Mapping[str, Agency],
                    broken: list[Any]) -> list[str]:
    """Why an agency the dialer named is unknown: the answer stays AGENCY_NOT_AUTHORISED
    (fail closed), but a typo in its name or its manifest should not look like a lapsed
    contract."""
    if not agency or agency in agencies:
        return []
    if broken:
        return [f"agency '{agency}' has no readable manifest; {len(broken)} manifest(s) in "
                f"agencies/ could not be read: {broken[0]}"]
    return [f"no agency '{agency}' in agencies/; known: "
            + (", ".join(sorted(agencies)) or "none")]


def _rows_of(ws: Workspace, record: run_store.RunRecord, phone: str) -> list[dict[str, Any]]:
    """The run's decision per row of the number (detail for a person), when its file is
    still the run's own."""
    path = ws.report_dir(record.campaign) / "decisions.parquet"
    if not path.is_file() or sha256_file(path) != json.loads(
            record.outputs_json or "{}").get(path.name):
        return []
    return (pl.scan_parquet(path).filter(pl.col("phone") == phone)
            .select("source_id", "row", "reason", "basis").sort("source_id", "row")
            .collect().to_dicts())
