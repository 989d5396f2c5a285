"""The fast road for plain CSV files (polars' parser) hands on exactly what pyarrow's road
does, for every file it takes, and leaves every other file to pyarrow's road."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatekeeper.intake import readers
from gatekeeper.intake.manifest import Manifest
from gatekeeper.intake.readers import RawTable, read_source

CELLS = st.sampled_from(["", " ", "333 1234567", "+39 02 1234567", "Totale", "Niccolò",
                         "x\u00a0", "\t", "a'b", "06 12345678", "sì", "𝟑𝟑𝟑"])
ENDS = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, str, int]:
    """A CSV as lists arrive: mostly well formed, sometimes with a title above the header,
    a blank, short or long line, a lone \\r, a BOM, no newline at the end."""
    delimiter = draw(st.sampled_from([";", ",", "\t", "|"]))
    fields = draw(st.integers(1, 4))
    header = ["Telefono", *(f"C{i}" for i in range(1, fields))]
    title = draw(st.lists(st.sampled_from(["Elenco", "", "Estratto 2026"]), max_size=2))
    one_end = draw(ENDS.filter(lambda e: e != "\r"))
    lines = [*title, delimiter.join(header)]
    for _ in range(draw(st.integers(0, 12))):
        width = fields if draw(st.integers(0, 9)) else draw(st.integers(0, fields + 2))
        lines.append(delimiter.join(draw(CELLS) for _ in range(width)))
    ends = [draw(ENDS) if draw(st.integers(0, 9)) == 0 else one_end for _ in lines]
    text = "".join(line + end for line, end in zip(lines, ends, strict=True))
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    data = text.encode()
    if draw(st.integers(0, 9)) == 0:
        data = b"\xef\xbb\xbf" + data
    return data, delimiter, len(title) + 1


def _read(path: Path, delimiter: str, header_row: int) -> RawTable | str:
    manifest = Manifest(
        id="l", kind="internal_archive", file=path, received_on=dt.date(2026, 11, 1),
        purposes=("telemarketing",), supplier=None, columns={"phone": "Telefono"},
        defaults={}, path=path.with_suffix(".toml"), delimiter=delimiter,
        header_row=header_row)
    try:
        return read_source(manifest)
    except Exception as exc:  # the same error either way, named by its message
        return f"{type(exc).__name__}: {exc}"


def _both(data: bytes, delimiter: str, header_row: int) -> tuple[RawTable | str,
                                                                 RawTable | str]:
    """The file read as it is (plain road when it may), and only by pyarrow's road."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "l.csv"
        path.write_bytes(data)
        fast = _read(path, delimiter, header_row)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(readers, "_read_plain", lambda *_: None)
            return fast, _read(path, delimiter, header_row)


def _same(fast: RawTable | str, general: RawTable | str) -> None:
    if isinstance(fast, str) or isinstance(general, str):
        assert fast == general
        return
    assert fast.frame.equals(general.frame)
    assert fast.frame.columns == general.frame.columns
    assert fast.rejects.equals(general.rejects)
    assert fast.skipped.equals(general.skipped)
    assert (fast.encoding, fast.delimiter, fast.header_hint, fast.sheet, fast.lines_before) \
        == (general.encoding, general.delimiter, general.header_hint, general.sheet,
            general.lines_before)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
def test_the_plain_road_reads_as_pyarrow_does(case: tuple[bytes, str, int]) -> None:
    _same(*_both(*case))


@pytest.mark.parametrize(("body", "plain"), [
    (b"333 1234567;a\n06 1234567;\n", True),
    (b"333 1234567;a\r\n06 1234567;b", True),
    (b"333 1234567;a\n;\n", True),  # only delimiters: a row (the reader skips it as empty)
    (b"333 1234567;a\n\n06 1234567;b\n", False),  # a blank line
    (b"333 1234567\n06 1234567;b\n", False),  # a short line
    (b"333 1234567;a;c\n06 1234567;b\n", False),  # a long line
    (b"333 1234567;a\r06 1234567;b\n", False),  # a lone \r ends a line for pyarrow only
    (b'333 1234567;"a"\n', False),  # quotes: pyarrow's road
])
def test_which_files_take_the_plain_road(body: bytes, plain: bool) -> None:
    taken: list[bool] = []
    original = readers._read_plain

    def spy(*args: object) -> pl.DataFrame | None:
        frame = original(*args)  # type: ignore[arg-type]
        taken.append(frame is not None)
        return frame

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(readers, "_read_plain", spy)
        fast, general = _both(b"Telefono;Nome\n" + body, ";", 1)
    assert any(taken) == plain
    _same(fast, general)
