"""The europa/ demo (README "Countries"): a Romanian archive and French lists decided each by
its own country's rules, France either side of its opt-in of 2026-08-11; and the manifest
key `country` that makes a list's bare numbers another country's."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from gatekeeper.config import Workspace
from gatekeeper.jurisdictions.fr import FR
from gatekeeper.registers import import_exchange
from gatekeeper.store import Store

from .conftest import REPO, WorkspaceMaker, gk, stored_rows

EUROPA = REPO / "europa"
REQUEST = "data/registers/bloctel-2026-08-03-request.txt"
RESPONSE = "data/registers/bloctel-2026-08-03-response.txt"
BLOCTEL_AT = "2026-08-03T10:00+02:00"  # when Bloctel answered: a week before the switch
BEFORE, AFTER = "2026-08-10T18:00+02:00", "2026-08-11T10:00+02:00"

# The README's named numbers: (E.164, decision before, decision after) as reason or basis.
EXPECTED = {
    "+40721234567": ("OWN_CONSENT", "OWN_CONSENT"),  # Romanian mobile, consent, proof, date
    "+40213124567": ("OWN_CONSENT", "OWN_CONSENT"),  # Bucharest fixed line, the same
    "+40744555210": ("CONSENT_MISSING", "CONSENT_MISSING"),  # no consent
    "+40900123456": ("NUMBER_TYPE", "NUMBER_TYPE"),  # 0900: premium rate
    "+40800801234": ("NUMBER_TYPE", "NUMBER_TYPE"),  # 0800: toll free
    "+40733918402": ("CONSENT_UNPROVEN", "CONSENT_UNPROVEN"),  # consent without its proof
    "+33612345678": ("THIRD_PARTY_CONSENT", "THIRD_PARTY_CONSENT"),  # consent, not in Bloctel
    "+33645221890": ("CONSENT_MISSING", "THIRD_PARTY_CONSENT"),  # consent dated 2026-08-11
    "+33781440236": ("REGISTERED", "THIRD_PARTY_CONSENT"),  # in Bloctel, consent
    "+33153279014": ("CONSENT_UNPROVEN", "CONSENT_UNPROVEN"),  # no method: FR law asks it
    "+33145876321": ("PUBLIC_DIRECTORY", "CONSENT_REQUIRED"),  # directory, not in Bloctel
    "+33491234567": ("REGISTERED", "CONSENT_REQUIRED"),  # directory, in Bloctel
}
DIALABLE_BASES = {"OWN_CONSENT", "THIRD_PARTY_CONSENT", "PUBLIC_DIRECTORY"}


def copy_europa(root: Path) -> Workspace:
    """The repository's europa/ workspace copied to root, as a user would set it up."""
    shutil.copytree(EUROPA, root, ignore=shutil.ignore_patterns("store", "reports"))
    return Workspace(root)


def _bloctel_answer(ws: Workspace) -> None:
    """Record the bundled Bloctel exchange (the library's file exchange: `gatekeeper
    register import --register bloctel` is its command; see the CLI test below)."""
    checked = dt.datetime(2026, 8, 3, 8, 0)  # 10:00 in Paris, stored as UTC
    with Store(ws.store_path) as store:
        result = import_exchange(store, ws.root / REQUEST, ws.root / RESPONSE, FR,
                                 checked_at=checked)
    assert (result.numbers, result.registered) == (548, 104)


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, dict[str, Path]]:
    """europa/ after the README's commands: load, the Bloctel answer, a run either side of
    2026-08-11."""
    ws = copy_europa(tmp_path_factory.mktemp("europa") / "europa")
    loaded = gk(ws, "load")
    assert loaded.exit_code == 0, loaded.output
    _bloctel_answer(ws)
    reports = {}
    for campaign, as_of in (("avant", BEFORE), ("apres", AFTER)):
        run = gk(ws, "run", "--campaign", campaign, "--purpose", "telemarketing", "--as-of",
                 as_of)
        assert run.exit_code == 0, run.output
        reports[campaign] = ws.root / "reports" / campaign
    return ws, reports


def _decisions(report: Path) -> dict[str, tuple[str, str]]:
    frame = pl.read_parquet(report / "decisions.parquet")
    return {row["phone"]: (row["reason"] or row["basis"], row["rules"])
            for row in frame.iter_rows(named=True)}


