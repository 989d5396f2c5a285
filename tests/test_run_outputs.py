"""What `run` writes for a campaign manager who lives in Excel: dialable.xlsx beside
dialable.csv, rejects.csv/.xlsx to send back to the supplier (rows named as the supplier's
program shows them), every row received counted in report.html, and all of it under the
run's record that `audit verify` holds the folder to."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from gatekeeper.config import Workspace
from gatekeeper.core.timeutil import read_iso

from .conftest import AS_OF, gk

RPO = ("rpo", "import", "--request", "data/rpo/2026-11-20-request.txt", "--response",
       "data/rpo/2026-11-20-response.txt", "--checked-at", "2026-11-20T10:00")
ROME = dt.timedelta(hours=1)  # November in Rome: UTC+1


def _sheet_rows(path: Path) -> tuple[list[str], list[tuple[object, ...]], object]:
    book = openpyxl.load_workbook(path, read_only=False)
    try:
        sheet = book.worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
        facts = (sheet.freeze_panes, sheet.auto_filter.ref,
                 [c.data_type for c in sheet[2]] if sheet.max_row > 1 else [])
    finally:
        book.close()
    return [str(h) for h in rows[0]], rows[1:], facts


def test_dialable_xlsx_holds_the_csv_rows(scrubbed: Workspace) -> None:
    """Same rows and columns as dialable.csv; phones are text cells (+39 and any 0 kept);
    instants are Rome's wall-clock time; header frozen, filter on."""
    out = scrubbed.report_dir("demo")
    csv = pl.read_csv(out / "dialable.csv", infer_schema=False)
    header, rows, (frozen, autofilter, types) = _sheet_rows(out / "dialable.xlsx")
    assert header == csv.columns
    assert len(rows) == csv.height > 1000
    assert frozen == "A2" and autofilter == f"A1:G{csv.height + 1}"
    assert types[0] == "s"  # the phone is a text cell
    xlsx = pl.DataFrame(rows, schema=header, orient="row")
    assert xlsx["phone"].to_list() == csv["phone"].to_list()
    assert xlsx["phone"].str.starts_with("+39").all()
    # The CSV neutralises formula-like names with an apostrophe; a text cell needs none.
    names = csv["name"].str.strip_prefix("'")
    assert xlsx["name"].fill_null("").to_list() == names.fill_null("").to_list()
    for column in ("source_id", "basis", "basis_text"):
        assert xlsx[column].to_list() == csv[column].to_list()
    for column in ("rpo_checked_at", "valid_until"):
        # The CSV writes local time with its offset; the cell holds the same wall clock.
        utc = csv.select(read_iso(pl.col(column))).to_series()
        local = xlsx[column].cast(pl.Datetime("us")).dt.round("1s")
        assert (local - utc).unique().to_list() == [ROME], column
        assert csv[column].str.ends_with("+01:00").all(), column
    summary = json.loads((out / "summary.json").read_text())
    assert {"dialable.xlsx", "rejects.csv", "rejects.xlsx"} <= set(summary["files"])


def test_xlsx_shows_local_time_as_people_write_it(scrubbed: Workspace) -> None:
    """The instant cells carry the format dd/mm/yyyy hh:mm (what Excel displays)."""
    book = openpyxl.load_workbook(scrubbed.report_dir("demo") / "dialable.xlsx")
    try:
        cell = book.worksheets[0]["G2"]
        assert cell.number_format == "dd/mm/yyyy hh:mm"
        assert isinstance(cell.value, dt.datetime)
    finally:
        book.close()


def test_the_same_run_writes_the_same_xlsx_bytes(scrubbed: Workspace) -> None:
    """No clock in the workbook: the run record's sha256 stays what a rerun writes."""
    out = scrubbed.report_dir("demo")
    before = {p: (out / p).read_bytes() for p in ("dialable.xlsx", "rejects.xlsx")}
    again = gk(scrubbed, "run", "--campaign", "demo", "--purpose", "telemarketing",
               "--as-of", AS_OF)
    assert again.exit_code == 0, again.output
    assert {p: (out / p).read_bytes() for p in before} == before


