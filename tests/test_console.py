"""The console's doors, through a real `gatekeeper serve` on loopback (issue 22): sign-in,
the session cookie, CSRF, roles, uploads (names, size, permissions), one run per campaign
at a time, and an access log without phone numbers."""

from __future__ import annotations

import re
import stat
import time
from collections.abc import Iterator

import httpx
import pytest

from gatekeeper.config import Workspace

from .conftest import copy_demo, gk
from .service_helper import Service, running_service

CSRF = re.compile(r'name="csrf" (?:value|content)="([^"]+)"')


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Service]]:
    ws = copy_demo(tmp_path_factory.mktemp("console") / "demo")
    assert gk(ws, "load").exit_code == 0
    with running_service(ws, "2026-11-23T11:00", options=("--upload-limit-mb", "1")) as svc:
        yield ws, svc


OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def browser(svc: Service) -> httpx.Client:
    client = httpx.Client(base_url=svc.url, timeout=30)
    OPEN.append(client)
    return client


def signed_in(svc: Service, role: str) -> tuple[httpx.Client, str]:
    """A browser-like client signed in with the role's token, and its CSRF token."""
    client = browser(svc)
    page = client.get("/console/accesso")
    signin_csrf = CSRF.search(page.text)
    assert signin_csrf, page.text
    done = client.post("/console/accesso", data={"csrf": signin_csrf.group(1),
                                                 "token": svc.tokens[role], "dopo": ""})
    assert done.status_code == 303, done.text
    home = client.get(done.headers["location"])
    assert home.status_code == 200, home.text
    found = CSRF.search(home.text)
    assert found
    return client, found.group(1)


def test_sign_in_sets_a_strict_httponly_cookie_and_needs_the_form_token(
        service: tuple[Workspace, Service]) -> None:
    _, svc = service
    client = browser(svc)
    assert client.get("/console/liste").headers["location"].startswith("/console/accesso")
    page = client.get("/console/accesso")
    forged = client.post("/console/accesso", data={"csrf": "forged",
                                                   "token": svc.tokens["manager"]})
    assert forged.status_code == 403 and "gk_session" not in forged.headers.get(
        "set-cookie", "")
    csrf = CSRF.search(page.text)
    assert csrf
    wrong = client.post("/console/accesso", data={"csrf": csrf.group(1), "token": "gk_nope"})
    assert wrong.status_code == 401 and "non valido" in wrong.text
    ok = client.post("/console/accesso", data={"csrf": csrf.group(1),
                                               "token": svc.tokens["manager"]})
    cookie = ok.headers["set-cookie"].lower()
    assert ok.status_code == 303 and "httponly" in cookie and "samesite=strict" in cookie


def test_a_dialer_token_opens_no_page(service: tuple[Workspace, Service]) -> None:
    _, svc = service
    client = browser(svc)
    csrf = CSRF.search(client.get("/console/accesso").text)
    assert csrf
    answer = client.post("/console/accesso", data={"csrf": csrf.group(1),
                                                   "token": svc.tokens["dialer"]})
    assert answer.status_code == 403 and "dialer" in answer.text


def test_each_role_sees_only_its_pages(service: tuple[Workspace, Service]) -> None:
    _, svc = service
    manager, csrf = signed_in(svc, "manager")
    assert manager.get("/console/privacy").status_code == 403
    assert manager.post("/console/privacy/cerca",
                        data={"csrf": csrf, "phone": "3331234567"}).status_code == 403
    assert manager.get("/console/agente").status_code == 403
    for page in ("liste", "registro", "campagne"):
        assert manager.get(f"/console/{page}").status_code == 200
    dpo, _ = signed_in(svc, "privacy")
    assert dpo.get("/console/privacy").status_code == 200
    assert dpo.get("/console/campagne").status_code == 403
    agent, _ = signed_in(svc, "agent")
    assert agent.get("/console/agente").status_code == 200
    assert agent.get("/console/liste").status_code == 403


