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

    def instant(test_id: str) -> tuple[str, str | None]:
        element = browser.find_element(By.CSS_SELECTOR, f'[data-testid="{test_id}"] time')
        return element.text, element.get_attribute("datetime")

    for key in ("rows", "valid", "dialable_rows", "dialable"):  # Italian: 5.997
        assert shown(f"card-{key}").replace(".", "") == str(summary[key])
        assert shown(f"funnel-{key}").replace(".", "") == str(summary[key])
    assert summary["rows"] > 1000 and "." in shown("card-rows")
    # Rome time for the reader (22 Nov 2026 12:00 is 11:00 UTC), ISO for machines.
    assert instant("as-of") == ("22/11/2026 12:00", summary["as_of"])
    assert instant("valid-until") == ("05/12/2026 10:00", summary["valid_until"])
    reasons = {}
    for row in browser.find_elements(By.CSS_SELECTOR, '[data-testid="reasons"] tbody tr'):
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        reasons[cells[0]] = int(cells[1].replace(".", ""))
        assert cells[2].endswith(" %") and "," in cells[2]  # 12,6 %
        assert cells[3]  # every reason is explained in words
    assert reasons == summary["suppressed"]
    yields = browser.find_elements(By.CSS_SELECTOR, '[data-testid="yield"] tbody tr')
    assert [r.find_element(By.TAG_NAME, "td").text for r in yields] == summary["sources"]
    # Self-contained: the page made no network request.
    requests = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert requests == []


def test_sources_page_fits_the_window(scrubbed: Workspace, browser: Any) -> None:
    """Every column of the source-disclosure report is on the page, none cut off right of
    the SHA-256, at the width of an ordinary laptop window."""
    from selenium.webdriver.common.by import By

    browser.set_window_size(1280, 900)
    browser.get((scrubbed.report_dir("demo") / "sources.html").as_uri())
    page_width = browser.execute_script("return document.documentElement.clientWidth")
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    for header in browser.find_elements(By.CSS_SELECTOR, "th"):
        right = browser.execute_script("return arguments[0].getBoundingClientRect().right",
                                       header)
        assert right <= page_width, header.text
    cells = browser.find_elements(By.CSS_SELECTOR, '[data-testid="outcomes"] tbody tr td')
    assert any(c.text.count(".") == 1 and c.text.replace(".", "").isdigit() for c in cells)


def _only_reason(ws: Workspace, reason: str) -> str:
    """A number all of whose rows were suppressed for `reason` in the demo run."""
    import polars as pl

    decisions = pl.read_parquet(ws.report_dir("demo") / "decisions.parquet")
    rows = decisions.filter(pl.col("phone").is_not_null()).group_by("phone").agg(
        pl.col("reason").unique())
    return str(rows.filter(pl.col("reason").list.len() == 1)
               .filter(pl.col("reason").list.first() == reason)["phone"].min())


def test_agent_logs_an_optout_through_the_page(scrubbed: Workspace, browser: Any) -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    import polars as pl
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from gatekeeper.decide.policy import IT_REASON_TEXT as REASON_TEXT

    from .conftest import DIAL_AT
    from .service_helper import running_service

    dialable = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv").row(0, named=True)
    phone = dialable["phone"]
    national = phone.removeprefix("+39")
    until = dt.datetime.fromisoformat(dialable["valid_until"].replace("Z", "+00:00"))
    rome_until = until.astimezone(ZoneInfo("Europe/Rome")).strftime("%d/%m/%Y alle %H:%M")
    expired = _only_reason(scrubbed, "CONSENT_EXPIRED")
    wait = WebDriverWait(browser, 10)
    # The agent's PC is in another time zone: the page must still say Rome time.
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "America/New_York"})

    def check(number: str, expected: str) -> str:
        field = browser.find_element(By.ID, "check-phone")
        field.clear()
        field.send_keys(number)
        browser.find_element(By.ID, "check-button").click()
        box = wait.until(ec.visibility_of_element_located((By.ID, "check-result")))
        wait.until(lambda _: expected in box.text)
        return str(box.text)

    with running_service(scrubbed, DIAL_AT) as service:
        browser.get(service.url + "/")
        browser.find_element(By.ID, "token").send_keys(service.tokens["agent"])
        browser.find_element(By.ID, "login-button").click()
        wait.until(ec.visibility_of_element_located((By.ID, "optout-form")))
        # A mistyped number: what is wrong, in Italian (the service's words as the detail).
        shown = check("333 12", "Nessuna risposta")
        assert "il numero non è un numero di telefono valido" in shown
        # Before the opt-out: dialable until the RPO check expires, in Italian, Rome time.
        shown = check(national, "si può chiamare")
        assert f"fino al {rome_until} (ora italiana)" in shown
        assert dialable["basis_text"] in shown
        # A number suppressed for a reason the page used to show only as its code.
        shown = check(expired, "NON chiamare")
        assert f"NON chiamare — {REASON_TEXT['CONSENT_EXPIRED']} (codice CONSENT_EXPIRED)" in shown
        browser.find_element(By.ID, "phone").send_keys(f"{national[:3]} {national[3:]}")
        Select(browser.find_element(By.ID, "channel")).select_by_value("operator")
        browser.find_element(By.ID, "note").send_keys("chiede di non essere richiamato")
        browser.find_element(By.ID, "optout-button").click()
        box = wait.until(ec.visibility_of_element_located((By.ID, "optout-result")))
        wait.until(lambda _: "Riferimento n." in box.text)
        assert f"Opposizione registrata per {phone}" in box.text
        assert box.get_attribute("class") == "ok"
        # The same agent checks the number at once: not to be called, and why, in words.
        shown = check(national, "OPTED_OUT")
        assert f"NON chiamare — {REASON_TEXT['OPTED_OUT']}" in shown
        assert browser.find_element(By.ID, "check-result").get_attribute("class") == "ko"
        # Logging out hides the form again; the page fetched nothing from elsewhere.
        browser.find_element(By.ID, "logout").click()
        assert browser.find_element(By.ID, "login").is_displayed()
        assert browser.execute_script(
            "return performance.getEntriesByType('resource')"
            ".filter(e => !e.name.startsWith(location.origin)).length") == 0
    events = [line for line in scrubbed.journal_path.read_text().splitlines() if phone in line]
    assert events and '"recorded_by": "agent-1"' in events[-1]


