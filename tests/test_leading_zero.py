"""`leading_zero = "restore"`: a landline stored as a number, its 0 lost, read as the landline
it was; and every row a person is shown named as their program shows it (Excel's row and
sheet, or the file's line) beside the data row."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.core.errors import ManifestError
from gatekeeper.intake.fields import read_phones
from gatekeeper.intake.manifest import Manifest, discover
from gatekeeper.intake.normalise import reference, restore_leading_zero, unwrap_spreadsheet
from gatekeeper.jurisdictions import IT

from .conftest import AS_OF, WorkspaceMaker, gk, stored_rows

COLUMNS = """
phone = "Telefono"
name = "Nominativo"
consent_third_party = "Consenso terzi"
consent_date = "Data consenso"
"""
SERIAL = 45757  # Excel's serial of 2025-04-10, a date cell that lost its format
# (cell value, name): the sheet rows under the header, in order (None: a blank row).
PEOPLE: list[tuple[object, str] | None] = [
    (3331234567, "Anna"),          # a mobile, stored as a number: read as it is
    (612345678, "Bruno"),          # Rome, 06 12345678 without its 0
    None,
    (212345678, "Carla"),          # Milan, 02 12345678 without its 0
    (3312345678, "Dario"),         # a valid mobile, and 0331 2345678 a valid landline too
    (800123456, "Ezio"),           # a valid toll-free number, and with a 0 a landline too
    (61234567890, "Fabio"),        # with a 0 no valid landline: no number at all
    ("abc", "Gino"),
    None,
]
HEADER_ROW = 4  # three title rows above it


def _book(path: Path) -> None:
    """A list as an office sends it: a title, a subtitle, a blank row, the header on row
    4, numbers typed in number cells, date serials, blank rows and Excel's TOTALE row."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Clienti"
    sheet.append(["Lista clienti Acme"])
    sheet.append(["estrazione del 02/11/2026"])
    sheet.append([])
    sheet.append(["Telefono", "Nominativo", "Consenso terzi", "Data consenso"])
    for person in PEOPLE:
        sheet.append([] if person is None else [person[0], person[1], "si", SERIAL])
    sheet.append(["TOTALE", None, None, 7])
    book.save(path)
    book.close()


def _sheet_row(name: str) -> int:
    """Excel's row number of a person's row."""
    at = [p[1] if p else None for p in PEOPLE].index(name)
    return HEADER_ROW + 1 + at


def _data_row(name: str) -> int:
    return _sheet_row(name) - HEADER_ROW


def _workspace(maker: WorkspaceMaker, mode: str | None) -> WorkspaceMaker:
    path = maker.root / "data" / "lists" / "acme.xlsx"
    _book(path)
    extra = f"header_row = {HEADER_ROW}\n" + (f'leading_zero = "{mode}"\n' if mode else "")
    maker.source("acme", "", name="acme.xlsx", data=path.read_bytes(), columns=COLUMNS,
                 extra=extra)
    return maker


def _load_and_run(maker: WorkspaceMaker) -> tuple[str, Path]:
    loaded = gk(maker.ws, "load")
    assert loaded.exit_code == 0, loaded.output
    ran = gk(maker.ws, "run", "--campaign", "nov", "--purpose", "telemarketing",
             "--as-of", AS_OF)
    assert ran.exit_code == 0, ran.output
    return loaded.output, maker.ws.report_dir("nov")


def test_by_default_a_lost_zero_is_a_reject_that_offers_the_key(maker: WorkspaceMaker) -> None:
    output, out = _load_and_run(_workspace(maker, None))
    fix = ('format the column as text and export again, or write leading_zero = "restore" '
           "in sources/acme.toml to read it as that landline")
    for name, value in (("Bruno", 612345678), ("Carla", 212345678)):
        assert (f"row {_sheet_row(name)} of sheet 'Clienti' (data row {_data_row(name)}): "
                f"phone '{value}' looks like a landline whose leading zero was lost (the "
                f"column was stored as a number); {fix}") in output
    decisions = pl.read_parquet(out / "decisions.parquet")
    assert decisions["repaired"].null_count() == decisions.height
    assert decisions["raw"].to_list().count("612345678") == 0  # rejected, not decided
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["rejected"], summary["repaired"]) == (2, 0)
    assert 'data-testid="repaired"' not in (out / "report.html").read_text(encoding="utf-8")
    # The supplier reads it in Italian, without the key they cannot set.
    rejects = pl.read_csv(out / "rejects.csv", infer_schema=False)
    bruno = rejects.filter(pl.col("valore") == "612345678").row(0, named=True)
    assert (bruno["foglio"], bruno["riga"], bruno["riga_dati"]) == (
        "Clienti", str(_sheet_row("Bruno")), str(_data_row("Bruno")))
    assert "leading_zero" not in bruno["motivo"] and "zero iniziale" in bruno["motivo"]


