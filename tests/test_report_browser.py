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


def test_agent_logs_an_optout_through_the_page(scrubbed: Workspace, browser: Any) -> None:
    import polars as pl
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from .conftest import AS_OF
    from .service_helper import running_service

    phone = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"][0]
    national = phone.removeprefix("+39")
    wait = WebDriverWait(browser, 10)
    with running_service(scrubbed, AS_OF) as service:
        browser.get(service.url + "/")
        browser.find_element(By.ID, "token").send_keys(service.tokens["agent"])
        browser.find_element(By.ID, "login-button").click()
        wait.until(ec.visibility_of_element_located((By.ID, "optout-form")))
        browser.find_element(By.ID, "phone").send_keys(f"{national[:3]} {national[3:]}")
        Select(browser.find_element(By.ID, "channel")).select_by_value("operator")
        browser.find_element(By.ID, "note").send_keys("chiede di non essere richiamato")
        browser.find_element(By.ID, "optout-button").click()
        box = wait.until(ec.visibility_of_element_located((By.ID, "optout-result")))
        wait.until(lambda _: "Riferimento n." in box.text)
        assert f"Opposizione registrata per {phone}" in box.text
        assert box.get_attribute("class") == "ok"
        # The same agent checks the number at once: not to be called.
        browser.find_element(By.ID, "check-phone").send_keys(national)
        browser.find_element(By.ID, "check-button").click()
        check = wait.until(ec.visibility_of_element_located((By.ID, "check-result")))
        wait.until(lambda _: "OPTED_OUT" in check.text)
        assert "NON chiamare" in check.text
        # Logging out hides the form again; the page fetched nothing from elsewhere.
        browser.find_element(By.ID, "logout").click()
        assert browser.find_element(By.ID, "login").is_displayed()
        assert browser.execute_script(
            "return performance.getEntriesByType('resource')"
            ".filter(e => !e.name.startsWith(location.origin)).length") == 0
    events = [line for line in scrubbed.journal_path.read_text().splitlines() if phone in line]
    assert events and '"recorded_by": "agent-1"' in events[-1]
