"""Readers: a list file as campaign managers really send it -> a table of text columns.

Each reader returns a `RawTable`: every column as text exactly as in the file, a 1-based
`row` (data row in the file), the rows it could not read (rejects, with why) and the rows
that are no list row (blank, or a total), skipped with why.
Adding a format is one function and one line in READERS.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from gatekeeper.core.columns import ROW
from gatekeeper.core.errors import SourceFileError
from gatekeeper.core.textfile import bom_encoding
from gatekeeper.intake.manifest import Manifest

REJECT_SCHEMA = {ROW: pl.Int64, "reason": pl.String}
SKIPPED_SCHEMA = {ROW: pl.Int64, "reason": pl.String}
DELIMITERS = (";", ",", "\t", "|")
# A spreadsheet's closing row ("Totale" and a count): not a person, so not a list row.
TOTAL_WORDS = r"(?i)^(?:totale|totali|total|somma)\s*:?$"
ASCII_DIGITS = list("0123456789")


def _empty_skipped() -> pl.DataFrame:
    return pl.DataFrame(schema=SKIPPED_SCHEMA)


@dataclass(frozen=True)
class RawTable:
    """What a reader hands on: text columns + `row`, the rejected rows, and the rows that
    are not list rows at all (blank, or a spreadsheet's total), counted but not loaded."""

    frame: pl.DataFrame
    rejects: pl.DataFrame
    encoding: str | None = None
    delimiter: str | None = None
    # The line/sheet row that holds the mapped phone column's name, when the configured
    # header does not: a title above the header is the usual cause.
    header_hint: int | None = None
    skipped: pl.DataFrame = field(default_factory=_empty_skipped)
    # Where data row n is as the list's program shows it: line (CSV) or sheet row (.xlsx)
    # n + lines_before, of `sheet`; a Parquet file has no lines (0).
    sheet: str | None = None
    lines_before: int = 0


def _split_skipped(frame: pl.DataFrame, manifest: Manifest) -> tuple[pl.DataFrame,
                                                                       pl.DataFrame]:
    """Rows that hold no one: every cell blank, or a total row (first filled cell is
    Totale/Total/Totali/Somma and the phone cell has no digit). Loaded, they would be
    INVALID_NUMBER rows that inflate the list; dropped unseen, a count would not add up.
    So they leave the frame and are listed with why."""
    cells = [c for c in frame.columns if c != ROW]
    phone = manifest.columns["phone"]
    if not cells:
        return frame, _empty_skipped()
    # Both kinds have no digit in the phone cell: only those rows pay for the rest. (A
    # file without the phone column fails in to_canonical; only blank rows are told here.)
    has_phone = phone in cells
    suspects = frame
    if has_phone:  # an ASCII digit settles most rows (3.3M: 0.06 s, \d everywhere: 0.16 s)
        text = pl.col(phone).cast(pl.String)
        suspects = frame.filter(~text.str.contains_any(ASCII_DIGITS).fill_null(False)
                                ).filter(~text.str.contains(r"\d").fill_null(False))
    filled = [pl.col(c).cast(pl.String).str.strip_chars() for c in cells]
    first = pl.coalesce([pl.when(c != "").then(c) for c in filled])
    total = first.str.contains(TOTAL_WORDS) if has_phone else pl.lit(False)
    reason = (pl.when(first.is_null()).then(pl.lit("empty row"))
              .when(total).then(pl.format("total row '{}'", first)))
    skipped = suspects.select(pl.col(ROW).cast(pl.Int64), reason.alias("reason")).filter(
        pl.col("reason").is_not_null())
    if skipped.is_empty():
        return frame, skipped
    return frame.filter(~pl.col(ROW).is_in(skipped.get_column(ROW).implode())), skipped


HINT_ROWS = 20  # how far down a header is looked for when the configured one is wrong
PLACE_ROWS = 50  # how far down a sheet's default header is looked for when naming rows


def _empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def _decode(data: bytes, manifest: Manifest) -> tuple[bytes, str]:
    """UTF-8 bytes of the file, and the encoding they were read as."""
    path = manifest.file
    if manifest.encoding:
        unknown = SourceFileError(
            f"unknown encoding '{manifest.encoding}'; use utf-8, cp1252 or latin-1",
            file=manifest.path, key="encoding")
        try:
            codecs.lookup(manifest.encoding)
        except LookupError:
            raise unknown from None
        try:
            text = data.decode(manifest.encoding).removeprefix("\ufeff")
            return text.encode("utf-8", "surrogatepass"), manifest.encoding
        except LookupError:  # a codec, but not text to text (base64, rot13, hex)
            raise unknown from None
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            row = line - (manifest.header_row or 1)
            where = " above the header" if row < 0 else " (the header)" if row == 0 else ""
            raise SourceFileError(
                f"byte 0x{data[exc.start:exc.start + 1].hex()} on line {line}{where} is not "
                f"{manifest.encoding}; remove 'encoding' from the manifest to let Gatekeeper "
                "detect it", file=path, row=row if row > 0 else None) from None
    encoding = bom_encoding(data)
    if encoding:
        try:
            return data.decode(encoding).encode("utf-8", "surrogatepass"), encoding
        except UnicodeDecodeError as exc:  # cut short, or damaged, after the mark
            raise SourceFileError(
                f"the file starts as {encoding.upper()} but byte {exc.start:,} is not "
                f"{encoding.upper()} (the file was cut short or damaged); export it "
                "again as 'CSV UTF-8' or .xlsx", file=path) from None
    if b"\x00" in data[:65536]:
        raise SourceFileError(
            "the file is not text in a known encoding (it contains NUL bytes: UTF-16 or "
            "UTF-32 without a byte-order mark, or not a CSV at all); export it again as "
            "'CSV UTF-8' or .xlsx", file=path)
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        if not data.isascii():  # ASCII is UTF-8: a scan without building a 160 MB str
            data.decode("utf-8")
        return data, "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        # Excel on Windows saves "CSV" as Windows-1252; its undefined bytes fall to Latin-1.
        return data.decode("cp1252").encode("utf-8"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1").encode("utf-8"), "latin-1"


def _cells(line: str, manifest: Manifest) -> tuple[list[str], str]:
    """A line's stripped cells, split on the manifest's delimiter or the line's likeliest."""
    delimiter = manifest.delimiter or max(DELIMITERS, key=line.count)
    try:
        cells = next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
    except csv.Error:  # a "cell" past csv's field size limit: no names on this line
        cells = []
    return [c.strip() for c in cells], delimiter


def _hint(rows: list[list[str]], header_row: int, manifest: Manifest) -> int | None:
    """The 1-based line/row among the first ones that names the mapped phone column."""
    phone = manifest.columns["phone"]
    return next((number for number, cells in enumerate(rows[:HINT_ROWS], start=1)
                 if number != header_row and phone in cells), None)


def header_hint_text(hint: int | None) -> str:
    """The error's ending when the header seems to be on another line."""
    return (f"; if the file has a title above the header, set header_row = {hint}"
            if hint else "")


def _unique_names(names: list[str], manifest: Manifest, hint: int | None) -> list[str]:
    """Header names; a blank one is named by its position, a repeated one is an error
    (which of the two would the manifest mean?)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise SourceFileError(f"column '{name}' appears twice in the header; rename one"
                                  + header_hint_text(hint), file=manifest.file, row=0)
        if name:
            seen.add(name)
    return [name or f"__UNNAMED__{i}" for i, name in enumerate(names)]


def _header(lines: list[str], manifest: Manifest) -> tuple[list[str], str, int | None]:
    """Column names and delimiter from the configured header line, and a hint when the
    mapped phone column is named on another line instead."""
    header_row = manifest.header_row or 1
    line = lines[header_row - 1] if len(lines) >= header_row else ""
    hint = None
    names, delimiter = _cells(line, manifest)
    if manifest.columns["phone"] not in names:
        hint = _hint([_cells(other, manifest)[0] for other in lines], header_row, manifest)
    if not line.strip():
        where = "the first line" if header_row == 1 else f"line {header_row}"
        raise SourceFileError(f"{where} is empty; it must be the header row"
                              + header_hint_text(hint), file=manifest.file, row=0)
    if not names:
        raise SourceFileError("the header line cannot be read as column names (one field "
                              "of over 131,072 characters: an unclosed quote?); it must name "
                              "the columns" + header_hint_text(hint), file=manifest.file, row=0)
    return _unique_names(names, manifest, hint), delimiter, hint


_NEWLINE = re.compile(rb"\r\n|\r|\n")


def _split_lines(data: bytes, count: int) -> tuple[list[bytes], int]:
    """The first `count` physical lines (without their ends) and where the rest starts."""
    lines: list[bytes] = []
    offset = 0
    for match in _NEWLINE.finditer(data):
        if len(lines) == count:
            break
        lines.append(data[offset:match.start()])
        offset = match.end()
    if len(lines) < count and offset < len(data):
        lines.append(data[offset:])
        offset = len(data)
    return lines, offset


def _physical_lines(data: bytes) -> int:
    newlines = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return newlines + (1 if data and not data.endswith((b"\n", b"\r")) else 0)


def _quote_swallows(values: list[str], delimiter: str, fields: int) -> bool:
    """Does a value's second or later line look like a whole record of its own?"""
    return any(line.count(delimiter) >= fields - 1
               for value in values for line in _split_text_lines(value)[1:])


def _split_text_lines(value: str) -> list[str]:
    return value.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _multiline(frame: pl.DataFrame, names: list[str], delimiter: str) -> pl.DataFrame:
    """Per row with a value spanning lines: its physical lines and whether a later line of
    one of its values has the header's delimiter count (rows swallowed by a stray quote)."""
    spans = pl.any_horizontal(pl.col(n).str.contains(r"[\r\n]") for n in names)
    rows = frame.with_row_index("_i").filter(spans)
    lines = [pl.col(n).str.replace_all(r"\r\n?", "\n").str.split("\n") for n in names]
    return rows.select(
        pl.col("_i").cast(pl.Int64),
        (1 + pl.sum_horizontal(line.list.len() - 1 for line in lines)).alias("lines"),
        pl.any_horizontal(
            line.list.slice(1).list.eval(
                pl.element().str.count_matches(delimiter, literal=True) >= len(names) - 1
            ).list.any()
            for line in lines).alias("swallows"),
    )


def _quote_rejects(start: np.ndarray, span: np.ndarray, open_at_end: np.ndarray,
                   ) -> pl.DataFrame:
    """One reject per row a stray quote swallowed, the first naming where it opened."""
    if not len(start):
        return _empty_rejects()
    regions = pl.DataFrame({"start": start, "span": span, "open": open_at_end},
                           schema={"start": pl.Int64, "span": pl.Int64, "open": pl.Boolean})
    last = pl.col("start") + pl.col("span") - 1
    fix = 'remove the stray " or quote the whole field'
    first = (pl.when(pl.col("open") & (pl.col("span") == 1))
             .then(pl.lit(f"a quote opened here is never closed; {fix}"))
             .when(pl.col("open"))
             .then(pl.format(f"a quote opened here is never closed; it swallowed rows "
                             f"{{}}..{{}}; {fix}", pl.col("start") + 1, last))
             .otherwise(pl.format(f"a quote opened here closes only in row {{}}; it "
                                  f"swallowed rows {{}}..{{}}; {fix}",
                                  last, pl.col("start") + 1, last)))
    later = pl.format('swallowed by the quote opened in row {}; remove the stray " there',
                      pl.col("start"))
    return (regions.with_columns(first.alias("first"), later.alias("later"),
                                 pl.int_ranges("start", last + 1).alias(ROW))
            .explode(ROW)
            .select(pl.col(ROW).cast(pl.Int64),
                    pl.when(pl.col(ROW) == pl.col("start")).then("first")
                    .otherwise("later").alias("reason")))


def _read_plain(utf8: bytes, offset: int, header_row: int, names: list[str],
                delimiter: str) -> pl.DataFrame | None:
    r"""The data rows (from `offset`, after `header_row` lines) of a CSV without quotes, read
    by polars' parser, or None unless each line provably reads as pyarrow's parser below
    reads it: lines end in \n or \r\n (a lone \r ends one for pyarrow only), and each
    has the header's fields. Polars fails on a line with more; it would fill a short or
    blank one with empty values, so the file's delimiters must number exactly one less
    than the fields on every line. The usual export takes this road: 3.3M rows in ~0.35
    CPU-s and ~450 MB less than by pyarrow and the copy to polars.
    """
    separator = delimiter.encode()
    # bytes.count: ~0.1 s per 160 MB and no copy (numpy's comparisons made 160 MB
    # temporaries whose page faults cost 0.46 s more).
    if (len(names) < 2 or len(separator) != 1
            or (b"\r" in utf8 and utf8.count(b"\r") != utf8.count(b"\r\n"))):
        return None
    try:
        frame = pl.read_csv(utf8, has_header=False, skip_lines=header_row, quote_char=None,
                            separator=delimiter, schema=dict.fromkeys(names, pl.String),
                            empty_string_is_null=False, raise_if_empty=False)
    except BaseException as exc:  # a line with more fields than the header; or a panic
        if not isinstance(exc, pl.exceptions.PolarsError) and not _is_panic(exc):
            raise
        return None
    lines = utf8.count(b"\n", offset) + (offset < len(utf8) and not utf8.endswith(b"\n"))
    if (frame.height != lines or frame.width != len(names)
            or utf8.count(separator, offset) != lines * (len(names) - 1)
            or any(frame.null_count().row(0))):
        return None
    return frame


def _plain_table(frame: pl.DataFrame, manifest: Manifest, encoding: str, delimiter: str,
                 hint: int | None, header_row: int) -> RawTable:
    """_read_plain's rows as read_csv hands on any file's: each line a row, none rejected."""
    frame = _without_own_row_column(frame, manifest).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(ROW))
    frame, skipped = _split_skipped(frame, manifest)
    return RawTable(frame, _empty_rejects(), encoding, delimiter, hint, skipped,
                    lines_before=header_row)


def read_csv(manifest: Manifest) -> RawTable:
    """CSV with any common delimiter and encoding, quoted fields; ragged rows are rejects.

    A quoted value may span lines, but a stray quote (3331234567,"Mario) would swallow the
    rows after it into one name: numbers vanishing without a trace. So a record whose
    quote never closes, or whose value holds a line that is a whole record by itself, is
    rejected row by row, and later rows keep the numbers they have in the file.
    """
    data = manifest.file.read_bytes()
    if data.isspace() or not data:  # not data.strip(): that copies the whole file
        raise SourceFileError("the file is empty; it needs a header row and data rows",
                              file=manifest.file)
    utf8, encoding = _decode(data, manifest)
    header_row = manifest.header_row or 1
    head, offset = _split_lines(utf8, header_row)
    # A view, not a copy: a copy of a 160 MB list costs ~0.1 s and as much memory again.
    body = memoryview(utf8)[offset:]
    if len(head) < header_row:
        raise SourceFileError(f"header_row = {header_row}, but the file has only {len(head)} "
                              "lines", file=manifest.path, key="header_row")
    # Lines past the header are only read for a hint, when the header lacks the phone.
    look, _ = _split_lines(bytes(body[:1 << 20]), max(0, HINT_ROWS - header_row))
    names, delimiter, hint = _header(
        [line.decode("utf-8", "replace") for line in head + look], manifest)
    fields = len(names)
    quoted = utf8.find(b'"', offset) != -1
    plain = None if quoted else _read_plain(utf8, offset, header_row, names, delimiter)
    if plain is not None:
        return _plain_table(plain, manifest, encoding, delimiter, hint, header_row)
    # A line after the data that a still-open quote would swallow: where it ends up tells
    # whether the file ends inside a quote (pyarrow reads that without complaint).
    end_mark = f"\x1fgatekeeper-end-{uuid.uuid4().hex}"
    source: bytes | memoryview = body
    if quoted:
        source = b"".join([body, b"" if utf8.endswith((b"\n", b"\r")) else b"\n",
                           (end_mark + delimiter * (fields - 1)).encode()])
    bad: list[tuple[int | None, int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.actual_columns, row.text))
        return "skip"

    def parse(threads: bool) -> pa.Table:
        bad.clear()
        return pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(source)),
            read_options=pacsv.ReadOptions(use_threads=threads, column_names=names,
                                           block_size=1 << 24),
            # Quoted newlines force a serial parse: only pay for it when there are quotes.
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted,
                                             invalid_row_handler=on_invalid,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.large_string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False),
        )

    if source:
        try:
            table = parse(threads=True)
            if any(number is None for number, _, _ in bad):
                table = parse(threads=False)
        except pa.ArrowInvalid as exc:
            raise SourceFileError(f"cannot parse as CSV ({exc}); check the delimiter and "
                                  "quotes", file=manifest.file) from None
        frame = pl.from_arrow(table)
    else:
        frame = pl.DataFrame(schema={n: pl.String for n in names})
    assert isinstance(frame, pl.DataFrame)
    # Records in file order, 0-based; pyarrow numbers the ones it could not read from 1.
    # The serial parse numbers every record it could not read (the threaded one may not).
    bad_at = np.array([(number or 0) - 1 for number, _, _ in bad], dtype=np.int64)
    assert all(number is not None for number, _, _ in bad)
    ends_open = quoted and not (frame.height and frame.item(-1, 0) == end_mark)
    if quoted and not ends_open:
        frame = frame.head(-1)
    total = frame.height + len(bad)
    open_at_end = np.zeros(total, dtype=bool)
    open_at_end[-1:] = ends_open
    valid_at = np.delete(np.arange(total, dtype=np.int64), bad_at)
    lines = np.ones(total, dtype=np.int64)
    swallows = np.zeros(total, dtype=bool)
    if quoted and frame.height:
        multi = _multiline(frame, names, delimiter)
        at = valid_at[multi["_i"].to_numpy()]
        lines[at] = multi["lines"].to_numpy()
        swallows[at] = multi["swallows"].to_numpy()
    for at, (_, _, text) in zip(bad_at, bad, strict=True):
        lines[at] = len(_split_text_lines(text))
        try:  # the record's values, read as pyarrow read them (quotes open a field only)
            values = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
        except csv.Error:  # unreadable even so: judge its raw lines
            values = [text]
        swallows[at] = _quote_swallows(values, delimiter, fields)
    if open_at_end.any():  # runs to the end of the file: as many lines as are left
        lines[-1] = _physical_lines(utf8[offset:]) - int(lines[:-1].sum())
    stray = swallows | open_at_end
    span = np.where(stray, lines, 1)
    start = np.cumsum(span) - span + 1  # data row of each record, as the file numbers it
    frame = _without_own_row_column(frame, manifest).with_columns(
        pl.Series(ROW, start[valid_at], dtype=pl.Int64))
    if stray.any():
        frame = frame.filter(~pl.Series(stray[valid_at]))
    # A line of only delimiters or spaces is a blank row, not a damaged one.
    blank = ~stray[bad_at] & np.array([not text.strip(" \t\r\n" + delimiter)
                                       for _, _, text in bad], dtype=bool)
    damaged = ~stray[bad_at] & ~blank
    rejects = pl.concat([
        pl.DataFrame(
            {ROW: start[bad_at][damaged],
             "reason": [f"row has {actual} fields, the header has {fields}; quote fields "
                        f"that contain '{delimiter}'"
                        for (_, actual, _), keep in zip(bad, damaged, strict=True) if keep]},
            schema=REJECT_SCHEMA),
        _quote_rejects(start[stray], span[stray], open_at_end[stray]),
    ])
    frame, skipped = _split_skipped(frame, manifest)
    skipped = pl.concat([skipped, pl.DataFrame(
        {ROW: start[bad_at][blank], "reason": ["empty row"] * int(blank.sum())},
        schema=SKIPPED_SCHEMA)])
    return RawTable(frame, rejects.sort(ROW), encoding, delimiter, hint, skipped.sort(ROW),
                    lines_before=header_row)


