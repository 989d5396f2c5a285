"""Erasing a person from a received list file (GDPR art. 17), without disturbing the rest.

The person's row is blanked in place (every field empty, the row kept) so every other
row keeps its number and the file still reads as the same list; a reader skips the empty
row. Where a faithful edit is impossible (a quoted field spanning lines, an unknown
layout) the file is left as it is and the reason says what to do by hand.

Only the rows whose mapped phone column holds the number are blanked; the number seen in
another column is reported, not guessed at. Finding the rows is columnar (a digit search
over every line at once); only the few lines that match are parsed one by one.
"""

from __future__ import annotations

import codecs
import csv
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import GatekeeperError
from gatekeeper.intake.fields import read_phones
from gatekeeper.intake.manifest import Manifest
from gatekeeper.intake.readers import DELIMITERS, _decode
from gatekeeper.jurisdictions import Jurisdiction


@dataclass(frozen=True)
class FileErasure:
    """What erasing a number did to one list file."""

    path: Path
    rows: int = 0  # rows blanked
    old_sha: str = ""
    new_sha: str | None = None  # None: the file was not changed
    kept_why: str | None = None  # the number is (or may be) still in the file, and why


def erase_from_list(manifest: Manifest, phone: str, national: str,
                    jurisdiction: Jurisdiction) -> FileErasure:
    """Blank every row of the file whose phone column is the number."""
    path = manifest.file
    if not path.is_file():
        return FileErasure(path)
    old = sha256_file(path)
    editor = _EDITORS.get(path.suffix.lower())
    if editor is None:
        return FileErasure(path, old_sha=old, kept_why="format gatekeeper cannot edit; "
                           "remove the person's row by hand")
    try:
        rows, why = editor(manifest, phone, national, jurisdiction)
    except (GatekeeperError, OSError, ValueError) as exc:
        return FileErasure(path, old_sha=old, kept_why=f"could not be edited ({exc}); remove "
                           "the person's row by hand")
    if not rows:
        return FileErasure(path, old_sha=old, kept_why=why)
    return FileErasure(path, rows, old, sha256_file(path), why)


def _phones(values: pl.Series, manifest: Manifest, jurisdiction: Jurisdiction) -> pl.Series:
    """The numbers of a phone column as the load read them (a landline that lost its 0 is
    that landline when the manifest restores it)."""
    return read_phones(values, manifest, jurisdiction)[0].get_column("phone")


def _phone(value: str, manifest: Manifest, jurisdiction: Jurisdiction) -> str | None:
    """One cell's number as the load read it."""
    found: str | None = _phones(pl.Series([value], dtype=pl.String), manifest,
                                jurisdiction).item()
    return found


def _replace(path: Path, data: bytes) -> None:
    """Write the edited file in place of the old one, atomically, same permissions."""
    tmp = path.with_name(f".{path.name}.erasing-{os.getpid()}")
    tmp.write_bytes(data)
    os.chmod(tmp, path.stat().st_mode & 0o777)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _erase_csv(manifest: Manifest, phone: str, national: str,
               jurisdiction: Jurisdiction) -> tuple[int, str | None]:
    path = manifest.file
    data = path.read_bytes()
    utf8, encoding = _decode(data, manifest)
    lines = utf8.decode("utf-8").splitlines(keepends=True)
    digits = pl.Series(lines, dtype=pl.String).str.replace_all(r"\D", "")
    hit = digits.str.contains(national, literal=True)
    if manifest.restores_leading_zero and national.startswith("0"):  # as the load read it
        hit = hit | digits.str.contains(national[1:], literal=True)
    hits = hit.arg_true().to_list()
    column = manifest.columns["phone"]
    header_at, header, delimiter = _find_header(lines, column, manifest.delimiter)
    if header_at is None:
        return 0, f"no header with the column '{column}'; remove the person's row by hand"
    position = header.index(column)
    blanked, elsewhere = 0, []
    for at in (i for i in hits if i > header_at):
        fields = next(csv.reader([lines[at]], delimiter=delimiter), [])
        if len(fields) != len(header):
            return 0, (f"line {at + 1} holds the number but is not a whole row (a quoted "
                       "field spans lines?); remove the person's row by hand")
        if _phone(fields[position], manifest, jurisdiction) == phone:
            ending = lines[at][len(lines[at].rstrip("\r\n")):]
            lines[at] = delimiter * (len(header) - 1) + ending
            blanked += 1
        else:
            elsewhere.append(at + 1)
    if blanked:
        _replace(path, _encode("".join(lines), data, encoding))
    why = (f"the number also appears on line(s) {', '.join(map(str, elsewhere))} outside the "
           "phone column: check them by hand") if elsewhere else None
    return blanked, why


