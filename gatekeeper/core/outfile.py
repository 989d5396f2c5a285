"""Files the user names on the command line (--out): checked before anything is written.

A letter for the Garante or a request file for the RPO that cannot be written must say
which path is wrong and why (no such folder, a file where a folder should be), not end in
an operating-system traceback after the work that produced it is lost. The report folder
a run swaps in whole, and the .xlsx tables it writes for people who live in Excel, are here
too.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from gatekeeper.core.errors import InputError


def output_path(path: Path, option: str = "--out", *, make_folder: bool = False) -> Path:
    """path, once its folder exists (made first when make_folder) and it is no folder."""
    folder = path.parent
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise InputError(f"{existing} is a file, not a folder; choose another {option}",
                         file=path)
    if make_folder:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"the folder {folder} cannot be made ({exc.strerror}); choose "
                             f"another {option}", file=path) from None
    elif not folder.is_dir():
        raise InputError(f"the folder {folder} does not exist; create it or choose another "
                         f"{option}", file=path)
    if path.is_dir():
        raise InputError(f"is a folder; give {option} a file name inside it", file=path)
    return path


def write_output(path: Path, text: str, option: str = "--out") -> None:
    """Write text (UTF-8) to a file the user named, or say why it cannot be."""
    try:
        output_path(path, option).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot be written ({exc.strerror}); choose another {option}",
                         file=path) from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_leftovers(reports: Path) -> None:
    """Half-written report folders of runs that were killed (a power cut, kill -9): their
    process is gone, so nobody will finish or remove them."""
    for folder in reports.glob(".*.tmp-*"):
        pid = folder.name.rsplit("-", 1)[-1]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    for folder in reports.glob(".*.old-*"):
        pid = folder.name.rsplit("-", 1)[-1]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def report_folder(target: Path) -> Iterator[Path]:
    """A sibling temp folder swapped in at the end: readers never see half a report, and a
    failed run leaves the previous one in place."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _remove_leftovers(target.parent)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    try:
        yield tmp
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


EXCEL_ROWS = 1_048_576  # a worksheet's rows, header included (Excel's limit)
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # day 0 of Excel's 1900 date system, as it counts


def excel_instants(column: str, zone: str) -> pl.Expr:
    """A naive-UTC instant as the number Excel keeps for the wall-clock time in zone: the
    cell then shows, sorts and filters as the local time people read (22/11/2026 10:00)."""
    local = (pl.col(column).dt.replace_time_zone("UTC").dt.convert_time_zone(zone)
             .dt.replace_time_zone(None))
    return ((local - pl.lit(_EXCEL_EPOCH)).dt.total_microseconds() / 86_400_000_000
            ).alias(column)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _xml_text(value: pl.Expr) -> pl.Expr:
    """Text as an XML element's content, as Excel reads it back: markup escaped, control
    characters XML 1.0 cannot hold dropped, a literal _xHHHH_ kept literal."""
    escaped = (value.str.replace_all("&", "&amp;", literal=True)
               .str.replace_all("<", "&lt;", literal=True)
               .str.replace_all(">", "&gt;", literal=True)
               .str.replace_all(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "")
               .str.replace_all(r"_(x[0-9A-Fa-f]{4}_)", "_x005F_$1"))
    # One search instead of five replacements on the many values that need none.
    plain = ~value.str.contains(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f]|_x[0-9A-Fa-f]{4}_")
    return pl.when(plain).then(value).otherwise(escaped)


