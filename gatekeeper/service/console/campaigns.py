"""Campagne: start a run, watch it, read its report, download its lists; the history.

The CLI twin: `gatekeeper run --campaign NAME --purpose P [--sector S] [--source ID]
[--as-of T]`. A second run of a campaign while one is queued or running is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from gatekeeper.config import Workspace
from gatekeeper.core.columns import PURPOSES
from gatekeeper.core.errors import InputError
from gatekeeper.core.timeutil import local_words, parse_instant
from gatekeeper.intake.load import loaded_sources
from gatekeeper.service.console import DOWNLOAD_POLICY, Visit, page, started
from gatekeeper.service.console.lists import PURPOSE_WORDS
from gatekeeper.store import Store
from gatekeeper.store.runs import all_runs

# What a campaign's folder holds that a manager may download, with its media type.
DOWNLOADS = {
    "report.html": "text/html; charset=utf-8",
    "dialable.csv": "text/csv; charset=utf-8",
    "dialable.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "rejects.csv": "text/csv; charset=utf-8",
    "rejects.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "sources.csv": "text/csv; charset=utf-8",
    "sources.html": "text/html; charset=utf-8",
    "summary.json": "application/json",
}


def _state(ws: Workspace) -> tuple[list[dict[str, Any]], list[str]]:
    with Store(ws.store_path, read_only=True, wait=5) as store:
        runs = all_runs(store).select("run_id", "campaign", "purpose", "as_of",
                                      "executed_at").reverse().to_dicts()
        sources = loaded_sources(store)["source_id"].to_list()
    latest: set[str] = set()
    zone = ws.config().jurisdiction.timezone_name
    for r in runs:
        r["as_of_words"] = local_words(r["as_of"], zone)
        r["executed_words"] = local_words(r["executed_at"], zone)
        r["latest"] = r["campaign"] not in latest  # only the newest run's files are on disk
        latest.add(r["campaign"])
        folder = ws.report_dir(r["campaign"])
        r["files"] = [n for n in DOWNLOADS if (folder / n).is_file()] if r["latest"] else []
    return runs, sources


@page("campagne")
async def campaigns(visit: Visit) -> Response:
    ws = visit.console.jobs.ws
    runs, sources = await run_in_threadpool(_state, ws)
    return visit.page("campaigns.html", "Campagne", "campagne", runs=runs, sources=sources,
                      purposes=PURPOSES, purpose_words=PURPOSE_WORDS,
                      sector=ws.config().policy.sector or "",
                      jobs=visit.console.jobs.recent(("run",)))


@page("campagne")
async def start(visit: Visit) -> Response:
    ws = visit.console.jobs.ws
    campaign = visit.field("campaign")
    purpose = visit.field("purpose")
    if not campaign:
        raise InputError("dia un nome alla campagna, per esempio «Dicembre Energia 2026»")
    if purpose not in PURPOSES:
        raise InputError("scelga lo scopo delle chiamate")
    as_of = visit.field("as_of")
    if as_of:
        # refused here, not in the job
        parse_instant(as_of, ws.config().jurisdiction.timezone_name,
                      what="la data della decisione")
    assert visit.form is not None
    chosen = [s for s in visit.form.getlist("sources") if isinstance(s, str)]
    folder = ws.report_dir(campaign)  # refuses a name it cannot make a folder of
    job = visit.console.jobs.start(
        "run", f"run:{folder.name}", f"Campagna «{campaign}»", visit.caller.name,
        {"campaign": campaign, "purpose": purpose, "sector": visit.field("sector"),
         "sources": chosen, "as_of": as_of or None})
    return started(job)


def _campaign_file(ws: Workspace, campaign: str, name: str) -> Path | None:
    if name not in DOWNLOADS:
        return None
    with Store(ws.store_path, read_only=True, wait=5) as store:
        known = set(all_runs(store)["campaign"].to_list())
    if campaign not in known:
        return None
    path = ws.report_dir(campaign) / name
    return path if path.is_file() else None


@page("campagne")
async def download(visit: Visit) -> Response:
    ws = visit.console.jobs.ws
    campaign = visit.request.query_params.get("c", "")
    name = visit.request.path_params["name"]
    path = await run_in_threadpool(_campaign_file, ws, campaign, name)
    if path is None:
        raise InputError("file non trovato per questa campagna: rifaccia la corsa")
    inline = name.endswith(".html")
    return FileResponse(path, media_type=DOWNLOADS[name],
                        filename=None if inline else path.name,
                        content_disposition_type="inline" if inline else "attachment",
                        headers={"Content-Security-Policy": DOWNLOAD_POLICY,
                                 "X-Frame-Options": "DENY", "Cache-Control": "no-store"})
