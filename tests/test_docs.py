"""The docs/ pages the README points to exist and say what the code does."""

from __future__ import annotations

import re

from gatekeeper.columns import CANONICAL_FIELDS
from gatekeeper.policy.table import BASES, CODES, CONTACT_RULES
from gatekeeper.sources.manifest import TOP_KEYS

from .conftest import REPO


def test_the_readme_links_only_to_files_in_the_repository() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme
    for link in re.findall(r"\]\(([^)#]+)", readme):
        if not link.startswith("http"):
            assert (REPO / link).exists(), link


def test_the_decision_table_page_is_the_codes_table() -> None:
    page = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    for code in CODES.values():
        assert f"| `{code.code}` | {code.kind} | {code.law} | {code.text} |" in page, code.code
    for basis in BASES:
        assert f"| `{basis.code}` | {basis.purpose} |" in page
    for code, requirement in CONTACT_RULES:
        assert f"| `{code}` | {requirement} |" in page


def test_every_manifest_key_and_field_is_documented() -> None:
    page = (REPO / "docs" / "manifest.md").read_text(encoding="utf-8")
    for key in TOP_KEYS:
        assert f"`{key}`" in page or f"`[{key}]`" in page, key
    for name in CANONICAL_FIELDS:
        assert f"`{name}`" in page, name
