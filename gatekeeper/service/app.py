"""The HTTP service for agents and dialers: opt-outs, dial checks, disclosure.

A thin Starlette app over the library: the journal for opt-outs (durable before 201),
the in-memory CheckIndex for checks, `disclose` for the privacy officer. Every error is
JSON with a clear message; nothing personal is logged: the access log names a request by
the route template it matched (`/v1/disclosure/{phone}`), or `<unmatched>`, never by its
raw path or query string, which may carry a phone number.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import json
import logging
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import polars as pl
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gatekeeper.config import Workspace
from gatekeeper.core.columns import OPTOUT_CHANNELS, OPTOUT_SCOPES, PURPOSES
from gatekeeper.core.errors import (
    EvidenceError,
    GatekeeperError,
    InputError,
    JournalError,
    NotFound,
    SharedUnavailable,
    StoreBusy,
    StoreDamaged,
    StoreError,
)
from gatekeeper.core.timeutil import local_iso, now_utc, parse_instant
from gatekeeper.dial.agencies import Agency
from gatekeeper.dial.ledger import DIRECTIONS, OUTCOMES
from gatekeeper.intake.normalise import key_of, normalise, phone_of
from gatekeeper.jurisdictions import Jurisdiction
from gatekeeper.privacy.disclosure import disclose
from gatekeeper.privacy.optouts import Journal, add_optout
from gatekeeper.service.console import Console, console_error, for_people
from gatekeeper.service.console.auth import COOKIE, Sessions, same_token
from gatekeeper.service.console.jobs import Jobs
from gatekeeper.service.console.routes import console_routes
from gatekeeper.service.index import CheckIndex
from gatekeeper.service.openapi import OPENAPI
from gatekeeper.service.page import agent_page as agent_page_html
from gatekeeper.service.tokens import Caller, open_tokens

log = logging.getLogger("gatekeeper.access")

ROUTE_TEMPLATE = "gatekeeper.route"  # scope key: the template of the route that took the request
NOTE = "gatekeeper.note"  # scope key: why a request ended as it did, for the access log
UNMATCHED = "<unmatched>"  # logged for a request no route took: its path may hold a number
# Request-body limits, per route (ApiRoute's max_body): bodies are refused before they are
# read, so a client cannot make the service hold a 400 MB body in memory.
MiB = 1024 * 1024
BODY_LIMIT = 1 * MiB  # every endpoint unless it declares more
BATCH_BODY_LIMIT = 10 * MiB  # for batch endpoints (POST /v1/check, POST /v1/calls)
# Logged as sent; any other method (HTTP allows any token, digits included) as OTHER.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ApiError(Exception):
    """An HTTP error with a code a client can act on and a message a person can read;
    `detail` adds keys a program acts on (the agency a token is bound to)."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None,
                 detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers
        self.detail = detail or {}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
           detail: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "code": code, "message": message,
                                   **(detail or {})}},
                        status_code=status, headers=headers)


async def _json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 a client can act on.

    Deeply nested JSON (100,000 '[') makes the parser hit Python's recursion limit: that
    is a bad request, not an internal error."""
    body = await request.body()
    try:
        data = json.loads(body)
    except RecursionError:
        raise ApiError(400, "invalid_json", "the JSON is nested too deeply; send a flat "
                       "JSON object, e.g. {\"phone\": \"333 123 4567\"}") from None
    except ValueError:
        raise ApiError(400, "invalid_json", "the body is not valid JSON (UTF-8); send a "
                       "JSON object, e.g. {\"phone\": \"333 123 4567\"}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object, e.g. "
                       "{\"phone\": \"333 123 4567\"}")
    return data


def _session_caller(request: Request) -> Caller:
    """The console's agent page calls the API on its session: the cookie says who, and a
    write must carry the session's CSRF token (a cookie alone is sent by any page)."""
    console: Console = request.app.state.console
    found = console.sessions.find(request.cookies.get(COOKIE))
    if found is None:
        raise ApiError(401, "unauthorized", "the console session has expired; sign in again "
                       "at /console/accesso")
    session, caller = found
    if request.method not in ("GET", "HEAD") and not same_token(
            session.csrf, request.headers.get("x-csrf-token")):
        raise ApiError(403, "csrf", "a write on a console session needs the session's "
                       "X-CSRF-Token header; reload the page")
    return caller


