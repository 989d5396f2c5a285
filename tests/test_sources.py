"""Readers, manifests and loading, against real files and a real DuckDB store."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import stat
import tempfile
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from gatekeeper.cli import cli
from gatekeeper.config import parse_config
from gatekeeper.core.errors import ConfigError, ManifestError, SourceFileError, StoreError
from gatekeeper.intake.fields import to_canonical
from gatekeeper.intake.load import load_source, load_sources
from gatekeeper.intake.manifest import Manifest, discover
from gatekeeper.intake.readers import REJECT_SCHEMA, RawTable, read_source
from gatekeeper.jurisdictions import IT
from gatekeeper.store import Store
from gatekeeper.store.schema import SCHEMA_VERSION
from gatekeeper.store.sources import all_versions

from .conftest import WorkspaceMaker, gk

CONSENT_COLUMNS = """
phone = "Telefono"
name = "Nominativo"
consent_third_party = "Consenso terzi"
consent_date = "Data consenso"
consent_proof = "ID prova"
"""


def _read(maker: WorkspaceMaker, source_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    manifest = discover(maker.ws.sources_dir, maker.root)[source_id]
    return to_canonical(read_source(manifest), manifest, IT)


def test_semicolon_windows_1252_from_excel(maker: WorkspaceMaker) -> None:
    text = "Telefono;Nominativo;Consenso terzi;Data consenso;ID prova\r\n" \
           "333 1234567;Niccolò Bèrgamo;sì;31/03/2025;P1\r\n"
    maker.source("a", "", columns=CONSENT_COLUMNS, data=text.encode("cp1252"))
    rows, rejects = _read(maker, "a")
    assert rows["name"].to_list() == ["Niccolò Bèrgamo"]
    assert rows["consent_third_party"].to_list() == [True]
    assert rows["consent_date"].to_list() == [dt.date(2025, 3, 31)]
    assert rejects.is_empty()


def test_comma_utf8_bom_quoted_fields_with_delimiter_and_newline(maker: WorkspaceMaker) -> None:
    text = ('Telefono,Nominativo\n"+39 333 1234567","Rossi, Mario"\n'
            '"02 1234567","Bianchi\nAnna"\n')
    maker.source("a", "", data=b"\xef\xbb\xbf" + text.encode(), columns=(
        'phone = "Telefono"\nname = "Nominativo"'))
    rows, _ = _read(maker, "a")
    assert rows["name"].to_list() == ["Rossi, Mario", "Bianchi\nAnna"]
    assert rows["row"].to_list() == [1, 2]


def test_tab_delimited(maker: WorkspaceMaker) -> None:
    maker.source("a", "Telefono\tNominativo\n3331234567\tA\n", name="a.tsv")
    rows, _ = _read(maker, "a")
    assert rows["raw"].to_list() == ["3331234567"]


def test_ragged_rows_become_rejects_with_their_row_number(maker: WorkspaceMaker) -> None:
    maker.source("a", "Telefono;Nominativo\n3331;A\n3332;B;extra\n3333\n3334;D\n")
    rows, rejects = _read(maker, "a")
    assert rows["row"].to_list() == [1, 4]
    assert rejects["row"].to_list() == [2, 3]
    assert "3 fields, the header has 2" in rejects["reason"][0]


def test_unreadable_values_are_rejects_not_silent_nulls(maker: WorkspaceMaker) -> None:
    maker.source("a", """
        Telefono,Nominativo,Consenso terzi,Data consenso,ID prova
        3331234567,A,forse,2025-01-01,P
        3331234568,B,si,31/02/2025,P
        3331234569,C,x,2025-01-01,P
        3331234560,D,,,
        """, columns=CONSENT_COLUMNS)
    rows, rejects = _read(maker, "a")
    assert rejects["row"].to_list() == [1, 2]
    assert "forse" in rejects["reason"][0] and "31/02/2025" in rejects["reason"][1]
    assert rows["consent_third_party"].to_list() == [True, None]


def test_xlsx_named_sheet_with_number_and_date_cells(maker: WorkspaceMaker) -> None:
    book = Workbook()
    first = book.active
    assert first is not None
    first.append(["ignored"])
    sheet = book.create_sheet("Lista")
    sheet.append(["Telefono", "Nominativo", "Consenso terzi", "Data consenso", "ID prova"])
    sheet.append([3331234567, "A", "si", dt.date(2025, 3, 4), "P1"])
    sheet.append(["02 1234567", "B", 1, dt.datetime(2025, 3, 5, 10, 0), "P2"])
    path = maker.root / "data" / "lists" / "a.xlsx"
    book.save(path)
    maker.source("a", "", name="a.xlsx", data=path.read_bytes(), columns=CONSENT_COLUMNS,
                 extra='sheet = "Lista"')
    rows, _ = _read(maker, "a")
    assert rows["consent_date"].to_list() == [dt.date(2025, 3, 4), dt.date(2025, 3, 5)]
    assert rows["consent_third_party"].to_list() == [True, True]


def test_parquet_with_defaults(maker: WorkspaceMaker) -> None:
    path = maker.root / "data" / "lists" / "a.parquet"
    pl.DataFrame({"tel": ["3331234567"], "quando": [dt.date(2025, 1, 2)]}).write_parquet(path)
    maker.source("a", "", name="a.parquet", data=path.read_bytes(), columns=(
        'phone = "tel"\nconsent_date = "quando"'),
        extra='[defaults]\nconsent_third_party = true\nconsent_proof = "contratto-17"')
    rows, _ = _read(maker, "a")
    assert rows.select("consent_date", "consent_third_party", "consent_proof").row(0) == (
        dt.date(2025, 1, 2), True, "contratto-17")


@pytest.mark.parametrize(("manifest_change", "expected"), [
    (("kind = \"third_party\"", "kind = \"bought\""), "kind"),
    (("purposes = [\"telemarketing\"]", "purpose = [\"telemarketing\"]"), "purpose"),
    (("phone = \"Telefono\"", "phone = \"Tel\""), "'Tel'"),
    (("file = \"data/lists/a.csv\"", "file = \"data/lists/none.csv\""), "file not found"),
])
def test_cli_errors_are_one_clear_line(maker: WorkspaceMaker, manifest_change: tuple[str, str],
                                       expected: str) -> None:
    path = maker.source("a", "Telefono\n3331234567\n")
    path.write_text(path.read_text().replace(*manifest_change))
    result = CliRunner().invoke(cli, ["--home", str(maker.root), "load"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], result.output


def test_unreadable_encoding_is_one_clear_error(maker: WorkspaceMaker) -> None:
    maker.source("a", "", data="Telefono\n3331234567\n".encode("utf-16-le"))
    result = CliRunner().invoke(cli, ["--home", str(maker.root), "load"])
    assert result.exit_code == 2 and "not text in a known encoding" in result.output


def test_misspelt_config_key_names_the_accepted_keys(maker: WorkspaceMaker) -> None:
    (maker.root / "gatekeeper.toml").write_text(
        (maker.root / "gatekeeper.toml").read_text() + "\n[policy]\nrpo_validty_days = 10\n")
    with pytest.raises(ConfigError, match="did you mean 'rpo_validity_days'"):
        parse_config(maker.root / "gatekeeper.toml")


def test_the_rpo_validity_cannot_be_stretched_beyond_the_law(maker: WorkspaceMaker) -> None:
    """A 30-day RPO validity would let numbers registered in the meantime be dialled."""
    config = maker.root / "gatekeeper.toml"
    text = config.read_text()
    for days, allowed in (("15", True), ("10", True), ("16", False), ("30", False)):
        config.write_text(text + f"\n[policy]\nrpo_validity_days = {days}\n")
        if allowed:
            assert parse_config(config).policy.rpo_validity_days == int(days)
        else:
            with pytest.raises(ConfigError, match="valid for 15 days at most"):
                parse_config(config)


def test_reload_unchanged_is_noop_and_change_is_new_version(maker: WorkspaceMaker) -> None:
    path = maker.root / "data" / "lists" / "a.csv"
    maker.source("a", "Telefono\n3331234567\n3331234568\n")
    first = load_sources(maker.ws).results[0]
    again = load_sources(maker.ws).results[0]
    assert (first.version, again.version, again.unchanged) == (1, 1, True)
    path.write_text("Telefono\n3339999999\n")
    changed = load_sources(maker.ws).results[0]
    assert (changed.version, changed.unchanged) == (2, False)
    with Store(maker.ws.store_path, read_only=True) as store:
        per_version = [(v["version"], pl.read_parquet(store.file_path(v["rows_file"])).height)
                       for v in all_versions(store).to_dicts()]
    assert per_version == [(1, 2), (2, 1)]  # the old version stays for disclosure


def test_failed_load_leaves_nothing(maker: WorkspaceMaker,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    maker.source("a", "Telefono\n3331234567\n")
    manifest = discover(maker.ws.sources_dir, maker.root)["a"]
    with Store(maker.ws.store_path) as store:
        monkeypatch.setenv("GATEKEEPER_FAULT", "load.after_rows")
        with pytest.raises(StoreError):
            load_source(store, manifest, IT)
        counts = [store.scalar(f"SELECT count(*) FROM {t}")
                  for t in ("source_versions", "source_rejects")]
        store.sweep()  # what the next writer does
    assert counts == [0, 0]
    assert not list((maker.ws.store_dir / "rows").rglob("*.parquet"))  # no orphan file


def test_every_good_source_loads_and_each_bad_one_is_reported(maker: WorkspaceMaker) -> None:
    """Sources load one by one, each its own transaction, even though the next is read
    while one is written: a broken list (or manifest) keeps none of the others out, and
    each failure is reported with its file before the command fails."""
    maker.source("a", "Telefono\n3331234567\n")
    maker.source("b", "", data="Telefono\n3331234567\n".encode("utf-16-le"))
    maker.source("c", "Telefono\n3331234568\n")
    broken = maker.source("d", "Telefono\n3331234569\n")
    broken.write_text(broken.read_text().replace('kind = "third_party"', 'kind = "bought"'))
    maker.source("e", "Telefono\n3331234570\n")
    result = CliRunner().invoke(cli, ["--home", str(maker.root), "load"])
    assert result.exit_code == 2
    assert "not text in a known encoding" in result.output and "b.csv" in result.output
    assert "d.toml" in result.output and "kind" in result.output
    for good in ("a", "c", "e"):
        assert f"{good} (version 1, loaded)" in result.output
    with Store(maker.ws.store_path, read_only=True) as store:
        loaded = store.frame("SELECT source_id FROM source_versions ORDER BY 1")
    assert loaded["source_id"].to_list() == ["a", "c", "e"]


def test_store_is_owner_only(maker: WorkspaceMaker) -> None:
    maker.source("a", "Telefono\n3331234567\n")
    CliRunner().invoke(cli, ["--home", str(maker.root), "load"])
    mode = stat.S_IMODE(os.stat(maker.ws.store_path).st_mode)
    assert mode & 0o077 == 0


def test_demo_load_prints_per_source_summary(demo) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["--home", str(demo.root), "load"])
    assert result.exit_code == 0, result.output
    for source_id in ("acme-2026-11", "crm-clienti", "pagine-2026"):
        assert source_id in result.output
    assert "line 32 (data row 31): row has 9 fields" in result.output
    assert "mobile" in result.output and "premium_rate" in result.output
    listed = CliRunner().invoke(cli, ["--home", str(demo.root), "sources", "--json"])
    assert {r["source_id"] for r in __import__("json").loads(listed.output)} == {
        "acme-2026-11", "crm-clienti", "pagine-2026"}


# Values as lists really carry them: repeated, blank, padded, in several formats, some junk.
FLAG = st.sampled_from(["si", "SI", " no ", "x", "", "forse", "1", "0", "Sì", "true"])
DAY = st.sampled_from(["2025-03-31", "31/03/2025", "31-03-2025", "31.03.2025",
                       "2025-03-31T10:00:00", "31/02/2025", "", " 01/01/2024 ", "ieri"])
STATUS = st.sampled_from(["attivo", "Cessato", "in essere", "", "sospeso", "ACTIVE"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(FLAG, DAY, STATUS), min_size=1, max_size=30))
def test_each_row_is_read_as_if_it_were_alone(rows: list[tuple[str, str, str]]) -> None:
    """Flags, dates and statuses are parsed once per distinct value and joined back:
    every row must still get its own value, or its own reject, in file order."""
    manifest = Manifest(
        id="l", kind="internal_archive", file=Path("l.csv"), received_on=dt.date(2026, 11, 1),
        purposes=("telemarketing",), supplier=None,
        columns={"phone": "T", "consent_marketing": "C", "consent_date": "D",
                 "contract_status": "S"}, defaults={}, path=Path("sources/l.toml"))

    def table(part: list[tuple[str, str, str]], first_row: int) -> RawTable:
        frame = pl.DataFrame({"T": ["3331234567"] * len(part), "C": [r[0] for r in part],
                              "D": [r[1] for r in part], "S": [r[2] for r in part]})
        frame = frame.with_columns(pl.Series("row", range(first_row, first_row + len(part)),
                                             pl.Int64))
        return RawTable(frame, pl.DataFrame(schema=REJECT_SCHEMA))

    good, rejects = to_canonical(table(rows, 1), manifest, IT)
    alone = [to_canonical(table([r], i + 1), manifest, IT) for i, r in enumerate(rows)]
    assert good.rows() == pl.concat([g for g, _ in alone]).rows()
    assert rejects.rows() == pl.concat([r for _, r in alone]).rows()


@pytest.mark.parametrize("where", ["../outside.csv", "/tmp/gk-outside.csv", "link"])
def test_a_list_outside_the_workspace_is_refused_unless_declared(maker: WorkspaceMaker,
                                                                 where: str) -> None:
    outside = maker.root.parent / "outside.csv"
    outside.write_text("Telefono\n3331234567\n")
    Path("/tmp/gk-outside.csv").write_text("Telefono\n3331234567\n")
    (maker.root / "data" / "link.csv").symlink_to(outside)
    target = "data/link.csv" if where == "link" else where
    path = maker.source("a", "Telefono\n3331234567\n")
    path.write_text(path.read_text().replace('file = "data/lists/a.csv"', f'file = "{target}"'))
    refused = CliRunner().invoke(cli, ["--home", str(maker.root), "load"])
    assert refused.exit_code == 2 and "outside the workspace" in refused.output
    path.write_text("outside_workspace = true\n" + path.read_text())
    assert CliRunner().invoke(cli, ["--home", str(maker.root), "load"]).exit_code == 0


def test_a_store_from_before_the_folder_is_moved_and_migrated(maker: WorkspaceMaker) -> None:
    """data/gatekeeper.duckdb with rows in DuckDB (schema 3) becomes data/store/ with the
    rows in Parquet; nothing held is lost."""
    import duckdb

    from gatekeeper.store.schema import MIGRATIONS

    legacy = maker.root / "data" / "gatekeeper.duckdb"
    con = duckdb.connect(str(legacy))
    for version in (1, 2, 3):
        for step in MIGRATIONS[version]:
            con.execute(step)  # type: ignore[arg-type]
    con.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    con.execute("INSERT INTO source_versions (source_id, version, kind, file, file_sha256, "
                "manifest_sha256, manifest_json, purposes, rows_read, rows_loaded, "
                "rows_rejected, loaded_at) VALUES ('old', 1, 'third_party', 'x.csv', 'f', "
                "'m', '{}', ['telemarketing'], 2, 2, 0, TIMESTAMP '2026-01-01')")
    con.execute("""INSERT INTO source_rows (source_id, source_version, "row", raw, phone, valid,
                   region, number_type, name) VALUES
                   ('old', 1, 2, '3339999999', '+393339999999', true, 'IT', 'mobile', 'B'),
                   ('old', 1, 1, '3331234567', '+393331234567', true, 'IT', 'mobile', 'A')""")
    con.execute("INSERT INTO runs (run_id, campaign, purpose, as_of, executed_at) VALUES "
                "('r1', 'c', 'telemarketing', TIMESTAMP '2026-01-02', TIMESTAMP '2026-01-02')")
    con.execute("INSERT INTO run_dialable VALUES ('r1', '+393331234567', 'old', 1, "
                "'THIRD_PARTY_CONSENT')")
    con.close()
    with Store(maker.ws.store_path) as store:
        assert store.schema_version() == SCHEMA_VERSION
    assert not legacy.exists() and maker.ws.store_path.exists()
    data = json.loads(CliRunner().invoke(cli, ["--home", str(maker.root), "disclose",
                                               "3331234567", "--format", "json"]).output)
    assert [s["name"] for s in data["sources"]] == ["A"]
    assert [c["campaign"] for c in data["campaigns"]] == ["c"]


def test_two_digit_years_and_excel_serials_are_dates_as_excel_reads_them(
        maker: WorkspaceMaker) -> None:
    """10/04/25 was read as the year 25 and every such consent decided CONSENT_EXPIRED;
    a date cell that lost its format (45757) was a reject although Excel shows a date."""
    days = ["10/04/25", "10-04-99", "10.04.29", "01/01/30", "45757", "45757.0", "45757,5",
            "19999", "10/04/202", "10/04-25"]
    text = "Telefono;Data consenso\r\n" + "".join(
        f"33312345{i:02d};{day}\r\n" for i, day in enumerate(days))
    maker.source("a", "", data=text.encode("cp1252"),
                 columns='phone = "Telefono"\nconsent_date = "Data consenso"')
    rows, rejects = _read(maker, "a")
    assert rows["consent_date"].to_list() == [
        dt.date(2025, 4, 10), dt.date(1999, 4, 10), dt.date(2029, 4, 10), dt.date(1930, 1, 1),
        dt.date(2025, 4, 10), dt.date(2025, 4, 10), dt.date(2025, 4, 10)]
    assert rejects["row"].to_list() == [8, 9, 10]  # out of the serial range, 3-digit year, mixed
    assert "'19999' is not a date" in rejects["reason"][0]


def _date_table(values: list[str]) -> tuple[RawTable, Manifest]:
    manifest = Manifest(
        id="l", kind="internal_archive", file=Path("l.csv"), received_on=dt.date(2026, 11, 1),
        purposes=("telemarketing",), supplier=None,
        columns={"phone": "T", "consent_date": "D"}, defaults={},
        path=Path("sources/l.toml"))
    frame = pl.DataFrame({"T": ["3331234567"] * len(values), "D": values}).with_columns(
        pl.Series("row", range(1, len(values) + 1), pl.Int64))
    return RawTable(frame, pl.DataFrame(schema=REJECT_SCHEMA)), manifest


def _written(day: dt.date, form: str, fraction: int) -> str:
    d, m, y = day.day, day.month, day.year
    serial = (day - dt.date(1899, 12, 30)).days
    return {
        "iso": f"{y:04d}-{m:02d}-{d:02d}", "iso_time": f"{y:04d}-{m:02d}-{d:02d} 10:30:00",
        "dmy/": f"{d:02d}/{m:02d}/{y:04d}", "dmy-": f"{d:02d}-{m:02d}-{y:04d}",
        "dmy.": f"{d:02d}.{m:02d}.{y:04d}", "d/m/y unpadded": f"{d}/{m}/{y:04d}",
        "dmyy/": f"{d:02d}/{m:02d}/{y % 100:02d}", "dmyy-": f"{d:02d}-{m:02d}-{y % 100:02d}",
        "dmyy.": f"{d:02d}.{m:02d}.{y % 100:02d}", "serial": str(serial),
        "serial.0": f"{serial}.0", "serial+time": f"{serial}.{fraction}",
    }[form]


FOUR_DIGIT = ("iso", "iso_time", "dmy/", "dmy-", "dmy.", "d/m/y unpadded")
TWO_DIGIT = ("dmyy/", "dmyy-", "dmyy.")
SERIAL = ("serial", "serial.0", "serial+time")


@settings(max_examples=200, deadline=None)
@given(st.one_of(
    st.tuples(st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31)), st.sampled_from(FOUR_DIGIT)),
    st.tuples(st.dates(dt.date(1930, 1, 1), dt.date(2029, 12, 31)), st.sampled_from(TWO_DIGIT)),
    st.tuples(st.dates(dt.date(1954, 10, 3), dt.date(2119, 1, 11)), st.sampled_from(SERIAL)),
), st.integers(1, 999_999))
def test_any_date_written_in_an_accepted_form_reads_back_as_itself(
        case: tuple[dt.date, str], fraction: int) -> None:
    day, form = case
    table, manifest = _date_table([_written(day, form, fraction)])
    good, rejects = to_canonical(table, manifest, IT)
    assert rejects.is_empty(), rejects.rows()
    assert good["consent_date"].to_list() == [day]


def test_a_stray_quote_that_never_closes_rejects_every_row_it_swallowed(
        maker: WorkspaceMaker) -> None:
    """3331234567,"Mario swallowed the two rows after it into one name: 1 row, 0 rejects,
    two numbers gone without a trace."""
    maker.source("a", 'Telefono,Nominativo\n3331234560,Anna\n3331234567,"Mario\n'
                      "3331234568,Luigi\n3331234569,Bruno\n")
    rows, rejects = _read(maker, "a")
    assert rows.select("row", "raw").rows() == [(1, "3331234560")]
    assert rejects["row"].to_list() == [2, 3, 4]
    assert rejects["reason"][0] == (
        'a quote opened here is never closed; it swallowed rows 3..4; remove the stray " '
        "or quote the whole field")
    assert "swallowed by the quote opened in row 2" in rejects["reason"][1]


def test_a_stray_quote_closed_rows_later_keeps_later_row_numbers_true(
        maker: WorkspaceMaker) -> None:
    text = ('Telefono;Nominativo;Consenso terzi\r\n3331234567;"Niccolò;sì\r\n'
            '3331234568;Luigi;no\r\n3331234569;Bruno";sì\r\n3331234570;Carla;sì\r\n'
            "3331234571;Dora\r\n3331234572;Ezio;no\r\n")
    maker.source("a", "", data=text.encode("cp1252"), columns=(
        'phone = "Telefono"\nname = "Nominativo"\nconsent_third_party = "Consenso terzi"'))
    rows, rejects = _read(maker, "a")
    assert rows.select("row", "raw").rows() == [(4, "3331234570"), (6, "3331234572")]
    assert rejects["row"].to_list() == [1, 2, 3, 5]
    assert rejects["reason"][0].startswith(
        "a quote opened here closes only in row 3; it swallowed rows 2..3")
    assert rejects["reason"][3].startswith("row has 2 fields, the header has 3")


def test_a_quote_open_at_the_end_of_the_file_is_a_reject(maker: WorkspaceMaker) -> None:
    maker.source("a", "", data=b'Telefono,Nominativo\n3331234567,A\n3331234568,"B')
    rows, rejects = _read(maker, "a")
    assert rows["row"].to_list() == [1]
    assert rejects.rows() == [(2, 'a quote opened here is never closed; remove the stray " '
                                  "or quote the whole field")]


def test_a_quoted_field_spanning_lines_is_one_row_a_stray_quote_is_not(
        maker: WorkspaceMaker) -> None:
    """A name or address over two lines, even in the first column, is one row; the same
    file ending in a quote that never closes rejects that row, naming it."""
    text = ('Nominativo,Telefono\n"Bianchi\nAnna",3331234567\n"Via Roma 1,\nMilano",'
            '3331234568\nCarla,3331234569\n"Dora,3331234570\n')
    maker.source("a", "", data=text.encode(), columns='phone = "Telefono"\nname = "Nominativo"')
    rows, rejects = _read(maker, "a")
    assert rows.select("row", "name").rows() == [
        (1, "Bianchi\nAnna"), (2, "Via Roma 1,\nMilano"), (3, "Carla")]
    assert rejects.rows() == [(4, 'a quote opened here is never closed; remove the stray " '
                                  "or quote the whole field")]


def _csv_manifest(path: Path) -> Manifest:
    return Manifest(
        id="l", kind="internal_archive", file=path, received_on=dt.date(2026, 11, 1),
        purposes=("telemarketing",), supplier=None, columns={"phone": "Telefono"},
        defaults={}, path=path.with_suffix(".toml"))


def _write_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Telefono", "Nominativo", "Note"])
    writer.writerows(rows)
    return out.getvalue().encode()


def _accounted(data: bytes) -> tuple[RawTable, list[int]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "l.csv"
        path.write_bytes(data)
        table = read_source(_csv_manifest(path))
    numbers = sorted(table.frame["row"].to_list() + table.rejects["row"].to_list()
                     + table.skipped["row"].to_list())
    return table, numbers


CELL = st.text(alphabet='ab ,"\n', max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"\A3[0-9]{9}\Z"), CELL, CELL), min_size=1,
                max_size=12))
def test_properly_quoted_files_read_back_row_for_row(rows: list[tuple[str, str, str]]) -> None:
    """Whatever a CSV writer quotes (delimiters, quotes, newlines), every row is read back
    as written under its own number. The one exception is the stray-quote rule: a value
    with a later line that is a whole record by itself (here: two commas) is rejected,
    one reject per line it spans, so that later rows keep the numbers a reader counts."""
    written = [list(r) for r in rows]
    expected_rows, expected_rejects, number = [], [], 1
    for row in written:
        looks_swallowed = any(line.count(",") >= 2 for cell in row[1:]
                              for line in cell.split("\n")[1:])
        if looks_swallowed:
            lines = 1 + sum(cell.count("\n") for cell in row)
            expected_rejects += range(number, number + lines)
            number += lines
        else:
            expected_rows.append((number, *row))
            number += 1
    table, _ = _accounted(_write_csv(written))
    assert table.frame.select("row", "Telefono", "Nominativo", "Note").rows() == expected_rows
    assert table.rejects["row"].to_list() == expected_rejects
    assert all("quote" in reason for reason in table.rejects["reason"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"\A3[0-9]{9}\Z"), st.from_regex(r"\A[a-z ]{0,8}\Z"),
                          st.from_regex(r"\A[a-z ,]{0,8}\Z")), min_size=1, max_size=12),
       st.data())
def test_a_stray_quote_never_loses_or_misnumbers_a_row(
        rows: list[tuple[str, str, str]], data: st.DataObject) -> None:
    written = [list(r) for r in rows]
    stray = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.integers(1, 2))
    lines = _write_csv(written).decode().split("\r\n")
    cells = next(csv.reader([lines[stray + 1]]))
    cells[column] = '"' + cells[column].strip('"')
    lines[stray + 1] = ",".join(cells)
    table, numbers = _accounted("\r\n".join(lines).encode())
    assert numbers == list(range(1, len(rows) + 1))
    assert stray + 1 in table.rejects["row"].to_list()
    for row, *values in table.frame.select("row", "Telefono", "Nominativo", "Note").rows():
        assert values == written[row - 1]


TITLED_CSV = ("Lista contatti Acme - novembre 2026;;\r\n;;\r\n"
              "Telefono;Nominativo;Data consenso\r\n"
              "333 1234567;Niccolò;31/03/2025\r\n333 1234568;Bèrgamo;01/04/2025\r\n")
DATED_COLUMNS = 'phone = "Telefono"\nname = "Nominativo"\nconsent_date = "Data consenso"'


@pytest.mark.parametrize("extra", ["header_row = 3", "skip_rows = 2",
                                   "header_row = 3\nskip_rows = 2"])
def test_csv_with_a_title_above_the_header(maker: WorkspaceMaker, extra: str) -> None:
    maker.source("a", "", data=TITLED_CSV.encode("cp1252"), columns=DATED_COLUMNS, extra=extra)
    rows, rejects = _read(maker, "a")
    assert rows.select("row", "name", "consent_date").rows() == [
        (1, "Niccolò", dt.date(2025, 3, 31)), (2, "Bèrgamo", dt.date(2025, 4, 1))]
    assert rejects.is_empty()


def test_a_title_above_the_header_is_named_in_the_error(maker: WorkspaceMaker) -> None:
    maker.source("a", "", data=TITLED_CSV.encode("cp1252"), columns=DATED_COLUMNS)
    with pytest.raises(SourceFileError, match=r"column 'Telefono' \(for phone\) is not in the "
                       r"file; columns are: .*; if the file has a title above the header, "
                       r"set header_row = 3$"):
        _read(maker, "a")
    result = gk(maker.ws, "load")
    assert result.exit_code == 2 and "set header_row = 3" in result.output


def _titled_book(path: Path, *, blank_top: bool = False) -> None:
    """A list as a person saves it from Excel: a title, a blank row, then the header."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    if blank_top:
        sheet.append([])
    sheet.append(["Elenco clienti - estrazione novembre 2026"])
    sheet.append([])
    sheet.append(["Telefono", "Nominativo", "Data consenso"])
    sheet.append([3331234567, "Anna", dt.date(2025, 3, 4)])
    sheet.append(["02 1234567", "Bruno", dt.datetime(2025, 3, 5, 10, 0)])
    sheet.append([3331234569, "Carla", 45757])  # a date cell that lost its format
    book.save(path)


