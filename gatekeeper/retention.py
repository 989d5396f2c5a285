"""`gatekeeper purge`: keep personal data no longer than needed, evidence as long as required.

- List rows (and their rejects) of a source version loaded more than `list_rows_months`
  (default 12, seed 002) ago and not used by any run in that time are deleted; the
  version's record (supplier, checksum, counts) stays as evidence of the supply chain.
- RPO exchange evidence and run records older than `evidence_years` (default 5,
  telemarketing code of conduct, GU 27/3/2024) are deleted.
- Opt-outs (the journal) and erasure suppression entries are never purged: they must be
  honoured for every later campaign.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from dataclasses import dataclass, field

import polars as pl

from .config import Config
from .store import Store

DEFAULT_LIST_ROWS_MONTHS = 12
DEFAULT_EVIDENCE_YEARS = 5


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
    applied: bool = False


def _used_versions_since(store: Store, cutoff: dt.datetime) -> set[tuple[str, int]]:
    used: set[tuple[str, int]] = set()
    for (inputs_json,) in store.con.execute(
            "SELECT inputs_json FROM runs WHERE executed_at >= ?", [cutoff]).fetchall():
        for source in json.loads(inputs_json or "{}").get("sources", []):
            used.add((source["source_id"], int(source["version"])))
    return used


def purge(store: Store, config: Config, as_of: dt.datetime, *, dry_run: bool = False
          ) -> PurgePlan:
    """Apply the retention rules at as_of in one transaction (or only plan them)."""
    months = int(config.retention.get("list_rows_months", DEFAULT_LIST_ROWS_MONTHS))
    years = int(config.retention.get("evidence_years", DEFAULT_EVIDENCE_YEARS))
    plan = PurgePlan(as_of, months_before(as_of, months), months_before(as_of, 12 * years))
    used = _used_versions_since(store, plan.rows_cutoff)
    candidates = store.frame(
        """SELECT v.source_id, v.version, v.loaded_at,
                  (SELECT count(*) FROM source_rows r WHERE r.source_id = v.source_id
                     AND r.source_version = v.version) AS rows,
                  (SELECT count(*) FROM source_rejects j WHERE j.source_id = v.source_id
                     AND j.source_version = v.version) AS rejects
           FROM source_versions v WHERE v.loaded_at < ? ORDER BY v.source_id, v.version""",
        [plan.rows_cutoff])
    used_frame = pl.DataFrame(sorted(used), schema={"source_id": pl.String,
                                                    "version": candidates["version"].dtype},
                              orient="row")
    stale = candidates.join(used_frame, on=["source_id", "version"], how="anti").filter(
        (pl.col("rows") > 0) | (pl.col("rejects") > 0))
    plan.source_versions = stale.select("source_id", "version", "rows").to_dicts()
    plan.rows = int(stale["rows"].sum()) if stale.height else 0
    plan.rejects = int(stale["rejects"].sum()) if stale.height else 0
    plan.rpo_exchanges = int(store.scalar(
        "SELECT count(*) FROM rpo_exchanges WHERE checked_at < ?", [plan.evidence_cutoff]))
    plan.rpo_checks = int(store.scalar(
        "SELECT count(*) FROM rpo_checks WHERE checked_at < ?", [plan.evidence_cutoff]))
    plan.runs = int(store.scalar("SELECT count(*) FROM runs WHERE executed_at < ?",
                                 [plan.evidence_cutoff]))
    if dry_run:
        return plan
    with store.transaction():
        for version in plan.source_versions:
            key = [version["source_id"], version["version"]]
            store.con.execute("DELETE FROM source_rows WHERE source_id = ? AND "
                              "source_version = ?", key)
            store.con.execute("DELETE FROM source_rejects WHERE source_id = ? AND "
                              "source_version = ?", key)
        store.con.execute("DELETE FROM rpo_checks WHERE checked_at < ?", [plan.evidence_cutoff])
        store.con.execute("DELETE FROM rpo_exchanges WHERE checked_at < ?",
                          [plan.evidence_cutoff])
        store.con.execute("DELETE FROM run_dialable WHERE run_id IN (SELECT run_id FROM runs "
                          "WHERE executed_at < ?)", [plan.evidence_cutoff])
        store.con.execute("DELETE FROM runs WHERE executed_at < ?", [plan.evidence_cutoff])
    plan.applied = True
    return plan
