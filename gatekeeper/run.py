"""`gatekeeper run` and `gatekeeper check`: every row decided, the campaign's files written.

A run reads the store (read-only, so opt-outs and checks go on meanwhile), the opt-out
journal up to a recorded position, and the RPO evidence up to as_of; decides every row
with the policy table; and writes reports/<campaign>/ all at once (a failed run writes
nothing). The run id is a hash of its inputs, so the same inputs and as_of give
byte-identical files, and a decision can be replayed years later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from . import policy as P
from .columns import PURPOSES
from .config import Config, Workspace
from .errors import InputError
from .load import sha256_file
from .normalise import normalise_one
from .optouts import Journal, JournalState, active_optouts, check_journal_state
from .registry import RPO_STATUS_SQL, exchanges_until
from .reports import campaign_html, source_report, sources_html
from .store import Store
from .timeutil import iso, now_utc

DECISION_COLUMNS = ("source_id", "row", "raw", "phone", "decision", "reason", "basis",
                    "source_version")
DIALABLE_COLUMNS = ("phone", "name", "source_id", "basis", "basis_text", "rpo_checked_at",
                    "valid_until")
CAMPAIGN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
NO_SOURCE = "NO_SOURCE"


@dataclass
class RunResult:
    """What a run decided and wrote; the CLI prints it and exits 0."""

    run_id: str
    campaign: str
    purpose: str
    as_of: str
    report_dir: Path
    summary: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _source_versions(store: Store, source_ids: Sequence[str]) -> pl.DataFrame:
    versions = store.frame(
        "SELECT source_id, version, kind, purposes, supplier_name, supplier_vat, file_sha256, "
        "supplier_contact, supplier_contract_ref, received_on, rows_rejected "
        "FROM source_versions QUALIFY version = max(version) OVER (PARTITION BY source_id) "
        "ORDER BY source_id")
    if versions.is_empty():
        raise InputError("no sources are loaded; run 'gatekeeper load' first")
    if source_ids:
        unknown = sorted(set(source_ids) - set(versions["source_id"].to_list()))
        if unknown:
            raise InputError(f"source(s) not loaded: {', '.join(unknown)}; loaded: "
                             + ", ".join(versions["source_id"].to_list()))
        versions = versions.filter(pl.col("source_id").is_in(list(source_ids)))
    return versions


def _candidate_rows(store: Store, versions: pl.DataFrame, ctx: P.Context,
                    journal: JournalState, phone: str | None = None) -> pl.DataFrame:
    """Every row of the chosen source versions with the facts the policy needs.

    Joins run in DuckDB (multi-threaded, on the whole list at once); phone_key is the
    number as an integer, for fast sorting and grouping later.
    """
    optouts = active_optouts(journal.events, ctx.purpose, ctx.as_of)
    store.con.register("chosen_versions", versions.to_arrow())
    store.con.register("active_optouts", optouts.to_arrow())
    try:
        where = "WHERE r.phone = ?" if phone else ""
        rows = store.frame(
            f"""WITH rpo AS ({RPO_STATUS_SQL})
                SELECT r.*, CAST(substr(r.phone, 2) AS BIGINT) AS phone_key,
                       v.kind, v.purposes, v.supplier_name, v.supplier_vat,
                       (e.phone IS NOT NULL OR r.erased_ref IS NOT NULL) AS erased,
                       o.phone IS NOT NULL AS opted_out,
                       rpo.rpo_checked_at, rpo.registered, rpo.registration_bound
                FROM source_rows r
                JOIN chosen_versions v
                  ON r.source_id = v.source_id AND r.source_version = v.version
                LEFT JOIN (SELECT DISTINCT phone FROM erasures) e ON e.phone = r.phone
                LEFT JOIN active_optouts o ON o.phone = r.phone
                LEFT JOIN rpo ON rpo.phone = r.phone
                {where}
                ORDER BY r.source_id, r.row""",
            [ctx.as_of, phone] if phone else [ctx.as_of])
    finally:
        store.con.unregister("chosen_versions")
        store.con.unregister("active_optouts")
    return rows


def _decide(rows: pl.DataFrame, ctx: P.Context) -> pl.DataFrame:
    decided = P.decide(rows, ctx)
    uses_rpo = ctx.purpose == "telemarketing" or ctx.policy.survey_checks_rpo
    valid_until = pl.col("rpo_checked_at") + pl.duration(days=ctx.policy.rpo_validity_days)
    return decided.with_columns(
        pl.when(pl.col("basis").is_not_null() & pl.lit(uses_rpo)).then(valid_until)
        .alias("valid_until"),
        pl.when(pl.col("reason").is_null()).then(pl.lit("dialable")).otherwise(
            pl.lit("suppressed")).alias("decision"))


def _iso_col(name: str) -> pl.Expr:
    return pl.col(name).dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias(name)


def _summary(decided: pl.DataFrame, dialable: pl.DataFrame, ctx: P.Context, campaign: str,
             run_id: str, versions: pl.DataFrame) -> dict[str, Any]:
    reasons = (decided.filter(pl.col("reason").is_not_null()).group_by("reason").len()
               .sort("reason"))
    until = dialable["valid_until"].min() if dialable.height else None
    return {
        "campaign": campaign, "purpose": ctx.purpose, "run_id": run_id,
        "as_of": iso(ctx.as_of),
        "valid_until": iso(until) if isinstance(until, dt.datetime) else None,
        "sources": versions["source_id"].to_list(),
        "rows": decided.height,
        "valid": int(decided["valid"].fill_null(False).sum()),
        "dialable": dialable.height,
        "dialable_rows": int(decided["reason"].is_null().sum()),
        "suppressed_rows": int(decided["reason"].is_not_null().sum()),
        "suppressed": dict(zip(reasons["reason"].to_list(), reasons["len"].to_list(),
                               strict=True)),
    }


def _run_id(campaign: str, ctx: P.Context, versions: pl.DataFrame, exchanges: list[str],
            journal: JournalState, erasures: int) -> tuple[str, dict[str, Any]]:
    inputs = {
        "campaign": campaign, "purpose": ctx.purpose, "as_of": iso(ctx.as_of),
        "policy": asdict(ctx.policy),
        "sources": versions.select("source_id", "version", "file_sha256").to_dicts(),
        "rpo_exchanges": exchanges, "journal_position": journal.position,
        "journal_hash": journal.last_hash, "erasures": erasures,
    }
    text = json.dumps(inputs, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20], inputs


def _write_reports(target: Path, decided: pl.DataFrame, dialable: pl.DataFrame,
                   summary: dict[str, Any], versions: pl.DataFrame) -> dict[str, str]:
    """Write into a sibling temp folder, then swap it in: readers never see half a report."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    try:
        # Rows arrive ordered by source and row, dialable numbers by number (deterministic).
        (decided.select(DECISION_COLUMNS)
         .write_parquet(tmp / "decisions.parquet", statistics=False))
        (dialable.with_columns(_iso_col("rpo_checked_at"), _iso_col("valid_until"))
         .select(DIALABLE_COLUMNS).write_csv(tmp / "dialable.csv"))
        sources = source_report(decided, dialable, versions)
        sources.write_csv(tmp / "sources.csv")
        (tmp / "sources.html").write_text(sources_html(sources, summary), encoding="utf-8")
        (tmp / "report.html").write_text(campaign_html(summary, sources), encoding="utf-8")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False)
                                          + "\n", encoding="utf-8")
        outputs = {p.name: sha256_file(p) for p in sorted(tmp.iterdir())}
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return outputs


