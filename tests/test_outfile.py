"""XlsxTable: a table written with its row count announced (filled by a worker thread as it
comes) is the same file, byte for byte, as one whose rows wait in a file until close."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import polars as pl
import pytest

from gatekeeper.core import outfile
from gatekeeper.core.outfile import XlsxTable

COLUMNS = {"phone": 16, "name": 28, "at": 17}
CREATED = dt.datetime(2026, 11, 22, 11)


def _rows(n: int) -> pl.DataFrame:
    return pl.DataFrame({
        "phone": [f"+3902{i:07d}" for i in range(n)],
        "name": [None if i % 7 == 0 else f"R&D <{i}> _x0041_" for i in range(n)],
        "at": [46346.5 + i / 1000 for i in range(n)]})


def _book(path: Path, frames: list[pl.DataFrame], announced: bool) -> bytes:
    rows = sum(f.height for f in frames) if announced else None
    with XlsxTable(path, "Chiamabili", COLUMNS, {"at"}, CREATED, rows=rows) as sheet:
        for frame in frames:
            sheet.write(frame)
    return path.read_bytes()


@pytest.mark.parametrize("sizes", [[], [0], [3], [4, 5], [11, 0, 2]])
def test_announced_rows_give_the_same_bytes(tmp_path: Path, sizes: list[int],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Across sheets too: Excel's limit made 5 rows (4 data rows a sheet)."""
    monkeypatch.setattr(outfile, "EXCEL_ROWS", 5)
    monkeypatch.setattr(XlsxTable, "PART_ROWS", 3)
    frames = [_rows(n) for n in sizes]
    spooled = _book(tmp_path / "spooled.xlsx", frames, announced=False)
    streamed = _book(tmp_path / "streamed.xlsx", frames, announced=True)
    assert streamed == spooled
    with zipfile.ZipFile(tmp_path / "streamed.xlsx") as book:
        sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
    assert len(sheets) == max(1, -(-sum(sizes) // 4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spooled.xlsx", "streamed.xlsx"]


def test_a_failure_while_writing_leaves_no_book(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    with (pytest.raises(RuntimeError, match="the caller"),
          XlsxTable(path, "T", COLUMNS, {"at"}, CREATED, rows=10) as sheet):
        sheet.write(_rows(4))
        raise RuntimeError("the caller failed")
    assert list(tmp_path.iterdir()) == []


def test_fewer_rows_than_announced_is_refused(tmp_path: Path) -> None:
    with (pytest.raises(ValueError, match="3 rows written of the 5 announced"),
          XlsxTable(tmp_path / "t.xlsx", "T", COLUMNS, {"at"}, CREATED, rows=5) as sheet):
        sheet.write(_rows(3))
    assert list(tmp_path.iterdir()) == []


def test_a_failure_of_the_worker_is_raised_to_the_writer(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk while the worker fills the book stops the run with that error (never
    a writer left waiting for a worker that is gone)."""
    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(XlsxTable, "_fill", full)
    monkeypatch.setattr(XlsxTable, "PART_ROWS", 1)
    with (pytest.raises(OSError, match="No space left"),
          XlsxTable(tmp_path / "t.xlsx", "T", COLUMNS, {"at"}, CREATED, rows=50) as sheet):
        sheet.write(_rows(50))
    assert list(tmp_path.iterdir()) == []
