"""The files of a campaign folder besides decisions.parquet: dialable.csv and its Excel
copy, rejects.csv/.xlsx for the supplier, and the small reports (sources, report.html,
summary.json).

Kept apart from run.py because they are what a person opens, and erasure rewrites the
same files with the same widths and formats: one definition for both.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from gatekeeper.core.digest import sha256_file
from gatekeeper.core.outfile import EXCEL_ROWS, XlsxTable, excel_instants
from gatekeeper.core.spreadsheet import neutralised, safe_for_spreadsheets
from gatekeeper.core.timeutil import local_iso_expr
from gatekeeper.decide import policy as P
from gatekeeper.decide.reports import REJECT_COLUMNS, campaign_html, reject_rows, sources_html
from gatekeeper.intake.readers import data_place
from gatekeeper.store import Store
from gatekeeper.store import runs as run_store

DIALABLE_COLUMNS = ("phone", "name", "source_id", "basis", "basis_text", "rpo_checked_at",
                    "valid_until")
DIALABLE_WIDTHS = {"phone": 16, "name": 28, "source_id": 18, "basis": 20, "basis_text": 60,
                   "rpo_checked_at": 17, "valid_until": 17}
INSTANTS = {"rpo_checked_at", "valid_until"}
REJECT_WIDTHS = dict(zip(REJECT_COLUMNS, (18, 24, 14, 8, 10, 22, 70), strict=True))


def write_small_files(folder: Path, sources: pl.DataFrame,
                      summary: dict[str, Any], zone: str) -> dict[str, str]:
    """The reports besides the lists; returns every file's sha256 (the record audit verify
    holds the folder to: every file a run writes is in it)."""
    summary["files"] = sorted({p.name for p in folder.iterdir() if not p.name.startswith(".")}
                              | {"sources.csv", "sources.html", "report.html", "summary.json"})
    safe_for_spreadsheets(sources).write_csv(folder / "sources.csv")
    (folder / "sources.html").write_text(sources_html(sources, summary, zone), encoding="utf-8")
    (folder / "report.html").write_text(campaign_html(summary, sources, zone), encoding="utf-8")
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False)
                                         + "\n", encoding="utf-8")
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir())}


class SpillWriter:
    """Frames appended to one uncompressed parquet file (a run's scratch, never kept)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None

    def write(self, frame: pl.DataFrame) -> None:
        table = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema, compression="none")
        self.writer.write_table(table.cast(self.writer.schema))

    def __enter__(self) -> SpillWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.writer is None:
            self.write(pl.DataFrame())
        if self.writer is not None:
            self.writer.close()


def write_dialable(folder: Path, waiting: Path, strongest: pl.Series, ctx: P.Context,
                   batch_rows: int) -> pl.DataFrame:
    """dialable.csv and dialable.xlsx from the waiting rows each number's strongest;
    basis_text (long) is written a batch at a time. Returns what the run record and the
    reports need."""
    listed, offset = [], 0
    zone = ctx.jurisdiction.timezone_name
    # The Excel copy only when Excel can open it in one sheet: past that nobody works the
    # list in a spreadsheet, and writing it costs ~10 s a million rows (a 10M-row scrub's
    # 6.4M dialable would cost a minute for a file no one opens); dialable.csv has them.
    excel = (XlsxTable(folder / "dialable.xlsx", "Chiamabili", DIALABLE_WIDTHS, INSTANTS,
                       ctx.as_of) if int(strongest.sum()) < EXCEL_ROWS else None)
    with (open(folder / "dialable.csv", "wb") as handle,
          excel if excel is not None else contextlib.nullcontext() as sheet):
        handle.write((",".join(DIALABLE_COLUMNS) + "\n").encode())
        for batch in pq.ParquetFile(waiting).iter_batches(batch_rows):
            rows = pl.from_arrow(batch)
            assert isinstance(rows, pl.DataFrame)
            best = rows.filter(strongest.slice(offset, rows.height))
            offset += rows.height
            # The two instants in local time with their offset, each distinct value
            # formatted once (a list has a few check times): cheaper than the CSV writer.
            # Only the name comes from the list as typed; ids are checked, basis_text
            # starts with the law it cites.
            rows = P.with_basis_text(best, ctx).select(DIALABLE_COLUMNS)
            rows.with_columns(neutralised("name"), *(local_iso_expr(c, zone) for c in INSTANTS)
                              ).write_csv(handle, include_header=False)
            # A text cell is never a formula: the name goes to Excel as the list wrote it.
            if sheet is not None:
                sheet.write(rows.with_columns(excel_instants(c, zone) for c in INSTANTS))
            # The store keeps the words too: dial time reads the run from there alone.
            listed.append(best.select("phone", "source_id", "source_version", "basis",
                                      "valid_until").with_columns(rows["basis_text"]))
    assert offset == strongest.len()
    return pl.concat(listed) if listed else pl.DataFrame(
        schema={"phone": pl.String, "source_id": pl.String, "source_version": pl.Int32,
                "basis": pl.String, "valid_until": pl.Datetime("us"),
                "basis_text": pl.String})


def places(store: Store, versions: pl.DataFrame) -> pl.DataFrame:
    """Per source version: its file's name, its sheet, and how many lines (CSV) or sheet
    rows (.xlsx) come before the first data row, so that data row n is what the
    supplier's program shows as n + lines_before (readers.data_place)."""
    manifests = run_store.manifests_of(store, versions).join(
        versions.select("source_id", pl.col("version").cast(pl.Int32), "file"),
        on=["source_id", "version"], how="left")
    found = []
    for source_id, version, manifest_json, file in manifests.iter_rows():
        raw = json.loads(manifest_json or "{}")
        path = Path(file or raw.get("file", ""))
        found.append((source_id, version, path.name, *data_place(path, raw)))
    return pl.DataFrame(found, orient="row", schema={
        "source_id": pl.String, "source_version": pl.Int32, "file": pl.String,
        "foglio": pl.String, "lines_before": pl.Int64})


def write_rejects(store: Store, versions: pl.DataFrame, invalid: pl.DataFrame,
                   folder: Path, ctx: P.Context) -> int:
    """rejects.csv and rejects.xlsx: what goes back to the supplier (rows that did not
    load, numbers that are no number), each named as their program shows it. Returns
    how many rows they hold."""
    rows = reject_rows(run_store.load_rejects(store, versions), invalid,
                       places(store, versions))
    safe_for_spreadsheets(rows).write_csv(folder / "rejects.csv")
    with XlsxTable(folder / "rejects.xlsx", "Scarti", REJECT_WIDTHS, set(), ctx.as_of) as sheet:
        sheet.write(rows)
    return rows.height
