"""The service against callers who would forge evidence or hold it hostage, on loopback.

A contract that follows an inbound call is INBOUND, cleared of the list it came from: only
the agency that answered the call, on a line it declared, may report one. A client that
sends its request slowly must not hold the service: its headers and body have deadlines.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import select
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from gatekeeper.config import Workspace
from gatekeeper.service.tokens import TokenFile

from .conftest import DIAL_AT, gk
from .service_helper import Service, running_service

HOTLINE = """
id = "{id}"
name = "Numero Verde S.r.l."
vat = "IT02222222222"
authorised_from = 2026-01-01
caller_ids = ["+390288880001"]
{inbound}
"""
LINE = "+390280000100"  # hotline's declared inbound line


def _old_dialer_token(ws: Workspace) -> str:
    """A dialer token as a version before agencies wrote it: no "agency" key at all."""
    token = "gk_made-by-an-older-version"
    path = ws.data_dir / "tokens.json"
    data = json.loads(path.read_text()) if path.exists() else {"tokens": []}
    data["tokens"].append({"name": "old-dialer", "role": "dialer",
                           "sha256": hashlib.sha256(token.encode()).hexdigest(),
                           "created_at": "2026-01-01T00:00:00Z", "revoked_at": None})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return token


def _verify(ws: Workspace, tmp_path: Path, name: str, *contracts: tuple[str, str, str]
            ) -> tuple[int, dict[str, str]]:
    """contracts verify's exit code and each contract's status."""
    path = tmp_path / f"{name}.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["contract_id", "phone", "signed_at", "agency", "agent", "campaign"])
        for n, (phone, signed, agency) in enumerate(contracts):
            writer.writerow([f"K{n}", phone, signed, agency, "ag1", "demo"])
    result = gk(ws, "contracts", "verify", str(path), "--name", name)
    report = pl.read_csv(ws.root / "reports" / "contracts" / name / "contracts.csv",
                         infer_schema=False)
    return result.exit_code, dict(zip(report["contract_id"], report["status"], strict=True))


def _error(answer: Any) -> dict[str, Any]:
    error: dict[str, Any] = answer.json()["error"]
    return error


def test_no_token_but_the_answering_agencys_clears_a_contract_as_inbound(
        scrubbed: Workspace, tmp_path: Path) -> None:
    """Before: any dialer token posting `direction: inbound` turned UNLAWFUL_CONTACT,
    NO_CONTACT_RECORD and UNKNOWN_AGENCY contracts into INBOUND, and verify exited 0."""
    phones = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv",
                         infer_schema=False)["phone"].head(4).to_list()
    agencies = scrubbed.root / "agencies"
    (agencies / "hotline.toml").write_text(HOTLINE.format(
        id="hotline", inbound=f'inbound = true\ninbound_numbers = ["{LINE}"]'))
    (agencies / "anyline.toml").write_text(HOTLINE.format(id="anyline",
                                                          inbound="inbound = true"))
    (agencies / "outonly.toml").write_text(HOTLINE.format(id="outonly",
                                                          inbound="inbound = false"))
    made = gk(scrubbed, "token", "add", "centralino", "--role", "dialer", "--agency",
              "hotline")
    assert made.exit_code == 0, made.output
    hotline_token = made.stdout.strip().splitlines()[0]
    made = gk(scrubbed, "token", "add", "anna", "--role", "agent", "--agency", "anyline")
    anyline_agent = made.stdout.strip().splitlines()[0]
    old_token = _old_dialer_token(scrubbed)
    contracts = [(phones[0], "2026-11-23 12:00", "connecto"),  # no call at all
                 (phones[1], "2026-11-23 12:00", "Televendite Ombra"),  # no manifest
                 (phones[2], "2026-11-23 22:00", "connecto")]  # called after hours

    def call(phone: str, **extra: Any) -> dict[str, Any]:
        return {"call_id": f"in-{phone}-{len(extra)}", "phone": phone,
                "started_at": "2026-11-23 11:00", "outcome": "answered", **extra}

    with running_service(scrubbed, DIAL_AT, dialer_agency="outonly") as service:
        auth = {"Authorization": f"Bearer {old_token}"}
        with service.client("agent") as agent, service.client("dialer") as dialer, \
                service.client("privacy") as privacy, service.client() as anyone:
            unlawful = agent.post("/v1/calls", json={
                "call_id": "late-sale", "agency": "connecto", "phone": phones[2],
                "started_at": "2026-11-23 21:30", "outcome": "sale"})
            assert unlawful.status_code == 201, unlawful.text  # outbound: evidence as before
            before, statuses = _verify(scrubbed, tmp_path, "before", *contracts)
            assert before == 1
            assert list(statuses.values()) == ["NO_CONTACT_RECORD", "UNKNOWN_AGENCY",
                                               "UNLAWFUL_CONTACT"]
            for (phone, _, agency) in contracts:
                inbound = call(phone, agency=agency, direction="inbound")
                # A dialer token is its agency's: it names no other ...
                answer = dialer.post("/v1/calls", json=inbound)
                assert answer.status_code == 403, answer.text
                assert _error(answer)["code"] == "agency_not_bound"
                assert _error(answer)["bound_agency"] == "outonly"
                assert "agency 'outonly' only" in _error(answer)["message"]
                # ... and its own agency answers no lines.
                answer = dialer.post("/v1/calls", json=call(phone, direction="inbound"))
                assert answer.status_code == 422, answer.text
                assert _error(answer)["code"] == "inbound_not_declared"
                assert "set inbound = true in agencies/outonly.toml" in answer.text
                # Tokens bound to no agency: never an inbound call.
                for client in (agent, privacy):
                    answer = client.post("/v1/calls", json=inbound)
                    assert answer.status_code == 403, answer.text
                    assert _error(answer)["code"] == "inbound_needs_agency_token"
                # Another agency's token, inbound or not, naming a foreign agency.
                answer = anyone.post("/v1/calls", json={"calls": [inbound]}, headers={
                    "Authorization": f"Bearer {hotline_token}"})
                assert answer.status_code == 403 and "'hotline' only" in answer.text
                # A dialer token of an older version: no calls, and told how to mend it.
                answer = anyone.post("/v1/calls", json=inbound, headers=auth)
                assert answer.status_code == 403, answer.text
                assert _error(answer)["code"] == "token_without_agency"
                assert "--role dialer --agency ID" in _error(answer)["message"]
            # ... whose checks still work.
            assert anyone.get("/v1/check", params={"phone": phones[0]},
                              headers=auth).status_code == 200
            after, statuses_after = _verify(scrubbed, tmp_path, "after", *contracts)
            assert (after, statuses_after) == (before, statuses)

            # The agency that answers: on its declared line, agency taken from its token.
            hot = {"Authorization": f"Bearer {hotline_token}"}
            wrong_line = anyone.post("/v1/calls", headers=hot, json=call(
                phones[3], direction="inbound", caller_id="+390280000999"))
            assert wrong_line.status_code == 422
            assert _error(wrong_line)["code"] == "inbound_line_undeclared"
            assert "add it to inbound_numbers in agencies/hotline.toml" in wrong_line.text
            no_line = anyone.post("/v1/calls", headers=hot,
                                  json=call(phones[3], direction="inbound"))
            assert no_line.status_code == 422 and "caller_id is required" in no_line.text
            stored = anyone.post("/v1/calls", headers=hot, json=call(
                phones[3], direction="inbound", caller_id="02 8000 0100"))
            assert stored.status_code == 201, stored.text
            entry = stored.json()["stored"][0]
            assert (entry["agency"], entry["caller_id"]) == ("hotline", LINE)
            # An agent bound to an agency with inbound lines and none listed: any line.
            other = anyone.post("/v1/calls", json=call(phones[0], direction="inbound"),
                                headers={"Authorization": f"Bearer {anyline_agent}"})
            assert other.status_code == 201 and other.json()["stored"][0]["agency"] == "anyline"
    code, statuses = _verify(scrubbed, tmp_path, "inbound",
                             (phones[3], "2026-11-23 12:00", "hotline"))
    assert (code, statuses["K0"]) == (0, "INBOUND")


def test_a_token_is_bound_only_to_an_agency_that_exists(scrubbed: Workspace) -> None:
    unbound = gk(scrubbed, "token", "add", "d1", "--role", "dialer")
    assert unbound.exit_code == 2 and "add --agency ID" in unbound.output
    typo = gk(scrubbed, "token", "add", "d1", "--role", "dialer", "--agency", "conecto")
    assert typo.exit_code == 2 and "did you mean 'connecto'" in typo.output
    privacy = gk(scrubbed, "token", "add", "p1", "--role", "privacy", "--agency", "connecto")
    assert privacy.exit_code == 2 and "leave out --agency" in privacy.output
    (scrubbed.root / "agencies" / "broken.toml").write_text('id = "broken"\n')
    broken = gk(scrubbed, "token", "add", "d1", "--role", "dialer", "--agency", "broken")
    assert broken.exit_code == 2 and "broken.toml" in broken.output
    assert "Traceback" not in typo.output + broken.output
    assert not TokenFile(scrubbed.data_dir / "tokens.json").listing()  # none was made
    assert gk(scrubbed, "token", "add", "d1", "--role", "dialer", "--agency",
              "callpro").exit_code == 0
    _old_dialer_token(scrubbed)
    listed = gk(scrubbed, "token", "list")
    assert listed.exit_code == 0
    assert re.search(r"d1 +dialer .*agency callpro", listed.output)
    assert re.search(r"old-dialer +dialer .*NO AGENCY", listed.output)


# --- slow clients ---------------------------------------------------------------------

@pytest.fixture
def quick(demo: Workspace) -> Any:
    """A service whose read deadlines are 1 second, so a slow client shows in a test."""
    with running_service(demo, DIAL_AT, options=("--header-timeout", "1",
                                                 "--body-timeout", "1")) as svc:
        yield svc


def _connect(service: Service) -> socket.socket:
    host, port = service.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _answer(sock: socket.socket) -> tuple[int, bytes, bytes]:
    """Status, headers and body of a response the service ends by closing."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.lower(), body