def test_agent_logs_a_call_outcome_and_sees_when_a_number_may_be_called(
        scrubbed: Workspace, browser: Any) -> None:
    """On a Sunday (the service pinned at AS_OF) a dialable number may not be called: the
    page says why and from when, in Rome time; the call form records an outcome."""
    import polars as pl
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from gatekeeper.decide.policy import it_reason_text as reason_text
    from gatekeeper.dial.ledger import Ledger

    from .conftest import AS_OF
    from .service_helper import running_service

    phone = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"][0]
    national = phone.removeprefix("+39")
    wait = WebDriverWait(browser, 10)
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Tokyo"})
    with running_service(scrubbed, AS_OF) as service:
        browser.get(service.url + "/")
        browser.find_element(By.ID, "token").send_keys(service.tokens["agent"])
        browser.find_element(By.ID, "login-button").click()
        wait.until(ec.visibility_of_element_located((By.ID, "call-form")))
        browser.find_element(By.ID, "check-phone").send_keys(national)
        browser.find_element(By.ID, "check-button").click()
        box = wait.until(ec.visibility_of_element_located((By.ID, "check-result")))
        wait.until(lambda _: "NON chiamare" in box.text)
        assert reason_text("OUTSIDE_CALLING_HOURS") in box.text
        assert "Si potrà chiamare dal 23/11/2026 alle 09:00 (ora italiana)" in box.text
        browser.find_element(By.ID, "call-phone").send_keys(national)
        Select(browser.find_element(By.ID, "call-outcome")).select_by_value("refused")
        browser.find_element(By.ID, "call-agency").send_keys("connecto")
        browser.find_element(By.ID, "call-campaign").send_keys("demo")
        browser.find_element(By.ID, "call-button").click()
        result = wait.until(ec.visibility_of_element_located((By.ID, "call-result")))
        wait.until(lambda _: "Esito registrato" in result.text)
        assert f"Esito registrato per {phone}" in result.text
        assert result.get_attribute("class") == "ok"
    calls = Ledger(scrubbed.ledger_dir).calls(int(phone.removeprefix("+")))
    assert calls.select("outcome", "agency", "campaign", "agent").row(0) == (
        "refused", "connecto", "demo", "agent-1")


def test_contracts_page_shows_each_agency_and_every_untraced_contract(
        scrubbed: Workspace, browser: Any) -> None:
    """What a sales manager reads: per call centre the share not traced, then each
    untraced contract with its reason in words and times in Rome time."""
    from selenium.webdriver.common.by import By

    from .conftest import gk

    for agency in ("callpro", "connecto"):
        assert gk(scrubbed, "calls", "import", f"data/calls/{agency}-2026-11-23.csv",
                  "--agency", agency).exit_code == 0
    assert gk(scrubbed, "contracts", "verify", "data/contracts/2026-11-23.csv",
              "--name", "nov").exit_code == 1
    folder = scrubbed.root / "reports" / "contracts" / "nov"
    summary = json.loads((folder / "summary.json").read_text())
    browser.set_window_size(1280, 900)
    browser.get((folder / "contracts.html").as_uri())
    agencies = {}
    for row in browser.find_elements(By.CSS_SELECTOR, '[data-testid="agencies"] tbody tr'):
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        agencies[cells[0]] = cells[1:]
    figures = summary["by_agency"]["callpro"]
    assert agencies["callpro"] == [str(figures["contracts"]), str(figures["TRACED"]),
                                   str(figures["INBOUND"]), str(figures["not_traced"]),
                                   "66,7 %"]  # 2 of 3, Italian decimal comma
    untraced = [[c.text for c in row.find_elements(By.TAG_NAME, "td")] for row in
                browser.find_elements(By.CSS_SELECTOR, '[data-testid="untraced"] tbody tr')]
    assert len(untraced) == summary["not_traced"] == 3
    late = next(r for r in untraced if r[0] == "C-2026-1002")
    assert late[2] == "23/11/2026 20:40"  # signed, Rome time
    assert "fasce orarie" in late[6] and "OUTSIDE_CALLING_HOURS" in late[6]
    assert late[7].startswith("23/11/2026 20:15")  # the call it came from
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 1280, "the page must fit the window"
    assert browser.execute_script(
        "return performance.getEntriesByType('resource').length") == 0