def test_restore_reads_the_landline_and_says_so(maker: WorkspaceMaker) -> None:
    output, out = _load_and_run(_workspace(maker, "restore"))
    assert "leading zero" not in output
    decisions = pl.read_parquet(out / "decisions.parquet")
    by_name = {r["raw"]: r for r in decisions.iter_rows(named=True)}
    # Restored: the 0 the number cell dropped, and nothing else.
    for raw, phone in (("612345678", "+390612345678"), ("212345678", "+390212345678")):
        assert (by_name[raw]["phone"], by_name[raw]["repaired"]) == (phone, "leading_zero")
        assert by_name[raw]["reason"] != "INVALID_NUMBER"
    # Valid as they stand: read as they are, even where a 0 in front is a landline too.
    for raw, phone in (("3331234567", "+393331234567"), ("3312345678", "+393312345678"),
                       ("800123456", "+39800123456")):
        assert (by_name[raw]["phone"], by_name[raw]["repaired"]) == (phone, None)
    # With a 0 no landline either: still no number, still sent back to the supplier.
    for raw in ("61234567890", "abc"):
        assert by_name[raw]["phone"] is None and by_name[raw]["repaired"] is None
        assert by_name[raw]["reason"] == "INVALID_NUMBER"
    assert decisions.columns == ["source_id", "row", "raw", "phone", "decision", "reason",
                                 "basis", "source_version", "repaired", "rules"]
    assert decisions.filter(pl.col("raw") == "612345678")["row"].to_list() == [
        _data_row("Bruno")]
    # The evidence keeps the value as received; the number is the repaired one.
    held = stored_rows(maker.ws).filter(pl.col("repaired").is_not_null())
    assert sorted(held.select("raw", "phone", "number_type").rows()) == [
        ("212345678", "+390212345678", "fixed_line"),
        ("612345678", "+390612345678", "fixed_line")]


def test_restored_rows_are_counted_per_source(maker: WorkspaceMaker) -> None:
    _, out = _load_and_run(_workspace(maker, "restore"))
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["repaired"], summary["rejected"], summary["skipped"]) == (2, 0, 3)
    sources = pl.read_csv(out / "sources.csv")
    assert sources.filter(pl.col("source_id") == "acme")["rows_repaired"].to_list() == [2]
    assert "0 iniziale ripristinato" in (out / "sources.html").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-testid="repaired">2 numeri fissi arrivati senza lo 0 iniziale' in page
    listed = gk(maker.ws, "sources", "--json")
    assert [s["rows_repaired"] for s in json.loads(listed.output)] == [2]
    again = gk(maker.ws, "load", "--json")  # unchanged: the count is the stored one
    assert json.loads(again.output)["loaded"][0]["rows_repaired"] == 2


def test_switching_to_restore_is_a_new_version(maker: WorkspaceMaker) -> None:
    _workspace(maker, None)
    assert gk(maker.ws, "load").exit_code == 0
    manifest = maker.ws.sources_dir / "acme.toml"
    manifest.write_text(manifest.read_text().replace(
        f"header_row = {HEADER_ROW}", f'header_row = {HEADER_ROW}\nleading_zero = "restore"'))
    loaded = gk(maker.ws, "load", "--json")
    result = json.loads(loaded.output)["loaded"][0]
    assert (result["version"], result["unchanged"], result["rows_repaired"],
            result["rows_rejected"]) == (2, False, 2, 0)


@pytest.mark.parametrize("value", ['"yes"', '"Restore"', "true", '["restore"]'])
def test_a_wrong_value_is_one_clear_error(maker: WorkspaceMaker, value: str) -> None:
    maker.source("a", "Telefono\n612345678\n", extra=f"leading_zero = {value}")
    with pytest.raises(ManifestError) as error:
        discover(maker.ws.sources_dir, maker.root)
    assert error.value.key == "leading_zero" and str(error.value.file).endswith("a.toml")
    loaded = gk(maker.ws, "load")
    assert loaded.exit_code == 2
    assert "a.toml, key 'leading_zero': must be \"reject\"" in loaded.output
    assert '"restore"' in loaded.output and "Traceback" not in loaded.output


