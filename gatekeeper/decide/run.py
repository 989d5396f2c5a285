"""`gatekeeper run` and `gatekeeper check`: every row decided, the campaign's files written.

A run reads the store (read-only, so opt-outs and checks go on meanwhile), the opt-out
journal up to a recorded position, and the RPO evidence up to as_of; decides every row
with the policy table; and writes reports/<slug>/ all at once (a failed run writes
nothing). The run id is a hash of its inputs, so the same inputs and as_of give
byte-identical files, and a decision can be replayed years later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from gatekeeper.config import FOLDER_NAME, Config, Workspace, campaign_slug, check_campaign_name
from gatekeeper.core.columns import PURPOSES
from gatekeeper.core.errors import InputError
from gatekeeper.core.exprs import sector_name
from gatekeeper.core.faults import crash_point, fail_point
from gatekeeper.core.outfile import report_folder
from gatekeeper.core.overlap import WriteBehind, read_ahead
from gatekeeper.core.progress import Progress
from gatekeeper.core.timeutil import iso, local_iso, now_utc
from gatekeeper.decide import policy as P
from gatekeeper.decide.campaign_files import (
    WaitingRows,
    write_dialable,
    write_rejects,
    write_small_files,
)
from gatekeeper.decide.policy.select import first_rows
from gatekeeper.decide.reports import add_counts, reason_codes, source_counts, source_report
from gatekeeper.intake.normalise import phone_key
from gatekeeper.next_steps import after_run
from gatekeeper.privacy.erasure.register import erased_numbers
from gatekeeper.privacy.optouts import (
    JournalState,
    active_optouts,
    open_journal,
    trusted_state,
)
from gatekeeper.registers import rpo_status
from gatekeeper.registers.adapters import configured
from gatekeeper.store import Store
from gatekeeper.store import evidence as evidence_store
from gatekeeper.store import people as people_store
from gatekeeper.store import rpo as rpo_store
from gatekeeper.store import runs as run_store
from gatekeeper.store import sources as source_store
from gatekeeper.suppliers import ROW_FACTS, run_inputs, stale, with_diligence

DECISION_COLUMNS = ("source_id", "row", "raw", "phone", "decision", "reason", "basis",
                    "source_version", "repaired")
CAMPAIGN_NAME = FOLDER_NAME  # names that are folder names as they are (contracts --name)
NO_SOURCE = P.NO_SOURCE
BATCH_ROWS = 1_000_000  # rows decided at once: bounds a run's memory, whatever the lists


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
    next_steps: list[str] = field(default_factory=list)  # what to do when it decided little


def _source_versions(store: Store, source_ids: Sequence[str]) -> pl.DataFrame:
    versions = source_store.newest_versions(store)
    if versions.is_empty():
        raise InputError("no sources are loaded; run 'gatekeeper load' first (a list with no "
                         "manifest yet gets one from 'gatekeeper sources suggest FILE "
                         "--write')")
    if source_ids:
        unknown = sorted(set(source_ids) - set(versions["source_id"].to_list()))
        if unknown:
            raise InputError(f"source(s) not loaded: {', '.join(unknown)}; loaded: "
                             + ", ".join(versions["source_id"].to_list()))
        versions = versions.filter(pl.col("source_id").is_in(list(source_ids)))
    purged = versions.filter(pl.col("rows_file").is_null())["source_id"].to_list()
    if purged:
        raise InputError(f"the rows of {', '.join(purged)} were purged (retention); load the "
                         "list again or leave it out with --source")
    return versions


@dataclass(frozen=True)
class Facts:
    """What a run knows besides the rows: RPO status, erasures, opt-outs (by phone_key)."""

    rpo: pl.DataFrame  # phone_key, rpo_checked_at, registered, registration_bound
    erased: pl.Series  # phone_key
    opted_out: pl.Series  # phone_key

    @classmethod
    def read(cls, store: Store, ctx: P.Context, journal: JournalState,
             phone: str | None = None, erased: pl.DataFrame | None = None) -> Facts:
        keys = phone_key(pl.col("phone")).alias("phone_key")
        rpo = rpo_status(store, ctx.as_of, phone).drop("phone", strict=False).sort("phone_key")
        if erased is None:
            erased = people_store.erased_numbers(store)
        if phone:
            erased = erased.filter(pl.col("phone") == phone)
        optouts = active_optouts(journal.events, ctx.purpose, ctx.as_of)
        return cls(rpo, erased.select(keys)["phone_key"], optouts.select(keys)["phone_key"])


# What the policy and the outputs read of a stored row (not every column: memory).
ROW_COLUMNS = ("source_id", "source_version", "row", "raw", "phone", "valid", "region",
               "number_type", "name", "contract_status", "contract_end", "consent_marketing",
               "consent_third_party", "consent_date", "consent_proof", "consent_collector",
               "erased_ref", "phone_key", "consent_ip", "consent_at", "consent_method",
               "consent_text_id", "consent_sectors", "repaired")


def _rpo_beside(rows: pl.DataFrame, rpo: pl.DataFrame) -> pl.DataFrame:
    """Each row's RPO status (nulls where there is none), in the rows' order.

    A binary search into the status sorted by number: cheaper than hashing millions of
    statuses again for every batch."""
    columns = [c for c in rpo.columns if c != "phone_key"]
    if rpo.is_empty():
        return pl.DataFrame({c: pl.Series(c, [None] * rows.height, rpo.schema[c])
                             for c in columns})
    keys = rpo["phone_key"]
    wanted = rows["phone_key"].fill_null(-1)
    at = keys.search_sorted(wanted).clip(0, keys.len() - 1)
    found = keys.gather(at) == wanted
    return rpo.select(columns).select(pl.all().gather(at)).with_columns(
        pl.when(found).then(pl.col(c)).alias(c) for c in columns)


def _with_facts(rows: pl.DataFrame, version: dict[str, Any], facts: Facts) -> pl.DataFrame:
    """A batch of one version's rows with every fact the policy needs beside each row."""
    return rows.with_columns(
        pl.lit(version["kind"]).alias("kind"),
        pl.lit(version["purposes"], pl.List(pl.String)).alias("purposes"),
        pl.lit(version["supplier_name"], pl.String).alias("supplier_name"),
        pl.lit(version["supplier_vat"], pl.String).alias("supplier_vat"),
        *(pl.lit(version.get(c), t).alias(c) for c, t in ROW_FACTS.items()),
    ).hstack(_rpo_beside(rows, facts.rpo)).with_columns(
        (pl.col("erased_ref").is_not_null()
         | pl.col("phone_key").is_in(facts.erased.implode())).alias("erased"),
        pl.col("phone_key").is_in(facts.opted_out.implode()).fill_null(False)
        .alias("opted_out"))