def _find_header(lines: list[str], column: str, delimiter: str | None
                 ) -> tuple[int | None, list[str], str]:
    for at, line in enumerate(lines[:50]):
        chosen = delimiter or max(DELIMITERS, key=line.count)
        fields = [f.strip() for f in next(csv.reader([line], delimiter=chosen), [])]
        if column in fields:
            return at, fields, chosen
    return None, [], delimiter or ","


def _encode(text: str, original: bytes, encoding: str) -> bytes:
    """The text in the file's own encoding, with its byte-order mark if it had one."""
    if encoding == "utf-16":
        return text.encode("utf-16")  # writes a BOM, as the original had one
    bom = codecs.BOM_UTF8 if original.startswith(codecs.BOM_UTF8) else b""
    return bom + text.encode(encoding)


def _erase_xlsx(manifest: Manifest, phone: str, national: str,
                jurisdiction: Jurisdiction) -> tuple[int, str | None]:
    import fastexcel
    from openpyxl import load_workbook

    path = manifest.file
    sheet = manifest.sheet if manifest.sheet is not None else 0
    header_row = manifest.header_row or 1
    frame = pl.from_arrow(fastexcel.read_excel(str(path)).load_sheet(
        sheet, header_row=header_row - 1, dtypes="string").to_arrow())
    assert isinstance(frame, pl.DataFrame)
    column = manifest.columns["phone"]
    if column not in frame.columns:
        return 0, f"no column '{column}' in the sheet; remove the person's row by hand"
    found = _phones(frame[column], manifest, jurisdiction).eq_missing(phone).arg_true().to_list()
    if not found:
        return 0, None
    book = load_workbook(path)
    worksheet = book[sheet] if isinstance(sheet, str) else book.worksheets[sheet]
    names = [str(c.value).strip() if c.value is not None else "" for c in
             worksheet[header_row]]
    position = names.index(column) if column in names else None
    blanked = 0
    for index in found:
        cells = worksheet[header_row + 1 + index]
        if position is None or _phone(str(cells[position].value), manifest, jurisdiction) != phone:
            return 0, "the rows moved when the sheet was read; remove the person's row by hand"
        for cell in cells:
            cell.value = None
        blanked += 1
    tmp = path.with_name(f".{path.name}.erasing-{os.getpid()}.xlsx")
    book.save(tmp)
    _replace(path, tmp.read_bytes())
    tmp.unlink()
    return blanked, None


def _erase_parquet(manifest: Manifest, phone: str, national: str,
                   jurisdiction: Jurisdiction) -> tuple[int, str | None]:
    frame = pl.read_parquet(manifest.file)
    column = manifest.columns["phone"]
    if column not in frame.columns:
        return 0, f"no column '{column}'; remove the person's row by hand"
    hit = _phones(frame[column].cast(pl.String), manifest, jurisdiction).eq_missing(phone)
    if not hit.any():
        return 0, None
    blanked = frame.with_columns(pl.when(hit).then(None).otherwise(pl.col(c)).alias(c)
                                 for c in frame.columns)
    tmp = manifest.file.with_name(f".{manifest.file.name}.erasing-{os.getpid()}")
    blanked.write_parquet(tmp)
    _replace(manifest.file, tmp.read_bytes())
    tmp.unlink()
    return int(hit.sum()), None


_EDITORS = {".csv": _erase_csv, ".txt": _erase_csv, ".tsv": _erase_csv,
            ".xlsx": _erase_xlsx, ".parquet": _erase_parquet}
