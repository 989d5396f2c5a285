"""Run records: what each run used (its inputs), wrote (its files' sha256) and listed.

The numbers a run put on its list live in one Parquet file per run (runs/), sorted by
number, so "which campaigns called this number?" reads a row group per run, and a 6M-row
list costs a file write instead of a DuckDB insert.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from gatekeeper.config import campaign_key
from gatekeeper.intake.normalise import key_of, phone_key, phone_of_key
from gatekeeper.store import Store
from gatekeeper.store.evidence import record_change

RUNS_DIR = "runs"


@dataclass(frozen=True)
class RunRecord:
    """What a dial-time answer needs of a run: which it is, and where the store keeps its
    outcome per number (the file and the sha256 it was recorded with)."""

    run_id: str
    campaign: str
    purpose: str
    as_of: dt.datetime
    outputs_json: str | None  # the report files' sha256 (a person's detail, not the answer)
    listed_file: str | None = None  # relative to the store's folder
    listed_sha256: str | None = None
    register_days: int | None = None  # the run's [policy] rpo_validity_days


# What runs_at and run_for read of a run (a replay asks 20k instants in one query).
RECORD_SQL = ("run_id, campaign, as_of, outputs_json, dialable_file AS listed_file, "
              "dialable_sha256 AS listed_sha256, TRY_CAST(json_extract_string(policy_json, "
              "'$.rpo_validity_days') AS BIGINT) AS register_days")


def record_of(row: dict[str, Any], purpose: str) -> RunRecord:
    """A RunRecord from a row with RECORD_SQL's columns."""
    days = row.get("register_days")
    return RunRecord(row["run_id"], row["campaign"], purpose, row["as_of"],
                     row["outputs_json"], row.get("listed_file"), row.get("listed_sha256"),
                     int(days) if days is not None else None)
RUN_COLUMNS = ("run_id", "campaign", "purpose", "as_of", "executed_at", "policy_json",
               "inputs_json", "journal_position", "journal_hash", "outputs_json",
               "counts_json", "dialable_file", "dialable_sha256")
# One row per number the run decided: the basis it listed it on (and until when, and in
# the words of dialable.csv), or the reason it did not; the row that spoke for it (source,
# version). Every dial-time answer and every replay, years later, reads a run from here:
# the report files are for people and may be overwritten by the campaign's next run.
# (Runs recorded before basis_text was kept have it null: general words stand in.)
LISTED_SCHEMA: dict[str, pl.DataType] = {
    "phone": pl.String(), "phone_key": pl.Int64(), "source_id": pl.String(),
    "source_version": pl.Int32(), "basis": pl.String(), "reason": pl.String(),
    "valid_until": pl.Datetime("us"), "basis_text": pl.String()}
# Kept on disk without the phone text (the key is the number): 10M numbers 3.0 s -> 1.4 s.
_STORED = [c for c in LISTED_SCHEMA if c != "phone"]


def write_listed(store: Store, run_id: str, listed: pl.DataFrame) -> tuple[str, str]:
    """A run's outcome per number (LISTED_SCHEMA's columns; missing ones null) as a file."""
    keyed = listed if "phone_key" in listed.columns else listed.with_columns(
        phone_key(pl.col("phone"), strict=False).alias("phone_key"))
    # Sorted and written by polars' streaming engine: the same file, with half the memory
    # of a sorted copy of a 10M-row run's 9.5M outcomes (+0.6 GB instead of +1.4 GB, for
    # ~1 CPU-s more: 4.7 against 3.7).
    frame = keyed.lazy().select((pl.col(c).cast(LISTED_SCHEMA[c]) if c in keyed.columns
                                 else pl.lit(None, LISTED_SCHEMA[c]).alias(c))
                                for c in _STORED).sort("phone_key")
    return store.write_file(RUNS_DIR, run_id, lambda path: frame.sink_parquet(
        path, compression="zstd", compression_level=1, statistics=True,
        row_group_size=100_000))