def test_a_misspelt_key_is_named(maker: WorkspaceMaker) -> None:
    maker.source("a", "Telefono\n612345678\n", extra='leading_zeros = "restore"')
    loaded = gk(maker.ws, "load")
    assert loaded.exit_code == 2 and "did you mean 'leading_zero'?" in loaded.output


def test_suggest_offers_the_key_for_a_column_that_lost_zeros(maker: WorkspaceMaker) -> None:
    path = maker.root / "data" / "lists" / "acme.xlsx"
    _book(path)
    draft = gk(maker.ws, "sources", "suggest", "data/lists/acme.xlsx", "--kind",
               "internal_archive")
    assert draft.exit_code == 0, draft.output
    assert "2 phone values look like landlines that lost their leading 0" in draft.output
    # The draft restores them, visibly (the line can be removed to reject them instead).
    assert '\nleading_zero = "restore"' in draft.output


def test_csv_rows_are_named_by_their_line(maker: WorkspaceMaker) -> None:
    """Excel's 'CSV (separato da punto e virgola)': the title lines count, the data row
    stays beside the line."""
    text = ("Lista clienti Acme;;;\r\n;;;\r\nTelefono;Nominativo;Consenso terzi;Data consenso\r\n"
            "3331234567;Anna;si;45757\r\n612345678;Bruno;si;45757\r\n3331234568;Carla;forse;"
            "45757\r\n")
    maker.source("acme", "", data=text.encode("cp1252"), columns=COLUMNS,
                 extra="header_row = 3")
    loaded = gk(maker.ws, "load")
    assert "line 5 (data row 2): phone '612345678' looks like a landline" in loaded.output
    assert "line 6 (data row 3): consent_third_party 'forse'" in loaded.output
    listed = json.loads(gk(maker.ws, "sources", "--rejects", "acme", "--json").output)
    assert [(r["row"], r["sheet"], r["line"]) for r in listed] == [(2, None, 5), (3, None, 6)]