@pytest.fixture
def supplied(demo: Workspace) -> Workspace:
    """The demo with two lists as suppliers send them: an .xlsx with a title and a blank
    row above the header, a bad number, a blank row and a TOTALE row; a CSV with a ragged
    row, a date that is none, and a bad number."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Contatti"
    cells = {1: ["Elenco contatti novembre"], 3: ["Telefono", "Nominativo"],
             4: ["3331234567", "Anna"], 5: ["abc", "Bruno"], 7: ["3339876543", "Carla"],
             8: ["Totale", "2"]}
    for row, values in cells.items():
        for column, value in enumerate(values, 1):
            sheet.cell(row=row, column=column, value=value)
    book.save(demo.root / "data" / "lists" / "fornitore.xlsx")
    book.close()
    book = openpyxl.Workbook()  # two empty rows above the header, no header_row said
    for row, values in {3: ["Telefono", "Nominativo"], 4: ["3331230000", "Ugo"],
                        5: ["zzz", "Vera"]}.items():
        for column, value in enumerate(values, 1):
            book.active.cell(row=row, column=column, value=value)
    book.save(demo.root / "data" / "lists" / "vuote.xlsx")
    book.close()
    (demo.root / "data" / "lists" / "fornitore.csv").write_text(
        "Telefono;Nominativo;Data consenso\n"
        "3331112222;Dario;01/10/2026\n"
        "3331113333;Elena;01/10/2026;in più\n"
        "12;Franco;01/10/2026\n"
        "3331114444;Gina;ieri\n", encoding="utf-8")
    for source_id, name, header, extra in (
            ("fornitore-xlsx", "fornitore.xlsx", "header_row = 3\n", ""),
            ("fornitore-csv", "fornitore.csv", "", 'consent_date = "Data consenso"\n'),
            ("fornitore-vuote", "vuote.xlsx", "", "")):
        (demo.sources_dir / f"{source_id}.toml").write_text(
            f'id = "{source_id}"\nkind = "internal_archive"\nfile = "data/lists/{name}"\n'
            f'received_on = 2026-11-02\npurposes = ["telemarketing"]\n{header}\n[columns]\n'
            f'phone = "Telefono"\nname = "Nominativo"\n{extra}', encoding="utf-8")
    for args in (("load",), RPO, ("run", "--campaign", "demo", "--purpose", "telemarketing",
                                  "--as-of", AS_OF)):
        done = gk(demo, *args)
        assert done.exit_code == 0, done.output
    return demo


def test_rejects_name_rows_as_the_spreadsheet_shows_them(supplied: Workspace) -> None:
    """The unreadable rows and the numbers that are no number, each with its Excel row or
    file line, its value and why in Italian; .csv and .xlsx hold the same rows."""
    out = supplied.report_dir("demo")
    rejects = pl.read_csv(out / "rejects.csv", infer_schema=False)
    assert rejects.columns == ["fonte", "file", "foglio", "riga", "riga_dati", "valore",
                               "motivo"]
    mine = {r["fonte"] + ":" + r["riga"]: r for r in rejects.filter(
        pl.col("fonte").str.starts_with("fornitore")).iter_rows(named=True)}
    assert sorted(mine) == ["fornitore-csv:3", "fornitore-csv:4", "fornitore-csv:5",
                            "fornitore-vuote:5", "fornitore-xlsx:5"]
    found = mine["fornitore-vuote:5"]  # the header the reader found: the first filled row
    assert (found["foglio"], found["riga_dati"], found["valore"]) == ("Sheet", "2", "zzz")
    bad = mine["fornitore-xlsx:5"]  # Excel row 5: title, blank, header, Anna above it
    assert (bad["foglio"], bad["riga_dati"], bad["valore"]) == ("Contatti", "2", "abc")
    assert bad["motivo"] == "telefono: non è un numero di telefono valido"
    assert mine["fornitore-csv:3"]["motivo"].startswith("la riga ha 4 campi, l'intestazione 3")
    assert (mine["fornitore-csv:4"]["valore"], mine["fornitore-csv:4"]["riga_dati"]) == (
        "12", "3")
    date = mine["fornitore-csv:5"]
    assert (date["valore"], date["motivo"]) == (
        "ieri", "data consenso: non è una data (scrivere 31/03/2025)")
    # The demo's own: its three unreadable rows and its INVALID_NUMBER rows, all here.
    summary = json.loads((out / "summary.json").read_text())
    decisions = pl.read_parquet(out / "decisions.parquet")
    invalid = decisions.filter(pl.col("reason") == "INVALID_NUMBER").height
    assert rejects.height == summary["rejects"] == summary["rejected"] + invalid
    header, rows, (frozen, autofilter, _) = _sheet_rows(out / "rejects.xlsx")
    assert header == rejects.columns and frozen == "A2"
    assert autofilter == f"A1:G{rejects.height + 1}"
    as_text = [["" if v is None else str(v) for v in row] for row in rows]
    assert as_text == [["" if v is None else v for v in row] for row in
                       rejects.with_columns(pl.col("valore").str.strip_prefix("'")).rows()]


def test_report_counts_every_row_received(supplied: Workspace) -> None:
    """Loaded, unreadable, and blank or total rows: all of them arrived."""
    out = supplied.report_dir("demo")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped"] == 2  # the .xlsx's blank row and its TOTALE
    assert summary["received"] == summary["rows"] + summary["rejected"] + summary["skipped"]
    page = (out / "report.html").read_text(encoding="utf-8")
    shown = re.search(r'data-testid="card-received">([\d.]+)<', page)
    assert shown and int(shown.group(1).replace(".", "")) == summary["received"]
    assert re.search(r'data-testid="funnel-received"[^>]*>([\d.]+)<', page)


def test_audit_holds_the_new_files_to_the_run(supplied: Workspace) -> None:
    """Intact after a run; an edited dialable.xlsx or rejects.csv is named."""
    verified = gk(supplied, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    out = supplied.report_dir("demo")
    edited = out / "edited.xlsx"
    with (zipfile.ZipFile(out / "dialable.xlsx") as old,
          zipfile.ZipFile(edited, "w") as new):
        for item in old.infolist():
            data = old.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"+39", b"+38", 1)
            new.writestr(item, data)
    shutil.move(edited, out / "dialable.xlsx")
    with (out / "rejects.csv").open("a", encoding="utf-8") as handle:
        handle.write("x,x,,1,1,x,x\n")
    verified = gk(supplied, "audit", "verify")
    assert verified.exit_code == 1
    assert "reports/demo/dialable.xlsx" in verified.output
    assert "reports/demo/rejects.csv" in verified.output


def test_an_erased_number_leaves_the_excel_copy_too(scrubbed: Workspace) -> None:
    """GDPR art. 17: erase blanked the number in decisions.parquet and dialable.csv, but
    dialable.xlsx (the copy a manager dials from) kept it: an erased person called again.
    Now the xlsx is rewritten from the erased csv, the run's record trusts the new files,
    and the evidence stays whole."""
    folder = scrubbed.report_dir("demo")
    phone = pl.read_csv(folder / "dialable.csv", infer_schema=False)["phone"][1]
    assert gk(scrubbed, "erase", phone, "--ref", "PEC-18").exit_code == 0
    _, rows, _ = _sheet_rows(folder / "dialable.xlsx")
    assert phone not in {row[0] for row in rows}
    csv_rows = pl.read_csv(folder / "dialable.csv", infer_schema=False)
    assert len(rows) == csv_rows.height and phone not in csv_rows["phone"].to_list()
    assert gk(scrubbed, "audit", "verify").exit_code == 0
