"""Run records: what each run used (its inputs), wrote (its files' sha256) and listed.

The numbers a run put on its list live in one Parquet file per run (runs/), sorted by
number, so "which campaigns called this number?" reads a row group per run, and a 6M-row
list costs a file write instead of a DuckDB insert.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl

from . import Store
from .evidence import record_change

RUNS_DIR = "runs"
RUN_COLUMNS = ("run_id", "campaign", "purpose", "as_of", "executed_at", "policy_json",
               "inputs_json", "journal_position", "journal_hash", "outputs_json",
               "counts_json", "dialable_file", "dialable_sha256")
LISTED_SCHEMA = {"phone": pl.String, "phone_key": pl.Int64, "source_id": pl.String,
                 "source_version": pl.Int32, "basis": pl.String}


def write_listed(store: Store, run_id: str, listed: pl.DataFrame) -> tuple[str, str]:
    """The numbers a run listed (phone, source_id, source_version, basis) as a file."""
    frame = listed.with_columns(
        pl.col("phone").str.strip_prefix("+").cast(pl.Int64, strict=False).alias("phone_key")
    ).select((pl.col(c).cast(t) for c, t in LISTED_SCHEMA.items())).sort("phone_key")
    return store.write_file(RUNS_DIR, run_id, lambda path: frame.write_parquet(
        path, compression="zstd", statistics=True, row_group_size=100_000))


def record_run(store: Store, record: dict[str, Any], listed: pl.DataFrame) -> None:
    """A run's record and its list, in one transaction."""
    with store.transaction():
        relative, digest = write_listed(store, record["run_id"], listed)
        values = {**record, "dialable_file": relative, "dialable_sha256": digest}
        store.con.execute(f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES "
                          f"({', '.join('?' for _ in RUN_COLUMNS)})",
                          [values[c] for c in RUN_COLUMNS])


def latest_run(store: Store, purpose: str) -> tuple[str, str, dt.datetime, str] | None:
    """(run_id, campaign, as_of, outputs_json) of the latest run of a purpose."""
    row = store.one("SELECT run_id, campaign, as_of, outputs_json FROM runs WHERE purpose = ? "
                    "ORDER BY executed_at DESC, rowid DESC LIMIT 1", [purpose])
    return None if row is None else (row[0], row[1], row[2], row[3])


def runs_newest_first(store: Store) -> list[tuple[str, str, str]]:
    """(run_id, campaign, outputs_json) of every run, the newest first."""
    return [(r[0], r[1], r[2]) for r in store.con.execute(
        "SELECT run_id, campaign, outputs_json FROM runs "
        "ORDER BY executed_at DESC, rowid DESC").fetchall()]


def set_outputs(store: Store, run_id: str, outputs: dict[str, str]) -> None:
    store.con.execute("UPDATE runs SET outputs_json = ? WHERE run_id = ?",
                      [json.dumps(outputs), run_id])


def all_runs(store: Store) -> pl.DataFrame:
    """Every run record with its list file (evidence checks, anchors)."""
    return store.frame("SELECT run_id, campaign, purpose, as_of, executed_at, inputs_json, "
                       "outputs_json, journal_position, journal_hash, dialable_file, "
                       "dialable_sha256 FROM runs ORDER BY executed_at, run_id")


def _listed_files(store: Store) -> list[tuple[str, str, str]]:
    return [(r[0], r[1], r[2]) for r in store.con.execute(
        "SELECT DISTINCT run_id, dialable_file, dialable_sha256 FROM runs "
        "WHERE dialable_file IS NOT NULL ORDER BY run_id").fetchall()]


def campaigns_of(store: Store, phone: str) -> pl.DataFrame:
    """Every run that listed the number: campaign, purpose, when, basis, source."""
    files = [str(store.file_path(f)) for _, f, _ in _listed_files(store)]
    schema = {"campaign": pl.String, "purpose": pl.String, "as_of": pl.Datetime("us"),
              "executed_at": pl.Datetime("us"), "basis": pl.String, "source_id": pl.String,
              "run_id": pl.String}
    if not files:
        return pl.DataFrame(schema=schema)
    return store.frame(
        """SELECT r.campaign, r.purpose, r.as_of, r.executed_at, d.basis, d.source_id,
                  r.run_id
           FROM read_parquet(?, filename = true) d
           JOIN runs r ON r.dialable_file = d.filename[length(?) + 2:]
           WHERE d.phone_key = ? ORDER BY r.executed_at, r.run_id""",
        [files, str(store.folder), int(phone.removeprefix("+"))])


def erase_listed(store: Store, phone: str, ref: str, at: dt.datetime
                 ) -> tuple[int, list[str]]:
    """Take the number off every run's list file (rewritten, the change recorded). Call
    inside a transaction; returns (entries removed, files to delete once it commits)."""
    key = int(phone.removeprefix("+"))
    removed, retired = 0, []
    for run_id, relative, old_sha in _listed_files(store):
        listed = pl.read_parquet(store.file_path(relative))
        keep = listed.filter(pl.col("phone_key").ne_missing(key))
        if keep.height == listed.height:
            continue
        new_relative, digest = write_listed(store, run_id, keep)
        store.con.execute("UPDATE runs SET dialable_file = ?, dialable_sha256 = ? "
                          "WHERE run_id = ?", [new_relative, digest, run_id])
        record_change(store, at, "erasure", f"run list {run_id}", old_sha, digest, ref)
        removed += listed.height - keep.height
        retired.append(relative)
    return removed, retired
