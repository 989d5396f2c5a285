"""A campaign name is any text a manager types; its folder is a slug of it, and every
command finds the campaign by the name as typed. A run that could decide nothing says
what to do next, naming the command."""

from __future__ import annotations

import dataclasses
import json

import openpyxl
import polars as pl
import pytest
from click.testing import Result

from gatekeeper.config import FOLDER_NAME, Workspace, campaign_slug
from gatekeeper.core.errors import InputError
from gatekeeper.core.timeutil import parse_instant
from gatekeeper.jurisdictions import IT
from gatekeeper.privacy.disclosure import erase
from gatekeeper.registers import import_exchange
from gatekeeper.store import Store

from .conftest import AS_OF, DIAL_AT, WorkspaceMaker, gk
from .terminal import run_on_terminal

ZONE = IT.timezone_name  # local times in these tests are Italy's

NAME = "Dicembre Energia 2026"
IMPORT = ("rpo", "import", "--request", "data/rpo/2026-11-20-request.txt", "--response",
          "data/rpo/2026-11-20-response.txt", "--checked-at", "2026-11-20T10:00")


def _run(ws: Workspace, name: str, *extra: str, purpose: str = "telemarketing") -> Result:
    return gk(ws, "run", "--campaign", name, "--purpose", purpose, "--as-of", AS_OF, *extra)


def _campaigns(ws: Workspace) -> list[str]:
    with Store(ws.store_path, read_only=True) as store:
        return sorted(store.frame("SELECT DISTINCT campaign FROM runs")["campaign"].to_list())


def test_slugs_fold_accents_and_keep_old_names_as_they_were() -> None:
    assert campaign_slug(NAME) == "dicembre-energia-2026"
    assert campaign_slug("  Perché sì: Q4/2026!  ") == "perche-si-q4-2026"
    assert campaign_slug("Straße & Œuvre") == "strasse-oeuvre"
    for old in ("demo", "Demo_Q4.v2", "energia-2026-11", "a" * 80):  # the old rule's names
        assert campaign_slug(old) == old
    assert campaign_slug(campaign_slug(NAME)) == campaign_slug(NAME)
    long_a, long_b = "Campagna " * 20 + "A", "Campagna " * 20 + "B"
    assert len(campaign_slug(long_a)) <= 80
    assert campaign_slug(long_a) != campaign_slug(long_b)  # cut, but not merged


