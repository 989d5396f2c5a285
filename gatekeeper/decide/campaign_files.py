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
from typing import Any, BinaryIO

import polars as pl

from gatekeeper.core.digest import sha256_file
from gatekeeper.core.outfile import EXCEL_ROWS, XlsxTable, excel_instants
from gatekeeper.core.overlap import WriteBehind
from gatekeeper.core.spreadsheet import neutralised, safe_for_spreadsheets
from gatekeeper.core.timeutil import local_iso_expr
from gatekeeper.decide import policy as P
from gatekeeper.decide.policy.decide import basis_text_codes
from gatekeeper.decide.reports import REJECT_COLUMNS, campaign_html, reject_rows, sources_html
from gatekeeper.intake.normalise import phone_of_key
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


class WaitingRows:
    """A run's dialable rows, held until its last batch is decided and each number's
    strongest row is known, in few bytes: the list's columns and the facts its
    basis_text cites (P.dialable_rows), the phone as its key (E.164 is "+" and the key's
    digits), the ids as enums. A row of 14 columns held as decided kept ~1 GB alive for
    a 10M-row run's 6.6M dialable rows: a text of more than 12 bytes that is kept
    points into its whole batch's texts (names, proofs), so each batch's rows are made to
    hold their own (shrink_to_fit: 20 batches of long names kept 612 MB, then 4 MB)."""

    def __init__(self, ctx: P.Context, source_ids: list[str]) -> None:
        self.region = len(ctx.countries) > 1  # only several countries' texts differ by it
        self.types = {"source_id": pl.Enum(sorted(source_ids)),
                      "basis": pl.Enum(sorted({b.code for c in ctx.countries
                                               for b in c.jurisdiction.table.bases})),
                      "supplier_name": pl.Categorical(),
                      **({"region": pl.Categorical()} if self.region else {})}
        self.parts: list[pl.DataFrame] = []

    def add(self, dialable: pl.DataFrame, order: pl.Expr) -> None:
        """A batch's dialable rows (P.dialable_rows) and their order (P.basis_order)."""
        self.parts.append(dialable.select(
            "phone_key", order.alias("order"), "name", "source_version", "rpo_checked_at",
            "valid_until", "consent_date", "consent_proof", "supplier_reviewed_on",
            *(pl.col(c).cast(t) for c, t in self.types.items())).shrink_to_fit())

    def take(self) -> pl.DataFrame:
        """Every row added, in order; the rows are the caller's from then on."""
        if not self.parts:
            self.add(pl.DataFrame(schema=_DIALABLE_SCHEMA), pl.lit(None, pl.Int64))
        rows, self.parts = pl.concat(self.parts), []
        return rows

    def shown(self, rows: pl.DataFrame) -> pl.DataFrame:
        """Held rows with the phone and the ids as text again."""
        return rows.with_columns(phone_of_key(pl.col("phone_key"))
                                 .alias("phone"), *(pl.col(c).cast(pl.String)
                                                    for c in self.types))


_DIALABLE_SCHEMA = {"phone_key": pl.Int64(), "name": pl.String(), "source_id": pl.String(),
                    "source_version": pl.Int32(), "basis": pl.String(),
                    "rpo_checked_at": pl.Datetime("us"), "valid_until": pl.Datetime("us"),
                    "consent_date": pl.Date(), "consent_proof": pl.String(),
                    "supplier_name": pl.String(), "supplier_reviewed_on": pl.Date(),
                    "region": pl.String()}


def write_dialable(folder: Path, waiting: WaitingRows, dialable: pl.DataFrame,
                   firsts: pl.Series, ctx: P.Context, batch_rows: int) -> pl.DataFrame:
    """dialable.csv and dialable.xlsx: of the dialable rows (waiting.take()), each
    number's strongest (firsts: their indexes, select.first_rows), in the rows' order,
    batch_rows at a time. Returns the listed numbers (in number order) with what the run
    record and the reports need: phone_key, source_id, source_version, basis,
    valid_until, basis_text."""
    strongest = pl.repeat(False, dialable.height, eager=True).scatter(firsts, True)
    zone = ctx.jurisdiction.timezone_name
    # The Excel copy only when Excel can open it in one sheet: past that nobody works the
    # list in a spreadsheet, and writing it costs ~10 s a million rows (a 10M-row scrub's
    # 6.4M dialable would cost a minute for a file no one opens); dialable.csv has them.
    excel = (XlsxTable(folder / "dialable.xlsx", "Chiamabili", DIALABLE_WIDTHS, INSTANTS,
                       ctx.as_of, rows=firsts.len()) if firsts.len() < EXCEL_ROWS else None)
    codes, texts, known = [], [], 0  # each row's basis_text as a place among the texts
    # The CSV is written by a second thread while the next rows are made ready.
    with (open(folder / "dialable.csv", "wb") as handle,
          excel if excel is not None else contextlib.nullcontext() as sheet,
          WriteBehind() as behind):
        handle.write((",".join(DIALABLE_COLUMNS) + "\n").encode())
        for offset in range(0, dialable.height, batch_rows):
            best = waiting.shown(dialable.slice(offset, batch_rows).filter(
                strongest.slice(offset, batch_rows)))
            code, text = basis_text_codes(best, ctx)
            rows = best.with_columns(text.gather(code).alias("basis_text")).select(
                DIALABLE_COLUMNS)
            # The Excel copy first: its compression is the longest task of a list that
            # has one. A text cell is never a formula: the name goes as the list wrote it.
            if sheet is not None:
                sheet.write(rows.with_columns(excel_instants(c, zone) for c in INSTANTS))
            behind.write(_csv_rows, handle, rows, zone)
            codes.append(code.cast(pl.UInt32) + known)
            texts.append(text)
            known += text.len()
    # The store keeps the words too (dial time reads the run from there alone): each
    # listed number's code is at its row's place among the rows written. Gathered from
    # one series of the few texts, the 6.4M rows' words share their bytes (a gather from
    # the batches' texts would copy them: ~0.8 GB).
    written = (strongest.cast(pl.Int64).cum_sum() - 1).gather(firsts)
    words = pl.concat([pl.Series("basis_text", [], pl.String), *texts]).rechunk()
    at = pl.concat([pl.Series([], dtype=pl.UInt32), *codes]).gather(written)
    # One chunk first: gathering from the batches' chunks cost 0.30 CPU-s, this 0.13.
    return dialable.select("phone_key", "source_id", "source_version", "basis",
                           "valid_until").rechunk().gather(firsts).with_columns(
        pl.col("source_id", "basis").cast(pl.String), words.gather(at).alias("basis_text"))


def _csv_rows(handle: BinaryIO, rows: pl.DataFrame, zone: str) -> None:
    """Rows of dialable.csv. The two instants in local time with their offset, each
    distinct value formatted once (a list has a few check times): cheaper than the CSV
    writer. Only the name comes from the list as typed; ids are checked, basis_text
    starts with the law it cites."""
    rows.with_columns(neutralised("name"), *(local_iso_expr(c, zone) for c in INSTANTS)
                      ).write_csv(handle, include_header=False)


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
    with XlsxTable(folder / "rejects.xlsx", "Scarti", REJECT_WIDTHS, set(), ctx.as_of,
                   rows=rows.height) as sheet:
        sheet.write(rows)
    return rows.height
