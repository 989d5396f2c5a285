"""The privacy officer's side: disclosure letters, erasure, request log, retention."""

from __future__ import annotations

import json
import textwrap

import duckdb
import polars as pl
import pytest

from gatekeeper.config import Workspace
from gatekeeper.privacy.optouts import Journal
from gatekeeper.store import Store
from gatekeeper.store import rpo as rpo_store

from .conftest import AS_OF, WorkspaceMaker, gk, stored_rows


def _in_two_supplied_sources(ws: Workspace) -> tuple[str, str]:
    """A demo number sold by Acme (with a consent proof) and listed by the directory."""
    rows = stored_rows(ws)
    with Store(ws.store_path, read_only=True) as store:
        checked = rpo_store.every_check(store)["phone"].unique()
    acme = rows.filter((pl.col("source_id") == "acme-2026-11")
                       & pl.col("consent_proof").is_not_null()
                       & pl.col("phone").is_in(checked.implode()))
    listed = rows.filter(pl.col("source_id") == "pagine-2026").select("phone")
    first = acme.join(listed, on="phone").sort("phone").row(0, named=True)
    return first["phone"], first["consent_proof"]


def test_disclose_names_both_suppliers_in_both_languages(scrubbed: Workspace) -> None:
    phone, proof = _in_two_supplied_sources(scrubbed)
    national = phone.removeprefix("+39")
    written = f"{national[:3]} {national[3:6]} {national[6:]}"  # as a person writes it
    data = json.loads(gk(scrubbed, "disclose", written, "--format", "json").stdout)
    assert data["phone"] == phone
    assert {"phone", "sources", "rpo_checks", "optouts", "campaigns", "erased"} <= set(data)
    suppliers = {s["source_id"]: s["supplier"]["name"] for s in data["sources"]
                 if s["supplier"]}
    assert suppliers == {"acme-2026-11": "Acme Lead S.r.l.",
                         "pagine-2026": "Elenchi Italia S.p.A."}
    acme = next(s for s in data["sources"] if s["source_id"] == "acme-2026-11")
    assert acme["consent"]["proof"] == proof and acme["file_sha256"] and acme["row"] >= 1
    assert data["rpo_checks"][0]["checked_at"] == "2026-11-20T10:00:00+01:00"
    italian = gk(scrubbed, "disclose", phone)
    english = gk(scrubbed, "disclose", phone, "--lang", "en", "--format", "html")
    assert italian.exit_code == english.exit_code == 0
    for letter in (italian.stdout, english.stdout):
        assert "Acme Lead S.r.l." in letter and "Elenchi Italia S.p.A." in letter
        assert proof in letter and "Garante" in letter and "dpo@connecto.example" in letter
        assert "Connecto S.r.l." in letter
        # What the DPO checks stays in the JSON, never in the person's letter.
        for internal in (*suppliers, acme["file_sha256"][:16], "data/lists", "SHA-256"):
            assert internal not in letter, internal
    assert "Da dove abbiamo ottenuto il Suo numero" in italian.stdout
    assert "reclamo" in italian.stdout
    assert english.stdout.startswith("<!DOCTYPE html>") and "How to object" in english.stdout
    assert "http" not in english.stdout.split("<body>")[0]  # no external fetches


def test_nothing_held_exits_3_with_a_plain_statement(scrubbed: Workspace) -> None:
    result = gk(scrubbed, "disclose", "+39 351 000 0000")
    assert result.exit_code == 3
    assert "Non conserviamo alcun dato relativo al numero +393510000000" in result.output
    bad = gk(scrubbed, "disclose", "n/d")
    assert bad.exit_code == 2 and "not a valid phone number" in bad.output


def test_disclose_lists_campaigns_and_optouts(scrubbed: Workspace) -> None:
    dialable = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")
    first = dialable.row(0, named=True)
    assert gk(scrubbed, "optout", "add", first["phone"], "--channel", "email", "--by",
              "dpo").exit_code == 0
    data = json.loads(gk(scrubbed, "disclose", first["phone"], "--format", "json").stdout)
    assert [(c["campaign"], c["basis"], c["source_id"]) for c in data["campaigns"]] == [
        ("demo", first["basis"], first["source_id"])]
    assert data["optouts"][-1]["channel"] == "email"
    letter = gk(scrubbed, "disclose", first["phone"]).output
    assert "Campagna «demo»" in letter and "opposizione registrata (per e-mail" in letter