def _rows_with_facts(store: Store, versions: pl.DataFrame, facts: Facts,
                     batch_rows: int = BATCH_ROWS) -> Iterator[pl.DataFrame]:
    """Every row of the versions, as stored (per source, in number order), with every fact
    the policy needs, batch_rows at a time: memory stays bounded whatever the size of a
    list, and no sort or join is asked of the store."""
    for version in versions.to_dicts():
        for rows in source_store.version_batches(store, version["rows_file"], ROW_COLUMNS,
                                                 batch_rows):
            yield _with_facts(rows, version, facts)


def _decide(rows: pl.DataFrame, ctx: P.Context) -> pl.DataFrame:
    """Every row decided by its own country's table (its region among [policy]
    jurisdictions), in that country's time; a number of no country called by the
    workspace's own, whose table answers OUT_OF_JURISDICTION. One country: one pass."""
    if len(ctx.countries) == 1:
        return _decide_country(rows, ctx)
    indexed = rows.with_row_index("_at")
    parts = [_decide_country(indexed.filter(mine), country) for country, mine in ctx.parts()]
    return pl.concat(parts, how="vertical_relaxed").sort("_at").drop("_at")


def _decide_country(rows: pl.DataFrame, ctx: P.Context) -> pl.DataFrame:
    decided = P.decide(rows, ctx)
    valid_until = pl.col("rpo_checked_at") + pl.duration(days=ctx.register_validity_days)
    relying = P.register_bases(ctx)
    relies = (pl.lit(True) if relying is None
              else pl.col("basis").is_in(list(relying)))
    until = pl.when(pl.col("basis").is_not_null() & relies).then(valid_until)
    change = ctx.table_ends_at
    if change is not None:  # the version in force ends: no answer outlives it
        until = pl.when(pl.col("basis").is_not_null()).then(
            pl.min_horizontal(until.otherwise(None), pl.lit(change)))
    return decided.with_columns(
        until.alias("valid_until"),
        pl.when(pl.col("reason").is_null()).then(pl.lit("dialable")).otherwise(
            pl.lit("suppressed")).alias("decision"),
        pl.lit(ctx.table_version).alias("rules"))


