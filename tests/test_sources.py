"""Readers, manifests and loading, against real files and a real DuckDB store."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from gatekeeper.cli import cli
from gatekeeper.config import parse_config
from gatekeeper.errors import ConfigError, StoreError
from gatekeeper.load import load_source, load_sources
from gatekeeper.sources.fields import to_canonical
from gatekeeper.sources.manifest import Manifest, discover
from gatekeeper.sources.readers import REJECT_SCHEMA, RawTable, read_source
from gatekeeper.store import Store
from gatekeeper.store.sources import all_versions

from .conftest import WorkspaceMaker

CONSENT_COLUMNS = """
phone = "Telefono"
name = "Nominativo"
consent_third_party = "Consenso terzi"
consent_date = "Data consenso"
consent_proof = "ID prova"
"""


def _read(maker: WorkspaceMaker, source_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    manifest = discover(maker.ws.sources_dir, maker.root)[source_id]
    return to_canonical(read_source(manifest), manifest)


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
    assert expected in result.output
    assert "Traceback" not in result.output
    assert result.output.count("\n") == 1


def test_unreadable_encoding_is_one_clear_error(maker: WorkspaceMaker) -> None:
    maker.source("a", "", data="Telefono\n3331234567\n".encode("utf-16-le"))
    result = CliRunner().invoke(cli, ["--home", str(maker.root), "load"])
    assert result.exit_code == 2 and "not text in a known encoding" in result.output


def test_misspelt_config_key_names_the_accepted_keys(maker: WorkspaceMaker) -> None:
    (maker.root / "gatekeeper.toml").write_text(
        (maker.root / "gatekeeper.toml").read_text() + "\n[policy]\nrpo_validty_days = 10\n")
    with pytest.raises(ConfigError, match="did you mean 'rpo_validity_days'"):
        parse_config(maker.root / "gatekeeper.toml")


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
            load_source(store, manifest)
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
    assert "row 31: row has 9 fields" in result.output
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

    good, rejects = to_canonical(table(rows, 1), manifest)
    alone = [to_canonical(table([r], i + 1), manifest) for i, r in enumerate(rows)]
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
        assert store.schema_version() == 4
    assert not legacy.exists() and maker.ws.store_path.exists()
    data = json.loads(CliRunner().invoke(cli, ["--home", str(maker.root), "disclose",
                                               "3331234567", "--format", "json"]).output)
    assert [s["name"] for s in data["sources"]] == ["A"]
    assert [c["campaign"] for c in data["campaigns"]] == ["c"]
