"""Liste: upload a list, correct the suggested mapping, save the manifest, load it.

The CLI twins: copy the file under data/lists/, `gatekeeper sources suggest FILE --write`,
`gatekeeper load ID`, `gatekeeper sources --rejects ID`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path
from typing import Any

import polars as pl
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gatekeeper.config import Workspace
from gatekeeper.core.columns import CANONICAL_FIELDS, PURPOSES, SOURCE_KINDS
from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import InputError
from gatekeeper.core.timeutil import local_date
from gatekeeper.intake.load import loaded_sources, select_manifests, source_rejects
from gatekeeper.intake.suggest import Guess, Suggestion, suggest, write_suggestion
from gatekeeper.service.console import Visit, page, started
from gatekeeper.service.console.files import LISTS, listed, save_upload
from gatekeeper.store import Store
from gatekeeper.suppliers.supplier import discover_suppliers

KIND_WORDS = {"third_party": "lista acquistata da un fornitore",
              "internal_archive": "archivio clienti dell'azienda",
              "public_directory": "elenco pubblico"}
PURPOSE_WORDS = {"telemarketing": "offerte commerciali", "survey": "sondaggi"}
FIELD_WORDS = {
    "phone": "Telefono", "name": "Nominativo", "customer_id": "Codice cliente",
    "contract_status": "Stato contratto", "contract_end": "Fine contratto",
    "consent_marketing": "Consenso marketing", "consent_third_party": "Consenso a terzi",
    "consent_date": "Data consenso", "consent_channel": "Canale consenso",
    "consent_proof": "Prova del consenso", "consent_collector": "Raccolto da",
    "consent_ip": "IP del consenso", "consent_at": "Istante del consenso",
    "consent_method": "Metodo del consenso", "consent_text_id": "Testo informativa",
    "consent_sectors": "Settori del consenso"}


def _suppliers(visit: Visit) -> list[tuple[str, str]]:
    found, _errors = discover_suppliers(visit.console.jobs.ws.root)
    return sorted((s.id, s.identity.name) for s in found.values())


def _already_loaded(ws: Workspace, path: Path) -> str | None:
    """The loaded list whose file has the same bytes as this upload, if there is one."""
    digest = sha256_file(path)
    with Store(ws.store_path, read_only=True, wait=5) as store:
        same = loaded_sources(store).filter(pl.col("file_sha256") == digest)
    return same["source_id"][0] if same.height else None


def _draft_page(visit: Visit, draft: Suggestion, stored: str, same_as: str | None = None,
                error: str | None = None) -> Response:
    notice = (f"Attenzione: lo stesso file è già caricato come lista «{same_as}». Se è un "
              "invio nuovo, prosegua; altrimenti non serve caricarlo di nuovo."
              if same_as else None)
    return visit.page("lists_draft.html", "Nuova lista: controlli la proposta", "liste",
                      notice=notice,
                      draft=draft, stored=stored, fields=CANONICAL_FIELDS,
                      field_words=FIELD_WORDS, kinds=SOURCE_KINDS, kind_words=KIND_WORDS,
                      purposes=PURPOSES, purpose_words=PURPOSE_WORDS,
                      suppliers=_suppliers(visit), error=error,
                      status=200 if error is None else 400)


def _state(ws: Workspace) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """What is loaded, the manifests in sources/ that are not (a new one, or one whose load
    was interrupted), and the manifests that cannot load, each with its error."""
    with Store(ws.store_path, read_only=True, wait=5) as store:
        loaded = loaded_sources(store).to_dicts()
    manifests, failures = select_manifests(ws)
    held = {s["source_id"] for s in loaded}
    return (loaded, sorted(m.id for m in manifests if m.id not in held),
            [str(f) for f in failures])


def _rejects(store_path: Path, source_id: str) -> pl.DataFrame:
    with Store(store_path, read_only=True, wait=5) as store:
        if source_id not in set(loaded_sources(store)["source_id"].to_list()):
            raise InputError("lista non caricata")
        return source_rejects(store, source_id)


@page("liste")
async def lists(visit: Visit) -> Response:
    ws = visit.console.jobs.ws
    loaded, pending, broken = await run_in_threadpool(_state, ws)
    return visit.page("lists.html", "Liste", "liste", loaded=loaded, pending=pending,
                      broken=broken,
                      kinds=SOURCE_KINDS, kind_words=KIND_WORDS, suppliers=_suppliers(visit),
                      jobs=visit.console.jobs.recent(("load",)),
                      limit_mb=visit.console.upload_limit // (1024 * 1024))


@page("liste", upload=True)
async def upload(visit: Visit) -> Response:
    ws = visit.console.jobs.ws
    assert visit.form is not None
    kind = visit.field("kind", "third_party")
    if kind not in SOURCE_KINDS:
        raise InputError(f"tipo di lista sconosciuto: {kind}")
    path = await save_upload(visit.form.get("file"), ws.root / "data" / "lists", LISTS)
    supplier = visit.field("supplier") or None
    try:
        draft = await run_in_threadpool(suggest, ws, path, kind=kind, supplier=supplier,
                                        today=local_date(visit.console.jobs.now(),
                                                         ws.config().jurisdiction.timezone_name))
        same_as = await run_in_threadpool(_already_loaded, ws, path)
    except Exception:
        path.unlink(missing_ok=True)  # a file nothing will point to is not kept
        raise
    return _draft_page(visit, draft, path.name, same_as)


@page("liste")
async def save(visit: Visit) -> Response:
    """The manager's corrections over the suggestion, written as the CLI's --write would,
    then loaded."""
    ws = visit.console.jobs.ws
    stored = visit.field("stored")
    path = listed(ws.root / "data" / "lists", stored, LISTS)
    if path is None:
        raise InputError("il file caricato non c'è più in data/lists/: lo carichi di nuovo")
    kind = visit.field("kind", "third_party")
    purposes = tuple(p for p in PURPOSES if visit.field(f"purpose_{p}"))
    try:
        received = dt.date.fromisoformat(visit.field("received_on"))
    except ValueError:
        raise InputError("la data di ricezione non è valida: la scriva come 22/11/2026 "
                         "dal calendario") from None
    draft = await run_in_threadpool(
        suggest, ws, path, kind=kind if kind in SOURCE_KINDS else "third_party",
        source_id=visit.field("source_id") or None, supplier=visit.field("supplier") or None,
        purposes=purposes or ("telemarketing",), today=received)
    columns = tuple(Guess(f, visit.field(f"col_{f}"), "scelto nella console")
                    for f in CANONICAL_FIELDS if visit.field(f"col_{f}") in draft.names)
    problems = tuple(p for p in draft.problems if "phone" not in p)
    if not any(g.field == "phone" for g in columns):
        problems = ("scelga la colonna del telefono", *problems)
    draft = dataclasses.replace(draft, columns=columns, problems=problems,
                                restore_zero=bool(visit.field("restore_zero")))
    if not purposes:
        return _draft_page(visit, draft, stored, error="scelga almeno uno scopo")
    if draft.problems:
        return _draft_page(visit, draft, stored, error=f"prima di salvare: {draft.problems[0]}")
    try:
        write_suggestion(ws, draft)
    except InputError as exc:
        return _draft_page(visit, draft, stored, error=str(exc))
    job = visit.console.jobs.start("load", f"load:{draft.source_id}",
                                   f"Caricamento di {draft.source_id}", visit.caller.name,
                                   {"sources": [draft.source_id]})
    return started(job)


@page("liste")
async def load_again(visit: Visit) -> Response:
    """Load a manifest that is in sources/ (a load interrupted, a list changed since)."""
    ws = visit.console.jobs.ws
    source_id = visit.field("source")
    manifests, _failures = await run_in_threadpool(select_manifests, ws)
    if source_id not in {m.id for m in manifests}:
        raise InputError(f"nessuna lista «{source_id}» valida in sources/")
    job = visit.console.jobs.start("load", f"load:{source_id}", f"Caricamento di {source_id}",
                                   visit.caller.name, {"sources": [source_id]})
    return started(job)


@page("liste")
async def rejects(visit: Visit) -> Response:
    """A source's rejected rows as CSV for Excel (UTF-8 with its mark, so accents read)."""
    ws = visit.console.jobs.ws
    source_id = visit.request.path_params["source"]
    frame = await run_in_threadpool(_rejects, ws.store_path, source_id)
    out = io.BytesIO()
    frame.write_csv(out)
    return Response(b"\xef\xbb\xbf" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="scarti-{source_id}.csv"'})