def _summary(sources: pl.DataFrame, reasons: pl.DataFrame, dialable: pl.DataFrame,
             ctx: P.Context, campaign: str, run_id: str) -> dict[str, Any]:
    reasons = reasons.group_by("reason").agg(pl.col("len").sum()).sort("reason")
    until = dialable["valid_until"].min() if dialable.height else None
    zone = ctx.jurisdiction.timezone_name
    rows, dialable_rows = int(sources["rows_loaded"].sum()), int(sources["rows_dialable"].sum())
    return {
        "campaign": campaign, "purpose": ctx.purpose, "run_id": run_id,
        "as_of": local_iso(ctx.as_of, zone), "sector": ctx.sector,
        "valid_until": local_iso(until, zone) if isinstance(until, dt.datetime) else None,
        "sources": sources["source_id"].to_list(),
        "rows": rows,
        "valid": int(sources["rows_valid"].sum()),
        "repaired": int(sources["rows_repaired"].sum()),
        "dialable": dialable.height,
        "dialable_rows": dialable_rows,
        "suppressed_rows": rows - dialable_rows,
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
        "sector": ctx.sector, "suppliers": run_inputs(versions),
        # The version of each country's rules the run decided by (dated tables).
        "rules": {c.jurisdiction.code: c.table_version for c in ctx.countries},
    }
    text = json.dumps(inputs, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20], inputs


DECISION_SCHEMA = pl.Schema({"source_id": pl.String, "row": pl.Int64, "raw": pl.String,
                             "phone": pl.String, "decision": pl.String, "reason": pl.String,
                             "basis": pl.String, "source_version": pl.Int32,
                             "repaired": pl.String, "rules": pl.String})


def _record_run(ws: Workspace, run_id: str, campaign: str, ctx: P.Context,
                inputs: dict[str, Any], outputs: dict[str, str], summary: dict[str, Any],
                outcomes: pl.DataFrame) -> None:
    """The run's record and its outcome per number (listed on a basis, or why not)."""
    record = {"run_id": run_id, "campaign": campaign, "purpose": ctx.purpose,
              "as_of": ctx.as_of, "executed_at": now_utc(),
              "policy_json": json.dumps(asdict(ctx.policy)), "inputs_json": json.dumps(inputs),
              "journal_position": inputs["journal_position"],
              "journal_hash": inputs["journal_hash"], "outputs_json": json.dumps(outputs),
              "counts_json": json.dumps(summary)}
    with Store(ws.store_path) as store:
        run_store.record_run(store, record, outcomes)


def _context(config: Config, purpose: str, as_of: dt.datetime | None,
             sector: str | None = None) -> P.Context:
    if purpose not in PURPOSES:
        raise InputError(f"unknown purpose '{purpose}'; accepted: {', '.join(PURPOSES)}")
    if sector is not None:
        sector = sector_name(sector)
        if not sector or any(c in sector for c in ";,/"):
            raise InputError("--sector must be one sector's name, e.g. --sector energia")
    return P.Context(purpose, as_of or now_utc(), config.policy, config.jurisdiction,
                     sector or config.policy.sector, called=config.jurisdictions)


