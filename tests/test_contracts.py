"""`gatekeeper contracts verify`: every status, every reason a call was not lawful, at the
edges the Garante's cases turn on, through the real CLI on the demo workspace.

The workspace's run (campaign 'nov') is as of 2 November 2026 on an RPO answer checked 1
November 10:00 (valid until 16 November 10:00, Rome): so every call here is in the past
(imports refuse future calls) and one falls on the RPO's last instant.
"""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from gatekeeper.config import Workspace

from .conftest import copy_demo, gk

_ids = itertools.count()
_used: set[str] = set()


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    demo = copy_demo(tmp_path_factory.mktemp("contracts") / "demo")
    assert gk(demo, "load").exit_code == 0
    assert gk(demo, "rpo", "import", "--request", "data/rpo/2026-11-20-request.txt",
              "--response", "data/rpo/2026-11-20-response.txt",
              "--checked-at", "2026-11-01T10:00").exit_code == 0
    ran = gk(demo, "run", "--campaign", "nov", "--purpose", "telemarketing",
             "--as-of", "2026-11-02")
    assert ran.exit_code == 0, ran.output
    (demo.root / "agencies" / "latecomer.toml").write_text(
        'id = "latecomer"\nname = "Tardi S.r.l."\nvat = "IT01111111111"\n'
        'authorised_from = 2026-11-10\ncaller_ids = ["+390611113333"]\n')
    return demo


def fresh(ws: Workspace) -> str:
    """A number the run listed as dialable that no other test used."""
    phones = pl.read_csv(ws.report_dir("nov") / "dialable.csv", infer_schema=False)["phone"]
    phone = next(p for p in phones if p not in _used)
    _used.add(phone)
    return phone


def calls(ws: Workspace, tmp_path: Path, *rows: dict[str, str], agency: str = "connecto"
          ) -> None:
    """Record calls in the ledger as the agency's dialer exports them."""
    path = tmp_path / f"calls-{next(_ids)}.csv"
    if agency == "callpro":  # VICIdial's columns and status codes
        codes = {"answered": "XFER", "sale": "SALE", "no_answer": "NA", "refused": "NI"}
        header = ["uniqueid", "phone_number", "call_date", "user", "campaign_id",
                  "length_in_sec", "status"]
        body = [[f"v{next(_ids)}", r["phone"].removeprefix("+39"), r["at"], "agent01",
                 r.get("campaign", "nov"), "60", codes[r["outcome"]]] for r in rows]
    else:
        header = ["call_id", "phone", "started_at", "outcome", "direction", "campaign",
                  "caller_id"]
        body = [[r.get("call_id", f"c{next(_ids)}"), r["phone"], r["at"], r["outcome"],
                 r.get("direction", "outbound"), r.get("campaign", "nov"),
                 r.get("caller_id", "")] for r in rows]
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([header, *body])
    result = gk(ws, "calls", "import", str(path), "--agency", agency)
    assert result.exit_code == 0, result.output


def verify(ws: Workspace, tmp_path: Path, *contracts: tuple[str, str, str],
           expect_exit: int | None = None) -> dict[str, dict[str, Any]]:
    """Verify (contract phone, signed_at, agency) rows; the report's rows by contract."""
    path = tmp_path / f"contracts-{next(_ids)}.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["contract_id", "phone", "signed_at", "agency", "agent", "campaign"])
        for n, (phone, signed, agency) in enumerate(contracts):
            writer.writerow([f"K{n}", phone, signed, agency, "ag1", "nov"])
    name = f"t{next(_ids)}"
    result = gk(ws, "contracts", "verify", str(path), "--name", name)
    if expect_exit is not None:
        assert result.exit_code == expect_exit, result.output
    report = pl.read_csv(ws.root / "reports" / "contracts" / name / "contracts.csv",
                         infer_schema=False)
    return {r["contract_id"]: r for r in report.iter_rows(named=True)}


def test_a_contract_from_a_lawful_call_is_traced(ws: Workspace, tmp_path: Path) -> None:
    phone = fresh(ws)
    calls(ws, tmp_path, {"phone": phone, "at": "2026-11-09 10:00", "outcome": "no_answer"},
          {"phone": phone, "at": "2026-11-09 11:00", "outcome": "sale", "call_id": "s1",
           "caller_id": "+390287650001"})
    row = verify(ws, tmp_path, (phone, "2026-11-09 11:20", "connecto"), expect_exit=0)["K0"]
    assert (row["status"], row["reason"], row["call_id"]) == ("TRACED", None, "s1")
    assert row["call_started_at"] == "2026-11-09T11:00:00+01:00" and row["run_id"]
    assert row["campaign"] == "nov"