def _bearer_caller(request: Request, header: str) -> Caller:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>'; tokens "
                       "are made with 'gatekeeper token add NAME --role R'",
                       {"WWW-Authenticate": "Bearer"})
    caller: Caller | None = request.app.state.tokens.caller(token.strip())
    if caller is None:
        raise ApiError(401, "unauthorized", "unknown or revoked token",
                       {"WWW-Authenticate": "Bearer"})
    return caller


def _caller(request: Request, right: str) -> Caller:
    header = request.headers.get("authorization", "")
    caller = (_session_caller(request) if not header and COOKIE in request.cookies
              else _bearer_caller(request, header))
    request.state.caller = caller.name
    if not caller.may(right):
        raise ApiError(403, "forbidden", f"role '{caller.role}' may not use this endpoint")
    return caller


_AS_TEXT = ("send phone numbers as JSON strings, e.g. \"0212345678\": as a JSON number a "
            "landline's leading 0 is already lost")


def _valid_phone(value: Any, jurisdiction: Jurisdiction) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ApiError(422, "invalid_phone", f"phone is a JSON number; {_AS_TEXT}")
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "invalid_phone", "phone is required, e.g. \"333 123 4567\"")
    try:
        return phone_of(value, jurisdiction)
    except InputError as exc:
        raise ApiError(422, "invalid_phone", exc.message) from None


def _choice(body: dict[str, Any], key: str, accepted: tuple[str, ...], default: str) -> str:
    value = body.get(key) or default
    if not isinstance(value, str):  # never echo (or repr) a nested structure back
        raise ApiError(422, f"invalid_{key}",
                       f"{key} must be text; accepted: {', '.join(accepted)}")
    if value not in accepted:
        raise ApiError(422, f"invalid_{key}",
                       f"unknown {key} '{value[:40]}'; accepted: {', '.join(accepted)}")
    return value


def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", **request.app.state.index.status()})


def agent_page(request: Request) -> HTMLResponse:
    zone = request.app.state.jurisdiction.timezone_name
    return HTMLResponse(agent_page_html(zone), headers={
        "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
                                   "style-src 'unsafe-inline'; connect-src 'self'",
        "Cache-Control": "no-store"})


def openapi(request: Request) -> JSONResponse:
    return JSONResponse(OPENAPI)


async def post_optout(request: Request) -> JSONResponse:
    caller = _caller(request, "optout")
    body = await _json_object(request)
    where: Jurisdiction = request.app.state.jurisdiction
    phone = _valid_phone(body.get("phone"), where)
    channel = _choice(body, "channel", OPTOUT_CHANNELS,
                      "operator" if caller.role == "agent" else "api")
    scope = _choice(body, "scope", OPTOUT_SCOPES, "all")
    note = body.get("note") or ""
    if not isinstance(note, str) or len(note) > 500:
        raise ApiError(422, "invalid_note", "note must be text of at most 500 characters")
    at = None
    if body.get("received_at"):
        if not isinstance(body["received_at"], str):
            raise ApiError(422, "invalid_received_at",
                           "received_at must be ISO 8601 text, e.g. 2026-11-20T09:30+01:00")
        try:
            at = parse_instant(body["received_at"], request.app.state.jurisdiction.timezone_name,
                               what="received_at")
        except InputError as exc:
            raise ApiError(422, "invalid_received_at", exc.message) from None
    journal: Journal = request.app.state.journal
    # fsync happens in a worker thread; 201 is sent only once the entry is on disk.
    result = await asyncio.to_thread(add_optout, journal, where, phone=phone, channel=channel,
                                     by=caller.name, scope=scope, note=note, at=at)
    entry = result.entries[0]
    zone = request.app.state.index.jurisdiction.timezone_name
    return JSONResponse({"ref": entry["seq"], "phone": entry["phone"],
                         "at": local_iso(entry["at"], zone),
                         "channel": entry["channel"], "scope": entry["scope"],
                         "recorded_by": entry["recorded_by"],
                         "recorded_at": local_iso(entry["recorded_at"], zone),
                         "note": entry["note"],
                         "journal_position": result.position, "journal_hash": result.hash},
                        status_code=201)


def _text(value: Any, name: str, limit: int = 200) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ApiError(422, f"invalid_{name}", f"{name} must be text of at most {limit} "
                       "characters")
    return value.strip()


def _purpose(value: Any) -> str:
    purpose = value or "telemarketing"
    if purpose not in PURPOSES:
        raise ApiError(422, "invalid_purpose",
                       f"unknown purpose '{purpose}'; accepted: {', '.join(PURPOSES)}")
    return str(purpose)