def _with_phone(frame: pl.DataFrame) -> pl.DataFrame:
    """The phone text back from its key (E.164 is "+" and the key's digits)."""
    return frame.with_columns(phone_of_key(pl.col("phone_key"))
                              .alias("phone"))


def record_run(store: Store, record: dict[str, Any], listed: pl.DataFrame) -> None:
    """A run's record and its list, in one transaction."""
    with store.transaction():
        relative, digest = write_listed(store, record["run_id"], listed)
        values = {**record, "dialable_file": relative, "dialable_sha256": digest}
        store.con.execute(f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES "
                          f"({', '.join('?' for _ in RUN_COLUMNS)})",
                          [values[c] for c in RUN_COLUMNS])


def _recorded_names(store: Store) -> list[str]:
    return [str(r[0]) for r in store.con.execute(
        "SELECT DISTINCT campaign FROM runs ORDER BY campaign").fetchall()]


def _same(name: str, recorded: list[str]) -> list[str]:
    if name in recorded:
        return [name]
    key = campaign_key(name)
    return [n for n in recorded if campaign_key(n) == key]


def same_campaign(store: Store, name: str) -> list[str]:
    """The campaign names runs were recorded under that `name` stands for: itself, when
    runs were recorded under it; else every recorded name with the same folder
    ("dicembre-energia-2026" for "Dicembre Energia 2026"), so a campaign is found however
    its name is typed. More than one only in a workspace that ran, under the old rule,
    names differing in case alone."""
    return _same(name, _recorded_names(store))


def _as_recorded(store: Store, asked: pl.Series) -> pl.Series:
    """Each campaign name asked as the runs were recorded under (see same_campaign); a
    name that stands for none, or for more than one, stays as asked (no run is found)."""
    wanted = asked.unique().drop_nulls().to_list()
    if not wanted:
        return asked
    recorded = _recorded_names(store)
    mapping = {n: found[0] for n in wanted if len(found := _same(n, recorded)) == 1
               and found[0] != n}
    return asked.replace(mapping) if mapping else asked


def run_for(store: Store, purpose: str, campaign: str | None,
            at: dt.datetime | None) -> RunRecord | None:
    """The run a dial-time answer rests on: the latest run of the campaign (or, without
    one, of the purpose) whose as_of is at or before `at` (any, when `at` is None)."""
    found = runs_at(store, purpose, pl.DataFrame(
        {"campaign": [campaign], "at": [at or dt.datetime(9999, 12, 31)]},
        schema={"campaign": pl.String, "at": pl.Datetime("us")}))
    row = found.row(0, named=True)
    return None if row["run_id"] is None else record_of(row, purpose)


def runs_at(store: Store, purpose: str, asked: pl.DataFrame) -> pl.DataFrame:
    """For each (campaign, at) asked, in order, the run a dial-time answer then rests on
    (run_for's rule, for many instants in one query: a contract replay asks 20k of them).
    Of runs with the same as_of the one executed last counts. Columns: RECORD_SQL's (null
    when no run was valid then)."""
    queries = asked.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("i"),
                           _as_recorded(store, asked["campaign"]).alias("campaign"),
                           pl.col("at").cast(pl.Datetime("us")))
    with store.registered("asked", queries):
        return store.frame(
            f"WITH r AS (SELECT {RECORD_SQL}, executed_at, rowid AS n "
            "           FROM runs WHERE purpose = ?), "
            "per_campaign AS (SELECT * FROM r QUALIFY row_number() OVER ("
            "    PARTITION BY campaign, as_of ORDER BY executed_at DESC, n DESC) = 1), "
            "per_purpose AS (SELECT * FROM r QUALIFY row_number() OVER ("
            "    PARTITION BY as_of ORDER BY executed_at DESC, n DESC) = 1) "
            "SELECT i, run_id, c.campaign, as_of, outputs_json, listed_file, listed_sha256, "
            "       register_days FROM "
            "  (SELECT * FROM asked WHERE campaign IS NOT NULL) q "
            "  ASOF LEFT JOIN per_campaign c ON q.campaign = c.campaign AND q.at >= c.as_of "
            "UNION ALL "
            "SELECT i, run_id, p.campaign, as_of, outputs_json, listed_file, listed_sha256, "
            "       register_days FROM "
            "  (SELECT * FROM asked WHERE campaign IS NULL) q "
            "  ASOF LEFT JOIN per_purpose p ON q.at >= p.as_of "
            "ORDER BY i", [purpose]).drop("i")


