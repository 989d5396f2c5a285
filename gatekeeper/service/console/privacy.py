"""Privacy: the DPO's page. Search a number, preview the letter with its warnings, send it
as HTML or PDF, erase with a confirmation that lists what will be rewritten; open requests
with their deadlines; suppliers and their audits.

The CLI twins: `gatekeeper disclose PHONE [--format preview|html|pdf] [--lang it|en]`, `gatekeeper
erase PHONE --ref R [--dry-run]`, `gatekeeper requests`, `gatekeeper suppliers`, `gatekeeper
audit list`. The number travels in form bodies only, never in a URL (the access log and the
browser's history keep URLs).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gatekeeper.config import Workspace
from gatekeeper.core.errors import InputError
from gatekeeper.core.timeutil import local_date
from gatekeeper.intake.normalise import phone_of
from gatekeeper.privacy.disclosure import disclose
from gatekeeper.privacy.disclosure.letter import letter_bytes
from gatekeeper.privacy.disclosure.preview import preview_letter
from gatekeeper.privacy.erasure.erase import erase_plan
from gatekeeper.privacy.requests import list_requests
from gatekeeper.service.console import Visit, page, started
from gatekeeper.store import Store
from gatekeeper.suppliers import listing as supplier_listing
from gatekeeper.suppliers.consent_audits import statuses

LANGS = {"it": "italiano", "en": "inglese"}


def _overview(ws: Workspace, now: dt.datetime) -> dict[str, Any]:
    zone = ws.config().jurisdiction.timezone_name
    with Store(ws.store_path, read_only=True, wait=5) as store:
        requests = list_requests(store, local_date(now, zone)).to_dicts()
        audits = statuses(store, now, zone).to_dicts()
    suppliers, _errors, _inline = supplier_listing(ws, local_date(now, zone))
    return {"requests": requests, "audits": audits,
            "suppliers": suppliers.to_dicts() if "status" in suppliers.columns else []}


@page("privacy")
async def privacy(visit: Visit) -> Response:
    ws = visit.console.jobs.ws
    overview = await run_in_threadpool(_overview, ws, visit.console.jobs.now())
    return visit.page("privacy.html", "Privacy", "privacy", found=None, phone=None, lang="it",
                      **overview,
                      jobs=visit.console.jobs.recent(("erase",)))


def _phone(visit: Visit) -> str:
    phone = visit.field("phone")
    if not phone:
        raise InputError("scriva il numero da cercare")
    return phone


@page("privacy")
async def search(visit: Visit) -> Response:
    ws = visit.console.jobs.ws
    phone = _phone(visit)
    lang = visit.field("lang", "it") if visit.field("lang") in LANGS else "it"
    preview = await run_in_threadpool(preview_letter, ws, phone, lang=lang)
    overview = await run_in_threadpool(_overview, ws, visit.console.jobs.now())
    return visit.page("privacy.html", "Privacy", "privacy", found=preview.data,
                      letter=preview.html, warnings=preview.warnings, details=preview.details,
                      phone=phone, lang=lang, langs=LANGS, **overview,
                      jobs=visit.console.jobs.recent(("erase",)))


@page("privacy")
async def letter(visit: Visit) -> Response:
    ws = visit.console.jobs.ws
    phone = _phone(visit)
    lang = visit.field("lang", "it") if visit.field("lang") in LANGS else "it"
    fmt = "pdf" if visit.field("format") == "pdf" else "html"
    data = await run_in_threadpool(disclose, ws, phone)
    body = await run_in_threadpool(letter_bytes, data, ws.config().controller, fmt, lang)
    media = "application/pdf" if fmt == "pdf" else "text/html; charset=utf-8"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="lettera-{lang}.{fmt}"'})


@page("privacy")
async def erase(visit: Visit) -> Response:
    """First the list of what will change, then, with the box ticked, the erasure."""
    ws = visit.console.jobs.ws
    phone = _phone(visit)
    ref = visit.field("ref")
    if not ref:
        raise InputError("scriva il riferimento della richiesta di cancellazione")
    if visit.field("confirm") != "1":
        plan = await run_in_threadpool(erase_plan, ws, phone, ref)
        return visit.page("erase_confirm.html", "Conferma la cancellazione", "privacy",
                          phone=phone, ref=ref, plan=plan)
    number = phone_of(phone, ws.config().jurisdiction)  # one key however it was typed
    job = visit.console.jobs.start("erase", f"erase:{number}", f"Cancellazione ({ref})",
                                   visit.caller.name,
                                   {"phone": phone, "ref": ref, "by": visit.caller.name})
    return started(job)
