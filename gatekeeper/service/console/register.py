"""Registro: the request file for the register, its answer, the history with its cost.

The CLI twins: `gatekeeper rpo request --out FILE`, `gatekeeper rpo import --request FILE
--response FILE [--checked-at T]`. Requests are written to data/registry/requests/ and
answers stored in data/registry/answers/, both named by the server.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from gatekeeper.core.errors import InputError
from gatekeeper.core.timeutil import local_words, now_utc, parse_instant
from gatekeeper.registers import candidates
from gatekeeper.registers.adapters import configured
from gatekeeper.service.console import Visit, page, started
from gatekeeper.service.console.files import ANSWERS, listed, save_upload
from gatekeeper.store import Store
from gatekeeper.store.rpo import all_exchanges

REQUESTS = Path("data/registry/requests")
ANSWERS_DIR = Path("data/registry/answers")


def _history(ws_root: Path, store_path: Path, jurisdiction: Any) -> tuple[list[dict[str, Any]],
                                                                            int]:
    with Store(store_path, read_only=True, wait=5) as store:
        frame = all_exchanges(store)
        held = candidates(store, jurisdiction)
    rows = frame.sort("checked_at", descending=True).to_dicts()
    for r in rows:
        r["checked_words"] = local_words(r["checked_at"], jurisdiction.timezone_name)
    return rows, held


def _requests(ws_root: Path) -> list[str]:
    folder = ws_root / REQUESTS
    return sorted((p.name for p in folder.glob("*.txt")), reverse=True) if folder.is_dir() else []


@page("registro")
async def register(visit: Visit) -> Response:
    ws = visit.console.jobs.ws
    config = ws.config()
    history, held = await run_in_threadpool(_history, ws.root, ws.store_path,
                                            config.jurisdiction)
    price = config.registry.price_per_number
    for r in history:
        r["cost"] = (r["numbers"] or 0) * price
    adapter = configured(config)
    return visit.page("register.html", "Registro delle opposizioni", "registro",
                      history=history, held=held, price=price, requests=_requests(ws.root),
                      web=adapter.automatic,
                      jobs=visit.console.jobs.recent(("request", "import", "check")))


@page("registro")
async def web_check(visit: Visit) -> Response:
    """The round trip through the register's web service, when one is configured."""
    ws = visit.console.jobs.ws
    if not configured(ws.config()).automatic:
        raise InputError("il Registro non è configurato per la verifica via web: usi la "
                         "richiesta e la risposta su file")
    job = visit.console.jobs.start("check", "registry", "Verifica via web service",
                                   visit.caller.name, {})
    return started(job)


@page("registro")
async def make_request(visit: Visit) -> Response:
    # Named by the real time (a file's name, not a decision) and never over another one.
    name = f"richiesta-{now_utc():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}.txt"
    job = visit.console.jobs.start("request", "registry", "Richiesta per il Registro",
                                   visit.caller.name, {"out": (REQUESTS / name).as_posix()})
    return started(job)


@page("registro")
async def download(visit: Visit) -> Response:
    ws = visit.console.jobs.ws
    path = listed(ws.root / REQUESTS, visit.request.path_params["name"], (".txt",))
    if path is None:
        raise InputError("file di richiesta non trovato")
    return FileResponse(path, media_type="text/plain; charset=utf-8", filename=path.name)


@page("registro", upload=True)
async def answer(visit: Visit) -> Response:
    ws = visit.console.jobs.ws
    assert visit.form is not None
    request = listed(ws.root / REQUESTS, visit.field("request"), (".txt",))
    if request is None:
        raise InputError("scelga la richiesta a cui il Registro ha risposto")
    checked = visit.field("checked_at")
    if checked:
        # refused here, not later in the job
        parse_instant(checked, ws.config().jurisdiction.timezone_name,
                      what="quando il Registro ha verificato")
    stored = await save_upload(visit.form.get("file"), ws.root / ANSWERS_DIR, ANSWERS,
                               fallback="risposta")
    job = visit.console.jobs.start(
        "import", "registry", "Risposta del Registro", visit.caller.name,
        {"request": (REQUESTS / request.name).as_posix(),
         "response": (ANSWERS_DIR / stored.name).as_posix(), "checked_at": checked or None})
    return started(job)