def next_as_of(store: Store, after: dt.datetime) -> dt.datetime | None:
    """The earliest as_of of a run not yet valid at `after` (a run prepared ahead): when
    it falls due, answers move to it."""
    value = store.scalar("SELECT min(as_of) FROM runs WHERE as_of > ?", [after])
    return value if isinstance(value, dt.datetime) else None


def policy_of(store: Store, run_id: str) -> dict[str, Any]:
    """The policy a run decided under, as it recorded it."""
    text = store.scalar("SELECT policy_json FROM runs WHERE run_id = ? LIMIT 1", [run_id])
    return dict(json.loads(str(text))) if text else {}


def outcomes(store: Store, run_id: str) -> pl.DataFrame:
    """A run's outcome per number, as recorded with the run (LISTED_SCHEMA)."""
    relative = store.scalar("SELECT dialable_file FROM runs WHERE run_id = ? LIMIT 1",
                            [run_id])
    if not relative:
        return pl.DataFrame(schema=LISTED_SCHEMA)
    listed = _with_phone(pl.read_parquet(store.file_path(str(relative))))
    return listed.select((pl.col(c).cast(t) if c in listed.columns
                          else pl.lit(None, t).alias(c)) for c, t in LISTED_SCHEMA.items())


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
    schema: dict[str, pl.DataType] = {
        "campaign": pl.String(), "purpose": pl.String(), "as_of": pl.Datetime("us"),
        "executed_at": pl.Datetime("us"), "basis": pl.String(), "source_id": pl.String(),
        "run_id": pl.String()}
    if not files:
        return pl.DataFrame(schema=schema)
    return store.frame(
        """SELECT r.campaign, r.purpose, r.as_of, r.executed_at, d.basis, d.source_id,
                  r.run_id
           FROM read_parquet(?, filename = true, union_by_name = true) d
           JOIN runs r ON r.dialable_file = d.filename[length(?) + 2:]
           WHERE d.phone_key = ? AND d.basis IS NOT NULL
           ORDER BY r.executed_at, r.run_id""",
        [files, str(store.folder), key_of(phone)])


def erase_listed(store: Store, phone: str, ref: str, at: dt.datetime
                 ) -> tuple[int, list[str]]:
    """Take the number off every run's list file (rewritten, the change recorded). Call
    inside a transaction; returns (entries removed, files to delete once it commits)."""
    key = key_of(phone)
    removed, retired = 0, []
    for run_id, relative, old_sha in _listed_files(store):
        listed = _with_phone(pl.read_parquet(store.file_path(relative)))
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


def load_rejects(store: Store, versions: pl.DataFrame) -> pl.DataFrame:
    """The rows each (source_id, version) could not load, with why: a run hands them back
    to the supplier."""
    pairs = versions.select("source_id", pl.col("version").cast(pl.Int32))
    with store.registered("run_versions", pairs):
        return store.frame(
            """SELECT r.source_id, r.source_version, r."row", r.reason FROM source_rejects r
               JOIN run_versions p ON p.source_id = r.source_id
                                  AND p.version = r.source_version
               ORDER BY r.source_id, r."row" """)


def manifests_of(store: Store, versions: pl.DataFrame) -> pl.DataFrame:
    """The manifest each (source_id, version) was loaded with, as JSON."""
    pairs = versions.select("source_id", pl.col("version").cast(pl.Int32))
    with store.registered("run_versions", pairs):
        return store.frame(
            """SELECT v.source_id, v.version, v.manifest_json FROM source_versions v
               JOIN run_versions p USING (source_id, version) ORDER BY 1""")
