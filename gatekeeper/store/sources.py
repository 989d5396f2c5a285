"""Source versions (the catalog) and their rows (one immutable Parquet file each).

A version's rows are written once, sorted by number, with zstd and row-group statistics
on the number: a run streams them back a batch at a time, and a lookup of one number
(disclose, check) reads a row group or two. Only an erasure rewrites a file (a new file,
recorded as an evidence change); retention deletes it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from gatekeeper.core.columns import PERSONAL_FIELDS
from gatekeeper.intake.normalise import key_of
from gatekeeper.store import Store
from gatekeeper.store.evidence import record_change

ROWS_DIR = "rows"
ROW_GROUP = 100_000
ROW_SCHEMA: dict[str, pl.DataType] = {
    "source_id": pl.String(), "source_version": pl.Int32(), "row": pl.Int64(),
    "raw": pl.String(), "phone": pl.String(), "phone_key": pl.Int64(), "valid": pl.Boolean(),
    "region": pl.String(), "number_type": pl.String(), "name": pl.String(),
    "customer_id": pl.String(), "contract_status": pl.String(), "contract_end": pl.Date(),
    "consent_marketing": pl.Boolean(), "consent_third_party": pl.Boolean(),
    "consent_date": pl.Date(), "consent_channel": pl.String(), "consent_proof": pl.String(),
    "consent_collector": pl.String(), "erased_ref": pl.String(),
    # Schema 5: the consent's evidence (older files read these as nulls, see conform).
    "consent_ip": pl.String(), "consent_at": pl.Datetime("us"), "consent_method": pl.String(),
    "consent_text_id": pl.String(), "consent_sectors": pl.List(pl.String()),
    "repaired": pl.String(),  # what the load repaired in the number (leading_zero), else null
}
VERSION_COLUMNS = (
    "source_id", "version", "kind", "file", "file_sha256", "manifest_sha256", "manifest_json",
    "received_on", "purposes", "supplier_name", "supplier_vat", "supplier_contact",
    "supplier_contract_ref", "encoding", "delimiter", "rows_read", "rows_loaded",
    "rows_rejected", "loaded_at", "rows_file", "rows_sha256", "number_types", "rows_skipped",
    "current_file_sha256", "supplier_id",
)
_NEWEST = "QUALIFY version = max(version) OVER (PARTITION BY source_id)"


def conform(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows in ROW_SCHEMA's columns and order; a column a file predates is null."""
    return rows.select(
        (pl.col(c).cast(t) if c in rows.columns else pl.lit(None, t)).alias(c)
        for c, t in ROW_SCHEMA.items())


def _types(rows: pl.DataFrame) -> dict[str, int]:
    # The two columns first: filtering every column copied them all (0.3 s per 3.3M rows).
    counts = rows.select("valid", "number_type").filter(
        pl.col("valid").fill_null(False)).group_by("number_type").len()
    return dict(sorted(zip(counts["number_type"].to_list(), counts["len"].to_list(),
                           strict=True)))


# zstd's lightest level: a 3.3M-row list's rows file is about as small as polars wrote it
# at level 3 (40 against 46 MB, with the encodings below), in ~half the CPU time of
# the writer (1.9-2.1 -> 1.1-1.3 s).
ZSTD_LEVEL = 1
# Columns whose values repeat down any list (a few types, regions, dates, flags, the same
# proof or supplier text): a dictionary page makes them a few bits a row, and a run
# decodes them faster. Other text columns (the number as written, name, address) hold
# nearly one value per row in most lists: one gets a dictionary only when its first
# SAMPLE_ROWS rows hold at most a tenth as many values, else a dictionary would be built,
# outgrow its page and be dropped, time spent for nothing.
DICTIONARY_COLUMNS = (
    "source_id", "source_version", "valid", "region", "number_type", "customer_id",
    "contract_status", "contract_end", "consent_marketing", "consent_third_party",
    "consent_date", "consent_channel", "consent_proof", "consent_collector", "erased_ref",
    "consent_method", "consent_text_id", "consent_sectors", "repaired",
)
SAMPLE_ROWS = 10_000
# In number order, keys differ little from the row before: stored as those differences
# the two take 3.5 MB and 0.14 CPU-s less per 3.3M rows than plain and compressed.
DELTA_COLUMNS = {"phone_key": "DELTA_BINARY_PACKED", "row": "DELTA_BINARY_PACKED"}
# Only the number is ever looked up (rows_of_phone, erase_rows); min/max of the other
# columns would skip no row group, and string ones cost time on every page.
STATISTICS_COLUMNS = ("phone_key",)