def test_writes_without_the_sessions_csrf_token_are_refused(
        service: tuple[Workspace, Service]) -> None:
    ws, svc = service
    manager, _ = signed_in(svc, "manager")
    before = sorted(p.name for p in (ws.root / "data" / "lists").iterdir())
    for sent in ({}, {"csrf": "not-this-one"}):
        refused = manager.post("/console/liste", data={**sent, "kind": "third_party"},
                               files={"file": ("a.csv", b"Telefono\n3331234567\n")})
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert sorted(p.name for p in (ws.root / "data" / "lists").iterdir()) == before
    run = manager.post("/console/campagne", data={"campaign": "x", "purpose": "survey"})
    assert run.status_code == 403
    # The agent page's API calls on a session: a write needs the header too.
    agent, agent_csrf = signed_in(svc, "agent")
    body = {"phone": "3331234567", "note": "csrf test"}
    assert agent.post("/v1/optouts", json=body).status_code == 403
    assert agent.post("/v1/optouts", json=body,
                      headers={"X-CSRF-Token": agent_csrf}).status_code == 201


def test_an_upload_named_with_a_path_lands_in_data_lists_owner_only(
        service: tuple[Workspace, Service]) -> None:
    ws, svc = service
    manager, csrf = signed_in(svc, "manager")
    answer = manager.post("/console/liste", data={"csrf": csrf, "kind": "third_party",
                                                   "supplier": "acme"},
                          files={"file": ("../../x.csv", b"Telefono;Nome\n3331234567;Ada\n")})
    assert answer.status_code == 200, answer.text
    stored = re.search(r'name="stored" value="([^"]+)"', answer.text)
    assert stored and "/" not in stored.group(1) and stored.group(1).startswith("x")
    path = ws.root / "data" / "lists" / stored.group(1)
    assert path.read_bytes() == b"Telefono;Nome\n3331234567;Ada\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not (ws.root.parent / "x.csv").exists() and not (ws.root / "x.csv").exists()
    bad = manager.post("/console/liste", data={"csrf": csrf},
                       files={"file": ("lista.exe", b"MZ")})
    assert bad.status_code == 400 and "non è di un tipo accettato" in bad.text


def test_an_upload_over_the_limit_is_413(service: tuple[Workspace, Service]) -> None:
    _, svc = service
    manager, csrf = signed_in(svc, "manager")
    big = b"Telefono\n" + b"3331234567\n" * 200_000  # 2.2 MB over a 1 MB limit
    answer = manager.post("/console/liste", data={"csrf": csrf},
                          files={"file": ("big.csv", big)})
    assert answer.status_code == 413
    assert "troppo grande" in answer.text and "al massimo 1 MB" in answer.text  # a page
    assert "body_too_large" not in answer.text