def _two_versions(maker: WorkspaceMaker) -> None:
    columns = 'phone = "Telefono"\nname = "Nome"'
    maker.source("lista", "Telefono;Nome\n3331234567;Anna Rossi\n3339999999;Bea\n",
                 columns=columns)
    assert gk(maker.ws, "load").exit_code == 0
    maker.source("lista", "Telefono;Nome\n3330000001;Carlo\n333 123 4567;Anna Rossi Bis\n",
                 columns=columns)
    assert gk(maker.ws, "load").exit_code == 0


def test_disclose_reports_every_version_of_a_source(maker: WorkspaceMaker) -> None:
    _two_versions(maker)
    data = json.loads(gk(maker.ws, "disclose", "3331234567", "--format", "json").stdout)
    assert [(s["version"], s["row"], s["name"]) for s in data["sources"]] == [
        (1, 1, "Anna Rossi"), (2, 2, "Anna Rossi Bis")]
    assert data["sources"][0]["file_sha256"] != data["sources"][1]["file_sha256"]
    letter = gk(maker.ws, "disclose", "3331234567").output
    assert "anche in 1 versioni precedenti" in letter


def test_erasure_removes_personal_data_and_suppresses_later_loads(
        maker: WorkspaceMaker) -> None:
    _two_versions(maker)
    erased = gk(maker.ws, "erase", "+39 333 1234567", "--ref", "PEC-77")
    assert erased.exit_code == 0, erased.output
    rows = stored_rows(maker.ws)
    left = rows.filter((pl.col("phone") == "+393331234567")
                       | pl.col("name").str.starts_with("Anna")
                       | pl.col("raw").str.contains("1234567")).height
    blanked = rows.filter(pl.col("erased_ref") == "PEC-77").height
    assert (left, blanked) == (0, 2)
    data = json.loads(gk(maker.ws, "disclose", "3331234567", "--format", "json").stdout)
    assert data["sources"] == [] and data["erased"]["request_ref"] == "PEC-77"
    assert "PEC-77" in gk(maker.ws, "disclose", "3331234567").output
    # The same number arrives again in a new version of the list: suppressed ERASED, and
    # its personal data is not stored again.
    maker.source("lista", "Telefono;Nome\n3331234567;Anna Rossi Tris\n3330000002;Dino\n",
                 columns='phone = "Telefono"\nname = "Nome"')
    assert gk(maker.ws, "load").exit_code == 0
    assert gk(maker.ws, "run", "--campaign", "c", "--purpose", "telemarketing",
              "--as-of", AS_OF).exit_code == 0
    decisions = pl.read_parquet(maker.ws.report_dir("c") / "decisions.parquet")
    assert decisions.filter(pl.col("row") == 1)["reason"].to_list() == ["ERASED"]
    assert decisions.filter(pl.col("row") == 1)["raw"].to_list() == [None]
    check = gk(maker.ws, "check", "3331234567", "--purpose", "telemarketing")
    assert check.exit_code == 1 and "ERASED" in check.output