@pytest.mark.parametrize(("blank_top", "extra"), [
    (False, "header_row = 3"), (False, "skip_rows = 2"), (True, "header_row = 4")])
def test_xlsx_with_a_title_above_the_header(maker: WorkspaceMaker, blank_top: bool,
                                            extra: str) -> None:
    path = maker.root / "data" / "lists" / "a.xlsx"
    _titled_book(path, blank_top=blank_top)
    maker.source("a", "", name="a.xlsx", data=path.read_bytes(), columns=DATED_COLUMNS,
                 extra=extra)
    rows, rejects = _read(maker, "a")
    assert rows.select("row", "name", "consent_date").rows() == [
        (1, "Anna", dt.date(2025, 3, 4)), (2, "Bruno", dt.date(2025, 3, 5)),
        (3, "Carla", dt.date(2025, 4, 10))]
    assert rejects.is_empty()


def test_xlsx_title_without_header_row_names_the_sheet_row(maker: WorkspaceMaker) -> None:
    path = maker.root / "data" / "lists" / "a.xlsx"
    _titled_book(path, blank_top=True)
    maker.source("a", "", name="a.xlsx", data=path.read_bytes(), columns=DATED_COLUMNS)
    with pytest.raises(SourceFileError, match=r"set header_row = 4$"):
        _read(maker, "a")


