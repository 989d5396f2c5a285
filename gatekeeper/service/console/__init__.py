"""The console: web pages for the people who do not use a shell (`/console`).

Thin pages over the library, as the CLI is: each page calls the same function as its CLI
twin (`sources suggest`, `load`, `rpo request`/`import`, `run`, `disclose`, `erase`), long
work in a worker process (jobs.py) with its progress on the page. Server-rendered Jinja2
templates, one stylesheet and one small script, no build step, nothing fetched from outside.

The doors, in order: a session (auth.py) or the sign-in page; the role's pages only; a CSRF
token on every write. Nothing a client sends becomes a path: uploads are named by the
server (files.py), downloads are looked up in a listing of the folder they may come from.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from gatekeeper.core.errors import GatekeeperError, StoreBusy
from gatekeeper.decide.policy import it_reason_text
from gatekeeper.service.console.auth import COOKIE, PAGES, TITLES, Session, Sessions, same_token
from gatekeeper.service.console.jobs import Job, Jobs
from gatekeeper.service.tokens import Caller

ROLE_WORDS = {"manager": "responsabile campagne", "privacy": "privacy",
              "agent": "operatore", "dialer": "dialer"}
STATIC = {"console.css": "text/css; charset=utf-8",
          "console.js": "text/javascript; charset=utf-8"}
BUSY = ("l'archivio è occupato da un caricamento o da una campagna in corso: riprovi tra "
        "qualche istante")

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("gatekeeper.service.console", "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_templates.filters["thousands"] = lambda n: f"{int(n or 0):,}".replace(",", ".")
_templates.filters["decimal"] = lambda x, places=1: f"{float(x or 0):,.{places}f}".replace(
    ",", " ").replace(".", ",").replace(" ", ".")
_templates.filters["reason_words"] = lambda code: it_reason_text(code) or code


@dataclass
class Visit:
    """Who is asking, for a page's handler: the session, the person, and the form sent."""

    request: Request
    session: Session
    caller: Caller
    form: FormData | None = None

    @property
    def console(self) -> Console:
        console: Console = self.request.app.state.console
        return console

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default

    def page(self, template: str, title: str, here: str, status: int = 200,
             **values: Any) -> HTMLResponse:
        return render(template, title=title, here=here, me=self.caller,
                      csrf=self.session.csrf, status=status, **values)


class Console:
    """What the console's pages share in one service process."""

    def __init__(self, sessions: Sessions, jobs: Jobs, upload_limit: int) -> None:
        self.sessions = sessions
        self.jobs = jobs
        self.upload_limit = upload_limit


# Console pages run only /console/static/console.js; the letter's preview (an iframe's
# srcdoc, sandboxed) brings its own styles. Inline HTML downloads (report.html) may run
# nothing at all.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "frame-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
               "form-action 'self'")
DOWNLOAD_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                   "frame-ancestors 'none'")


def render(template: str, *, title: str, here: str = "", me: Caller | None = None,
           csrf: str | None = None, status: int = 200, **values: Any) -> HTMLResponse:
    pages = PAGES.get(me.role, ()) if me else ()
    html = _templates.get_template(template).render(
        title=title, here=here, me=me, csrf=csrf, pages=pages, titles=TITLES,
        role_words=ROLE_WORDS, error=values.pop("error", None),
        notice=values.pop("notice", None), **values)
    return HTMLResponse(html, status_code=status,
                        headers={"Cache-Control": "no-store",
                                 "X-Frame-Options": "DENY",
                                 "Content-Security-Policy": PAGE_POLICY})


Handler = Callable[[Visit], Awaitable[Response]]


