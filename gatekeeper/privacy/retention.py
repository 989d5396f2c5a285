"""`gatekeeper purge`: keep personal data no longer than needed, evidence as long as required.

- List rows (and their rejects) of a source version loaded more than `list_rows_months`
  (default 12, seed 002) ago and not used by any run in that time are deleted; the
  version's record (supplier, checksum, counts) stays as evidence of the supply chain.
- RPO exchange evidence and run records older than `evidence_years` (default 5,
  telemarketing code of conduct, GU 27/3/2024) are deleted.
- Opt-outs (the journal) and erasure suppression entries are never purged: they must be
  honoured for every later campaign.
- A consent a call relied on, in a country whose law keeps it after each call (Germany:
  5 years, UWG §7a), stays: of a version otherwise purged, the rows of numbers with a
  consent and a call in those years are kept (the rest go), and `disclose` still shows them.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from gatekeeper.config import Config
from gatekeeper.dial.ledger import Ledger
from gatekeeper.store import Store
from gatekeeper.store import retention as retention_store
from gatekeeper.store import rpo as rpo_store

DEFAULT_LIST_ROWS_MONTHS = 12
DEFAULT_EVIDENCE_YEARS = 5
DEFAULT_CALLS_MONTHS = 60  # [retention] calls_months: the ledger is evidence


def months_before(instant: dt.datetime, months: int) -> dt.datetime:
    """The same day `months` earlier (clamped to the month's last day)."""
    year, month = divmod(instant.year * 12 + instant.month - 1 - months, 12)
    day = min(instant.day, calendar.monthrange(year, month + 1)[1])
    return instant.replace(year=year, month=month + 1, day=day)


@dataclass
class PurgePlan:
    """What a purge removes (or would remove, in a dry run)."""

    as_of: dt.datetime
    rows_cutoff: dt.datetime
    evidence_cutoff: dt.datetime
    source_versions: list[dict[str, object]] = field(default_factory=list)
    rows: int = 0
    rejects: int = 0
    rpo_exchanges: int = 0
    rpo_checks: int = 0
    runs: int = 0
    calls: int = 0
    calls_cutoff: dt.datetime | None = None
    applied: bool = False
    # Rows kept as consent evidence after a call (UWG §7a), per (source_id, version).
    kept_as_evidence: dict[tuple[str, int], int] = field(default_factory=dict)


def purge(store: Store, config: Config, as_of: dt.datetime, *, dry_run: bool = False,
          ledger: Ledger | None = None) -> PurgePlan:
    """Apply the retention rules at as_of in one transaction (or only plan them)."""
    months = int(config.retention.get("list_rows_months", DEFAULT_LIST_ROWS_MONTHS))
    years = int(config.retention.get("evidence_years", DEFAULT_EVIDENCE_YEARS))
    plan = PurgePlan(as_of, months_before(as_of, months), months_before(as_of, 12 * years))
    used = retention_store.versions_used_since(store, plan.rows_cutoff)
    candidates = retention_store.versions_loaded_before(store, plan.rows_cutoff)
    used_frame = pl.DataFrame(sorted(used), schema={"source_id": pl.String,
                                                    "version": candidates["version"].dtype},
                              orient="row")
    stale = candidates.join(used_frame, on=["source_id", "version"], how="anti").filter(
        (pl.col("rows") > 0) | (pl.col("rejects") > 0))
    plan.source_versions = stale.select("source_id", "version", "rows").to_dicts()
    plan.rows = int(stale["rows"].sum()) if stale.height else 0
    plan.rejects = int(stale["rejects"].sum()) if stale.height else 0
    plan.rpo_exchanges, plan.rpo_checks, plan.runs = retention_store.evidence_before(
        store, plan.evidence_cutoff)
    months_calls = int(config.retention.get("calls_months", DEFAULT_CALLS_MONTHS))
    plan.calls_cutoff = months_before(as_of, months_calls)
    if ledger is not None:
        old = ledger.calls(columns=["started_at"]).filter(
            pl.col("started_at") < plan.calls_cutoff).height
        plan.calls = old
    held = _evidence_after_calls(store, config, stale, as_of, ledger)
    plan.kept_as_evidence = {k: v.height for k, v in held.items()}
    plan.rows -= sum(plan.kept_as_evidence.values())
    if dry_run:
        return plan
    for file in retention_store.purge(store, plan.source_versions, plan.evidence_cutoff,
                                      held, as_of):
        store.remove_file(file)
    rpo_store.forget_requests(store)  # the keys kept of requests written hold numbers
    if ledger is not None and plan.calls:
        cutoff = plan.calls_cutoff
        ledger.rewrite(lambda calls: calls.filter(pl.col("started_at") >= cutoff), "retention")
    plan.applied = True
    return plan


CONSENTED = pl.col("consent_marketing").fill_null(False) | pl.col(
    "consent_third_party").fill_null(False)


def _evidence_after_calls(store: Store, config: Config, stale: pl.DataFrame,
                          as_of: dt.datetime, ledger: Ledger | None
                          ) -> dict[tuple[str, int], pl.DataFrame]:
    """Of the versions about to be purged, the rows a country's law keeps after a call:
    a number of such a country (its region), with a consent, called within its years
    before as_of. Without the ledger no call is known, and nothing is held back."""
    keeping = [j for j in config.jurisdictions if j.evidence_years_after_call]
    if not keeping or ledger is None or not stale.height:
        return {}
    calls = ledger.calls(columns=["phone_key", "started_at"]).drop_nulls("phone_key")
    # Per country: the numbers called within its years (the same for every version).
    called = [(j, calls.filter(pl.col("started_at") >= months_before(
        as_of, 12 * j.evidence_years_after_call))["phone_key"].unique().implode())
        for j in keeping]
    held: dict[tuple[str, int], pl.DataFrame] = {}
    for version in stale.select("source_id", "version", "rows_file").to_dicts():
        if not version["rows_file"]:
            continue
        rows = pl.read_parquet(store.file_path(str(version["rows_file"])))
        found = pl.concat([rows.filter((pl.col("region") == j.region) & CONSENTED
                                       & pl.col("phone_key").is_in(keys))
                           for j, keys in called])
        if found.height:
            held[(str(version["source_id"]), int(version["version"]))] = found
    return held