def test_the_generator_writes_europa_as_committed_and_leaves_the_italian_demo_alone(
        tmp_path: Path) -> None:
    """`python -m gatekeeper.demo DIR` writes europa/ byte for byte as the repository holds
    it (so the same seed gives the same files), and every Italian file as before: the
    quick start's counts rest on them. (The .xlsx is left out: openpyxl stamps the time
    it was written into it.)"""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "gatekeeper.demo", str(tmp_path)], check=True,
                   cwd=REPO, env=env)
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    europa = [p for p in written if p.is_relative_to(tmp_path / "europa")]
    assert {p.relative_to(tmp_path / "europa") for p in europa} == {
        p.relative_to(EUROPA) for p in EUROPA.rglob("*") if p.is_file()
        and not {"store", "reports"} & set(p.relative_to(EUROPA).parts)}
    for path in written:
        if path.suffix != ".xlsx":
            assert path.read_bytes() == (REPO / path.relative_to(tmp_path)).read_bytes(), path


def test_each_number_is_decided_by_its_own_country_either_side_of_the_switch(
        decided: tuple[Workspace, dict[str, Path]]) -> None:
    _, reports = decided
    before, after = _decisions(reports["avant"]), _decisions(reports["apres"])
    for phone, (then, now) in EXPECTED.items():
        assert before[phone][0] == then, phone
        assert after[phone][0] == now, phone
    # Each row records the version of its country's rules it was decided by.
    # Romania's rules are not dated: its rows decide alike in both runs (README).
    assert {p: d for p, d in before.items() if p.startswith("+40")} == {
        p: d for p, d in after.items() if p.startswith("+40")}
    assert {before[p][1] for p in before if p.startswith("+40")} == {"RO"}
    assert {after[p][1] for p in after if p.startswith("+40")} == {"RO"}
    assert {before[p][1] for p in before if p.startswith("+33")} == {"FR until 2026-08-10"}
    assert {after[p][1] for p in after if p.startswith("+33")} == {"FR from 2026-08-11"}


def test_the_dialable_lists_show_the_french_directory_only_before_the_opt_in(
        decided: tuple[Workspace, dict[str, Path]]) -> None:
    _, reports = decided
    dialable = {c: set(pl.read_csv(r / "dialable.csv", infer_schema=False)["phone"])
                for c, r in reports.items()}
    for phone, (then, now) in EXPECTED.items():
        assert (phone in dialable["avant"]) == (then in DIALABLE_BASES), phone
        assert (phone in dialable["apres"]) == (now in DIALABLE_BASES), phone
    summary = {c: json.loads((r / "summary.json").read_text()) for c, r in reports.items()}
    assert (summary["avant"]["rows"], summary["avant"]["dialable"],
            summary["apres"]["dialable"]) == (850, 627, 594)  # the README's counts
    directory = 150  # every row of annuaire-2026: no basis once consent is required
    assert "CONSENT_REQUIRED" not in summary["avant"]["suppressed"]
    assert summary["apres"]["suppressed"]["CONSENT_REQUIRED"] == directory
    assert summary["avant"]["suppressed"]["NUMBER_TYPE"] == 4  # RO 0900, 0800; FR 0892, 0899
    assert "REGISTERED" not in summary["apres"]["suppressed"]  # Bloctel ended 2026-08-10


def test_the_bloctel_exchange_through_the_cli(tmp_path: Path) -> None:
    """The README's command records the same answer as the library's exchange."""
    ws = copy_europa(tmp_path / "europa")
    assert gk(ws, "load").exit_code == 0
    imported = gk(ws, "register", "import", "--register", "bloctel", "--request", REQUEST,
                  "--response", RESPONSE, "--checked-at", BLOCTEL_AT)
    assert imported.exit_code == 0, imported.output
    run = gk(ws, "run", "--campaign", "avant", "--purpose", "telemarketing", "--as-of", BEFORE)
    assert run.exit_code == 0, run.output
    before = _decisions(ws.root / "reports" / "avant")
    assert {p: before[p][0] for p in EXPECTED} == {p: e[0] for p, e in EXPECTED.items()}


# --- the manifest key `country` ----------------------------------------------------------

ROMANIAN = "Telefon;Nume\n0721 234 567;Andrei Popescu\n+40 744 555 210;Elena Ionescu\n" \
           "0040 733 918 402;Ioana Matei\n"


def _countries(maker: WorkspaceMaker, codes: str = '["IT", "RO", "FR"]') -> None:
    config = maker.root / "gatekeeper.toml"
    config.write_text(config.read_text() + f"\n[policy]\njurisdictions = {codes}\n")


def _phones(maker: WorkspaceMaker) -> list[str | None]:
    return stored_rows(maker.ws).sort("row")["phone"].to_list()


def test_a_bare_number_is_of_the_lists_country(maker: WorkspaceMaker) -> None:
    """0721 234 567 is a Romanian mobile in a Romanian archive, and a landline in Pesaro
    read as Italian: without the key it would be another person's number."""
    _countries(maker)
    maker.source("crm-ro", ROMANIAN, kind="internal_archive", extra='country = "RO"',
                  columns='phone = "Telefon"\nname = "Nume"')
    assert gk(maker.ws, "load").exit_code == 0
    assert _phones(maker) == ["+40721234567", "+40744555210", "+40733918402"]