def page(name: str, *, upload: bool = False) -> Callable[[Handler], Callable[[Request],
                                                                          Awaitable[Response]]]:
    """A console page of `name`: signed in, the role's own, and for a write the session's
    CSRF token. A library error becomes the page's error box, never a traceback."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            console: Console = request.app.state.console
            found = console.sessions.find(request.cookies.get(COOKIE))
            if found is None:
                if request.method != "GET":
                    return render("message.html", title="Sessione scaduta", status=401,
                                  error="La sessione è scaduta o non è valida: entri di nuovo.",
                                  back="/console/accesso")
                return RedirectResponse("/console/accesso?dopo=" + quote(request.url.path),
                                        status_code=303)
            session, caller = found
            request.state.caller = caller.name
            if name not in PAGES.get(caller.role, ()):
                return render("message.html", title="Pagina non disponibile", me=caller,
                              csrf=session.csrf, status=403,
                              error="Questa pagina non è per il suo ruolo "
                                    f"({ROLE_WORDS[caller.role]}).", back="/console")
            visit = Visit(request, session, caller)
            if request.method == "POST":
                visit.form = await request.form(
                    max_files=1 if upload else 0, max_fields=100,
                    max_part_size=1024 * 1024)
                token = visit.form.get("csrf")
                if not same_token(session.csrf, token if isinstance(token, str) else None):
                    await visit.form.close()
                    return form_refused(session, caller, f"/console/{name}")
            try:
                return await handler(visit)
            except StoreBusy:
                return visit.page("message.html", TITLES[name], name, status=503,
                                  error=f"Non ora: {BUSY}.", back=f"/console/{name}")
            except GatekeeperError as exc:
                return visit.page("message.html", TITLES[name], name, status=400,
                                  error=f"Non è stato possibile: {exc}",
                                  back=f"/console/{name}")
            except Exception as exc:  # a bug of ours: said in Italian, named in the log
                # The type only: a message may hold the number the page was asked about.
                logging.getLogger("gatekeeper").error("console %s: %s", name,
                                                      type(exc).__name__)
                return visit.page("message.html", TITLES[name], name, status=500,
                                  error="Errore interno: nulla è stato fatto. Riprovi; se "
                                        "si ripete, avvisi l'assistenza.",
                                  back=f"/console/{name}")
            finally:
                if visit.form is not None:
                    await visit.form.close()

        return endpoint

    return wrap


# What the service's refusals mean to a person at a console page (the API answers JSON).
REFUSALS = {
    404: "Pagina non trovata.",
    405: "Questa pagina non accetta questa richiesta: torni indietro e usi i pulsanti.",
    408: "Il file è arrivato troppo lentamente e la richiesta è stata interrotta: riprovi, "
         "se possibile da una rete più veloce.",
    413: "Il file è troppo grande per la console: lo divida in parti più piccole, oppure "
         "lo carichi da riga di comando (gatekeeper load).",
}


def for_people(path: str) -> bool:
    """A console page (HTML for a person), not a script's call (the job's status)."""
    return path.startswith("/console") and not path.endswith("/stato")


def console_error(request: Request, status: int) -> HTMLResponse:
    """The service's refusal of a console request, as a page in Italian."""
    console: Console = request.app.state.console
    found = console.sessions.find(request.cookies.get(COOKIE))
    me, csrf = (found[1], found[0].csrf) if found else (None, None)
    limit = f" (al massimo {console.upload_limit // (1024 * 1024)} MB)" if status == 413 else ""
    return render("message.html", title="Richiesta non eseguita", me=me, csrf=csrf,
                  status=status, back="/console",
                  error=REFUSALS.get(status, f"Richiesta non eseguita (codice {status}).")
                  + limit)


def form_refused(session: Session, caller: Caller, back: str) -> HTMLResponse:
    """A write whose form lacks the session's CSRF token: refused, said in Italian."""
    return render("message.html", title="Richiesta rifiutata", me=caller, csrf=session.csrf,
                  status=403, back=back,
                  error="Il modulo non porta il codice di sicurezza di questa sessione "
                        "(CSRF): ricarichi la pagina e riprovi.")


def job_page(visit: Visit, job: Job, here: str) -> HTMLResponse:
    return visit.page("job.html", job.label, here, job=job, back=f"/console/{here}",
                      back_title=TITLES[here])


def started(job: Job) -> RedirectResponse:
    return RedirectResponse(f"/console/lavori/{job.id}", status_code=303)


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC:
        return Response("not found", status_code=404)
    body = resources.files("gatekeeper.service.console").joinpath("static", name).read_bytes()
    return Response(body, media_type=STATIC[name],
                    headers={"Cache-Control": "max-age=300"})


def job_state(request: Request) -> Response:
    """A job's progress for the page's script: only to the session that may see it."""
    found, job = _visible_job(request)
    if found is None or job is None:
        return JSONResponse({"state": "unknown", "message": "", "seconds": 0},
                            status_code=404)
    request.state.caller = found[1].name
    return JSONResponse(job.as_json(), headers={"Cache-Control": "no-store"})


JOB_PAGES = {"load": "liste", "request": "registro", "import": "registro",
             "check": "registro", "run": "campagne", "erase": "privacy"}


def _visible_job(request: Request) -> tuple[tuple[Session, Caller] | None, Job | None]:
    """Who asks (None: not signed in), and the job of the URL if that person's role may
    see it (None otherwise: another role's job is as good as missing)."""
    console: Console = request.app.state.console
    found = console.sessions.find(request.cookies.get(COOKIE))
    job = console.jobs.get(request.path_params["job"])
    if found is None or job is None or JOB_PAGES[job.kind] not in PAGES.get(found[1].role, ()):
        return found, None
    return found, job


async def job_retry(request: Request) -> Response:
    """A job that failed (its worker killed, the store busy too long), started again with
    what it was given; a new job, the old one stays in the list as it ended."""
    console: Console = request.app.state.console
    found, job = _visible_job(request)
    form = await request.form(max_files=0, max_fields=10, max_part_size=4096)
    sent = str(form.get("csrf") or "")
    await form.close()
    if found is None or job is None or job.state != "failed":
        return RedirectResponse("/console", status_code=303)
    session, caller = found
    if not same_token(session.csrf, sent):
        return form_refused(session, caller, "/console")
    request.state.caller = caller.name
    try:
        again = console.jobs.start(job.kind, job.key, job.label, caller.name, job.args)
    except GatekeeperError as exc:
        return render("message.html", title=job.label, me=caller, csrf=session.csrf,
                      status=400, error=str(exc), back=f"/console/{JOB_PAGES[job.kind]}")
    return started(again)


async def job_view(request: Request) -> Response:
    found, job = _visible_job(request)
    if found is None:
        return RedirectResponse("/console/accesso?dopo=" + quote(request.url.path),
                                status_code=303)
    session, caller = found
    if job is None:
        return render("message.html", title="Lavoro non trovato", me=caller,
                      csrf=session.csrf, status=404,
                      error="Questo lavoro non esiste più (il servizio è stato riavviato?) "
                            "o non è per il suo ruolo.", back="/console")
    return job_page(Visit(request, session, caller), job, JOB_PAGES[job.kind])