@pytest.mark.parametrize(("extra", "key", "message"), [
    ("header_row = 0", "header_row", "whole number >= 1"),
    ('header_row = "3"', "header_row", "whole number >= 1"),
    ("header_row = true", "header_row", "whole number >= 1"),
    ("skip_rows = -1", "skip_rows", "whole number >= 0"),
    ("header_row = 3\nskip_rows = 3", "skip_rows", "skip_rows = 3 means header_row = 4"),
    ("heder_row = 3", "heder_row", "did you mean 'header_row'"),
])
def test_header_row_and_skip_rows_are_validated(maker: WorkspaceMaker, extra: str, key: str,
                                                message: str) -> None:
    maker.source("a", "Telefono\n3331234567\n", extra=extra)
    with pytest.raises(ManifestError, match=message) as error:
        discover(maker.ws.sources_dir, maker.root)
    assert error.value.key == key and error.value.file.endswith("a.toml")  # type: ignore[union-attr]


def test_header_row_on_a_parquet_source_is_refused(maker: WorkspaceMaker) -> None:
    path = maker.root / "data" / "lists" / "a.parquet"
    pl.DataFrame({"Telefono": ["3331234567"]}).write_parquet(path)
    maker.source("a", "", name="a.parquet", data=path.read_bytes(), extra="skip_rows = 1")
    with pytest.raises(ManifestError, match="Parquet file has no header line"):
        discover(maker.ws.sources_dir, maker.root)