def _dictionary_columns(frame: pl.DataFrame) -> list[str]:
    """The columns worth a dictionary: DICTIONARY_COLUMNS, and a text column whose first
    SAMPLE_ROWS rows repeat their values tenfold (a list of a few names, say)."""
    sample = frame.head(SAMPLE_ROWS)
    return [*DICTIONARY_COLUMNS, *(
        c for c, dtype in frame.schema.items() if dtype == pl.String
        and c not in DICTIONARY_COLUMNS
        and sample.get_column(c).n_unique() * 10 <= sample.height)]


def _number_order(frame: pl.DataFrame) -> pl.Series | None:
    """Row positions in number order (phone_key, nulls last, stable: a number's rows keep
    their order), or None when the rows are in it already (an erasure's rewrite)."""
    if frame.get_column("phone_key").is_sorted(nulls_last=True):
        return None
    return frame.select(pl.arg_sort_by("phone_key", nulls_last=True, maintain_order=True)
                        ).to_series()


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """frame (ROW_SCHEMA) as one Parquet file in number order, a row group at a time.

    Only the key is sorted; each row group's rows are then gathered from the unsorted
    frame, so no sorted copy of the whole list is made (3.3M rows: 1.7 s and ~0.8 GB). A
    column no row has a value in is written as nulls, not gathered (~0.03 s each per
    3.3M rows). Polars' own Arrow types go to the writer as they are (no copy), so a
    file declares strings as string views; every reader takes them as strings.
    """
    # A column in several chunks (concatenated pieces) makes each gather look up its
    # chunk row by row: 33 row groups of a 3.3M-row list took 1.5 s more than one copy.
    frame = frame.rechunk()
    order = _number_order(frame)
    schema = frame.head(0).to_arrow(compat_level=pl.CompatLevel.newest()).schema
    empty = {c: pa.nulls(min(frame.height, ROW_GROUP), schema.field(c).type)
             for c in frame.columns if frame.get_column(c).null_count() == frame.height}
    filled = frame.drop(empty)
    with pq.ParquetWriter(path, schema, compression="zstd", compression_level=ZSTD_LEVEL,
                          use_dictionary=_dictionary_columns(frame),
                          column_encoding=DELTA_COLUMNS,
                          write_statistics=list(STATISTICS_COLUMNS)) as writer:
        for start in range(0, frame.height, ROW_GROUP):
            part = (filled.slice(start, ROW_GROUP) if order is None
                    else filled[order.slice(start, ROW_GROUP)])
            table = part.to_arrow(compat_level=pl.CompatLevel.newest())
            columns = [empty[c].slice(0, part.height) if c in empty else table.column(c)
                       for c in frame.columns]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema),
                               row_group_size=ROW_GROUP)


def write_rows(store: Store, relative_dir: str, version: int, rows: pl.DataFrame
               ) -> tuple[str, str, dict[str, int]]:
    """Write a version's rows as one Parquet file, in number order; returns (relative
    path, sha256, valid numbers per type)."""
    frame = conform(rows)
    relative, digest = store.write_file(relative_dir, f"v{version}",
                                        lambda path: _write_parquet(frame, path))
    return relative, digest, _types(frame)


def latest_version(store: Store, source_id: str) -> tuple[int, str, str] | None:
    """(version, the sha256 its list file should have now, manifest sha256) or None."""
    row = store.one(
        "SELECT version, coalesce(current_file_sha256, file_sha256), manifest_sha256 "
        "FROM source_versions WHERE source_id = ? ORDER BY version DESC LIMIT 1",
        [source_id])
    return None if row is None else (int(row[0]), str(row[1]), str(row[2]))


def add_version(store: Store, record: dict[str, Any], rows: pl.DataFrame,
                rejects: pl.DataFrame) -> dict[str, int]:
    """Store a new version (catalog row, rows file, rejects) in one transaction; returns
    the valid numbers per type."""
    source_id, version = record["source_id"], record["version"]
    with store.transaction():
        relative, digest, types = write_rows(store, f"{ROWS_DIR}/{source_id}", version, rows)
        values = {**record, "rows_file": relative, "rows_sha256": digest,
                  "number_types": json.dumps(types),
                  "current_file_sha256": record["file_sha256"]}
        store.con.execute(
            f"INSERT INTO source_versions ({', '.join(VERSION_COLUMNS)}) VALUES "
            f"({', '.join('?' for _ in VERSION_COLUMNS)})", [values[c] for c in VERSION_COLUMNS])
        store.fault("load.after_rows")
        store.insert_frame("source_rejects", rejects)
    return types


