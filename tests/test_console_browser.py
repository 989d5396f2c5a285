"""The console in a real headless Chromium against a real `gatekeeper serve` (issue 22).

Each test does what its person would, click by click, and looks at what the page shows; a
screenshot of every step is kept under reports/console-screens/ of the test's workspace.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from gatekeeper.config import Workspace

from .browser import chromium_driver
from .conftest import copy_demo, gk
from .messy import messy_supplier_xlsx
from .service_helper import Service, running_service

CLOCK = "2026-11-23T11:00"  # a Monday, 12:00 in Rome: inside the calling hours


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    yield from chromium_driver()


class Person:
    """One person at the browser: signs in, clicks, waits for jobs, keeps screenshots."""

    def __init__(self, driver: Any, svc: Service, ws: Workspace, who: str) -> None:
        from selenium.webdriver.common.by import By

        self.by = By
        self.d, self.svc, self.who = driver, svc, who
        self.shots = ws.root / "reports" / "console-screens"
        self.shots.mkdir(parents=True, exist_ok=True)
        self.step = 0
        driver.delete_all_cookies()

    def go(self, path: str) -> None:
        self.d.get(self.svc.url + path)

    def el(self, css: str) -> Any:
        return self.d.find_element(self.by.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        return list(self.d.find_elements(self.by.CSS_SELECTOR, css))

    def shot(self, name: str) -> Path:
        self.step += 1
        path = self.shots / f"{self.who}-{self.step:02d}-{name}.png"
        self.d.save_screenshot(str(path))
        return path

    def submit(self, css: str) -> None:
        """Click a button that loads another page, and wait until that page is there."""
        from selenium.webdriver.support import expected_conditions as ready
        from selenium.webdriver.support.ui import WebDriverWait

        old = self.el("html")
        self.el(css).click()
        WebDriverWait(self.d, 60).until(ready.staleness_of(old))
        WebDriverWait(self.d, 60).until(
            lambda d: d.execute_script("return document.readyState") == "complete")

    def sign_in(self, role: str) -> None:
        self.go("/console")
        assert "Accesso" in self.d.title
        self.el("#token").send_keys(self.svc.tokens[role])
        self.shot("accesso")
        self.submit("#signin")

    def set_value(self, css: str, value: str) -> None:
        """A date or time field, set as the browser's own picker would."""
        self.d.execute_script("arguments[0].value = arguments[1]", self.el(css), value)

    def wait_job(self, seconds: float = 120) -> str:
        """Until the job's page shows it ended (the page reloads itself when it does)."""
        from selenium.common.exceptions import WebDriverException

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                jobs = self.all("#job")
                state = jobs[0].get_attribute("data-state") if jobs else None
            except WebDriverException:  # caught mid-reload (stale or detached): look again
                state = None
            if state in ("done", "failed") and self.d.execute_script(
                    "return document.readyState") == "complete":
                return str(state)
            time.sleep(0.3)
        raise AssertionError(f"job still running after {seconds} s: {self.d.page_source}")

    def wait_text(self, css: str, part: str, seconds: float = 10) -> str:
        """What a box says once it says `part` (or whatever it says when time is up)."""
        deadline = time.monotonic() + seconds
        while part not in self.el(css).text and time.monotonic() < deadline:
            time.sleep(0.1)
        return str(self.el(css).text)

    def http(self) -> httpx.Client:
        """The browser's session, for downloads (headless Chromium keeps files elsewhere)."""
        cookies = {c["name"]: c["value"] for c in self.d.get_cookies()}
        return httpx.Client(base_url=self.svc.url, cookies=cookies, timeout=30)


def test_a_manager_goes_from_a_messy_xlsx_to_a_dialable_list(driver: Any,
                                                             tmp_path: Path) -> None:
    ws = copy_demo(tmp_path / "demo")
    sent = tmp_path / "Acme contatti NOVEMBRE.xlsx"  # where the e-mail's attachment was saved
    people = messy_supplier_xlsx(sent)
    with running_service(ws, CLOCK) as svc:
        me = Person(driver, svc, ws, "manager")
        me.sign_in("manager")
        assert driver.current_url.endswith("/console/liste")
        me.el("#file").send_keys(str(sent))
        me.el("#supplier option[value='acme']").click()
        me.shot("liste")
        me.submit("#upload")
        # The suggestion: header found under the title rows, "Cell." is the phone column,
        # and the landlines' lost zeros are offered back.
        assert "intestazioni alla riga 4" in me.el("main").text
        phone = me.el("#col_phone option:checked").text
        assert phone == "Cell.", phone
        assert me.el("#restore_zero").is_selected()
        assert "Mario Rossi" in me.el("#preview").text
        me.set_value("#received_on", "2026-11-21")  # the day the e-mail came
        me.shot("proposta")
        me.submit("#save")
        assert me.wait_job() == "done", me.el("main").text
        me.shot("caricata")
        # Every row received is counted: 40 people, 3 blank rows and the TOTALE row.
        assert me.el("[id^='rows-read-']").text == "44"
        assert me.el("[id^='rows-rejected-']").text == "0", me.el("main").text
        assert me.el("[id^='valid-']").text == "40"

        me.go("/console/registro")
        me.submit("#make-request")
        assert me.wait_job() == "done"
        me.shot("richiesta")
        link = me.el("#download-request").get_attribute("href")
        with me.http() as web:
            asked = web.get(link).text.split()
        assert len(asked) == len(people)
        registered = asked[:3]
        answer = tmp_path / "risposta-rpo.txt"
        answer.write_text("\n".join(asked[3:]) + "\n")
        me.go("/console/registro")
        me.el("#answer-file").send_keys(str(answer))
        me.set_value("#checked_at", "2026-11-20T10:00")
        me.shot("risposta")
        me.submit("#upload-answer")
        assert me.wait_job() == "done", me.el("main").text
        assert "3 iscritti" in me.el("#import-done").text
        me.shot("risposta-registrata")

        me.go("/console/campagne")
        me.el("#campaign").send_keys("Dicembre Energia 2026")
        me.set_value("#as_of", CLOCK)
        me.shot("campagna")
        me.submit("#start-run")
        assert me.wait_job() == "done", me.el("main").text
        me.shot("campagna-fatta")
        assert me.el("#dialable-count").text == str(len(people) - len(registered))
        with me.http() as web:
            xlsx = web.get(me.el("#get-dialable-xlsx").get_attribute("href"))
            plain = web.get(me.el("#get-dialable-csv").get_attribute("href"))
            report = web.get(me.el("#get-report-html").get_attribute("href"))
        assert xlsx.status_code == plain.status_code == report.status_code == 200
        sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).worksheets[0]
        rows = [[str(v) for v in r] for r in sheet.iter_rows(values_only=True)]
        listed = list(csv.reader(io.StringIO(plain.text)))
        assert len(rows) == len(listed) == len(people) - len(registered) + 1
        phones = {r[0] for r in listed[1:]}
        assert {r[0] for r in rows[1:]} == phones
        assert [r[1] for r in rows[1:]] == [r[1] for r in listed[1:]]  # the same order
        assert "+3906" in "".join(phones)  # a Rome landline, its 0 restored


