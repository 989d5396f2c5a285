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
import queue
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

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

    XlsxWriter makes the workbook (styles, frozen header, filter, parts); the data rows
    are made as XML by polars and put into each sheet: XlsxWriter's cell-by-cell writing
    took 75 s per 660,000 rows, this takes a few. `created` is written instead of the
    clock, so the same rows give the same bytes.

    Given how many rows will come (`rows`), the book is laid out at once and each piece
    of rows is compressed into it by a worker thread while the caller makes the next:
    zlib's deflate (~4.2 CPU-s per 660,000 rows, two thirds of the cost; level 6, as
    zipfile compresses a part given by its ZipInfo) then runs beside the work instead of
    after it, and nothing goes through a temporary file. Without it the rows wait in a
    file beside the book until close. Either way, the same rows give the same bytes."""

    PART_ROWS = 100_000  # rows made as XML at a time: ~70 MB of text, whatever the batch

    def __init__(self, path: Path, sheet: str, columns: dict[str, int],
                 instants: set[str], created: dt.datetime, rows: int | None = None) -> None:
        import xlsxwriter  # type: ignore[import-untyped]  # ships no type information

        self.path = path
        self.book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False,
                                                   "strings_to_formulas": False,
                                                   "strings_to_urls": False})
        self.book.set_properties({"created": created})
        self.header = self.book.add_format({"bold": True})
        self.when = self.book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
        self.name, self.columns, self.instants = sheet, columns, instants
        self.sheets: list[Any] = []
        self.spooled: list[Path] = []  # without `rows`: each sheet's data rows' XML
        self.rows = EXCEL_ROWS - 1  # data rows in the last sheet: the first write opens one
        self.expected = rows
        self.written = 0
        self.stream: _Stream | None = None
        if rows is not None:
            self._lay_out(rows)

    def _next_sheet(self) -> None:
        number = len(self.sheets) + 1
        sheet = self.book.add_worksheet(self.name if number == 1 else f"{self.name} {number}")
        for i, (column, width) in enumerate(self.columns.items()):
            sheet.set_column(i, i, width, self.when if column in self.instants else None)
            sheet.write_string(0, i, column, self.header)
        sheet.freeze_panes(1, 0)
        self.sheets.append(sheet)
        self.rows = 0

    def _counts(self, rows: int) -> list[int]:
        """Data rows per sheet for a table of `rows` rows (one sheet at least)."""
        full, rest = divmod(rows, EXCEL_ROWS - 1)
        return [EXCEL_ROWS - 1] * full + ([rest] if rest or not full else [])

    def _lay_out(self, rows: int) -> None:
        """The whole book but its data rows, for `rows` rows; the worker starts filling."""
        counts = self._counts(rows)
        for number in range(len(counts)):
            self._next_sheet()
            if number == 0 and rows:  # the style's number, taken where a first write takes it
                self.when._get_xf_index()
        self._close_book(counts)
        self.stream = _Stream(self._fill, counts)
        self.rows = 0  # the first sheet is open

    def _close_book(self, counts: list[int]) -> None:
        last = len(self.columns) - 1
        for sheet, rows in zip(self.sheets, counts, strict=True):
            sheet.autofilter(0, 0, rows, last)
        self.book.close()

    def _cells(self, frame: pl.DataFrame, first: int) -> pl.Expr:
        """Each row of frame as one <row> element and its line end, numbered from first
        (Excel's count)."""
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
                              pl.lit("</row>\n")]).alias("xml")

    def write(self, frame: pl.DataFrame) -> None:
        """Append rows (the table's columns, in order; instants already excel_instants);
        a number column is written as numbers, any other as text."""
        frame = frame.select(list(self.columns))
        while frame.height:
            if self.rows == EXCEL_ROWS - 1:
                self._sheet_done()
            part = frame.head(min(EXCEL_ROWS - 1 - self.rows, self.PART_ROWS))
            frame = frame.slice(part.height)
            xml = _text_bytes(part.select(self._cells(part, self.rows + 2)).to_series())
            if self.stream is not None:
                self.stream.send(xml)
            else:
                with open(self.spooled[-1], "ab") as handle:
                    handle.write(xml)
            self.rows += part.height
            self.written += part.height

    def _sheet_done(self) -> None:
        """The last sheet is full: rows go on in the next."""
        if self.stream is not None:
            self.stream.send(None)
            self.rows = 0
            return
        self._next_sheet()
        rows = self.path.with_name(f".{self.path.name}.rows{len(self.sheets)}.xml")
        rows.write_bytes(b"")
        self.spooled.append(rows)

    def close(self) -> None:
        """Finish the file (a table with no rows is still a sheet with its header)."""
        if self.stream is not None:
            if self.written != self.expected:
                self.abort()
                raise ValueError(f"{self.path.name}: {self.written:,} rows written of the "
                                 f"{self.expected:,} announced")
            self.stream.send(None)
            self.stream.finish()
            return
        if not self.sheets:
            self._sheet_done()
        counts = self._counts(self.written)
        try:
            self._close_book(counts)
            self._fill(counts, self._spooled_rows)
        finally:
            for rows_file in self.spooled:
                rows_file.unlink(missing_ok=True)

    def abort(self) -> None:
        """Stop without finishing the file (the caller failed): the worker stops too."""
        if self.stream is not None:
            self.stream.stop()
            self.path.unlink(missing_ok=True)  # the book without its rows
        for rows_file in self.spooled:
            rows_file.unlink(missing_ok=True)

    def _spooled_rows(self, number: int) -> Iterator[bytes]:
        with open(self.spooled[number - 1], "rb") as rows:
            while chunk := rows.read(1 << 20):
                yield chunk

    def _fill(self, counts: list[int], rows_of: Callable[[int], Iterable[Any]]) -> None:
        """The book as XlsxWriter wrote it, each sheet's data rows (rows_of(sheet number):
        pieces of XML) put after its header, the other parts copied as they are
        (XlsxWriter's fixed dates kept: same rows, same bytes)."""
        import zipfile

        filled = self.path.with_name(f".{self.path.name}.filling")
        sheets = {f"xl/worksheets/sheet{n}.xml": n for n in range(1, len(counts) + 1)}
        last = _column_letter(len(self.columns) - 1)
        try:
            with (zipfile.ZipFile(self.path) as book,
                  zipfile.ZipFile(filled, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out):
                for item in book.infolist():
                    data = book.read(item)
                    number = sheets.get(item.filename)
                    if number is None:
                        out.writestr(item, data)
                        continue
                    head, tail = data.decode().split("</sheetData>", 1)
                    head = head.replace(f'<dimension ref="A1:{last}1"/>',
                                        f'<dimension ref="A1:{last}{counts[number - 1] + 1}"/>',
                                        1)
                    with out.open(item, "w", force_zip64=True) as part:
                        part.write(head.encode())
                        for piece in rows_of(number):
                            part.write(piece)
                        part.write(("</sheetData>" + tail).encode())
            filled.replace(self.path)
        finally:
            filled.unlink(missing_ok=True)

    def __enter__(self) -> XlsxTable:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _text_bytes(texts: pl.Series) -> memoryview:
    """A text column's values one after the other, as the bytes Arrow keeps them in: no
    copy beyond Arrow's (a CSV writer took 0.5 s per 660,000 rows of XML, this 0.06)."""
    array = texts.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    offsets = array.buffers()[1]
    first, end = (int.from_bytes(offsets[8 * i:8 * i + 8], "little")
                  for i in (array.offset, array.offset + len(array)))
    return memoryview(array.buffers()[2])[first:end]


class _Stream:
    """A book's data rows handed to a worker thread that fills the book (XlsxTable._fill):
    `send` passes a piece of XML (None: the sheet is done), two pieces at most waiting
    (memory); a failure of either side stops the other instead of leaving it waiting."""

    def __init__(self, fill: Callable[..., None], counts: list[int]) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.stopped = threading.Event()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="xlsx")
        self.done = self.pool.submit(fill, counts, self._pieces)

    def _pieces(self, number: int) -> Iterator[Any]:
        while True:
            try:
                piece = self.queue.get(timeout=0.1)
            except queue.Empty:
                if self.stopped.is_set():
                    raise _Stopped() from None
                continue
            if piece is None:
                return
            yield piece

    def send(self, piece: Any) -> None:
        while True:
            if self.done.done():
                self.done.result()  # the worker failed: its error, here
                raise _Stopped()
            try:
                self.queue.put(piece, timeout=0.1)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        try:
            self.done.result()
        finally:
            self.pool.shutdown()

    def stop(self) -> None:
        self.stopped.set()
        try:
            self.done.result()
        except BaseException:  # the caller's own failure is the one to tell
            pass
        finally:
            self.pool.shutdown()


class _Stopped(Exception):
    """The other side of a _Stream stopped."""
