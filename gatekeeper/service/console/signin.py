"""Sign-in and sign-out pages."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gatekeeper.service.console import Console, form_refused, render
from gatekeeper.service.console.auth import COOKIE, PAGES, SIGNIN_COOKIE, same_token
from gatekeeper.service.tokens import token_digest


def _home(role: str) -> str:
    pages = PAGES.get(role, ())
    return f"/console/{pages[0]}" if pages else "/console/accesso"


def _after(value: str | None, role: str) -> str:
    """Where to go once signed in: a console page asked for, never another site."""
    page = (value or "").split("?")[0]
    if page.startswith("/console/") and not page.startswith("//") and "\\" not in page:
        name = page.removeprefix("/console/").split("/")[0]
        if name in PAGES.get(role, ()) or name == "lavori":
            return page
    return _home(role)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def signin_page(request: Request) -> Response:
    console: Console = request.app.state.console
    found = console.sessions.find(request.cookies.get(COOKIE))
    if found is not None:
        return RedirectResponse(_after(request.query_params.get("dopo"), found[1].role),
                                status_code=303)
    token = secrets.token_urlsafe(24)
    response = render("signin.html", title="Accesso", signin_csrf=token,
                      after=request.query_params.get("dopo", ""))
    response.set_cookie(SIGNIN_COOKIE, token, max_age=3600, path="/console",
                        httponly=True, samesite="strict", secure=_secure(request))
    return response


async def signin(request: Request) -> Response:
    console: Console = request.app.state.console
    form = await request.form(max_files=0, max_fields=10, max_part_size=4096)
    try:
        sent, token, after = (str(form.get(k) or "") for k in ("csrf", "token", "dopo"))
    finally:
        await form.close()
    if not same_token(request.cookies.get(SIGNIN_COOKIE, ""), sent):
        return render("message.html", title="Accesso", status=403,
                      error="La pagina di accesso è scaduta: la ricarichi e riprovi.",
                      back="/console/accesso")
    caller = console.sessions.tokens.caller(token.strip()) if token.strip() else None
    if caller is None:
        return render("message.html", title="Accesso", status=401,
                      error="Codice di accesso non valido o revocato: lo controlli o ne "
                            "chieda uno nuovo al responsabile.", back="/console/accesso")
    request.state.caller = caller.name
    if not PAGES.get(caller.role):
        return render("message.html", title="Accesso", status=403,
                      error="Questo codice è di un dialer: serve per il servizio, non per la "
                            "console. Chieda un codice personale al responsabile.",
                      back="/console/accesso")
    console.sessions.close(request.cookies.get(COOKIE))  # a new sign-in, a new session
    sid, _ = console.sessions.open(token_digest(token.strip()))
    response = RedirectResponse(_after(after, caller.role), status_code=303)
    response.set_cookie(COOKIE, sid, path="/", httponly=True, samesite="strict",
                        secure=_secure(request))
    response.delete_cookie(SIGNIN_COOKIE, path="/console")
    return response


async def signout(request: Request) -> Response:
    console: Console = request.app.state.console
    form = await request.form(max_files=0, max_fields=10, max_part_size=4096)
    sent = str(form.get("csrf") or "")
    await form.close()
    found = console.sessions.find(request.cookies.get(COOKIE))
    if found is not None and not same_token(found[0].csrf, sent):
        # Another page (any port of this host shares the cookie) cannot sign a person out.
        return form_refused(*found, "/console")
    console.sessions.close(request.cookies.get(COOKIE))
    response = RedirectResponse("/console/accesso", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def home(request: Request) -> Response:
    console: Console = request.app.state.console
    found = console.sessions.find(request.cookies.get(COOKIE))
    return RedirectResponse(_home(found[1].role) if found else "/console/accesso",
                            status_code=303)