def test_without_the_key_bare_numbers_are_the_workspaces_own(maker: WorkspaceMaker) -> None:
    _countries(maker)
    maker.source("crm-ro", ROMANIAN, kind="internal_archive",
                 columns='phone = "Telefon"\nname = "Nume"')
    assert gk(maker.ws, "load").exit_code == 0
    assert _phones(maker) == ["+390721234567", "+40744555210", "+40733918402"]


def test_a_prefixed_number_keeps_its_country_whatever_the_key(maker: WorkspaceMaker) -> None:
    _countries(maker)
    maker.source("fr", ROMANIAN, kind="internal_archive", extra='country = "FR"',
                 columns='phone = "Telefon"\nname = "Nume"')
    assert gk(maker.ws, "load").exit_code == 0
    # +40 and 0040 are Romania's however the list is read; 0721 234 567 is no French
    # number (a row with no valid number, decided INVALID_NUMBER).
    assert _phones(maker) == [None, "+40744555210", "+40733918402"]


@pytest.mark.parametrize(("value", "says"), [
    ('"DE"', "'DE' is not a country called; accepted: IT, RO, FR"),
    ('"ro"', "'ro' is not a country code; accepted: IT, RO, FR, ES, UK, DE"),
    ('"GB"', "'GB' is not a country code; accepted: IT, RO, FR, ES, UK, DE"),
    ("40", "40 is not a country code"),
])
def test_a_country_not_called_fails_that_list_alone(maker: WorkspaceMaker, value: str,
                                                     says: str) -> None:
    _countries(maker)
    maker.source("crm-ro", ROMANIAN, kind="internal_archive", extra=f"country = {value}",
                 columns='phone = "Telefon"')
    maker.source("other", "Telefono\n+40 721 234 567\n", kind="internal_archive")
    loaded = gk(maker.ws, "load")
    assert loaded.exit_code == 2
    errors = [line for line in loaded.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    error = errors[0]
    assert "sources/crm-ro.toml" in error
    assert "key 'country'" in error and says in error
    assert "Traceback" not in loaded.output
    assert "other (version 1, loaded)" in loaded.output  # the other list still loads
    assert set(stored_rows(maker.ws)["source_id"]) == {"other"}


def test_erasure_finds_a_bare_number_where_the_list_wrote_it(tmp_path: Path) -> None:
    """A Romanian archive's 0721 234 567 is erased from the list file too: the file is
    searched as the load read it (its `country`), not as the workspace's own country."""
    ws = copy_europa(tmp_path / "europa")
    assert gk(ws, "load").exit_code == 0
    archive = ws.root / "data" / "lists" / "clienti-bucuresti.csv"
    bought = ws.root / "data" / "lists" / "prospects-2026-08.csv"
    assert "0721 234 567" in archive.read_text(encoding="utf-8")
    for phone, ref in (("+40721234567", "ER-1"), ("+33645221890", "ER-2")):
        erased = gk(ws, "erase", phone, "--ref", ref)
        assert erased.exit_code == 0, erased.output
    rows = archive.read_text(encoding="utf-8").splitlines()
    assert rows[1] == ";" * 6 and "0721 234 567" not in archive.read_text(encoding="utf-8")
    rows = bought.read_text(encoding="utf-8").splitlines()
    assert rows[2] == "," * 6 and "45 22 18 90" not in bought.read_text(encoding="utf-8")


def test_the_letter_to_a_french_person_names_bloctel_not_the_rpo(tmp_path: Path) -> None:
    """A DPO answering a French person cites France's register and law, not Italy's."""
    ws = copy_europa(tmp_path / "europa")
    assert gk(ws, "load").exit_code == 0
    assert gk(ws, "register", "import", "--register", "bloctel", "--request", REQUEST,
              "--response", RESPONSE, "--checked-at", BLOCTEL_AT).exit_code == 0
    assert gk(ws, "run", "--campaign", "avant", "--purpose", "telemarketing", "--as-of",
              BEFORE).exit_code == 0
    letter = gk(ws, "disclose", "+33145876321", "--format", "text")
    assert letter.exit_code == 0, letter.output
    text = " ".join(letter.output.split())
    assert "registro delle opposizioni (Bloctel)" in text
    assert "Code de la consommation" in text
    assert "Registro Pubblico delle Opposizioni" not in text
    assert "Registro delle Opposizioni" not in text  # the campaign's basis too
    english = " ".join(gk(ws, "disclose", "+33145876321", "--format", "text", "--lang",
                          "en").output.split())
    assert "do-not-call register (Bloctel)" in english and "RPO" not in english