def _read_all(maker: WorkspaceMaker, source_id: str) -> tuple[pl.DataFrame, pl.DataFrame,
                                                               pl.DataFrame]:
    manifest = discover(maker.ws.sources_dir, maker.root)[source_id]
    table = read_source(manifest)
    rows, rejects = to_canonical(table, manifest, IT)
    return rows, rejects, table.skipped


def test_blank_and_total_rows_of_a_csv_are_skipped_and_counted(maker: WorkspaceMaker) -> None:
    """Excel writes a blank row as ';;' and a closing 'Totale;;2': loaded, they were
    INVALID_NUMBER rows (or rejects) that no person behind them."""
    text = ("Telefono;Nominativo;Consenso terzi\r\n3331234567;Niccolò;sì\r\n;;\r\n\r\n"
            "   \r\n3331234568;Bèrgamo;no\r\n;;;\r\n\u00a0;\u00a0;\r\nTotale;;2\r\n"
            "TOTALE:;;\r\n")
    maker.source("a", "", data=text.encode("cp1252"), columns=(
        'phone = "Telefono"\nname = "Nominativo"\nconsent_third_party = "Consenso terzi"'))
    rows, rejects, skipped = _read_all(maker, "a")
    assert rows.select("row", "raw").rows() == [(1, "3331234567"), (5, "3331234568")]
    assert rejects.is_empty()
    assert skipped.rows() == [(2, "empty row"), (3, "empty row"), (4, "empty row"),
                              (6, "empty row"), (7, "empty row"), (8, "total row 'Totale'"),
                              (9, "total row 'TOTALE:'")]
    assert skipped.schema == pl.Schema({"row": pl.Int64, "reason": pl.String})


