"""Readers: a list file as campaign managers really send it -> a table of text columns.

Each reader returns a `RawTable`: every column as text exactly as in the file, a 1-based
`row` (data row in the file) and the rows it could not read (rejects, with why).
Adding a format is one function and one line in READERS.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from ..columns import ROW
from ..errors import SourceFileError
from .manifest import Manifest

REJECT_SCHEMA = {ROW: pl.Int64, "reason": pl.String}
DELIMITERS = (";", ",", "\t", "|")


@dataclass(frozen=True)
class RawTable:
    """What a reader hands on: text columns + `row`, and the rejected rows."""

    frame: pl.DataFrame
    rejects: pl.DataFrame
    encoding: str | None = None
    delimiter: str | None = None


def _empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def _decode(data: bytes, manifest: Manifest) -> tuple[bytes, str]:
    """UTF-8 bytes of the file, and the encoding they were read as."""
    path = manifest.file
    if manifest.encoding:
        try:
            codecs.lookup(manifest.encoding)
        except LookupError:
            raise SourceFileError(
                f"unknown encoding '{manifest.encoding}'; use utf-8, cp1252 or latin-1",
                file=manifest.path, key="encoding") from None
        try:
            return data.decode(manifest.encoding).encode("utf-8"), manifest.encoding
        except UnicodeDecodeError as exc:
            row = data[: exc.start].count(b"\n")
            raise SourceFileError(
                f"byte 0x{data[exc.start]:02x} is not {manifest.encoding}; "
                "remove 'encoding' from the manifest to let Gatekeeper detect it",
                file=path, row=row) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16").encode("utf-8"), "utf-16"
    if b"\x00" in data[:65536]:
        raise SourceFileError(
            "the file is not text in a known encoding (it contains NUL bytes); "
            "export it again as 'CSV UTF-8' or .xlsx", file=path)
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        data.decode("utf-8")
        return data, "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        # Excel on Windows saves "CSV" as Windows-1252; its undefined bytes fall to Latin-1.
        return data.decode("cp1252").encode("utf-8"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1").encode("utf-8"), "latin-1"


def _header(text_head: str, manifest: Manifest) -> tuple[list[str], str]:
    first = text_head.splitlines()[0] if text_head.strip() else ""
    if not first.strip():
        raise SourceFileError("the first line is empty; it must be the header row",
                              file=manifest.file, row=0)
    delimiter = manifest.delimiter or max(DELIMITERS, key=first.count)
    header = next(csv.reader(io.StringIO(first), delimiter=delimiter))
    names = [name.strip() for name in header]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise SourceFileError(f"column '{name}' appears twice in the header; rename one",
                                  file=manifest.file, row=0)
        seen.add(name)
    return names, delimiter


def read_csv(manifest: Manifest) -> RawTable:
    """CSV with any common delimiter and encoding, quoted fields; ragged rows are rejects."""
    data = manifest.file.read_bytes()
    if not data.strip():
        raise SourceFileError("the file is empty; it needs a header row and data rows",
                              file=manifest.file)
    utf8, encoding = _decode(data, manifest)
    names, delimiter = _header(utf8[:65536].decode("utf-8", "ignore"), manifest)
    bad: list[tuple[int | None, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, f"row has {row.actual_columns} fields, the header has "
                    f"{row.expected_columns}; quote fields that contain '{delimiter}'"))
        return "skip"

    def parse(threads: bool) -> pa.Table:
        bad.clear()
        return pacsv.read_csv(
            pa.BufferReader(utf8),
            read_options=pacsv.ReadOptions(use_threads=threads, column_names=names,
                                           skip_rows=1, block_size=1 << 24),
            # Quoted newlines force a serial parse: only pay for it when there are quotes.
            parse_options=pacsv.ParseOptions(delimiter=delimiter,
                                             newlines_in_values=b'"' in utf8,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False),
        )

    try:
        table = parse(threads=True)
        if any(number is None for number, _ in bad):
            table = parse(threads=False)
    except pa.ArrowInvalid as exc:
        raise SourceFileError(f"cannot parse as CSV ({exc}); check the delimiter and quotes",
                              file=manifest.file) from None
    # pyarrow numbers rows from the header (row 1) after skip_rows: data row = number - 1.
    rejected = np.array(sorted(int(n) - 1 for n, _ in bad if n is not None), dtype=np.int64)
    total = table.num_rows + len(rejected)
    kept_rows = np.delete(np.arange(1, total + 1, dtype=np.int64), rejected - 1)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    frame = frame.with_columns(pl.Series(ROW, kept_rows))
    rejects = pl.DataFrame(
        {ROW: [int(n) - 1 for n, _ in bad if n is not None],
         "reason": [why for n, why in bad if n is not None]}, schema=REJECT_SCHEMA)
    return RawTable(frame, rejects.sort(ROW), encoding, delimiter)


def read_xlsx(manifest: Manifest) -> RawTable:
    """First sheet (or `sheet =`) of a workbook, every cell as text; dates as ISO."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(str(manifest.file))
    except Exception as exc:  # fastexcel raises its own tree; all mean "not a workbook"
        raise SourceFileError(f"cannot open as .xlsx ({exc}); save it again from Excel",
                              file=manifest.file) from None
    sheet = manifest.sheet if manifest.sheet is not None else 0
    if isinstance(sheet, str) and sheet not in reader.sheet_names:
        raise SourceFileError(
            f"no sheet '{sheet}'; sheets: {', '.join(reader.sheet_names)}",
            file=manifest.path, key="sheet")
    frame = pl.from_arrow(reader.load_sheet(sheet, dtypes="string").to_arrow())
    assert isinstance(frame, pl.DataFrame)
    frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    return RawTable(frame, _empty_rejects())


def read_parquet(manifest: Manifest) -> RawTable:
    """A Parquet file; every column cast to text so all readers hand on the same shape."""
    try:
        frame = pl.read_parquet(manifest.file)
    except Exception as exc:  # polars raises several kinds for a corrupt file
        raise SourceFileError(f"cannot read as Parquet ({exc})", file=manifest.file) from None
    frame = frame.select(pl.all().cast(pl.String))
    frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    return RawTable(frame, _empty_rejects())


READERS: dict[str, Callable[[Manifest], RawTable]] = {
    ".csv": read_csv,
    ".txt": read_csv,
    ".tsv": read_csv,
    ".xlsx": read_xlsx,
    ".parquet": read_parquet,
}


def read_source(manifest: Manifest) -> RawTable:
    """Pick the reader by file extension; a missing file or unknown format is an error."""
    path: Path = manifest.file
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise SourceFileError(
            f"unsupported file type '{path.suffix}'; accepted: {', '.join(READERS)}",
            file=manifest.path, key="file")
    if not path.is_file():
        raise SourceFileError("file not found; check 'file' in the manifest (relative to "
                              "the workspace)", file=path)
    return reader(manifest)