def _record_run(ws: Workspace, run_id: str, campaign: str, ctx: P.Context,
                inputs: dict[str, Any], outputs: dict[str, str], summary: dict[str, Any],
                dialable: pl.DataFrame) -> None:
    with Store(ws.store_path) as store, store.transaction():
        store.con.execute(
            "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [run_id, campaign, ctx.purpose, ctx.as_of, now_utc(),
             json.dumps(asdict(ctx.policy)), json.dumps(inputs), inputs["journal_position"],
             inputs["journal_hash"], json.dumps(outputs), json.dumps(summary)])
        store.insert_frame("run_dialable", dialable.select(
            pl.lit(run_id).alias("run_id"), "phone", "source_id", "source_version", "basis"))


def _context(config: Config, purpose: str, as_of: dt.datetime | None) -> P.Context:
    if purpose not in PURPOSES:
        raise InputError(f"unknown purpose '{purpose}'; accepted: {', '.join(PURPOSES)}")
    return P.Context(purpose, as_of or now_utc(), config.policy)


def run_campaign(ws: Workspace, campaign: str, purpose: str, source_ids: Sequence[str] = (),
                 as_of: dt.datetime | None = None) -> RunResult:
    """Decide every row of the chosen sources at as_of and write reports/<campaign>/."""
    if not CAMPAIGN_NAME.match(campaign):
        raise InputError(f"campaign name '{campaign}' must be letters, digits, '.', '_' or "
                         "'-' (it names a folder under reports/)")
    ctx = _context(ws.config(), purpose, as_of)
    journal = Journal(ws.journal_path).read()
    with Store(ws.store_path, read_only=True) as store:
        versions = _source_versions(store, source_ids)
        rows = _candidate_rows(store, versions, ctx, journal)
        exchanges = exchanges_until(store, ctx.as_of)
        erasures = int(store.scalar("SELECT count(*) FROM erasures"))
    decided = _decide(rows, ctx)
    dialable = P.strongest_per_number(decided, ctx)
    run_id, inputs = _run_id(campaign, ctx, versions, exchanges, journal, erasures)
    summary = _summary(decided, dialable, ctx, campaign, run_id, versions)
    target = ws.report_dir(campaign)
    outputs = _write_reports(target, decided, dialable, summary, versions)
    _record_run(ws, run_id, campaign, ctx, inputs, outputs, summary, dialable)
    return RunResult(run_id, campaign, purpose, iso(ctx.as_of) or "", target, summary, outputs,
                     check_journal_state(journal))