def run_campaign(ws: Workspace, campaign: str, purpose: str, source_ids: Sequence[str] = (),
                 as_of: dt.datetime | None = None, batch_rows: int = BATCH_ROWS,
                 progress: Progress | None = None,
                 sector: str | None = None) -> RunResult:
    """Decide every row of the chosen sources at as_of (for the campaign's sector) and
    write reports/<slug>/ (config.campaign_slug: the name may be any text). `progress`
    hears a line per batch (for a person watching a terminal). The result's next_steps
    say what would let the run decide what it could not (next_steps.py)."""
    check_campaign_name(campaign)
    config = ws.config()
    ctx = _context(config, purpose, as_of, sector)
    with Store(ws.store_path, read_only=True) as store:
        campaign, renamed = _recorded_name(store, campaign)
        target = ws.report_dir(campaign)
        journal = trusted_state(open_journal(ws),
                                evidence_store.journal_checkpoints(store))
        versions = with_diligence(store, _source_versions(store, source_ids), ctx.as_of,
                                  ctx.as_of_date, ctx.jurisdiction.timezone_name)
        exchanges = rpo_store.exchanges_until(store, ctx.as_of)
        erasures = people_store.erasure_count(store)
        run_id, inputs = _run_id(campaign, ctx, versions, exchanges, journal, erasures)
        with report_folder(target) as folder:
            counts, reasons, dialable, not_listed, invalid = _decide_and_list(
                store, versions, ctx, journal, erased_numbers(ws, store), folder,
                batch_rows, progress)
            rejected = write_rejects(store, versions, invalid, folder, ctx)
            sources = source_report(counts, dialable, versions, reason_codes(ctx))
            summary = _summary(sources, reasons, dialable, ctx, campaign, run_id)
            # Every row the lists held: loaded, unreadable (rejected), blank or a total
            # (skipped); and how many rows rejects.csv sends back.
            summary.update({c: int(versions[f"rows_{w}"].sum()) for c, w in (
                ("received", "read"), ("rejected", "rejected"), ("skipped", "skipped"))})
            summary["rejects"] = rejected
            outputs = write_small_files(folder, sources, summary,
                                        ctx.jurisdiction.timezone_name)
    _record_run(ws, run_id, campaign, ctx, inputs, outputs, summary,
                pl.concat([dialable, not_listed], how="diagonal"))
    steps = after_run(summary, versions.select("kind", "purposes").to_dicts(), purpose,
                      campaign, configured(config).automatic)
    return RunResult(run_id, campaign, purpose, summary["as_of"], target, summary, outputs,
                     renamed + journal.warnings() + stale(ws, versions), steps)


def _recorded_name(store: Store, typed: str) -> tuple[str, list[str]]:
    """The name the campaign is recorded under, and a warning when that is not the name
    typed. A name whose folder is that of a campaign already run ("dicembre energia
    2026" after "Dicembre Energia 2026") is that campaign: one folder, one name in the
    store, so `check --campaign` and the history find every run of it."""
    same = run_store.same_campaign(store, typed)
    if not same or same == [typed]:
        return typed, []
    if len(same) > 1:
        raise InputError(f"campaign '{typed}' could be any of " + ", ".join(
            f"'{n}'" for n in same) + " (runs recorded under names that differ only in "
            "case); type one of them exactly")
    return same[0], [f"campaign '{typed}' is the campaign already run as '{same[0]}' (same "
                     f"folder reports/{campaign_slug(same[0])}/): recorded under that name"]