def _dial_context(source: Any, caller: Caller, jurisdiction: Jurisdiction) -> dict[str, Any]:
    """purpose, campaign, agency and caller id as asked (query or body). A token bound to
    an agency asks for that agency's calls: left out, it is the token's; another one is
    refused, so a blank field never skips the agency's authorisation."""
    caller_id = _text(source.get("caller_id"), "caller_id", 40)
    agency = _text(source.get("agency"), "agency", 100)
    if caller.agency and agency and agency != caller.agency:
        raise ApiError(403, "agency_not_bound", f"this token checks for agency "
                       f"'{caller.agency}' only, not '{agency}'; leave agency out or use "
                       "that agency's own token", detail={"bound_agency": caller.agency})
    return {"purpose": _purpose(source.get("purpose")),
            "campaign": _text(source.get("campaign"), "campaign", 80),
            "agency": agency or caller.agency,
            "caller_id": _valid_phone(caller_id, jurisdiction) if caller_id else None}


async def check(request: Request) -> JSONResponse:
    """GET /v1/check answers from memory (~0.3 ms): on the event loop, not through the
    thread pool, whose hand-off cost as much as the answer at 1,000 checks a second."""
    caller = _caller(request, "check")
    where: Jurisdiction = request.app.state.jurisdiction
    phone = _valid_phone(request.query_params.get("phone"), where)
    return JSONResponse(request.app.state.index.check(
        phone, **_dial_context(request.query_params, caller, where)))


MAX_BATCH_CHECK = 10_000


async def check_batch(request: Request) -> Response:
    """POST /v1/check: up to 10,000 numbers, answered in the same order."""
    caller = _caller(request, "check")
    body = await _json_object(request)
    numbers = body.get("numbers")
    if not isinstance(numbers, list) or not numbers or len(numbers) > MAX_BATCH_CHECK:
        raise ApiError(422, "invalid_numbers", "numbers must be a list of 1 to "
                       f"{MAX_BATCH_CHECK:,} phone numbers")
    context = _dial_context(body, caller, request.app.state.jurisdiction)
    index: CheckIndex = request.app.state.index
    texts = pl.Series([v if isinstance(v, str) else None for v in numbers], dtype=pl.String)
    if texts.null_count():  # a JSON number or object is no answerable number: say so
        n = int(texts.is_null().arg_true()[0])
        raise ApiError(422, "invalid_numbers", f"numbers[{n}] is "
                       f"{json.dumps(numbers[n])[:40]}, not text; {_AS_TEXT}")
    normalised = normalise(texts, index.jurisdiction)
    valid = normalised["phone"].is_not_null()
    answers = await asyncio.to_thread(
        index.check_many, normalised.filter(valid).select("phone", "region", "number_type"),
        **context)
    invalid = index.invalid(context["purpose"])
    del invalid["purpose"]  # added below, after the input it answers
    bad = pl.DataFrame({"input": [str(numbers[n])[:40] for n in (~valid).arg_true()]},
                       schema={"input": pl.String})
    bad = bad.select(*(pl.lit(v, pl.Boolean if isinstance(v, bool) else pl.String).alias(k)
                       for k, v in invalid.items()), "input",
                     pl.lit(context["purpose"]).alias("purpose"))
    # Encoded by polars, row by row as JSONResponse would (10,000 answers: ~5 ms, not 40).
    rows = pl.concat([
        frame.select(pl.Series("n", where, pl.UInt32),
                     pl.struct(pl.all()).struct.json_encode().alias("json"))
        for frame, where in ((answers, valid.arg_true()), (bad, (~valid).arg_true()))]
    ).sort("n")
    return Response(f"[{rows['json'].str.join(',').item()}]", media_type="application/json")


MAX_CALLS = 1000