@dataclass
class CheckAnswer:
    """May this number be dialed for this purpose now? With the reason per source row."""

    phone: str | None
    purpose: str
    at: str
    dialable: bool
    reason: str | None
    basis: str | None = None
    basis_text: str | None = None
    valid_until: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)


def check_number(ws: Workspace, value: str, purpose: str,
                 at: dt.datetime | None = None) -> CheckAnswer:
    """Decide one number now (or at `at`): fresh opt-outs and RPO answers count at once."""
    ctx = _context(ws.config(), purpose, at)
    when = iso(ctx.as_of) or ""
    phone, valid, _, _ = normalise_one(value)
    if not valid or phone is None:
        return CheckAnswer(None, purpose, when, False, P.INVALID_NUMBER)
    journal = Journal(ws.journal_path).read()
    with Store(ws.store_path, read_only=True) as store:
        versions = store.frame(
            "SELECT source_id, version, kind, purposes, supplier_name, supplier_vat, "
            "file_sha256 FROM source_versions "
            "QUALIFY version = max(version) OVER (PARTITION BY source_id)")
        rows = _candidate_rows(store, versions, ctx, journal, phone)
        erased = bool(store.scalar("SELECT count(*) FROM erasures WHERE phone = ?", [phone]))
    if rows.is_empty():
        opted = not active_optouts(journal.events, purpose, ctx.as_of).filter(
            pl.col("phone") == phone).is_empty()
        reason = P.OPTED_OUT if opted else P.ERASED if erased else NO_SOURCE
        return CheckAnswer(phone, purpose, when, False, reason)
    decided = _decide(rows, ctx).sort("source_id", "row")
    best = P.strongest_per_number(decided, ctx)
    detail = decided.select("source_id", "row", "reason", "basis").to_dicts()
    if best.height:
        top = best.row(0, named=True)
        return CheckAnswer(phone, purpose, when, True, None, top["basis"], top["basis_text"],
                           iso(top["valid_until"]), detail)
    return CheckAnswer(phone, purpose, when, False, str(decided["reason"][0]), rows=detail)
