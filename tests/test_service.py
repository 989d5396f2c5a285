"""The real service on loopback: opt-outs, checks, roles, disclosure, logs, concurrency."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.config import Workspace

from .conftest import AS_OF, DIAL_AT, gk
from .service_helper import Service, running_service


@pytest.fixture
def service(scrubbed: Workspace) -> Iterator[Service]:
    with running_service(scrubbed, DIAL_AT) as svc:
        yield svc


def _dialable(ws: Workspace, n: int = 1) -> list[dict[str, str]]:
    return pl.read_csv(ws.report_dir("demo") / "dialable.csv").head(n).to_dicts()


def test_agent_optout_is_honoured_by_the_next_check(scrubbed: Workspace,
                                                    service: Service) -> None:
    row = _dialable(scrubbed)[0]
    national = row["phone"].removeprefix("+39")
    with service.client("dialer") as dialer, service.client("agent") as agent:
        before = dialer.get("/v1/check", params={"phone": national}).json()
        assert before["dialable"] is True and before["basis"] == row["basis"]
        assert before["valid_until"] == row["valid_until"]
        posted = agent.post("/v1/optouts", json={"phone": national, "note": "in chiamata"})
        assert posted.status_code == 201
        entry = posted.json()
        assert entry["phone"] == row["phone"] and entry["recorded_by"] == "agent-1"
        assert entry["channel"] == "operator" and isinstance(entry["ref"], int)
        after = dialer.get("/v1/check", params={"phone": row["phone"]}).json()
        assert after["dialable"] is False and after["reason"] == "OPTED_OUT"
    # The CLI sees the same journal entry.
    assert gk(scrubbed, "check", row["phone"], "--purpose", "telemarketing").exit_code == 1


def test_roles_and_tokens(scrubbed: Workspace, service: Service) -> None:
    phone = _dialable(scrubbed)[0]["phone"]
    with service.client() as anonymous:
        assert anonymous.get("/v1/check", params={"phone": phone}).status_code == 401
        wrong = anonymous.get("/v1/check", params={"phone": phone},
                              headers={"Authorization": "Bearer gk_nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    with service.client("dialer") as dialer:
        refused = dialer.post("/v1/optouts", json={"phone": phone})
        assert refused.status_code == 403
        assert dialer.get(f"/v1/disclosure/{phone}").status_code == 403
    with service.client("agent") as agent:
        assert agent.get(f"/v1/disclosure/{phone}").status_code == 403
    with service.client("privacy") as privacy:
        data = privacy.get(f"/v1/disclosure/{phone}").json()
        assert {"phone", "sources", "rpo_checks", "optouts", "campaigns", "erased"} <= set(data)
        assert data["campaigns"][0]["campaign"] == "demo"
        assert privacy.get("/v1/disclosure/3510000000").status_code == 404
    # Revocation takes effect at once.
    assert gk(scrubbed, "token", "revoke", "dialer-1").exit_code == 0
    with service.client("dialer") as dialer:
        assert dialer.get("/v1/check", params={"phone": phone}).status_code == 401


def test_bad_input_is_a_clear_json_error(scrubbed: Workspace, service: Service) -> None:
    with service.client("agent") as agent:
        bad = agent.get("/v1/check", params={"phone": "n/d"})
        assert bad.status_code == 422 and "not a valid phone number" in bad.json()["error"][
            "message"]
        bad = agent.post("/v1/optouts", json={"phone": "333 123 4567", "channel": "fax"})
        assert bad.status_code == 422 and "accepted: operator" in bad.json()["error"]["message"]
        assert agent.post("/v1/optouts", content=b"{").status_code == 400
        assert agent.get("/v1/check", params={"phone": "3331234567",
                                              "purpose": "x"}).status_code == 422
        assert agent.get("/nope").json()["error"]["code"] == "not_found"
    with service.client() as anonymous:
        spec = anonymous.get("/openapi.json").json()
        documented = {(path, method.upper()) for path, item in spec["paths"].items()
                      for method in item}
    from starlette.routing import Route

    from gatekeeper.service.app import create_app
    served = {(r.path, m) for r in create_app(scrubbed).routes if isinstance(r, Route)
              for m in (r.methods or ()) - {"HEAD"} if r.path.startswith("/v1/")}
    assert served and served <= documented, served - documented  # every API route described


def test_nothing_personal_in_the_access_log(scrubbed: Workspace, service: Service) -> None:
    phone = _dialable(scrubbed)[0]["phone"]
    with service.client("privacy") as privacy:
        privacy.get("/v1/check", params={"phone": phone})
        privacy.post("/v1/optouts", json={"phone": phone, "note": "Mario Rossi"})
        privacy.get(f"/v1/disclosure/{phone}")
    time.sleep(0.3)
    log = service.log.read_text()
    assert "GET /v1/check 200" in log and "POST /v1/optouts 201" in log
    assert "/v1/disclosure/{phone}" in log
    national = phone.removeprefix("+39")
    assert national not in log and "Mario" not in log and service.tokens["privacy"] not in log


def test_access_log_names_routes_never_raw_paths(scrubbed: Workspace,
                                                 service: Service) -> None:
    """Unknown paths, 405s, redirects and known routes alike: the log shows a template."""
    phone = _dialable(scrubbed)[0]["phone"]
    national, stranger, unheld = phone.removeprefix("+39"), "3331664217", "3510000000"
    with service.client("privacy") as privacy:
        for path in (f"/v1/check/{stranger}", f"/{stranger}", f"/v1/optouts/{national}",
                     f"/v1/disclosure/{stranger}/sources", f"/v1/check/?phone={stranger}",
                     f"/nope?phone={national}"):
            assert privacy.get(path).status_code in (307, 404), path
        assert privacy.delete(f"/v1/disclosure/{national}").status_code == 405
        assert privacy.get("/v1/check", params={"phone": stranger}).status_code == 200
        assert privacy.get(f"/v1/disclosure/{unheld}").status_code == 404
        assert privacy.get(f"/v1/disclosure/{phone}").status_code == 200
    time.sleep(0.3)
    log = service.log.read_text()
    access = [line for line in log.splitlines() if "gatekeeper.access" in line]
    assert len(access) >= 10
    for number in (stranger, national, unheld):
        assert number not in log and number[-6:] not in log
    assert not [line for line in access if re.search(r"\d{5,}", line.split("access", 1)[1])]
    assert sum("GET <unmatched> 404" in line for line in access) >= 5
    assert any("GET <unmatched> 307" in line for line in access)
    assert any("DELETE /v1/disclosure/{phone} 405" in line for line in access)
    assert any("GET /v1/disclosure/{phone} 404" in line for line in access)
    assert any("GET /v1/check 200" in line for line in access)


def _raw_exchange(service: Service, head: str, parts: list[bytes]) -> tuple[int, dict]:
    """Send a request head and some body bytes on a raw socket (the body may be left
    unfinished on purpose) and read the answer: the service must not wait for the rest."""
    host, port = service.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.encode())
        for part in parts:
            sock.sendall(part)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536) or b"EOF"  # a timeout raises: the service waited
        header, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", header)[1])  # type: ignore[index]
        while len(body) < length:
            body += sock.recv(65536)
    return int(header.split()[1]), json.loads(body)


def test_request_bodies_are_capped_before_they_are_read(service: Service) -> None:
    limit = 1024 * 1024  # 1 MiB for ordinary endpoints
    token = service.tokens["agent"]
    with service.client("agent") as agent:
        just_fits = json.dumps({"phone": "333 123 4567"}).encode().ljust(limit)
        assert agent.post("/v1/optouts", content=just_fits).status_code == 201
        over = agent.post("/v1/optouts", content=just_fits + b" ")  # with Content-Length
        assert over.status_code == 413
        assert over.json()["error"]["code"] == "body_too_large"
        assert f"{limit:,} bytes" in over.json()["error"]["message"]

        def chunks() -> Iterator[bytes]:
            yield b'{"phone": "333 123 4567"}'
            for _ in range(17):
                yield b" " * 65536

        chunked = agent.post("/v1/optouts", content=chunks())
        assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "body_too_large"
    # A 400 MB body is refused on its Content-Length alone, before a byte of it is read ...
    head = ("POST /v1/optouts HTTP/1.1\r\nHost: gk\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\n")
    status, answer = _raw_exchange(service, head + "Content-Length: 400000000\r\n\r\n", [])
    assert status == 413 and answer["error"]["code"] == "body_too_large"
    # ... and a chunked one as soon as it passes the limit, while it is still streaming.
    piece = b" " * 65536
    status, answer = _raw_exchange(service, head + "Transfer-Encoding: chunked\r\n\r\n",
                                   [b"10000\r\n" + piece + b"\r\n"] * (limit // 65536 + 1))
    assert status == 413 and answer["error"]["code"] == "body_too_large"
    with service.client("agent") as agent:
        assert agent.get("/healthz").json()["status"] == "ok"
        assert agent.post("/v1/optouts", json={"phone": "333 123 4568"}).status_code == 201


def test_deeply_nested_json_is_a_bad_request(service: Service) -> None:
    with service.client("agent") as agent:
        nested = agent.post("/v1/optouts", content=b"[" * 100_000)
        assert nested.status_code == 400
        assert nested.json()["error"]["code"] == "invalid_json"
        assert "nested too deeply" in nested.json()["error"]["message"]
        deep = "[" * 500 + "]" * 500
        for field in ("channel", "scope", "received_at"):
            body = f'{{"phone": "333 123 4567", "{field}": {deep}}}'.encode()
            answer = agent.post("/v1/optouts", content=body)
            assert answer.status_code == 422, field
            assert answer.json()["error"]["code"] == f"invalid_{field}"
        assert agent.get("/healthz").json()["status"] == "ok"
    assert "Traceback" not in service.log.read_text()


def _policy_reason_codes() -> set[str]:
    """Every reason code the policy's decision table can give, read from its rules (not
    from the texts), so a rule added without words is caught."""
    from gatekeeper.decide import policy as P

    rules = [*P.STEPS, *(r for b in P.BASES for r in b.rules)]
    return {r.code for r in rules} | {P.NO_RUN, P.NO_SOURCE}


def test_every_reason_the_service_gives_has_italian_words(scrubbed: Workspace) -> None:
    from gatekeeper.decide import policy as P

    codes = _policy_reason_codes()
    assert len(codes) >= 16
    for code in codes:
        assert P.IT_TABLE.words(code) == P.CODES[code].text and P.CODES[code].text, code
    # The real service, after the run's RPO checks expired: one number per reason.
    decisions = pl.read_parquet(scrubbed.report_dir("demo") / "decisions.parquet")
    dialable = _dialable(scrubbed, 2)
    only = (decisions.filter(pl.col("phone").is_not_null())
            .group_by("phone").agg(pl.col("reason").unique())
            .filter(pl.col("reason").list.len() == 1)
            .with_columns(pl.col("reason").list.first()).drop_nulls()
            .group_by("reason").agg(pl.col("phone").min()))
    asked = dict(zip(only["phone"], only["reason"], strict=True))
    assert {"RPO_REGISTERED", "CONSENT_EXPIRED", "NUMBER_TYPE"} <= set(asked.values())
    asked |= {dialable[0]["phone"]: "RPO_NOT_CHECKED", "3510000000": "NO_SOURCE",
              dialable[1]["phone"]: "ERASED"}
    erased = gk(scrubbed, "erase", dialable[1]["phone"], "--ref", "REQ-1",
                "--received", "2026-11-21")
    assert erased.exit_code == 0, erased.output
    with running_service(scrubbed, "2026-12-06T12:00") as svc, svc.client("dialer") as dialer:
        seen = {}
        for phone, reason in asked.items():
            answer = dialer.get("/v1/check", params={"phone": phone}).json()
            assert (answer["dialable"], answer["reason"]) == (False, reason), phone
            seen[reason] = answer["reason_text"]
        survey = dialer.get("/v1/check", params={"phone": "3510000000", "purpose": "survey"})
        seen[survey.json()["reason"]] = survey.json()["reason_text"]
    assert set(seen) >= {"NO_RUN", "NO_SOURCE", "ERASED", "RPO_NOT_CHECKED", "OPTED_OUT"}
    for reason, text in seen.items():
        assert text == P.CODES[reason].text, reason
    assert "no Italian text" not in svc.log.read_text()


def test_token_add_prints_only_the_token(scrubbed: Workspace) -> None:
    made = subprocess.run([sys.executable, "-m", "gatekeeper.cli", "--home", str(scrubbed.root),
                           "token", "add", "centralino", "--role", "dialer",
                           "--agency", "connecto"],
                          capture_output=True, text=True, check=True)
    assert made.stdout.startswith("gk_") and made.stdout.count("\n") == 1
    stored = (scrubbed.data_dir / "tokens.json").read_text()
    assert made.stdout.strip() not in stored
    assert (scrubbed.data_dir / "tokens.json").stat().st_mode & 0o077 == 0


HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("BEGIN TRANSACTION")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_checks_and_optouts_go_on_while_the_store_is_held(scrubbed: Workspace,
                                                          service: Service) -> None:
    rows = _dialable(scrubbed, 3)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(scrubbed.store_path), "4"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with service.client("agent") as agent:
            assert agent.get("/v1/check", params={"phone": rows[0]["phone"]}).json()[
                "dialable"]
            start = time.monotonic()
            posted = agent.post("/v1/optouts", json={"phone": rows[1]["phone"]})
            assert posted.status_code == 201 and time.monotonic() - start < 2
            assert agent.get("/v1/check", params={"phone": rows[1]["phone"]}).json()[
                "reason"] == "OPTED_OUT"
        assert holder.poll() is None  # the store really was held all along
    finally:
        holder.communicate(timeout=10)


def test_optout_posted_during_a_scrub_is_honoured_by_the_next_run(
        scrubbed: Workspace, service: Service) -> None:
    rows = _dialable(scrubbed, 40)
    scrub = subprocess.Popen([sys.executable, "-m", "gatekeeper.cli", "--home",
                              str(scrubbed.root), "run", "--campaign", "again", "--purpose",
                              "telemarketing", "--as-of", AS_OF],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    posted = []
    with service.client("agent") as agent:
        for row in rows:
            # Received between the two runs' as_of: the test never reads the clock.
            response = agent.post("/v1/optouts", json={"phone": row["phone"],
                                                       "received_at": "2026-11-22T18:00"})
            assert response.status_code == 201
            posted.append(row["phone"])
            if scrub.poll() is not None and len(posted) >= 5:
                break
    _, err = scrub.communicate(timeout=60)
    assert scrub.returncode == 0, err
    # Acknowledged opt-outs are all in the journal, and the next run honours every one.
    assert gk(scrubbed, "run", "--campaign", "next", "--purpose", "telemarketing",
              "--as-of", "2026-11-23T12:00").exit_code == 0
    decisions = pl.read_parquet(scrubbed.report_dir("next") / "decisions.parquet")
    outcome = decisions.filter(pl.col("phone").is_in(posted))
    assert outcome.height >= len(posted)
    assert outcome["reason"].unique().to_list() == ["OPTED_OUT"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["optout", "withdraw"]),
                          st.sampled_from(["all", "telemarketing", "survey"]),
                          st.integers(0, 6)), max_size=8),
       st.sampled_from(["telemarketing", "survey"]), st.integers(0, 6))
def test_service_optout_rule_is_the_journals_rule(
        events: list[tuple[str, str, int]], purpose: str, now_day: int) -> None:
    """The service's per-request opt-out rule answers as active_optouts does."""
    import datetime as dt
    from pathlib import Path

    from gatekeeper.privacy.optouts import Journal, active_optouts, events_frame
    from gatekeeper.service.index import OptoutTail

    phone = "+393331234567"
    entries = [{"type": kind, "phone": phone, "scope": scope if kind == "optout" else None,
                "at": f"2026-11-{day + 1:02d}T00:00:00Z", "seq": seq, "channel": "operator",
                "recorded_by": "a", "note": "", "recorded_at": "2026-11-20T00:00:00Z"}
               for seq, (kind, scope, day) in enumerate(events, 1)]
    now = dt.datetime(2026, 11, now_day + 1, 12)
    tail = OptoutTail(Journal(Path("/nonexistent/optouts.jsonl")))
    tail.events[phone] = entries
    expected = bool(entries) and not active_optouts(
        events_frame(pl.from_dicts(entries, infer_schema_length=None)), purpose, now).is_empty()
    assert (tail.opted_out(phone, purpose, now) is not None) == expected