def test_erasure_is_one_transaction(maker: WorkspaceMaker,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _two_versions(maker)
    monkeypatch.setenv("GATEKEEPER_FAULT", "erase.before_commit")
    failed = gk(maker.ws, "erase", "3331234567", "--ref", "PEC-1")
    assert failed.exit_code == 2 and "injected fault" in failed.output
    monkeypatch.delenv("GATEKEEPER_FAULT")
    data = json.loads(gk(maker.ws, "disclose", "3331234567", "--format", "json").stdout)
    assert len(data["sources"]) == 2 and data["erased"] is None
    assert data["sources"][0]["name"] == "Anna Rossi"


def test_erasure_rewrites_reports_without_the_number(scrubbed: Workspace) -> None:
    dialable = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")
    phone = dialable["phone"][0]
    assert gk(scrubbed, "erase", phone, "--ref", "R-1").exit_code == 0
    out = scrubbed.report_dir("demo")
    assert phone not in pl.read_csv(out / "dialable.csv")["phone"].to_list()
    assert pl.read_parquet(out / "decisions.parquet").filter(
        pl.col("phone") == phone).is_empty()
    data = json.loads(gk(scrubbed, "disclose", phone, "--format", "json").stdout)
    assert data["campaigns"] == [] and data["erased"]["request_ref"] == "R-1"


def test_erasure_keeps_the_latest_runs_record_true_to_its_files(scrubbed: Workspace) -> None:
    # A second run of the same campaign overwrites the folder; erasure must re-stamp the
    # run that wrote the files (the service trusts files only while their sha256 match).
    assert gk(scrubbed, "run", "--campaign", "demo", "--purpose", "telemarketing",
              "--as-of", "2026-11-22T13:00").exit_code == 0
    out = scrubbed.report_dir("demo")
    phone = pl.read_csv(out / "dialable.csv")["phone"][0]
    assert gk(scrubbed, "erase", phone, "--ref", "R-2").exit_code == 0
    from gatekeeper.core.digest import sha256_file

    with duckdb.connect(str(scrubbed.store_path), read_only=True) as con:
        latest, older = [json.loads(r[0]) for r in con.execute(
            "SELECT outputs_json FROM runs ORDER BY as_of DESC").fetchall()]
    for name in ("decisions.parquet", "dialable.csv"):
        assert latest[name] == sha256_file(out / name)
        assert older[name] != sha256_file(out / name)


def test_request_log_deadlines(scrubbed: Workspace) -> None:
    assert gk(scrubbed, "requests", "add", "ACC-1", "--kind", "access", "--phone",
              "3331234567", "--received", "2020-01-10").exit_code == 0
    assert gk(scrubbed, "requests", "add", "ACC-2", "--kind", "access", "--phone",
              "3331234568").exit_code == 0
    listing = gk(scrubbed, "requests").output
    assert "OVERDUE   ACC-1" in listing and "due 2020-02-09" in listing
    assert "OPEN      ACC-2" in listing
    assert gk(scrubbed, "requests", "extend", "ACC-2", "--reason", "molte fonti").exit_code == 0
    assert "extended: molte fonti" in gk(scrubbed, "requests").output
    again = gk(scrubbed, "requests", "extend", "ACC-2", "--reason", "ancora")
    assert again.exit_code == 2 and "already extended" in again.output
    assert gk(scrubbed, "disclose", "3331234567", "--ref", "ACC-1").exit_code in (0, 3)
    assert gk(scrubbed, "erase", "3331234568", "--ref", "ER-9").exit_code == 0
    listing = gk(scrubbed, "requests").output
    assert "ACC-1" not in listing and "ER-9" not in listing
    everything = json.loads(gk(scrubbed, "requests", "--all", "--json").output)
    assert {r["request_ref"]: r["status"] for r in everything} == {
        "ACC-1": "answered", "ACC-2": "open", "ER-9": "answered"}


def test_purge_removes_old_rows_and_keeps_optouts_and_erasures(scrubbed: Workspace) -> None:
    journal_before = Journal(scrubbed.journal_path).read().events.height
    assert gk(scrubbed, "erase", "3331234567", "--ref", "E-1").exit_code == 0
    dry = gk(scrubbed, "purge", "--as-of", "2028-06-01", "--dry-run")
    assert dry.exit_code == 0 and "would remove 5,997 list rows" in dry.output
    soon = gk(scrubbed, "purge", "--as-of", "2027-01-01")
    assert "removed 0 list rows" in soon.output  # used by a run less than 12 months ago
    done = gk(scrubbed, "purge", "--as-of", "2032-01-01")
    assert "removed 5,997 list rows" in done.output and "1 run records" in done.output
    with duckdb.connect(str(scrubbed.store_path), read_only=True) as con:
        counts = con.execute("SELECT (SELECT count(*) FROM erasures), "
                             "(SELECT count(*) FROM source_versions), "
                             "(SELECT count(*) FROM rpo_exchanges)").fetchone()
    assert stored_rows(scrubbed).height == 0
    assert counts == (1, 3, 0)
    assert not list(scrubbed.store_dir.rglob("*.parquet"))  # the files are gone too
    assert Journal(scrubbed.journal_path).read().events.height == journal_before
    opted = Journal(scrubbed.journal_path).read().events["phone"][0]
    check = gk(scrubbed, "check", opted, "--purpose", "telemarketing")
    assert check.exit_code == 1 and "OPTED_OUT" in check.output


def test_sources_report_adds_up_to_the_summary(scrubbed: Workspace) -> None:
    out = scrubbed.report_dir("demo")
    sources = pl.read_csv(out / "sources.csv")
    summary = json.loads((out / "summary.json").read_text())
    assert sources["source_id"].to_list() == ["acme-2026-11", "crm-clienti", "pagine-2026"]
    assert sources["rows_loaded"].sum() == summary["rows"]
    assert sources["rows_valid"].sum() == summary["valid"]
    assert sources["rows_dialable"].sum() == summary["dialable_rows"]
    assert sources["numbers_dialable"].sum() == summary["dialable"]
    for reason, count in summary["suppressed"].items():
        assert sources[f"suppressed_{reason}"].sum() == count
    suppressed = sources.select(pl.col("^suppressed_.*$")).sum_horizontal()
    assert (sources["rows_dialable"] + suppressed == sources["rows_loaded"]).all()
    acme = sources.row(0, named=True)
    assert acme["supplier_contract_ref"] == "2026/17" and len(acme["file_sha256"]) == 64
    assert 0.9 < acme["consent_proof_coverage"] < 1
    assert acme["rows_rejected"] == 0 and sources["rows_rejected"].sum() == 3
    html = (out / "sources.html").read_text()
    assert "Acme Lead S.r.l." in html and acme["file_sha256"] in html


def test_manifest_text_is_escaped_in_html(maker: WorkspaceMaker) -> None:
    maker.source("x", "Telefono\n3331234567\n", kind="public_directory",
                 extra=textwrap.dedent(""))
    manifest = maker.root / "sources" / "x.toml"
    manifest.write_text(manifest.read_text().replace('"Acme Lead S.r.l."',
                                                     '"<script>alert(1)</script>"'))
    assert gk(maker.ws, "load").exit_code == 0
    assert gk(maker.ws, "run", "--campaign", "c", "--purpose", "telemarketing").exit_code == 0
    for page in ("sources.html", "report.html"):
        text = (maker.ws.report_dir("c") / page).read_text()
        assert "<script>" not in text


def test_erasure_reaches_every_copy_or_says_why_it_is_kept(scrubbed: Workspace) -> None:
    """The received list files lose the person's row (blanked in place, rows keep their
    numbers); RPO files and the journal are kept, each with its reason, in the output
    and in the letter; the next load sees the same lists, not new versions."""
    import fastexcel

    phone, _ = _in_two_supplied_sources(scrubbed)
    national = phone.removeprefix("+39")
    acme = scrubbed.root / "data" / "lists" / "acme-2026-11.csv"
    lines_before = acme.read_bytes().count(b"\n")
    assert gk(scrubbed, "optout", "add", phone, "--channel", "letter", "--by", "bo",
              "--at", "2026-11-22T08:00").exit_code == 0
    erased = gk(scrubbed, "erase", phone, "--ref", "PEC-9")
    assert erased.exit_code == 0, erased.output
    out = erased.output
    assert "erased data/lists/acme-2026-11.csv" in out
    assert "erased data/lists/pagine-2026.xlsx" in out
    assert "kept   data/rpo/2026-11-20-request.txt (rpo_evidence)" in out
    assert "kept   data/optouts.jsonl (optout)" in out
    assert acme.read_bytes().count(b"\n") == lines_before  # rows keep their numbers
    digits = acme.read_bytes().decode("utf-8-sig").replace(" ", "").replace("+39", "")
    assert national not in digits
    sheet = fastexcel.read_excel(str(scrubbed.root / "data" / "lists" / "pagine-2026.xlsx"))
    phones = pl.from_arrow(sheet.load_sheet(0, dtypes="string").to_arrow())["Telefono"]
    assert not phones.drop_nulls().str.replace_all(r"\D", "").str.contains(national).any()
    reload = gk(scrubbed, "load")
    assert reload.exit_code == 0 and "version 2" not in reload.output  # unchanged lists
    letter = gk(scrubbed, "disclose", phone).output
    assert "conservati" in letter and "cinque anni" in letter
    data = json.loads(gk(scrubbed, "disclose", phone, "--format", "json").stdout)
    kept = {c["where"]: c["why"] for c in data["erased"]["copies"] if c["action"] == "kept"}
    assert kept["data/optouts.jsonl"] == "optout"