def test_trace_days_is_the_edge_of_the_search(ws: Workspace, tmp_path: Path) -> None:
    phone = fresh(ws)
    calls(ws, tmp_path, {"phone": phone, "at": "2026-11-02 10:00", "outcome": "answered"})
    found = verify(ws, tmp_path, (phone, "2026-12-02 10:00", "connecto"),  # 30 days
                   (phone, "2026-12-03 10:00", "connecto"),  # 31 days: trace_days + 1
                   (phone, "2026-12-02", "connecto"),  # a day alone: the whole day
                   (phone, "2026-11-02 09:59", "connecto"))  # signed before the call
    assert [found[k]["status"] for k in ("K0", "K1", "K2", "K3")] == [
        "TRACED", "NO_CONTACT_RECORD", "NO_CONTACT_RECORD", "NO_CONTACT_RECORD"]
    assert found["K2"]["signed_at"] == "2026-12-02"


def test_an_inbound_call_comes_first(ws: Workspace, tmp_path: Path) -> None:
    """The person called in, then was called back: no list was involved."""
    phone = fresh(ws)
    calls(ws, tmp_path, {"phone": phone, "at": "2026-11-10 11:00", "outcome": "answered",
                         "direction": "inbound", "call_id": "in1"},
          {"phone": phone, "at": "2026-11-10 21:00", "outcome": "sale"})  # after hours
    row = verify(ws, tmp_path, (phone, "2026-11-10 21:30", "connecto"), expect_exit=0)["K0"]
    assert (row["status"], row["call_id"]) == ("INBOUND", "in1")


def test_a_contract_naming_an_unauthorised_centre(ws: Workspace, tmp_path: Path) -> None:
    phone = fresh(ws)
    calls(ws, tmp_path, {"phone": phone, "at": "2026-11-10 11:00", "outcome": "sale"})
    row = verify(ws, tmp_path, (phone, "2026-11-10 12:00", "Televendite Ombra"),
                 expect_exit=1)["K0"]
    assert row["status"] == "UNKNOWN_AGENCY"


def test_two_agencies_calling_the_same_number(ws: Workspace, tmp_path: Path) -> None:
    phone = fresh(ws)
    calls(ws, tmp_path, {"phone": phone, "at": "2026-11-11 10:00", "outcome": "answered"},
          agency="callpro")
    calls(ws, tmp_path, {"phone": phone, "at": "2026-11-11 20:30", "outcome": "sale"})
    found = verify(ws, tmp_path, (phone, "2026-11-11 21:00", "CallPro"),
                   (phone, "2026-11-11 21:00", "connecto"))
    assert (found["K0"]["status"], found["K0"]["reason"]) == ("TRACED", None)
    assert (found["K1"]["status"], found["K1"]["reason"]) == (
        "UNLAWFUL_CONTACT", "OUTSIDE_CALLING_HOURS")  # Connecto's own call, at 20:30
    other = fresh(ws)
    calls(ws, tmp_path, {"phone": other, "at": "2026-11-11 10:00", "outcome": "sale"})
    assert verify(ws, tmp_path, (other, "2026-11-11 12:00", "callpro"))["K0"][
        "status"] == "NO_CONTACT_RECORD"  # CallPro never called it


def test_an_objection_one_second_before_or_after_the_call(ws: Workspace,
                                                          tmp_path: Path) -> None:
    before, after = fresh(ws), fresh(ws)
    for phone in (before, after):
        calls(ws, tmp_path, {"phone": phone, "at": "2026-11-12 10:00:00", "outcome": "sale"})
    assert gk(ws, "optout", "add", before, "--channel", "email", "--by", "bo",
              "--at", "2026-11-12T09:59:59").exit_code == 0
    assert gk(ws, "optout", "add", after, "--channel", "email", "--by", "bo",
              "--at", "2026-11-12T10:00:01").exit_code == 0
    found = verify(ws, tmp_path, (before, "2026-11-12 11:00", "connecto"),
                   (after, "2026-11-12 11:00", "connecto"), expect_exit=1)
    assert (found["K0"]["status"], found["K0"]["reason"]) == ("UNLAWFUL_CONTACT", "OPTED_OUT")
    assert (found["K1"]["status"], found["K1"]["reason"]) == ("TRACED", None)