def _call(entry: Any, caller: Caller, n: int, agencies: dict[str, Agency],
          jurisdiction: Jurisdiction
          ) -> dict[str, Any]:
    """One call as a dialer reports it, checked; what is wrong names the entry."""
    where = f"calls[{n}]: "
    if not isinstance(entry, dict):
        raise ApiError(422, "invalid_call", f"{where}each call must be a JSON object")
    try:
        agency = _text(entry.get("agency"), "agency", 100) or caller.agency
        call_id = _text(entry.get("call_id"), "call_id", 200)
        if not agency or not call_id:
            raise ApiError(422, "invalid_call", f"{where}agency and call_id are required "
                           "(the dialer's own id of the call)")
        if caller.agency and agency != caller.agency:
            raise ApiError(403, "agency_not_bound", f"{where}this token reports calls of "
                           f"agency '{caller.agency}' only, not '{agency}'; leave agency out "
                           "or send that agency's calls with its own token",
                           detail={"bound_agency": caller.agency})
        phone = _valid_phone(entry.get("phone"), jurisdiction)
        started = entry.get("started_at")
        if not isinstance(started, str):
            raise ApiError(422, "invalid_started_at", f"{where}started_at is required, ISO "
                           "8601, e.g. 2026-11-20T10:15:00+01:00 (no offset: "
                           f"{jurisdiction.time_words})")
        at = parse_instant(started, jurisdiction.timezone_name, what="started_at")
        if at > now_utc() + dt.timedelta(minutes=5):
            raise ApiError(422, "invalid_started_at", f"{where}started_at is in the future")
        outcome = entry.get("outcome")
        if outcome not in OUTCOMES:
            raise ApiError(422, "invalid_outcome", f"{where}unknown outcome {outcome!r}; "
                           f"accepted: {', '.join(OUTCOMES)}")
        direction = entry.get("direction") or "outbound"
        if direction not in DIRECTIONS:
            raise ApiError(422, "invalid_direction", f"{where}direction must be one of "
                           f"{', '.join(DIRECTIONS)}")
        duration = entry.get("duration_s")
        if duration is not None and (not isinstance(duration, int) or isinstance(
                duration, bool) or not 0 <= duration < 10**7):
            raise ApiError(422, "invalid_duration", f"{where}duration_s must be whole "
                           "seconds")
        caller_id = _text(entry.get("caller_id"), "caller_id", 40)
        line = _valid_phone(caller_id, jurisdiction) if caller_id else None
        if direction == "inbound":
            _inbound(caller, agencies.get(agency), agency, line)
    except InputError as exc:
        raise ApiError(422, "invalid_call", f"{where}{exc.message}") from None
    except ApiError as exc:
        exc.message = exc.message if exc.message.startswith(where) else where + exc.message
        raise
    return {"agency": agency, "call_id": call_id, "phone": phone,
            "phone_key": key_of(phone),
            "campaign": _text(entry.get("campaign"), "campaign", 80),
            "agent": _text(entry.get("agent"), "agent", 100) or caller.name,
            "caller_id": line, "direction": direction, "started_at": at, "duration_s": duration,
            "outcome": outcome, "recorded_at": now_utc(), "via": f"api:{caller.name}"}


def _inbound(caller: Caller, agency: Agency | None, agency_id: str, line: str | None
             ) -> None:
    """An inbound call is accepted only from the token of the agency that answered it, on
    a line its manifest declares: a contract that follows one is INBOUND, cleared of the
    list it came from, so a call centre must not be able to claim the calls of another, or
    of a line it does not answer."""
    if not caller.agency:
        raise ApiError(403, "inbound_needs_agency_token", "an inbound call is reported "
                       "only with a token bound to the agency that answered it (gatekeeper "
                       "token add NAME --role dialer --agency ID)")
    if agency is None:
        raise ApiError(422, "inbound_not_declared", f"no agency '{agency_id}' in agencies/; "
                       "an inbound call needs its manifest, with inbound = true")
    manifest = f"agencies/{agency.path.name}"
    if not agency.inbound:
        raise ApiError(422, "inbound_not_declared", f"agency '{agency_id}' answers no "
                       f"inbound lines; set inbound = true in {manifest} (and list the lines "
                       "in inbound_numbers), or send the call as outbound")
    if not agency.answers_on(line):
        raise ApiError(422, "inbound_line_undeclared", (
            f"caller_id {line} is not one of {agency_id}'s inbound_numbers; add it to "
            f"inbound_numbers in {manifest}" if line else
            f"caller_id is required for an inbound call to {agency_id}: the line the person "
            f"called, one of the inbound_numbers in {manifest}"))