def version_summary(store: Store, source_id: str, version: int) -> dict[str, Any]:
    """What a stored version holds: counts, valid numbers per type, file sha256."""
    row = store.one(
        "SELECT rows_read, rows_loaded, rows_rejected, coalesce(rows_skipped, 0), "
        "file_sha256, number_types, rows_file FROM source_versions WHERE source_id = ? AND "
        "version = ?", [source_id, version])
    assert row is not None
    return {"rows_read": row[0], "rows_loaded": row[1], "rows_rejected": row[2],
            "rows_skipped": row[3], "file_sha256": row[4],
            "by_type": json.loads(row[5] or "{}"), "rows_repaired": repaired_rows(store, row[6])}


def repaired_rows(store: Store, rows_file: str | None) -> int:
    """How many rows of a version the load repaired (0 once purged, or for a file written
    before repairs were)."""
    if rows_file is None:
        return 0
    path = store.file_path(rows_file)
    if "repaired" not in pq.read_schema(path).names:
        return 0
    column = pq.read_table(path, columns=["repaired"]).column(0)
    return int(len(column) - column.null_count)


def newest_versions(store: Store, source_ids: Sequence[str] = ()) -> pl.DataFrame:
    """The newest version of every source (or of those named), by source id."""
    frame = store.frame(
        "SELECT source_id, version, kind, purposes, supplier_id, supplier_name, supplier_vat, "
        "supplier_contact, supplier_contract_ref, received_on, rows_read, rows_loaded, "
        "rows_rejected, coalesce(rows_skipped, 0) AS rows_skipped, file_sha256, loaded_at, "
        f"rows_file, rows_sha256, file FROM source_versions {_NEWEST} ORDER BY source_id")
    return frame.filter(pl.col("source_id").is_in(list(source_ids))) if source_ids else frame


def all_versions(store: Store) -> pl.DataFrame:
    """Every version of every source, with its rows file (evidence checks, anchors)."""
    return store.frame("SELECT source_id, version, file, file_sha256, current_file_sha256, "
                       "rows_file, rows_sha256, loaded_at FROM source_versions "
                       "ORDER BY source_id, version")


def version_batches(store: Store, rows_file: str, columns: Sequence[str],
                    batch_rows: int) -> Iterator[pl.DataFrame]:
    """A version's rows in stored (number) order, batch_rows at a time, in ROW_SCHEMA
    types; the file is opened once, so a run keeps reading it if an erasure replaces it."""
    parquet = pq.ParquetFile(store.file_path(rows_file))
    present = [c for c in columns if c in parquet.schema_arrow.names]
    missing = [c for c in columns if c not in present]
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=present):
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        yield frame.with_columns(pl.lit(None, ROW_SCHEMA[c]).alias(c) for c in missing
                                 ).select(columns)


def _read_files(store: Store, files: list[str], where: str, params: list[Any],
                columns: str = "*") -> pl.DataFrame:
    if not files:
        return pl.DataFrame(schema=ROW_SCHEMA)
    paths = [str(store.file_path(f)) for f in files]
    frame = store.frame(f"SELECT {columns} FROM read_parquet(?, union_by_name = true) "
                        f"WHERE {where}", [paths, *params])
    return conform(frame) if columns == "*" else frame


def rows_of_phone(store: Store, phone: str, *, newest_only: bool) -> pl.DataFrame:
    """Every stored row of one number (newest versions only, or every version ever)."""
    files = _newest_files(store) if newest_only else [r[0] for r in store.con.execute(
        "SELECT rows_file FROM source_versions WHERE rows_file IS NOT NULL").fetchall()]
    return _read_files(store, files, "phone_key = ?", [key_of(phone)])


def _newest_files(store: Store) -> list[str]:
    """The rows files of the newest version of every source (a purged one has none)."""
    return [r[0] for r in store.con.execute(
        f"SELECT rows_file FROM (SELECT rows_file FROM source_versions {_NEWEST}) "
        "WHERE rows_file IS NOT NULL").fetchall()]


def newest_numbers(store: Store, where: str) -> pl.DataFrame:
    """Distinct numbers (phone) of the newest versions' rows matching a row condition."""
    files = _newest_files(store)
    if not files:
        return pl.DataFrame(schema={"phone": pl.String})
    return _read_files(store, files, where, [], "DISTINCT phone")