def test_blank_and_total_rows_of_a_sheet_are_skipped_and_counted(
        maker: WorkspaceMaker) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Nominativo", "Telefono", "Data consenso"])
    sheet.append(["Anna", 3331234567, dt.date(2025, 3, 4)])
    sheet.append([])
    sheet.append(["Bruno", 3331234568, dt.date(2025, 3, 5)])
    sheet.append([None, "  ", None])
    sheet.append(["Totale", None, 2])  # Excel's count of the rows above
    sheet.append(["Totale", 1234, None])  # digits in the phone cell: kept, decided invalid
    sheet.append([])
    sheet.append(["Somma", None, "=COUNTA(B2:B5)"])
    path = maker.root / "data" / "lists" / "a.xlsx"
    book.save(path)
    maker.source("a", "", name="a.xlsx", data=path.read_bytes(), columns=(
        'phone = "Telefono"\nname = "Nominativo"\nconsent_date = "Data consenso"'))
    rows, rejects, skipped = _read_all(maker, "a")
    assert rows.select("row", "name").rows() == [(1, "Anna"), (3, "Bruno"), (6, "Totale")]
    assert rejects.is_empty()
    assert skipped.rows() == [(2, "empty row"), (4, "empty row"), (5, "total row 'Totale'"),
                              (7, "empty row"), (8, "total row 'Somma'")]