async def post_calls(request: Request) -> JSONResponse:
    """POST /v1/calls: one call, or {"calls": [...]} (up to 1,000); 201 once on disk; a call
    already recorded (same agency and call_id) is answered as first stored (200 when all
    were). A batch with one call the token may not report stores none of them."""
    caller = _caller(request, "calls")
    if caller.role == "dialer" and not caller.agency:  # a token file of an older version
        raise ApiError(403, "token_without_agency", f"dialer token '{caller.name}' is bound "
                       "to no agency, so it may not report calls (checks still work); make "
                       f"a new one: gatekeeper token revoke {caller.name}, then gatekeeper "
                       f"token add {caller.name} --role dialer --agency ID")
    body = await _json_object(request)
    entries = body.get("calls", [body])
    if not isinstance(entries, list) or not entries or len(entries) > MAX_CALLS:
        raise ApiError(422, "invalid_calls", f"calls must be a list of 1 to {MAX_CALLS:,} "
                       "calls")
    index: CheckIndex = request.app.state.index
    agencies = index.agencies
    where: Jurisdiction = request.app.state.jurisdiction
    calls = [_call(e, caller, n, agencies, where) for n, e in enumerate(entries)]
    journal: Journal = request.app.state.journal
    recorded = await asyncio.to_thread(index.ledger.ledger.record, calls, journal,
                                       zone=where.timezone_name)
    # 409 when nothing new was stored and a call id was reused for another call: the dialer
    # must notice (an objection among them was recorded all the same).
    status = 201 if recorded.stored.height else 409 if recorded.clashes.height else 200
    zone = index.jurisdiction.timezone_name
    body = {"stored": _calls_json(recorded.stored, zone),
            "already_recorded": _calls_json(recorded.repeated, zone),
            "optouts_recorded": recorded.optouts}
    known = index.agencies
    unknown = sorted({c["agency"] for c in calls} - set(known))
    if unknown:  # kept (evidence, and never an objection lost), but a typo must show
        body["warnings"] = [f"no agency '{a}' in agencies/ (known: {', '.join(sorted(known))})"
                            f"; its calls are kept as evidence, and checks naming it answer "
                            "AGENCY_NOT_AUTHORISED" for a in unknown]
    if recorded.clashes.height:
        body["conflicts"] = [
            {"agency": c["agency"], "call_id": c["call_id"],
             "message": f"call_id {c['call_id']} of {c['agency']} was already recorded for "
                        "another call (see already_recorded); each call needs its own id"
                        + ("; the objection was recorded" if c["outcome"] == "optout"
                           else "; this one was not stored")}
            for c in recorded.clashes.iter_rows(named=True)]
    return JSONResponse(body, status_code=status)


def _calls_json(calls: pl.DataFrame, zone: str) -> list[dict[str, Any]]:
    """Calls as the API shows them (instants in local time with their offset)."""
    return [{**{k: v for k, v in row.items() if k != "phone_key"},
             "started_at": local_iso(row["started_at"], zone),
             "recorded_at": local_iso(row["recorded_at"], zone)}
            for row in calls.iter_rows(named=True)]


def disclosure(request: Request) -> JSONResponse:
    _caller(request, "disclosure")
    phone = _valid_phone(request.path_params["phone"], request.app.state.jurisdiction)
    data = disclose(request.app.state.ws, phone)
    if not data["held"]:
        raise ApiError(404, "not_held", f"nothing is held about {data['phone']}")
    return JSONResponse(data)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.code == "body_timeout":
        request.scope[NOTE] = exc.message
    if for_people(request.url.path):
        return console_error(request, exc.status)
    return _error(exc.status, exc.code, exc.message, exc.headers, exc.detail)


async def gatekeeper_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatekeeperError)
    if isinstance(exc, StoreBusy):
        return _error(503, "store_busy", "the store is busy (a load or run is writing); "
                      "retry shortly", {"Retry-After": "5"})
    if isinstance(exc, NotFound):
        return _error(404, "not_found", exc.message)
    if isinstance(exc, InputError):
        return _error(422, "invalid_input", exc.message)
    if isinstance(exc, JournalError | EvidenceError):  # fail closed: no answer is "dialable"
        return _error(503, "journal_damaged", exc.message)
    if isinstance(exc, StoreDamaged):
        return _error(503, "store_damaged", exc.message)
    if isinstance(exc, SharedUnavailable):  # nothing was written: the caller retries
        return _error(503, "shared_store_unavailable", exc.message, {"Retry-After": "1"})
    status = 503 if isinstance(exc, StoreError) else 500
    return _error(status, "unavailable", exc.message)