def _decide_and_list(store: Store, versions: pl.DataFrame, ctx: P.Context,
                     journal: JournalState, erased: pl.DataFrame, folder: Path,
                     batch_rows: int,
                     progress: Progress | None = None
                     ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame,
                                pl.DataFrame]:
    """Decide every row and write decisions.parquet, dialable.csv and dialable.xlsx.

    Rows stream through in batches: memory holds three (the one read ahead, the one
    decided, the one being written), plus the dialable rows' few short columns (the list
    is written from them once each number's strongest row is known) and a few integers
    per suppressed row (each number's first reason).
    Returns (per-source counts, reason counts, the listed numbers' phone_key, source,
    version, basis, valid_until and basis_text, the other numbers' phone_key, source,
    version and reason, and the rows whose number is no number: source, version, row,
    raw).
    """
    facts = Facts.read(store, ctx, journal, erased=erased)
    order = P.basis_order(versions["source_id"].to_list(), ctx.jurisdiction.table,
                          tuple((c.jurisdiction.region, c.jurisdiction.table)
                                for c in ctx.countries[1:]))
    first = P.row_order(versions["source_id"].to_list())
    counts, reasons, suppressed, invalid = [], [], [], []
    waiting = WaitingRows(ctx, versions["source_id"].to_list())
    reasons_given = reason_codes(ctx)
    schema = DECISION_SCHEMA.to_arrow(compat_level=pl.CompatLevel.oldest())
    # The next batch is read from the store while this one is decided, and written while
    # the next is decided: ~2.5 s of a 10M-row run's 22 (byte-identical output).
    batches = read_ahead(_rows_with_facts(store, versions, facts, batch_rows))
    # Dictionaries only where values repeat: on row, raw and phone they cost time and bytes.
    with (closing(batches),  # a failed run stops the reader before the store closes
          pq.ParquetWriter(folder / "decisions.parquet", schema, compression="zstd",
                           write_statistics=False, use_dictionary=[
                               "source_id", "decision", "reason", "basis", "source_version",
                               "repaired", "rules"]
                           ) as decisions,
          WriteBehind() as behind):
        total, done = int(versions["rows_loaded"].sum()), 0
        for rows in batches:
            decided = _decide(rows, ctx)
            done += rows.height
            if progress:
                progress(f"deciding {done:,} of {total:,} rows", done, total)
            counts.append(source_counts(decided, reasons_given))
            # Columns chosen before rows are filtered, here and in dialable_rows: filtering
            # every column of a decided batch first cost ~2.5 s of a 10M-row run.
            reasons.append(decided.select("reason").drop_nulls().group_by("reason").len())
            waiting.add(P.dialable_rows(decided), order)
            # Codes as categories: 4 bytes a row, where a text of more than 12 bytes kept
            # its whole batch's texts alive (~250 MB of a 10M-row run).
            suppressed.append(decided.select(
                "phone_key", "row", "reason", "source_id", "source_version"
            ).filter(pl.col("reason").is_not_null() & pl.col("phone_key").is_not_null())
             .select("phone_key", first.alias("order"),
                     pl.col("reason", "source_id").cast(pl.Categorical), "source_version"))
            invalid.append(decided.select("source_id", "source_version", "row", "raw", "reason")
                           .filter(pl.col("reason") == P.INVALID_NUMBER).drop("reason")
                           .shrink_to_fit())  # keeps its own texts, not the batch's
            # Only what decisions.parquet holds waits for the writer, and the batch goes
            # before the next is decided: two whole batches in memory at once were ~0.15 GB
            # of a 10M-row run's peak.
            behind.write(_write_batch, decisions, decided.select(DECISION_SCHEMA.names()))
            del decided, rows
    held = waiting.take()
    strongest = first_rows(held.select("phone_key", "order"))
    held = held.drop("order")
    if progress:
        progress(f"writing dialable.csv ({strongest.len():,} numbers)")
    listed = write_dialable(folder, waiting, held, strongest, ctx, batch_rows)
    return (add_counts(counts), pl.concat(reasons), listed, _not_listed(suppressed, listed),
            pl.concat(invalid, how="vertical_relaxed") if invalid else pl.DataFrame(
                schema={"source_id": pl.String, "source_version": pl.Int32, "row": pl.Int64,
                        "raw": pl.String}))


def _not_listed(suppressed: list[pl.DataFrame], listed: pl.DataFrame) -> pl.DataFrame:
    """Each number the run did not list, with the reason of its first row (select.py).

    Both sides in number order, the listed numbers are found by a binary search: a hash
    anti-join of 3M numbers against 6.4M cost 1.4 CPU-s, this 0.9."""
    rows = pl.concat(suppressed) if suppressed else pl.DataFrame(
        schema={"phone_key": pl.Int64, "order": pl.Int64, "reason": pl.Categorical,
                "source_id": pl.Categorical, "source_version": pl.Int32})
    first = P.first_reasons(rows).select("phone_key", pl.col("source_id").cast(pl.String),
                                         "source_version", pl.col("reason").cast(pl.String))
    keys = listed["phone_key"]
    if keys.is_empty():
        return first
    if not keys.is_sorted():  # write_dialable hands them sorted; never trust it blindly
        keys = keys.sort()
    at = keys.search_sorted(first["phone_key"]).clip(0, keys.len() - 1)
    return first.filter(keys.gather(at) != first["phone_key"])


def _write_batch(decisions: pq.ParquetWriter, decided: pl.DataFrame) -> None:
    fail_point("run.write", OSError(28, "No space left on device (injected)"))
    crash_point("run.write")
    decisions.write_table(decided.cast(DECISION_SCHEMA)
                          .to_arrow(compat_level=pl.CompatLevel.oldest()))