def test_blank_and_total_rows_of_a_parquet_file_are_skipped(maker: WorkspaceMaker) -> None:
    path = maker.root / "data" / "lists" / "a.parquet"
    pl.DataFrame({"Telefono": ["3331234567", None, "", "Totali"],
                  "n": [1, None, None, 1]}).write_parquet(path)
    maker.source("a", "", name="a.parquet", data=path.read_bytes())
    rows, _, skipped = _read_all(maker, "a")
    assert rows["row"].to_list() == [1]
    assert skipped.rows() == [(2, "empty row"), (3, "empty row"), (4, "total row 'Totali'")]


def test_a_landline_that_lost_its_leading_zero_is_a_reject_that_says_why(
        maker: WorkspaceMaker) -> None:
    """02 12345678 in a cell formatted as number is 212345678: decided INVALID_NUMBER it
    hid that the whole column must be exported again as text."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Telefono", "Nominativo"])
    for number, name in [(212345678, "Milano"), (3331234567, "Mobile"), ("02 12345678", "Text"),
                         (612345678, "Roma"), (3451234567, "Mobile 345"), (12, "Junk")]:
        sheet.append([number, name])
    path = maker.root / "data" / "lists" / "a.xlsx"
    book.save(path)
    maker.source("a", "", name="a.xlsx", data=path.read_bytes(),
                 columns='phone = "Telefono"\nname = "Nominativo"')
    rows, rejects = _read(maker, "a")
    assert rows["name"].to_list() == ["Mobile", "Text", "Mobile 345", "Junk"]
    fix = ('format the column as text and export again, or write leading_zero = "restore" '
           "in sources/a.toml to read it as that landline")
    assert rejects.rows() == [
        (1, "phone '212345678' looks like a landline whose leading zero was lost (the column "
            f"was stored as a number); {fix}"),
        (4, "phone '612345678' looks like a landline whose leading zero was lost (the column "
            f"was stored as a number); {fix}")]


def test_a_landline_in_italian_excel_notation_that_lost_its_zero(maker: WorkspaceMaker) -> None:
    text = "Telefono;Nominativo\r\n2,12345678E+08;Niccolò\r\n3,331234567E+09;Bèrgamo\r\n"
    maker.source("a", "", data=text.encode("cp1252"))
    rows, rejects = _read(maker, "a")
    assert rows["row"].to_list() == [2]
    assert rejects["reason"].to_list() == [
        "phone '2,12345678E+08' looks like a landline whose leading zero was lost (the column "
        "was stored as a number); format the column as text and export again, or write "
        'leading_zero = "restore" in sources/a.toml to read it as that landline']


def test_a_sheet_as_excel_users_save_it(maker: WorkspaceMaker) -> None:
    """Title, blank row, header on row 3; number cells for phones (one landline lost its
    0), a date cell, a date cell that lost its format, a two-digit year typed as text, a
    blank row and Excel's Totale row: every data row is read, rejected or skipped."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Lista clienti Acme - novembre 2026"])
    sheet.append([])
    sheet.append(["Telefono", "Nominativo", "Consenso terzi", "Data consenso", "ID prova"])
    sheet.append([3331234567, "Anna", "sì", dt.date(2025, 3, 4), "P1"])
    sheet.append([212345678, "Bruno", "si", 45757, "P2"])
    sheet.append(["02 1234567", "Carla", "x", "10/04/25", "P3"])
    sheet.append([])
    sheet.append(["Totale", None, None, None, 3])
    path = maker.root / "data" / "lists" / "a.xlsx"
    book.save(path)
    maker.source("a", "", name="a.xlsx", data=path.read_bytes(), columns=CONSENT_COLUMNS,
                 extra="header_row = 3")
    rows, rejects, skipped = _read_all(maker, "a")
    assert rows.select("row", "raw", "consent_third_party", "consent_date").rows() == [
        (1, "3331234567", True, dt.date(2025, 3, 4)),
        (3, "02 1234567", True, dt.date(2025, 4, 10))]
    assert rejects["row"].to_list() == [2]
    assert "phone '212345678' looks like a landline" in rejects["reason"][0]
    assert skipped.rows() == [(4, "empty row"), (5, "total row 'Totale'")]