def _without_own_row_column(frame: pl.DataFrame, manifest: Manifest) -> pl.DataFrame:
    """The frame without the file's own column named `row`: readers number rows in a
    column of that name, which would otherwise overwrite it (CSV) or clash with it
    (.xlsx, Parquet). Unmapped, it is never read; mapped, the manifest would get row
    numbers instead of its values, so that is an error."""
    if ROW not in frame.columns:
        return frame
    mapped = [f for f, column in manifest.columns.items() if column == ROW]
    if mapped:
        raise SourceFileError(
            f"the file's column '{ROW}' has the name Gatekeeper gives row numbers; rename "
            "it in the file and in the manifest", file=manifest.path,
            key=f"columns.{mapped[0]}")
    return frame.drop(ROW)


def _workbook_error(exc: BaseException, manifest: Manifest) -> SourceFileError:
    """fastexcel's error (its own tree, several lines of context) as one line."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return SourceFileError(f"cannot read as .xlsx ({first}); open it in Excel and save it "
                           "again as .xlsx, or export it as CSV UTF-8", file=manifest.file)


def _is_panic(exc: BaseException) -> bool:
    """calamine panics on some damage (a cell reference past XFD1048576); pyo3 raises
    that as PanicException, a BaseException, which would slip past even main()'s last
    line of defence as a traceback."""
    return type(exc).__name__ == "PanicException"


def read_xlsx(manifest: Manifest) -> RawTable:
    """First sheet (or `sheet =`) of a workbook, every cell as text; dates as ISO.

    The header is sheet row `header_row` as Excel numbers it (default: the first row with
    anything in it), so a title or a blank row above the header is simply named.
    A workbook is a zip of XML parts: a damaged one fails when opened or only when its
    sheet is read, and either way it is this file that must be saved again.
    """
    import fastexcel

    try:
        reader = fastexcel.read_excel(str(manifest.file))
    except BaseException as exc:  # fastexcel raises its own tree; all mean "not a workbook"
        if not isinstance(exc, Exception) and not _is_panic(exc):
            raise
        raise _workbook_error(exc, manifest) from None
    sheet = manifest.sheet if manifest.sheet is not None else 0
    if isinstance(sheet, str) and sheet not in reader.sheet_names:
        raise SourceFileError(
            f"no sheet '{sheet}'; sheets: {', '.join(reader.sheet_names)}",
            file=manifest.path, key="sheet")
    # No header and no skipping: row i of this frame is the sheet's row i + 1, blank or not.
    try:
        cells = pl.from_arrow(reader.load_sheet(sheet, header_row=None, skip_rows=0,
                                                dtypes="string").to_arrow())
    except fastexcel.FastExcelError as exc:  # the sheet's XML is damaged or missing
        raise _workbook_error(exc, manifest) from None
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        raise _workbook_error(exc, manifest) from None
    assert isinstance(cells, pl.DataFrame)
    first = _first_filled(cells)
    if first is None:
        raise SourceFileError("the sheet is empty; it needs a header row and data rows",
                              file=manifest.file)
    header_row = manifest.header_row or first
    if header_row > cells.height:
        raise SourceFileError(f"header_row = {header_row}, but the sheet's last row is "
                              f"{cells.height}", file=manifest.path, key="header_row")
    head = [["" if v is None else str(v).strip() for v in row]
            for row in cells.head(HINT_ROWS).rows()]
    header = head[header_row - 1]
    hint = None
    if manifest.columns["phone"] not in header:
        hint = _hint(head, header_row, manifest)
    names = _unique_names(header, manifest, hint)
    frame = cells.slice(header_row).rename(dict(zip(cells.columns, names, strict=True)))
    frame = _without_own_row_column(frame, manifest)
    frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    frame, skipped = _split_skipped(frame, manifest)
    name = sheet if isinstance(sheet, str) else reader.sheet_names[sheet]
    return RawTable(frame, _empty_rejects(), header_hint=hint, skipped=skipped, sheet=name,
                    lines_before=header_row)


def _first_filled(cells: pl.DataFrame) -> int | None:
    """The sheet row (1-based) of the first row with anything in it: the default header."""
    if not cells.width:  # no cell at all
        return None
    filled = cells.select(pl.any_horizontal(
        pl.col(c).str.strip_chars().fill_null("") != "" for c in cells.columns)).to_series()
    return int(filled.arg_true()[0]) + 1 if filled.any() else None


def data_place(file: Path, raw: dict[str, Any]) -> tuple[str | None, int]:
    """Where a loaded list's data rows are as its program shows them, for naming its rows
    later: (sheet name, rows above the first data row) of an .xlsx, (None, lines above
    it) of a CSV, (None, 0) of Parquet. `raw` is the manifest it was loaded with. A sheet
    without `header_row` is looked at for the reader's default header (its first filled
    row); when the workbook is gone or damaged, what the manifest says (else row 1)."""
    header = raw.get("header_row") or (int(raw["skip_rows"]) + 1
                                       if raw.get("skip_rows") is not None else None)
    sheet = raw.get("sheet") if isinstance(raw.get("sheet"), str) else None
    suffix = file.suffix.lower()
    if suffix == ".parquet":
        return None, 0
    if suffix != ".xlsx":
        return None, header or 1
    import fastexcel

    try:
        book = fastexcel.read_excel(str(file))
        sheet = sheet if sheet is not None else book.sheet_names[0]
        if header is None:
            head = pl.from_arrow(book.load_sheet(sheet, header_row=None, skip_rows=0,
                                                 n_rows=PLACE_ROWS, dtypes="string").to_arrow())
            assert isinstance(head, pl.DataFrame)
            header = _first_filled(head)
    except Exception:  # gone, moved or damaged since the load: say only what is known
        pass
    return sheet, header or 1


def _as_text(frame: pl.DataFrame, manifest: Manifest) -> pl.DataFrame:
    """Every column as text, as the other readers hand them on. A column a list cannot
    hold as one value per cell (lists, structs, maps), bytes that are not UTF-8 text, or a
    type polars cannot write as text is named with its type, not guessed at."""
    out = []
    for name, dtype in frame.schema.items():
        if dtype.is_nested():
            raise SourceFileError(
                f"column '{name}' holds {dtype} values, not one value per cell; export the "
                "list with plain text, number or date columns", file=manifest.file)
        column = frame.get_column(name)
        try:
            out.append(column.cast(pl.String))
        except pl.exceptions.PolarsError:
            row = _first_not_utf8(column) if dtype == pl.Binary else None
            if row is not None:
                raise SourceFileError(
                    f"column '{name}' holds bytes that are not UTF-8 text (first in row "
                    f"{row}); export it as text", file=manifest.file) from None
            raise SourceFileError(
                f"column '{name}' is of type {dtype}, which cannot be read as text; export "
                "it as text, a number or a date", file=manifest.file) from None
    return pl.DataFrame(out) if out else pl.DataFrame()


def _first_not_utf8(column: pl.Series) -> int | None:
    """The 1-based row of the first value that is not UTF-8 (a loop, on the error path)."""
    for row, value in enumerate(column.to_list(), 1):
        try:
            if value is not None:
                value.decode("utf-8")
        except UnicodeDecodeError:
            return row
    return None


def read_parquet(manifest: Manifest) -> RawTable:
    """A Parquet file; every column cast to text so all readers hand on the same shape."""
    try:
        frame = pl.read_parquet(manifest.file)
    except Exception as exc:  # polars raises several kinds for a corrupt file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SourceFileError(f"cannot read as Parquet ({first}); export it again",
                              file=manifest.file) from None
    frame = _as_text(_without_own_row_column(frame, manifest), manifest)
    frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    frame, skipped = _split_skipped(frame, manifest)
    return RawTable(frame, _empty_rejects(), skipped=skipped)


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
    if path.is_dir():
        raise SourceFileError("is a folder, not a list file; point 'file' in the manifest "
                              "at the list itself", file=path)
    if not path.is_file():
        raise SourceFileError("file not found; check 'file' in the manifest (relative to "
                              "the workspace)", file=path)
    return reader(manifest)