class XlsxTable:
    """One table as an .xlsx: text cells stay text (a phone keeps its + and its leading
    0), instants are dates shown as dd/mm/yyyy hh:mm, the header stays in view and carries
    filters; past Excel's last row the table goes on in a next sheet, header and all.

    XlsxWriter makes the workbook (styles, frozen header, filter, parts); the data rows,
    a million at a time, are made as XML by polars and put into each sheet when the book
    is closed: XlsxWriter's cell-by-cell writing took 75 s per 660,000 rows, this takes a
    few. `created` is written instead of the clock, so the same rows give the same bytes."""

    def __init__(self, path: Path, sheet: str, columns: dict[str, int],
                 instants: set[str], created: dt.datetime) -> None:
        import xlsxwriter  # type: ignore[import-untyped]  # ships no type information

        self.path = path
        self.book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False,
                                                   "strings_to_formulas": False,
                                                   "strings_to_urls": False})
        self.book.set_properties({"created": created})
        self.header = self.book.add_format({"bold": True})
        self.when = self.book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
        self.name, self.columns, self.instants = sheet, columns, instants
        self.sheets: list[tuple[Any, Path]] = []  # each sheet and its data rows' XML
        self.rows = EXCEL_ROWS - 1  # data rows in the last sheet: the first write opens one

    def _next_sheet(self) -> None:
        number = len(self.sheets) + 1
        sheet = self.book.add_worksheet(self.name if number == 1 else f"{self.name} {number}")
        for i, (column, width) in enumerate(self.columns.items()):
            sheet.set_column(i, i, width, self.when if column in self.instants else None)
            sheet.write_string(0, i, column, self.header)
        sheet.freeze_panes(1, 0)
        rows = self.path.with_name(f".{self.path.name}.rows{number}.xml")
        rows.write_bytes(b"")
        self.sheets.append((sheet, rows))
        self.rows = 0

    def _cells(self, frame: pl.DataFrame, first: int) -> pl.Expr:
        """Each row of frame as one <row> element, numbered from first (Excel's count)."""
        number = pl.int_range(first, first + frame.height, dtype=pl.Int64).cast(pl.String)
        style = self.when._get_xf_index()
        cells = []
        for i, column in enumerate(self.columns):
            letter, value = _column_letter(i), pl.col(column)
            if column in self.instants or frame.schema[column].is_numeric():
                styled = f' s="{style}"' if column in self.instants else ""
                cell = pl.concat_str([pl.lit(f'<c r="{letter}'), number,
                                      pl.lit(f'"{styled}><v>'), value.cast(pl.String),
                                      pl.lit("</v></c>")])
            else:
                cell = pl.concat_str([pl.lit(f'<c r="{letter}'), number,
                                      pl.lit('" t="inlineStr"><is><t xml:space="preserve">'),
                                      _xml_text(value.cast(pl.String)),
                                      pl.lit("</t></is></c>")])
            cells.append(pl.when(value.is_null()).then(pl.lit("")).otherwise(cell))
        return pl.concat_str([pl.lit('<row r="'), number, pl.lit('">'), *cells,
                              pl.lit("</row>")]).alias("xml")

    def write(self, frame: pl.DataFrame) -> None:
        """Append rows (the table's columns, in order; instants already excel_instants);
        a number column is written as numbers, any other as text."""
        frame = frame.select(list(self.columns))
        while frame.height:
            if self.rows == EXCEL_ROWS - 1:
                self._next_sheet()
            # 200,000 rows of XML at a time: ~60 MB of text, whatever the batch.
            part = frame.head(min(EXCEL_ROWS - 1 - self.rows, 200_000))
            frame = frame.slice(part.height)
            with open(self.sheets[-1][1], "ab") as handle:
                part.select(self._cells(part, self.rows + 2)).write_csv(
                    handle, include_header=False, quote_style="never")
            self.rows += part.height

    def close(self) -> None:
        """Finish the file (a table with no rows is still a sheet with its header)."""
        if not self.sheets:
            self._next_sheet()
        last = len(self.columns) - 1
        for i, (sheet, _) in enumerate(self.sheets):
            rows = self.rows if i == len(self.sheets) - 1 else EXCEL_ROWS - 1
            sheet.autofilter(0, 0, rows, last)
        self.book.close()
        try:
            self._fill_sheets()
        finally:
            for _, rows_file in self.sheets:
                rows_file.unlink(missing_ok=True)

    def _fill_sheets(self) -> None:
        """Each sheet's data rows put after its header, the other parts copied as they
        are (XlsxWriter's fixed dates kept: same rows, same bytes)."""
        import zipfile

        filled = self.path.with_name(f".{self.path.name}.filling")
        rows_of = {f"xl/worksheets/sheet{n}.xml": (rows, self.rows if n == len(self.sheets)
                                                   else EXCEL_ROWS - 1)
                   for n, (_, rows) in enumerate(self.sheets, 1)}
        last = _column_letter(len(self.columns) - 1)
        with (zipfile.ZipFile(self.path) as book,
              zipfile.ZipFile(filled, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out):
            for item in book.infolist():
                data = book.read(item)
                if item.filename not in rows_of:
                    out.writestr(item, data)
                    continue
                rows_file, count = rows_of[item.filename]
                head, tail = data.decode().split("</sheetData>", 1)
                head = head.replace(f'<dimension ref="A1:{last}1"/>',
                                    f'<dimension ref="A1:{last}{count + 1}"/>', 1)
                with out.open(item, "w", force_zip64=True) as part, open(rows_file, "rb") as rows:
                    part.write(head.encode())
                    shutil.copyfileobj(rows, part, 1 << 20)
                    part.write(("</sheetData>" + tail).encode())
        filled.replace(self.path)

    def __enter__(self) -> XlsxTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