def test_a_call_on_the_last_instant_of_the_rpo_check(ws: Workspace, tmp_path: Path) -> None:
    """Checked 1 Nov 10:00, valid 15 days: the list may be dialled until 16 Nov 10:00."""
    last, late = fresh(ws), fresh(ws)
    calls(ws, tmp_path, {"phone": last, "at": "2026-11-16 09:59:59", "outcome": "sale"},
          {"phone": late, "at": "2026-11-16 10:00:00", "outcome": "sale"})
    found = verify(ws, tmp_path, (last, "2026-11-16 12:00", "connecto"),
                   (late, "2026-11-16 12:00", "connecto"))
    assert found["K0"]["status"] == "TRACED"
    assert (found["K1"]["status"], found["K1"]["reason"]) == (
        "UNLAWFUL_CONTACT", "RPO_NOT_CHECKED")


@pytest.mark.parametrize(("reason", "setup"), [
    ("OUTSIDE_CALLING_HOURS", [("2026-11-15 11:00", "sale")]),  # a Sunday
    ("ATTEMPT_LIMIT", [(f"2026-11-0{d} 10:00", "no_answer") for d in (3, 4, 5, 6)]
     + [("2026-11-09 10:00", "sale")]),
    ("COOLDOWN", [("2026-11-03 10:00", "refused"), ("2026-11-09 10:00", "sale")]),
    ("NO_RUN", [("2026-11-01 10:00", "sale")]),  # before the first run
])
def test_each_rule_a_call_can_break(ws: Workspace, tmp_path: Path, reason: str,
                                    setup: list[tuple[str, str]]) -> None:
    phone = fresh(ws)
    calls(ws, tmp_path, *({"phone": phone, "at": at, "outcome": o} for at, o in setup))
    signed = setup[-1][0][:10] + " 23:00"
    row = verify(ws, tmp_path, (phone, signed, "connecto"), expect_exit=1)["K0"]
    assert (row["status"], row["reason"]) == ("UNLAWFUL_CONTACT", reason)


def test_the_run_s_own_reasons_and_the_agency_s_rules(ws: Workspace, tmp_path: Path) -> None:
    decisions = pl.read_parquet(ws.report_dir("nov") / "decisions.parquet")
    registered = decisions.filter(pl.col("reason") == "RPO_REGISTERED")["phone"][0]
    unknown = "+393330000001"  # in no list of the run
    ok = fresh(ws)
    calls(ws, tmp_path, {"phone": registered, "at": "2026-11-09 10:00", "outcome": "sale"},
          {"phone": unknown, "at": "2026-11-09 10:00", "outcome": "sale"},
          {"phone": ok, "at": "2026-11-09 10:00", "outcome": "sale",
           "caller_id": "+390299990001"})  # CallPro's number, shown by Connecto
    late = fresh(ws)
    calls(ws, tmp_path, {"phone": late, "at": "2026-11-09 10:00", "outcome": "answered"},
          agency="latecomer")  # authorised from 10 November
    found = verify(ws, tmp_path, (registered, "2026-11-09 12:00", "connecto"),
                   (unknown, "2026-11-09 12:00", "connecto"),
                   (ok, "2026-11-09 12:00", "connecto"),
                   (late, "2026-11-09 12:00", "latecomer"))
    assert [(found[k]["status"], found[k]["reason"]) for k in ("K0", "K1", "K2", "K3")] == [
        ("UNLAWFUL_CONTACT", "RPO_REGISTERED"), ("UNLAWFUL_CONTACT", "NO_SOURCE"),
        ("UNLAWFUL_CONTACT", "CALLER_ID_UNDECLARED"),
        ("UNLAWFUL_CONTACT", "AGENCY_NOT_AUTHORISED")]


def test_the_replay_is_check_at_the_call_s_instant(ws: Workspace, tmp_path: Path) -> None:
    """No second implementation: the status's reason is what `check --at` says then."""
    phone = fresh(ws)
    setup = [("2026-11-04 10:00", "no_answer"), ("2026-11-05 10:00", "refused"),
             ("2026-11-17 10:00", "answered")]
    calls(ws, tmp_path, *({"phone": phone, "at": at, "outcome": o} for at, o in setup))
    row = verify(ws, tmp_path, (phone, "2026-11-17 12:00", "connecto"))["K0"]
    checked = json.loads(gk(ws, "check", phone, "--purpose", "telemarketing", "--campaign",
                            "nov", "--agency", "connecto", "--at", "2026-11-17T10:00",
                            "--json").output)
    assert row["reason"] == checked["reason"] and row["reason"] is not None


