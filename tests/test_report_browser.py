"""report.html read in a real browser: the figures a manager sees match summary.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from gatekeeper.config import Workspace

from .browser import chromium_driver


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from chromium_driver()


def test_report_figures_match_the_summary(scrubbed: Workspace, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    out = scrubbed.report_dir("demo")
    summary = json.loads((out / "summary.json").read_text())
    browser.get((out / "report.html").as_uri())

    def shown(test_id: str) -> str:
        return browser.find_element(By.CSS_SELECTOR, f'[data-testid="{test_id}"]').text

    for key in ("rows", "valid", "dialable_rows", "dialable"):
        assert shown(f"card-{key}").replace(",", "") == str(summary[key])
        assert shown(f"funnel-{key}").replace(",", "") == str(summary[key])
    assert shown("valid-until") == summary["valid_until"]
    assert shown("as-of") == summary["as_of"]
    reasons = {}
    for row in browser.find_elements(By.CSS_SELECTOR, '[data-testid="reasons"] tbody tr'):
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        reasons[cells[0]] = int(cells[1].replace(",", ""))
        assert cells[3]  # every reason is explained in words
    assert reasons == summary["suppressed"]
    yields = browser.find_elements(By.CSS_SELECTOR, '[data-testid="yield"] tbody tr')
    assert [r.find_element(By.TAG_NAME, "td").text for r in yields] == summary["sources"]
    # Self-contained: the page made no network request.
    requests = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert requests == []