def test_sheet_rows_are_named_where_excel_shows_them(maker: WorkspaceMaker) -> None:
    """Without header_row the header is the first filled row; rejects listed later name
    the sheet and Excel's row the same way the load did."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Foglio contatti"
    for row, values in {3: ["Telefono", "Consenso terzi"], 4: [3331234567, "si"],
                        6: [3331234568, "forse"]}.items():
        for column, value in enumerate(values, 1):
            sheet.cell(row=row, column=column, value=value)
    path = maker.root / "data" / "lists" / "c.xlsx"
    book.save(path)
    maker.source("c", "", name="c.xlsx", data=path.read_bytes(),
                 columns='phone = "Telefono"\nconsent_third_party = "Consenso terzi"')
    loaded = gk(maker.ws, "load")
    assert "row 6 of sheet 'Foglio contatti' (data row 3): consent_third_party" in loaded.output
    listed = json.loads(gk(maker.ws, "sources", "--rejects", "c", "--json").output)
    assert [(r["row"], r["sheet"], r["line"]) for r in listed] == [(3, "Foglio contatti", 6)]


def test_erasing_a_restored_number_blanks_its_row_in_the_list(maker: WorkspaceMaker) -> None:
    """The list file holds 612345678; the person is +39 06 12345678: the row must go."""
    _load_and_run(_workspace(maker, "restore"))
    erased = gk(maker.ws, "erase", "+390612345678", "--ref", "REQ-1")
    assert erased.exit_code == 0, erased.output
    book = openpyxl.load_workbook(maker.root / "data" / "lists" / "acme.xlsx")
    try:
        row = [c.value for c in book["Clienti"][_sheet_row("Bruno")]]
        carla = [c.value for c in book["Clienti"][_sheet_row("Carla")]]
    finally:
        book.close()
    assert row == [None] * len(row)
    assert carla[:2] == [212345678, "Carla"]


# --- the restore rule, value by value ----------------------------------------------------

def _restore_reference(value: str) -> str | None:
    """The rule with phonenumbers as the authority: all digits, no valid number as they
    stand, a valid Italian fixed line with a 0 in front."""
    text = unwrap_spreadsheet(value).strip()
    if not (text.isascii() and text.isdigit()) or text.startswith("0") or len(text) < 6:
        return None
    if reference(value, IT)[1]:
        return None
    number = phonenumbers.parse("0" + text, "IT")
    fixed = (phonenumbers.is_valid_number(number)
             and phonenumbers.region_code_for_number(number) == "IT"
             and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE)
    return "0" + text if fixed else None


cells = st.builds(
    lambda head, tail, shape: shape.format(head + tail),
    st.sampled_from(["2", "6", "11", "55", "81", "3", "33", "34", "8", "80", "9", "1", "7"]),
    st.text("0123456789", min_size=3, max_size=10),
    st.sampled_from(["{}", " {} ", "{}.0", "'{}"]))


@given(st.lists(cells | st.text(max_size=12), max_size=30))
@settings(max_examples=300, deadline=None)
def test_restored_numbers_are_the_landline_with_its_zero(values: list[str]) -> None:
    raw = pl.Series(values, dtype=pl.String)
    restored = restore_leading_zero(raw, IT).to_list()
    assert restored == [_restore_reference(v) for v in values]
    for value, fixed in zip(values, restored, strict=True):
        as_is = reference(value, IT)
        if as_is[1]:  # a valid number (a mobile above all) is never touched
            assert fixed is None
        if fixed is None:
            continue
        digits = unwrap_spreadsheet(value).strip()
        assert fixed == "0" + digits and fixed.startswith("0")
        assert reference(fixed, IT)[1:] == (True, "IT", "fixed_line")


@given(st.lists(cells, min_size=1, max_size=20))
@settings(max_examples=100, deadline=None)
def test_a_manifest_that_restores_reads_exactly_those(values: list[str]) -> None:
    """read_phones with restore: the restored values become their landline, every other
    value is read as normalise() reads it; without it nothing changes."""
    raw = pl.Series(values, dtype=pl.String)
    manifests = {mode: _manifest(mode) for mode in ("reject", "restore")}
    kept, lost = read_phones(raw, manifests["reject"], IT)
    read, none_left = read_phones(raw, manifests["restore"], IT)
    expected = [_restore_reference(v) for v in values]
    assert lost.to_list() == [e is not None for e in expected]
    assert not none_left.any() and kept["repaired"].null_count() == len(values)
    for i, fixed in enumerate(expected):
        if fixed is None:
            assert read.row(i) == kept.row(i)
        else:
            assert read.row(i, named=True) == {
                "phone": reference(fixed, IT)[0], "valid": True, "region": "IT",
                "number_type": "fixed_line", "repaired": "leading_zero"}


def _manifest(mode: str) -> Manifest:
    return Manifest(id="m", kind="internal_archive", file=Path("m.csv"),
                    received_on=dt.date(2026, 11, 2), purposes=("telemarketing",),
                    supplier=None, columns={"phone": "Telefono"}, defaults={},
                    path=Path("sources/m.toml"), leading_zero=mode)


def test_erasing_a_restored_number_blanks_its_line_in_a_csv(maker: WorkspaceMaker) -> None:
    text = "Telefono;Nominativo\r\n3331234567;Anna\r\n612345678;Bruno\r\n212345678;Carla\r\n"
    maker.source("crm", "", data=text.encode("cp1252"), kind="internal_archive",
                 columns='phone = "Telefono"\nname = "Nominativo"',
                 extra='leading_zero = "restore"')
    assert gk(maker.ws, "load").exit_code == 0
    erased = gk(maker.ws, "erase", "+390612345678", "--ref", "REQ-2")
    assert erased.exit_code == 0, erased.output
    assert (maker.root / "data" / "lists" / "crm.csv").read_bytes() == (
        b"Telefono;Nominativo\r\n3331234567;Anna\r\n;\r\n212345678;Carla\r\n")


def test_a_byte_the_encoding_cannot_read_names_its_line(maker: WorkspaceMaker) -> None:
    data = "Elenco\r\nTelefono;Nome\r\n3331234567;Anna\r\n3331234568;Bèa\r\n".encode("cp1252")
    maker.source("a", "", data=data, extra='header_row = 2\nencoding = "utf-8"')
    loaded = gk(maker.ws, "load")
    assert loaded.exit_code == 2
    assert "a.csv, row 2: byte 0xe8 on line 4 is not utf-8" in loaded.output
