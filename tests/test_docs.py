"""The docs/ pages the README points to exist and say what the code does."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from gatekeeper.cli import cli
from gatekeeper.core.columns import CANONICAL_FIELDS
from gatekeeper.decide.policy.table import CODES, DIAL_RULES, STEPS
from gatekeeper.intake.manifest import TOP_KEYS

from .conftest import REPO


def test_the_readme_links_only_to_files_in_the_repository() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme
    for link in re.findall(r"\]\(([^)#]+)", readme):
        if not link.startswith("http"):
            assert (REPO / link).exists(), link


def test_the_decision_table_page_is_gatekeeper_rules() -> None:
    printed = CliRunner().invoke(cli, ["rules"])
    assert printed.exit_code == 0
    assert (REPO / "docs" / "rules.md").read_text(encoding="utf-8") == printed.output, (
        "docs/rules.md is out of date: gatekeeper rules > docs/rules.md")
    rows = json.loads(CliRunner().invoke(cli, ["rules", "--format", "json"]).output)
    assert {r["code"] for r in rows} == set(CODES)  # every code is a rule of the table
    cited = {r.cites for r in STEPS if r.cites}  # a rule resting on more than its code's law
    for row in rows:
        assert row["law"] in {CODES[row["code"]].law} | cited
        assert row["words"] == CODES[row["code"]].text
    survey = [r for r in rows if r["applies_to"] == "every row of a survey"]
    assert [(r["step"], r["code"]) for r in survey] == [("6", "PURPOSE_NOT_ALLOWED")]
    assert "informativa §b" in survey[0]["law"]
    assert [r["code"] for r in rows[:len(STEPS)]] == [s.code for s in STEPS]
    # The dial-time rules close the table, in the order they are applied, each saying when
    # its fact is taken for the dial-time question and the replay.
    assert [r["code"] for r in rows[-len(DIAL_RULES):]] == [r.code for r in DIAL_RULES]
    assert all(r["taken"] for r in rows)
    erased = next(r for r in rows[-len(DIAL_RULES):] if r["code"] == "ERASED")
    assert "when asked" in erased["taken"] and "at or before T" in erased["taken"]


def test_every_manifest_key_and_field_is_documented() -> None:
    page = (REPO / "docs" / "manifest.md").read_text(encoding="utf-8")
    for key in TOP_KEYS:
        assert f"`{key}`" in page or f"`[{key}]`" in page, key
    for name in CANONICAL_FIELDS:
        assert f"`{name}`" in page, name


def test_the_readme_map_is_the_packages_own_docstrings() -> None:
    from .readme_map import readme_with_map

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme == readme_with_map(readme), (
        "the README's map is behind the tree: python -m tests.readme_map")


@pytest.mark.parametrize("code", ["RO", "FR", "ES", "UK", "DE"])
def test_each_countrys_rules_page_is_gatekeeper_rules(code: str) -> None:
    """docs/rules-<cc>.md is `gatekeeper rules --jurisdiction CC`: a lawyer reviewing a
    country reads the table the code runs."""
    printed = CliRunner().invoke(cli, ["rules", "--jurisdiction", code])
    assert printed.exit_code == 0, printed.output
    page = REPO / "docs" / f"rules-{code.lower()}.md"
    assert page.read_text(encoding="utf-8") == printed.output, (
        f"{page.name} is out of date: gatekeeper rules --jurisdiction {code} > docs/{page.name}")


def test_france_prints_both_dated_versions_and_at_picks_one() -> None:
    both = CliRunner().invoke(cli, ["rules", "--jurisdiction", "FR"]).output
    assert "## FR until 2026-08-10" in both and "## FR from 2026-08-11" in both
    before, after = both.split("## FR from 2026-08-11")
    assert "`PUBLIC_DIRECTORY`" in before and "`PUBLIC_DIRECTORY`" not in after
    assert "`REGISTER_NOT_CHECKED`" in before.split("| dial time")[0]
    rows = json.loads(CliRunner().invoke(cli, ["rules", "--jurisdiction", "FR", "--format",
                                               "json", "--at", "2026-08-11T00:00"]).output)
    assert {r["version"] for r in rows} == {"FR from 2026-08-11"}
    assert "PUBLIC_DIRECTORY" not in {r["code"] for r in rows}
    last = json.loads(CliRunner().invoke(cli, ["rules", "--jurisdiction", "FR", "--format",
                                               "json", "--at", "2026-08-10T23:59"]).output)
    assert {r["version"] for r in last} == {"FR until 2026-08-10"}
    assert "PUBLIC_DIRECTORY" in {r["code"] for r in last}