@pytest.fixture(scope="module")
def scrubbed_service(tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[tuple[Workspace, Service]]:
    ws = copy_demo(tmp_path_factory.mktemp("console-browser") / "demo")
    for args in (("load",),
                 ("rpo", "import", "--request", "data/rpo/2026-11-20-request.txt",
                  "--response", "data/rpo/2026-11-20-response.txt", "--checked-at",
                  "2026-11-20T10:00"),
                 ("run", "--campaign", "demo", "--purpose", "telemarketing", "--as-of",
                  CLOCK)):
        done = gk(ws, *args)
        assert done.exit_code == 0, done.output
    with running_service(ws, CLOCK) as svc:
        yield ws, svc


def test_an_agent_checks_a_number_then_logs_an_objection(
        driver: Any, scrubbed_service: tuple[Workspace, Service]) -> None:
    ws, svc = scrubbed_service
    phone = next(csv.DictReader(io.StringIO(
        (ws.root / "reports/demo/dialable.csv").read_text(encoding="utf-8"))))["phone"]
    me = Person(driver, svc, ws, "agent")
    me.sign_in("agent")
    assert driver.current_url.endswith("/console/agente")
    forms = [f.get_attribute("id") for f in me.all("form")]
    assert forms.index("check-form") < forms.index("optout-form")
    me.el("#check-phone").send_keys(phone)
    me.el("#check-button").click()
    said = me.wait_text("#check-result", "chiamare")
    me.shot("verifica")
    assert "si può chiamare" in said, said
    me.el("#phone").send_keys(phone)
    me.el("#optout-button").click()
    said = me.wait_text("#optout-result", "registrat")
    me.shot("opposizione")
    assert "Opposizione registrata" in said, said
    me.el("#check-phone").clear()
    me.el("#check-phone").send_keys(phone)
    me.el("#check-button").click()
    assert "NON chiamare" in me.wait_text("#check-result", "NON chiamare")


def test_the_dpo_is_warned_of_two_names_and_erases_with_a_confirmation(
        driver: Any, scrubbed_service: tuple[Workspace, Service]) -> None:
    ws, svc = scrubbed_service
    first = next(csv.DictReader(io.StringIO(
        (ws.root / "reports/demo/dialable.csv").read_text(encoding="utf-8"))))
    phone, name = first["phone"], first["name"]
    (ws.root / "data/lists/altra.csv").write_text(
        f"Telefono,Nominativo\n{phone},Ottavio Secondi\n")
    (ws.root / "sources/altra.toml").write_text(
        'id = "altra"\nkind = "internal_archive"\nfile = "data/lists/altra.csv"\n'
        'received_on = 2026-11-10\npurposes = ["telemarketing"]\n\n[columns]\n'
        'phone = "Telefono"\nname = "Nominativo"\n')
    assert gk(ws, "load", "altra").exit_code == 0
    me = Person(driver, svc, ws, "dpo")
    me.sign_in("privacy")
    assert driver.current_url.endswith("/console/privacy")
    me.el("#phone").send_keys(phone)
    me.submit("#search")
    me.shot("ricerca")
    warnings = " ".join(w.text for w in me.all(".dpo-warning"))
    assert warnings, "no warning before sending a letter for a number held under two names"
    letter = me.el("#letter").get_attribute("srcdoc")
    assert "Ottavio Secondi" not in letter and name not in letter
    me.el("#ref").send_keys("REQ-2026-031")
    me.submit("#erase-preview")
    plan = me.el("#erase-plan").text
    me.shot("conferma")
    assert "acme-2026-11" in plan and "altra" in plan
    me.el("#confirm").click()
    me.submit("#erase")
    assert me.wait_job() == "done", me.el("main").text
    me.shot("cancellato")
    assert "REQ-2026-031" in me.el("#erased").text