def newest_keys(store: Store, region: str, types: Sequence[str] | None = None, *,
                distinct: bool = True) -> pl.Series:
    """Distinct keys (phone_key) of the valid numbers of a region (of these types, or any)
    in the newest versions' rows, in no particular order (each once, or as often as the
    rows hold it): read as integers, the register request's candidates cost a fraction of
    a DISTINCT over their text."""
    files = _newest_files(store)
    if not files:
        return pl.Series("phone_key", [], pl.Int64)
    scans = [pl.scan_parquet(store.file_path(f)).filter(
        pl.col("valid").fill_null(False) & (pl.col("region") == region)
        & (pl.lit(True) if types is None else pl.col("number_type").is_in(list(types)))
    ).select("phone_key") for f in files]
    keys = pl.concat(scans)
    return (keys.unique() if distinct else keys).collect()["phone_key"]


def versions_of(store: Store, pairs: pl.DataFrame) -> pl.DataFrame:
    """The catalog facts disclosure shows beside a row, for (source_id, source_version)."""
    catalog = store.frame(
        "SELECT source_id, version AS source_version, kind, received_on, file, file_sha256, "
        "loaded_at, supplier_id, supplier_name, supplier_vat, supplier_contact, "
        "supplier_contract_ref, purposes FROM source_versions")
    return pairs.join(catalog, on=["source_id", "source_version"], how="left")


def rejects_of(store: Store, source_id: str) -> pl.DataFrame:
    """Rejected rows of a source's newest version, with why."""
    return store.frame(
        'SELECT "row", reason FROM source_rejects WHERE source_id = ? AND source_version = '
        "(SELECT max(version) FROM source_versions WHERE source_id = ?) ORDER BY 1",
        [source_id, source_id])


def erase_rows(store: Store, phone: str, ref: str, at: dt.datetime) -> tuple[int, list[str]]:
    """Blank the person's fields in every version holding the number: each such file is
    rewritten (new name, new sha256, the change recorded). Call inside a transaction;
    returns (rows blanked, files to delete once it commits)."""
    key = key_of(phone)
    versions = store.con.execute(
        "SELECT source_id, version, rows_file, rows_sha256 FROM source_versions "
        "WHERE rows_file IS NOT NULL").fetchall()
    blanked, retired = 0, []
    for source_id, version, rows_file, old_sha in versions:
        rows = pl.read_parquet(store.file_path(rows_file))
        hit = pl.col("phone_key") == key
        count = int(rows.select(hit.sum()).item())
        if not count:
            continue
        rows = rows.with_columns(
            *(pl.when(hit).then(None).otherwise(pl.col(c)).alias(c)
              for c in PERSONAL_FIELDS if c in rows.columns),
            pl.when(hit).then(pl.lit(ref)).otherwise(pl.col("erased_ref")).alias("erased_ref"))
        relative, digest, _ = write_rows(store, str(Path(rows_file).parent), version, rows)
        store.con.execute("UPDATE source_versions SET rows_file = ?, rows_sha256 = ? "
                          "WHERE source_id = ? AND version = ?",
                          [relative, digest, source_id, version])
        record_change(store, at, "erasure", f"rows {source_id} v{version}", old_sha, digest,
                      ref)
        blanked += count
        retired.append(rows_file)
    return blanked, retired


def erase_rejects(store: Store, national: str) -> int:
    """Rejected rows whose reason quotes the number (as the list wrote it) are deleted."""
    count = int(store.scalar("SELECT count(*) FROM source_rejects WHERE contains(reason, ?)",
                             [national]))
    store.con.execute("DELETE FROM source_rejects WHERE contains(reason, ?)", [national])
    return count


def list_file_edited(store: Store, old_sha: str, new_sha: str) -> None:
    """A received list file was edited (an erasure): the versions read from it now expect
    the new bytes, so the next load sees the same list, not a new version."""
    store.con.execute("UPDATE source_versions SET current_file_sha256 = ? "
                      "WHERE current_file_sha256 = ?", [new_sha, old_sha])


def rows_file(store: Store, source_id: str, version: int) -> str | None:
    """The rows file of one source version (None once purged)."""
    found: str | None = store.scalar("SELECT rows_file FROM source_versions WHERE "
                                     "source_id = ? AND version = ?", [source_id, version])
    return found