def test_the_report_files_and_exit_codes(ws: Workspace, tmp_path: Path) -> None:
    phone = fresh(ws)
    calls(ws, tmp_path, {"phone": phone, "at": "2026-11-13 10:00", "outcome": "sale"})
    path = tmp_path / "vendite.csv"  # the sales team's own export: Excel, semicolons, cp1252
    path.write_bytes(("Contratti firmati a novembre;;;\n"
                      "Numero contratto;Telefono;Data firma;Società\n"
                      f"N-1;{phone.removeprefix('+39')};13/11/2026 11:00;Connecto\n"
                      "N-2;3331234567;13/11/2026 11:00;Connecto\n").encode("cp1252"))
    mapping = tmp_path / "map.toml"
    mapping.write_text('header_row = 2\ndelimiter = ";"\n[columns]\ncontract_id = '
                       '"Numero contratto"\nphone = "Telefono"\nsigned_at = "Data firma"\n'
                       'agency = "Società"\n', encoding="utf-8")
    result = gk(ws, "contracts", "verify", str(path), "--name", "vendite", "--map",
                str(mapping))
    assert result.exit_code == 1, result.output
    folder = ws.root / "reports" / "contracts" / "vendite"
    assert pl.read_csv(folder / "contracts.csv").columns == [
        "contract_id", "phone", "signed_at", "agency", "agent", "status", "reason", "call_id",
        "call_started_at", "campaign", "run_id"]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["by_status"] == {"INBOUND": 0, "TRACED": 1, "UNLAWFUL_CONTACT": 0,
                                    "NO_CONTACT_RECORD": 1, "UNKNOWN_AGENCY": 0}
    assert summary["by_agency"]["Connecto"]["share_not_traced"] == 0.5
    page = (folder / "contracts.html").read_text()
    assert "50,0 %" in page and "nessuna chiamata registrata" in page
    only_traced = tmp_path / "ok.csv"
    only_traced.write_text(path.read_text(encoding="cp1252").rsplit("N-2", 1)[0],
                           encoding="cp1252")
    assert gk(ws, "contracts", "verify", str(only_traced), "--name", "ok", "--map",
              str(mapping)).exit_code == 0


@pytest.mark.parametrize(("body", "message"), [
    ("K1,33312,2026-11-18 11:00,connecto\n", "phone '33312' is not a valid number"),
    ("K1,3331234567,ieri,connecto\n", "signed_at 'ieri' is not a date"),
    ("K1,3331234567,2026-11-18,connecto\nK1,3331234568,2026-11-18,connecto\n",
     "contract_id 'K1' appears more than once"),
    ("K1,3331234567,2026-11-18,\n", "agency is empty"),
])
def test_a_contract_that_cannot_be_read_stops_everything(ws: Workspace, tmp_path: Path,
                                                         body: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("contract_id,phone,signed_at,agency\n" + body)
    result = gk(ws, "contracts", "verify", str(path), "--name", "bad")
    assert result.exit_code == 2 and message in result.output and "row 1" in result.output, (
        result.output)
    assert not (ws.root / "reports" / "contracts" / "bad").exists()


def test_the_demo_contracts_show_every_status(scrubbed: Workspace) -> None:
    """The README's contracts step on the demo workspace: one contract of each status."""
    for agency in ("callpro", "connecto"):
        assert gk(scrubbed, "calls", "import", f"data/calls/{agency}-2026-11-23.csv",
                  "--agency", agency).exit_code == 0
    result = gk(scrubbed, "contracts", "verify", "data/contracts/2026-11-23.csv", "--name",
                "2026-11-23")
    assert result.exit_code == 1, result.output
    report = pl.read_csv(scrubbed.root / "reports" / "contracts" / "2026-11-23" /
                         "contracts.csv", infer_schema=False)
    assert report.select("contract_id", "status", "reason").rows() == [
        ("C-2026-1001", "TRACED", None),
        ("C-2026-1002", "UNLAWFUL_CONTACT", "OUTSIDE_CALLING_HOURS"),
        ("C-2026-1003", "INBOUND", None),
        ("C-2026-1004", "NO_CONTACT_RECORD", None),
        ("C-2026-1005", "UNKNOWN_AGENCY", None)]