def test_any_name_writes_its_slug_folder_and_is_found_by_the_name_typed(
        demo: Workspace) -> None:
    assert gk(demo, "load").exit_code == 0
    assert gk(demo, *IMPORT).exit_code == 0
    ran = _run(demo, NAME)
    assert ran.exit_code == 0, ran.output
    folder = demo.root / "reports" / "dicembre-energia-2026"
    assert f"campaign {NAME} (telemarketing)" in ran.output
    assert f"written to {folder}" in ran.output
    assert json.loads((folder / "summary.json").read_text())["campaign"] == NAME
    assert _campaigns(demo) == [NAME]  # the store keeps the name as typed
    phone = pl.read_csv(folder / "dialable.csv", infer_schema=False)["phone"][0]

    for typed in (NAME, "dicembre-energia-2026", "DICEMBRE energia 2026"):
        checked = gk(demo, "check", phone, "--purpose", "telemarketing", "--campaign", typed,
                     "--at", DIAL_AT)
        assert checked.exit_code == 0, checked.output
        assert f"of campaign {NAME}, as of" in checked.output
    disclosed = json.loads(gk(demo, "disclose", phone, "--format", "json").output)
    assert [c["campaign"] for c in disclosed["campaigns"]] == [NAME]

    erased = gk(demo, "erase", phone, "--ref", "REQ-1")
    assert erased.exit_code == 0, erased.output
    assert "reports/dicembre-energia-2026: report rewritten" in erased.output
    assert phone not in (folder / "dialable.csv").read_text()
    sheet = openpyxl.load_workbook(folder / "dialable.xlsx", read_only=True)
    try:
        cells = {str(c) for row in sheet.active.iter_rows(values_only=True) for c in row}
    finally:
        sheet.close()
    assert phone not in cells
    verified = gk(demo, "audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_a_name_with_the_same_folder_is_the_same_campaign(demo: Workspace) -> None:
    assert gk(demo, "load").exit_code == 0
    assert gk(demo, *IMPORT).exit_code == 0
    assert _run(demo, NAME).exit_code == 0
    again = _run(demo, "dicembre energia 2026")
    assert again.exit_code == 0, again.output
    assert (f"campaign 'dicembre energia 2026' is the campaign already run as '{NAME}'"
            in again.output)
    assert f"campaign {NAME} (telemarketing)" in again.output
    assert _campaigns(demo) == [NAME]
    assert [p.name for p in (demo.root / "reports").iterdir()] == ["dicembre-energia-2026"]
    assert gk(demo, "audit", "verify").exit_code == 0


@pytest.mark.parametrize(("name", "words"), [
    ("!!!", "has no letter or digit"),
    ("   ", "has no letter or digit"),
    ("Кампания", "has no letter or digit"),
    ("contracts", "holds contract verification reports"),
    ("Contracts", "holds contract verification reports"),
    ("CONTRACTS!", "holds contract verification reports"),
])
def test_a_name_that_cannot_have_a_folder_of_its_own_is_refused(
        demo: Workspace, name: str, words: str) -> None:
    assert gk(demo, "load").exit_code == 0
    ran = _run(demo, name)
    assert ran.exit_code == 2
    assert f"campaign name '{name}'" in ran.output and words in ran.output
    assert "Traceback" not in ran.output
    assert not (demo.root / "reports").exists() or not any(
        (demo.root / "reports").iterdir())
    if not FOLDER_NAME.match(name):  # never recorded: no folder for it, not even reports/
        with pytest.raises(InputError, match=words):
            demo.report_dir(name)
    else:  # a name the old rule took may have runs recorded under it: still found
        assert demo.report_dir(name) == demo.root / "reports" / name


def test_an_old_style_name_keeps_its_folder(demo: Workspace) -> None:
    assert gk(demo, "load").exit_code == 0
    assert gk(demo, *IMPORT).exit_code == 0
    assert _run(demo, "Demo_Q4.v2").exit_code == 0
    folder = demo.root / "reports" / "Demo_Q4.v2"
    phone = pl.read_csv(folder / "dialable.csv", infer_schema=False)["phone"][0]
    checked = gk(demo, "check", phone, "--purpose", "telemarketing", "--campaign",
                 "Demo_Q4.v2", "--at", DIAL_AT)
    assert checked.exit_code == 0 and "of campaign Demo_Q4.v2" in checked.output
    steps: list[str] = []
    result = erase(demo, phone, "REQ-2", progress=steps.append)
    assert result.reports_rewritten == ["reports/Demo_Q4.v2"]
    assert "rewriting reports/Demo_Q4.v2/ (decisions, dialable, rejects)" in steps
    assert steps[0].startswith("blanking the number in the store")


def test_a_run_before_the_register_says_to_ask_it(demo: Workspace) -> None:
    loaded = gk(demo, "load")
    assert "next: write the numbers to check: gatekeeper rpo request --out" in loaded.output
    ran = _run(demo, NAME)
    assert ran.exit_code == 0, ran.output  # a run that decided is a run: the rows say why
    assert "dialable numbers 0" in ran.output
    assert "next: 5,763 rows have no valid register answer" in ran.output
    assert "gatekeeper rpo request --out data/rpo/request.txt" in ran.output
    assert "then record its answer: gatekeeper rpo import --request" in ran.output
    assert (f"next: then run the campaign again: gatekeeper run --campaign '{NAME}' "
            "--purpose telemarketing") in ran.output
    as_json = json.loads(_run(demo, NAME, "--json").output)
    assert any("gatekeeper rpo request" in s for s in as_json["next_steps"])
    requested = gk(demo, "rpo", "request", "--out", "data/rpo/request.txt")
    assert "next: upload data/rpo/request.txt to the RPO" in requested.output
    imported = gk(demo, *IMPORT)
    assert "next: decide the campaign with these answers: gatekeeper run" in imported.output
    with Store(demo.store_path) as store:  # a repeat: its result carries the step as data
        again = import_exchange(store, demo.root / IMPORT[3], demo.root / IMPORT[5], IT,
                                checked_at=parse_instant(IMPORT[7], ZONE))
    assert again.already_imported
    assert dataclasses.asdict(again)["next_steps"] == again.next_steps != []
    ran = _run(demo, NAME)
    assert "next:" not in ran.output  # every number has its answer: nothing to add


def test_a_run_with_no_source_for_its_purpose_says_which_key_to_change(
        demo: Workspace, maker: WorkspaceMaker) -> None:
    assert gk(demo, "load").exit_code == 0
    survey = _run(demo, "Sondaggio", "--source", "pagine-2026", purpose="survey")
    assert survey.exit_code == 0, survey.output
    assert ("next: a survey may call only the company's own customers: load an "
            "internal_archive list (gatekeeper load)") in survey.output

    maker.source("clienti", "Telefono\n0212345678\n", kind="internal_archive",
                 purposes='["survey"]', supplier=False)
    assert gk(maker.ws, "load").exit_code == 0
    ran = gk(maker.ws, "run", "--campaign", "Natale", "--purpose", "telemarketing",
             "--as-of", AS_OF)
    assert ran.exit_code == 0, ran.output
    assert ("next: no source chosen allows the purpose 'telemarketing': add it to "
            "`purposes` in the manifest (sources/<id>.toml)") in ran.output
    assert "load again (gatekeeper load)" in ran.output


def test_erase_shows_its_steps_on_a_terminal(demo: Workspace) -> None:
    assert gk(demo, "load").exit_code == 0
    assert gk(demo, *IMPORT).exit_code == 0
    assert _run(demo, NAME).exit_code == 0
    folder = demo.root / "reports" / "dicembre-energia-2026"
    phone = pl.read_csv(folder / "dialable.csv", infer_schema=False)["phone"][0]
    code, out, shown = run_on_terminal(demo.root, "erase", phone, "--ref", "REQ-3")
    assert code == 0, shown
    assert "rewriting reports/dicembre-energia-2026/" in shown
    assert "looking through list file data/lists/" in shown
    assert "reports/dicembre-energia-2026: report rewritten" in out