def test_a_csv_as_italian_excel_saves_it(maker: WorkspaceMaker) -> None:
    """The same list as Excel's 'CSV (separato da punto e virgola)': Windows-1252, ';',
    E-notation with a comma, the title and the Totale row written with every ';'."""
    text = ("Lista clienti Acme - novembre 2026;;;;\r\n;;;;\r\n"
            "Telefono;Nominativo;Consenso terzi;Data consenso;ID prova\r\n"
            "3,331234567E+09;Niccolò;sì;04/03/25;P1\r\n"
            "2,12345678E+08;Bèrgamo;si;45757;P2\r\n"
            "02 1234567;Carla;x;10.04.2025;P3\r\n"
            ";;;;\r\n"
            "Totale;;;;3\r\n")
    maker.source("a", "", data=text.encode("cp1252"), columns=CONSENT_COLUMNS,
                 extra="skip_rows = 2")
    rows, rejects, skipped = _read_all(maker, "a")
    assert rows.select("row", "name", "consent_date").rows() == [
        (1, "Niccolò", dt.date(2025, 3, 4)), (3, "Carla", dt.date(2025, 4, 10))]
    assert rejects["row"].to_list() == [2]
    assert "phone '2,12345678E+08' looks like a landline" in rejects["reason"][0]
    assert skipped.rows() == [(4, "empty row"), (5, "total row 'Totale'")]


def test_skipped_rows_are_counted_in_the_load_and_never_decided(maker: WorkspaceMaker) -> None:
    maker.source("t", "", data=("Telefono;Nome\r\n3331234567;Anna\r\n;\r\n3331234568;Bea\r\n"
                                "Totale;2\r\n").encode("cp1252"),
                 columns='phone = "Telefono"\nname = "Nome"')
    loaded = CliRunner().invoke(cli, ["--home", str(maker.root), "load"])
    assert loaded.exit_code == 0 and "rows skipped            2" in loaded.output
    report = load_sources(maker.ws).results[0]
    assert (report.rows_read, report.rows_loaded, report.rows_skipped) == (4, 2, 2)