def test_a_second_run_of_a_campaign_while_one_runs_is_refused(
        service: tuple[Workspace, Service]) -> None:
    _, svc = service
    manager, csrf = signed_in(svc, "manager")
    form = {"csrf": csrf, "campaign": "doppia", "purpose": "telemarketing",
            "as_of": "2026-11-23T11:00"}
    first = manager.post("/console/campagne", data=form)
    assert first.status_code == 303
    second = manager.post("/console/campagne", data=form)
    assert second.status_code == 400 and "è già" in second.text
    job = first.headers["location"]
    deadline = time.monotonic() + 120
    while manager.get(f"{job}/stato").json()["state"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert manager.post("/console/campagne", data=form).status_code == 303  # free again


def test_a_revoked_token_ends_its_sessions(service: tuple[Workspace, Service]) -> None:
    ws, svc = service
    from gatekeeper.service.tokens import TokenFile

    tokens = TokenFile(ws.data_dir / "tokens.json")
    extra = tokens.add("temp-manager", "manager")
    svc.tokens["temp"] = extra
    client, _ = signed_in(svc, "temp")
    assert client.get("/console/liste").status_code == 200
    tokens.revoke("temp-manager")
    assert client.get("/console/liste").status_code == 303


def test_no_phone_number_reaches_the_access_log(service: tuple[Workspace, Service]) -> None:
    _, svc = service
    dpo, csrf = signed_in(svc, "privacy")
    assert dpo.post("/console/privacy/cerca",
                    data={"csrf": csrf, "phone": "3398877665"}).status_code == 200
    agent, _ = signed_in(svc, "agent")
    assert agent.get("/v1/check", params={"phone": "3398877665"}).status_code == 200
    time.sleep(0.2)
    log = svc.log.read_text()
    assert "/console/privacy/cerca" in log and "/v1/check" in log
    assert "3398877665" not in log and "8877665" not in log


def test_the_agent_page_asks_may_i_call_first_in_italian(
        service: tuple[Workspace, Service]) -> None:
    _, svc = service
    agent, _ = signed_in(svc, "agent")
    page = agent.get("/console/agente").text
    assert page.index("Si può chiamare?") < page.index("Non chiamatemi più")
    assert "dettaglio" not in page


def test_the_workspace_paths_are_not_served(service: tuple[Workspace, Service]) -> None:
    _, svc = service
    manager, _ = signed_in(svc, "manager")
    for path in ("/console/registro/richieste/..%2F..%2Fgatekeeper.toml",
                 "/console/campagne/file/..%2Fgatekeeper.toml?c=demo",
                 "/console/static/..%2F__init__.py"):
        answer = manager.get(path)
        assert answer.status_code in (400, 404), (path, answer.status_code)
        assert "[controller]" not in answer.text


def test_the_dpo_downloads_the_letter_as_pdf_or_html(service: tuple[Workspace, Service]) -> None:
    ws, svc = service
    dpo, csrf = signed_in(svc, "privacy")
    phone = "3398877665"
    pdf = dpo.post("/console/privacy/lettera",
                   data={"csrf": csrf, "phone": phone, "lang": "it", "format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-type"] == "application/pdf"
    html = dpo.post("/console/privacy/lettera",
                    data={"csrf": csrf, "phone": phone, "lang": "en", "format": "html"})
    assert html.status_code == 200 and "<html" in html.text and 'lang="en"' in html.text
    assert str(ws.root) not in html.text


def _finished(client: httpx.Client, job: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while True:
        state: dict[str, object] = client.get(f"{job}/stato").json()
        if state["state"] not in ("queued", "running"):
            return state
        assert time.monotonic() < deadline
        time.sleep(0.3)


def test_a_list_described_but_not_loaded_is_offered_and_a_failed_job_retried(
        service: tuple[Workspace, Service]) -> None:
    ws, svc = service
    (ws.root / "data/lists/piccola.csv").write_text("Telefono;Nome\n3331234567;Ada\n")
    (ws.root / "sources/piccola.toml").write_text(
        'id = "piccola"\nkind = "internal_archive"\nfile = "data/lists/piccola.csv"\n'
        'received_on = 2026-11-10\npurposes = ["survey"]\n\n[columns]\nphone = "Telefono"\n')
    manager, csrf = signed_in(svc, "manager")
    page = manager.get("/console/liste").text
    assert 'id="pending"' in page and "piccola" in page
    started = manager.post("/console/liste/carica", data={"csrf": csrf, "source": "piccola"})
    assert started.status_code == 303
    assert _finished(manager, started.headers["location"])["state"] == "done"
    assert 'id="pending"' not in manager.get("/console/liste").text
    # A job that fails (a list that does not exist) offers to try again: a new job.
    failing = manager.post("/console/campagne", data={
        "csrf": csrf, "campaign": "ritenta", "purpose": "telemarketing",
        "sources": "nessuna-lista", "as_of": "2026-11-23T11:00"})
    first = failing.headers["location"]
    assert _finished(manager, first)["state"] == "failed"
    assert 'id="retry"' in manager.get(first).text
    again = manager.post(f"{first}/riprova", data={"csrf": csrf})
    assert again.status_code == 303 and again.headers["location"] != first
    assert _finished(manager, again.headers["location"])["state"] == "failed"
    assert manager.post(f"{first}/riprova", data={}).status_code == 403