def test_a_killed_service_loses_no_acknowledged_call_or_objection(scrubbed: Workspace) -> None:
    """kill -9 while agents post calls (some of them opt-outs) and a scrub holds the store:
    every call and objection the service acknowledged is on disk, and a new service reads
    the ledger whole (a torn last line was never acknowledged)."""
    import os
    import signal
    import threading

    from gatekeeper.dial.ledger import Ledger
    from gatekeeper.privacy.optouts import Journal

    scrub = subprocess.Popen([sys.executable, "-m", "gatekeeper.cli", "--home", str(
        scrubbed.root), "run", "--campaign", "during", "--purpose", "telemarketing",
        "--as-of", AS_OF], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    calls: list[str] = []
    objections: list[str] = []
    outcomes = ("no_answer", "busy", "optout", "answered")
    with running_service(scrubbed, DIAL_AT) as service, service.client("agent") as agent:
        killer = threading.Timer(1.5, os.kill, (service.pid, signal.SIGKILL))
        killer.start()
        for i in range(100_000):
            phone = f"+39333{7000000 + i}"
            outcome = outcomes[i % len(outcomes)]
            try:
                answer = agent.post("/v1/calls", json={
                    "call_id": f"k{i}", "agency": "connecto", "phone": phone,
                    "started_at": "2026-11-23 10:00", "outcome": outcome, "agent": "a1"})
            except httpx.TransportError:
                break
            assert answer.status_code == 201, answer.text
            calls.append(f"k{i}")
            if outcome == "optout":
                objections.append(phone)
        killer.join()
    scrub.wait(120)
    assert len(calls) > 20, "the service was killed before it acknowledged anything"
    stored = set(Ledger(scrubbed.ledger_dir).calls(columns=["call_id"])["call_id"].to_list())
    assert set(calls) <= stored
    assert set(objections) <= set(Journal(scrubbed.journal_path).read().events["phone"])
    with running_service(scrubbed, DIAL_AT) as again, again.client("agent") as agent:
        repeated = agent.post("/v1/calls", json={
            "call_id": calls[0], "agency": "connecto", "phone": "+393337000000",
            "started_at": "2026-11-23 10:00", "outcome": "no_answer"})
        assert repeated.status_code == 200  # known: the restarted service read the ledger
        assert agent.post("/v1/calls", json={
            "call_id": "after", "agency": "connecto", "phone": "+393337000000",
            "started_at": "2026-11-23 10:05", "outcome": "no_answer"}).status_code == 201