async def not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    if for_people(request.url.path):
        return console_error(request, status)
    return _error(status, "not_found" if status == 404 else "http_error",
                  "no such endpoint; see /openapi.json" if status == 404 else str(exc))


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client left before its body was read: nothing was carried out and nobody is
    there to answer; the access log says so in its one line (no traceback: not our fault)."""
    request.scope[NOTE] = "client went away before sending the whole request"
    return Response(status_code=GONE)


async def server_error(request: Request, exc: Exception) -> Response:
    logging.getLogger("gatekeeper").error("internal error: %s", type(exc).__name__)
    return _error(500, "internal", "internal error; the request was not carried out")


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large",
                    f"the request body is larger than this endpoint accepts ({limit:,} bytes, "
                    f"{limit // MiB} MiB); send less, e.g. split a batch into smaller ones")


class BodyLimit:
    """Refuses a request body larger than `limit` bytes without holding it in memory.

    A declared Content-Length over the limit is answered 413 before the endpoint runs; a
    chunked body is counted as it streams in and refused (413) as soon as it passes the
    limit, so at most `limit` bytes plus one chunk are ever held.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _error(400, "invalid_content_length",
                                 "Content-Length must be a whole number of bytes")(
                        scope, receive, send)
                    return
        if declared is not None and declared > self.limit:
            error = _too_large(self.limit)
            answer = (console_error(Request(scope), error.status)
                      if for_people(scope.get("path", "")) else
                      _error(error.status, error.code, error.message))
            await answer(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _too_large(self.limit)  # answered as JSON by api_error
            return message

        await self.app(scope, counted, send)


HEADER_TIMEOUT = 10.0  # seconds from a connection (or a request's first byte) to its headers
BODY_TIMEOUT = 30.0  # seconds from the headers to the end of the body (10 MiB: ~350 kB/s)
GONE = 499  # logged (nginx's code) for a request whose client left before it was answered


def _body_too_slow(seconds: float) -> ApiError:
    return ApiError(408, "body_timeout", f"the request body did not arrive within "
                    f"{seconds:g}s; send it at once, or split a large batch",
                    {"Connection": "close"})


class BodyDeadline:
    """Refuses a body that arrives too slowly (408), so a client sending a byte a second
    cannot hold a request open: uvicorn bounds the idle time between requests, never the
    time a body takes. Each receive waits at most until the body's deadline; once the body
    is whole, receive (now only a wait for the client to leave) is not bounded."""

    def __init__(self, app: ASGIApp, seconds: float = BODY_TIMEOUT) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        whole = False

        async def bounded() -> Message:
            nonlocal whole
            if whole:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), deadline - time.monotonic())
            except TimeoutError:
                raise _body_too_slow(self.seconds) from None  # answered as JSON by api_error
            whole = message["type"] != "http.request" or not message.get("more_body")
            return message

        await self.app(scope, bounded, send)


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's HTTP protocol with a deadline for a request's headers: uvicorn closes a
    connection idle between requests, but waits forever for the first request and for
    headers that trickle in (slowloris). From the connection, or from the first byte of a
    later request, the headers must be whole within `header_timeout` seconds; a request
    begun is answered 408, a connection that never sent a byte is closed quietly (a
    browser's spare connection is no attack worth a log line)."""

    header_timeout = HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._begun = False
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        self._begun = False
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _expired(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm()  # a 408 now would cut into the answer still being sent: wait for it
            return
        if self._begun:
            log.warning("- <headers> 408 request headers not whole within %gs; connection "
                        "closed", self.header_timeout)
            body = json.dumps({"error": {
                "status": 408, "code": "header_timeout", "message": "the request headers "
                f"did not arrive within {self.header_timeout:g} seconds"}}).encode()
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close"
                b"\r\n\r\n" + body)
        self.transport.close()


class ApiRoute(Route):
    """A route with a request-body limit that records its template for the access log.

    `max_body` is per route: ordinary endpoints take BODY_LIMIT (1 MiB), batch endpoints
    declare BATCH_BODY_LIMIT (10 MiB). The access log must never see a raw path
    (`/v1/check/3331664217` holds a number), only the template of the route that took the
    request; stamping it here, in the route itself, covers full matches and 405s alike and
    does not depend on the Starlette version putting the matched route into the scope.
    """

    def __init__(self, path: str, endpoint: Any, *, methods: list[str] | None = None,
                 max_body: int = BODY_LIMIT) -> None:
        super().__init__(path, endpoint, methods=methods)
        self.max_body = max_body
        self.app = BodyLimit(self.app, max_body)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[ROUTE_TEMPLATE] = self.path
        await super().handle(scope, receive, send)


class AccessLog:
    """One line per request, never a phone number: route template, status, time, caller.

    A request no route took is logged as `<unmatched>`, whatever its path; query strings
    are never logged. Plain ASGI (not BaseHTTPMiddleware) to keep the per-request cost of a
    check small.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "OTHER"
            template = scope.get(ROUTE_TEMPLATE, UNMATCHED)
            caller = scope.get("state", {}).get("caller", "-")
            note = scope.get(NOTE)
            log.info("%s %s %d %.1fms caller=%s%s", method, template, status[0],
                     (time.perf_counter() - start) * 1000, caller, f" ({note})" if note else "")


def _settle() -> None:
    """What the service holds for long (the index, the journal's entries) is set aside from
    the garbage collector's full passes: each walked all of it, ~30 ms every few batch
    checks (POST /v1/check of 10,000: 80 ms, then 120 ms). Collected first, so no garbage
    is kept; done again whenever the index is rebuilt."""
    gc.unfreeze()  # what was set aside before and is garbage now is collected too
    gc.collect()
    gc.freeze()


UPLOAD_LIMIT = 200 * 1024 * 1024  # a list of a few million rows as xlsx or csv


def create_app(ws: Workspace, *, clock: dt.datetime | None = None,
               refresh_seconds: float = 1.0, body_timeout: float = BODY_TIMEOUT,
               upload_limit: int = UPLOAD_LIMIT) -> Starlette:
    """The service for one workspace; `clock` pins "now" (demos and tests)."""
    index = CheckIndex(ws, clock)
    jobs = Jobs(ws, clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(index.refresh)
        _settle()

        async def keep_fresh() -> None:
            while True:
                await asyncio.sleep(refresh_seconds)
                with contextlib.suppress(Exception):  # next tick tries again
                    if await asyncio.to_thread(index.refresh):
                        _settle()

        task = asyncio.create_task(keep_fresh())
        yield
        task.cancel()
        jobs.stop()
        gc.unfreeze()

    app = Starlette(
        routes=[ApiRoute("/", agent_page), ApiRoute("/healthz", healthz),
                ApiRoute("/openapi.json", openapi),
                ApiRoute("/v1/optouts", post_optout, methods=["POST"]),
                ApiRoute("/v1/check", check),
                ApiRoute("/v1/check", check_batch, methods=["POST"],
                         max_body=BATCH_BODY_LIMIT),
                ApiRoute("/v1/calls", post_calls, methods=["POST"],
                         max_body=BATCH_BODY_LIMIT),
                ApiRoute("/v1/disclosure/{phone}", disclosure),
                *console_routes(ApiRoute, upload_limit)],
        exception_handlers={ApiError: api_error, GatekeeperError: gatekeeper_error,
                            ClientDisconnect: client_gone, 404: not_found, 405: not_found,
                            Exception: server_error},
        middleware=[Middleware(AccessLog), Middleware(BodyDeadline, seconds=body_timeout)],
        lifespan=lifespan)
    app.state.ws = ws
    # The numbers a request names are read as the workspace's country's (bare ones).
    app.state.jurisdiction = ws.config().jurisdiction
    app.state.index = index
    app.state.journal = index.optouts.journal
    app.state.journal.start_following()  # a shared register: its notifications from now
    app.state.tokens = open_tokens(ws)
    app.state.console = Console(Sessions(app.state.tokens), jobs, upload_limit)
    return app


def serve(ws: Workspace, host: str = "127.0.0.1", port: int = 8787,
          clock: dt.datetime | None = None, *, header_timeout: float = HEADER_TIMEOUT,
          body_timeout: float = BODY_TIMEOUT, upload_limit: int = UPLOAD_LIMIT) -> None:
    """Run the service with uvicorn until interrupted; access lines go to stderr."""
    import uvicorn

    protocol = type("HeaderDeadline", (HeaderDeadline,), {"header_timeout": header_timeout})

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # A durable write runs in a worker thread; with Python's default 5 ms hand-over of
    # the interpreter lock, each one waited for the event loop's turn to end.
    sys.setswitchinterval(0.0005)
    uvicorn.run(create_app(ws, clock=clock, body_timeout=body_timeout,
                           upload_limit=upload_limit), host=host, port=port,
                access_log=False, log_level="warning", http=protocol)