def _dribble(sock: socket.socket, data: bytes, every: float = 0.1) -> float:
    """Send a byte each `every` seconds until the service answers; the seconds it took."""
    start = time.monotonic()
    for byte in data:
        if select.select([sock], [], [], every)[0]:
            return time.monotonic() - start
        sock.sendall(bytes([byte]))
    raise AssertionError("the service waited for the whole slow request")


def _log_line(service: Service, pattern: str) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = re.search(pattern, service.log.read_text())
        if found:
            return found.group()
        time.sleep(0.05)
    raise AssertionError(f"no log line matches {pattern!r}: {service.log.read_text()}")


def _head(service: Service, length: int) -> bytes:
    return (f"POST /v1/optouts HTTP/1.1\r\nHost: gk\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {service.tokens['agent']}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def test_a_body_sent_byte_by_byte_is_answered_408_at_its_deadline(quick: Service) -> None:
    """Before: the request held a worker until the client gave up, and ended in a 500 with
    a ClientDisconnect traceback."""
    body = b'{"phone": "333 123 4567", "note": "' + b"x" * 200 + b'"}'
    with _connect(quick) as sock:
        sock.sendall(_head(quick, len(body)))
        took = _dribble(sock, body)
        status, head, answer = _answer(sock)
    assert status == 408 and 0.9 < took < 5, took
    assert b"connection: close" in head
    assert json.loads(answer)["error"]["code"] == "body_timeout"
    line = _log_line(quick, r"POST /v1/optouts 408 .*")
    assert "did not arrive within 1s" in line
    with quick.client("agent") as agent:  # the service goes on serving
        assert agent.get("/v1/check", params={"phone": "0212345678"}).status_code == 200
    log = quick.log.read_text()
    assert "Traceback" not in log and "3331234567" not in log and "333 123" not in log


def test_a_client_that_leaves_mid_body_is_one_log_line(quick: Service) -> None:
    with _connect(quick) as sock:
        sock.sendall(_head(quick, 200) + b'{"phone": "3331234567", "no')
    line = _log_line(quick, r"POST /v1/optouts 499 .*")
    assert "client went away" in line
    log = quick.log.read_text()
    assert "Traceback" not in log and "ClientDisconnect" not in log
    assert "3331234567" not in log
    assert log.count("\n") < 6  # the start line, the request's line, and no more
    with quick.client("agent") as agent:  # nothing was recorded; the service still answers
        answer = agent.get("/v1/check", params={"phone": "3331234567"}).json()
        assert answer["reason"] != "OPTED_OUT"


def test_headers_sent_slowly_are_cut_off_at_their_deadline(quick: Service) -> None:
    with _connect(quick) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gk\r\n")
        took = _dribble(sock, b"X-Slow: " + b"a" * 100)
        status, _, answer = _answer(sock)
    assert status == 408 and 0.9 < took < 5, took
    assert json.loads(answer)["error"]["code"] == "header_timeout"
    _log_line(quick, r"408 request headers not whole within 1s")
    with _connect(quick) as idle:  # a connection that never sends a byte: closed quietly
        start = time.monotonic()
        assert idle.recv(100) == b""
        assert time.monotonic() - start < 5
    with quick.client("agent") as agent:
        assert agent.get("/healthz").status_code == 200


def test_a_bound_token_checks_for_its_own_agency(scrubbed: Workspace) -> None:
    """A blank agency on the agent page (or a dialer that leaves it out) used to skip the
    agency's authorisation: a centre whose mandate had ended heard "dialable"."""
    phone = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv",
                        infer_schema=False)["phone"][0]
    (scrubbed.root / "agencies" / "scaduta.toml").write_text(HOTLINE.format(
        id="scaduta", inbound="authorised_to = 2026-10-31"))
    made = gk(scrubbed, "token", "add", "bea", "--role", "agent", "--agency", "scaduta")
    assert made.exit_code == 0, made.output
    bound = made.stdout.strip().splitlines()[0]
    with running_service(scrubbed, DIAL_AT) as svc, svc.client("agent") as free:
        headers = {"Authorization": f"Bearer {bound}"}
        with httpx.Client(base_url=svc.url, headers=headers, timeout=10) as bea:
            own = bea.get("/v1/check", params={"phone": phone}).json()
            other = bea.get("/v1/check", params={"phone": phone, "agency": "connecto"})
            batch = bea.post("/v1/check", json={"numbers": [phone]}).json()
        unbound = free.get("/v1/check", params={"phone": phone}).json()
    assert (own["dialable"], own["reason"]) == (False, "AGENCY_NOT_AUTHORISED"), own
    assert batch[0]["reason"] == "AGENCY_NOT_AUTHORISED", batch
    assert other.status_code == 403 and other.json()["error"]["code"] == "agency_not_bound"
    assert unbound["dialable"], unbound
