"""`calls import` as real dialers' exports arrive: every row is a call, a leg of one, or
skipped by a stated rule; anything else refuses the whole file (exit 2, the line, the field
and the fix) and stores nothing, not even an objection. And nothing stored can stop the
answers for other numbers. Instants are given in the files; no test reads today's date."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.config import Workspace
from gatekeeper.core.timeutil import dialer_instants

from .conftest import gk, use_shared
from .test_dial_rules import check, fresh, rules_workspace


@pytest.fixture(scope="module", params=["files", "postgresql"])
def ws(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Workspace:
    """The module's workspace (the demo run, as in test_dial_rules), its journal and
    ledger in data/ or in a shared PostgreSQL store: every import rule holds on both."""
    demo = rules_workspace(tmp_path_factory.mktemp("calls") / "demo")
    if request.param == "postgresql":
        use_shared(demo, request.getfixturevalue("postgres").database())
    return demo


@pytest.fixture(scope="module")
def files_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The same workspace with data/ files, for the tests that damage those files."""
    return rules_workspace(tmp_path_factory.mktemp("calls-files") / "demo")

HEADER = "call_id,phone,started_at,outcome,direction,agent,campaign,duration_s\n"


def journal_lines(ws: Workspace) -> list[dict[str, object]]:
    from gatekeeper.privacy.optouts import open_journal

    return [json.loads(line) for line in open_journal(ws).contents()[0].splitlines()]


def segment_names(ws: Workspace) -> list[str]:
    from gatekeeper.dial.ledger import open_ledger

    return sorted(s.name for s in open_ledger(ws).segments())


def calls_held(ws: Workspace, phone: str) -> list[dict[str, object]]:
    result = gk(ws, "calls", "list", phone, "--json")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout))


def refused(ws: Workspace, path: Path, *words: str, agency: str = "connecto") -> str:
    """Import a file that must be refused whole: exit 2, one line naming the file and the
    words given, no traceback, and neither a call nor an objection stored."""
    before = (len(journal_lines(ws)), segment_names(ws))
    result = gk(ws, "calls", "import", str(path), "--agency", agency)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and str(path) in result.output, result.output
    for word in words:
        assert word in result.output, result.output
    after = (len(journal_lines(ws)), segment_names(ws))
    assert after == before, "a refused import stored something"
    return result.output


def test_a_dnc_row_without_a_number_is_refused_and_stops_no_answer(ws: Workspace,
                                                                     tmp_path: Path) -> None:
    """VICIdial's closer log for a withheld number: before, the objection went into the
    journal with no phone and every check, run and service answer stopped."""
    phone = fresh(ws)
    path = tmp_path / "withheld.csv"
    path.write_text(HEADER + f"w1,{phone},2026-11-20 10:00,no_answer,outbound,op1,sat,0\n"
                    "w2,,2026-11-20 10:05,optout,outbound,op1,sat,40\n")
    refused(ws, path, "line 3", "phone is empty", "skip rule")
    assert check(ws, phone, "2026-11-24T10:00")["dialable"]
    # The agency's manifest says such rows are no call to a person: skipped, and said.
    manifest = ws.root / "agencies" / "connecto.toml"
    original = manifest.read_text()
    try:
        manifest.write_text(original + '\n[calls]\nskip = { phone = "" }\n')
        result = gk(ws, "calls", "import", str(path), "--agency", "connecto")
        assert result.exit_code == 0, result.output
        assert "1 calls recorded" in result.output and "1 rows skipped: skip phone" in \
            result.output, result.output
    finally:
        manifest.write_text(original)
    assert all(line.get("phone") for line in journal_lines(ws))
    assert check(ws, phone, "2026-11-24T10:00")["dialable"]


@pytest.mark.parametrize(("body", "words"), [
    # an agent's name holding an unquoted comma: one field too many
    ("d1,{p},2026-11-20 10:00,optout,outbound,Rossi, Mario,sat,30\n",
     ("line 3", "9 fields, the header has 8")),
    # a row with too few fields
    ("d2,{p},2026-11-20 10:00,optout\n", ("line 3", "4 fields")),
    # a quote opened and never closed swallows the rows after it
    ('d3,{p},2026-11-20 10:00,optout,outbound,"op1,sat,30\n'
     "d4,{p},2026-11-20 10:05,no_answer,outbound,op1,sat,0\n", ("line 3", "quote")),
])
def test_a_row_the_reader_cannot_split_refuses_the_file(
        ws: Workspace, tmp_path: Path, body: str, words: tuple[str, ...]) -> None:
    """Before, such rows were dropped and the import said "0 calls recorded", exit 0: a
    DNC among them was lost."""
    phone = fresh(ws)
    path = tmp_path / "ragged.csv"
    path.write_text(HEADER + f"ok1,{phone},2026-11-20 09:00,no_answer,outbound,op1,sat,0\n"
                    + body.format(p=phone))
    refused(ws, path, *words)


@pytest.mark.parametrize(("row", "words"), [
    ("x1,{p},0001-01-01 10:00,no_answer,outbound,op1,sat,0", ("line 2", "before 2000")),
    ("x2,{p},1900-01-01 00:00,no_answer,outbound,op1,sat,0", ("line 2", "before 2000")),
    ("x3,{p},2026-11-20 10:00,no_answer,outbound,op1,sat,-12", ("line 2", "negative")),
    ("x4,{p},2026-11-20 10:00,,outbound,op1,sat,0", ("line 2", "outcome is empty")),
    ("x5,{p},,no_answer,outbound,op1,sat,0", ("line 2", "started_at is empty")),
    ("x6,{p},2099-01-01 10:00,no_answer,outbound,op1,sat,0", ("line 2", "in the future")),
    ("x7,{p},2026-03-29 02:30:00,no_answer,outbound,op1,sat,0",
     ("line 2", "clocks skip", "Europe/Rome")),
    ("x8,{p},2026-10-25 02:30:00,no_answer,outbound,op1,sat,0",
     ("line 2", "repeated", 'ambiguous = "earlier"')),
    ("x9,{p},2026-11-20 10:00,answered,sideways,op1,sat,0", ("line 2", "direction 'sideways'")),
])
def test_an_implausible_row_is_refused(ws: Workspace, tmp_path: Path, row: str,
                                       words: tuple[str, ...]) -> None:
    path = tmp_path / "odd.csv"
    path.write_text(HEADER + row.format(p=fresh(ws)) + "\n")
    refused(ws, path, *words)


def test_legs_of_one_call_are_stored_once_with_the_closers_outcome(
        ws: Workspace, tmp_path: Path) -> None:
    """A transfer: the outbound leg (XFER) and the closer's (refused), one call id. The
    refusal must rest the number 60 days; a call id on two numbers is refused."""
    phone, other = fresh(ws), fresh(ws)
    path = tmp_path / "legs.csv"
    path.write_text(HEADER
                    + f"L1,{phone},2026-11-20 10:00:00,answered,outbound,op1,sat,30\n"
                    + f"L1,{phone},2026-11-20 10:00:40,refused,outbound,closer2,inbnd,90\n")
    result = gk(ws, "calls", "import", str(path), "--agency", "connecto")
    assert result.exit_code == 0 and "1 calls recorded" in result.output, result.output
    assert "1 rows were further legs" in result.output, result.output
    [call] = calls_held(ws, phone)
    assert (call["outcome"], call["agent"], call["campaign"], call["duration_s"]) == (
        "refused", "closer2", "sat", 120)
    assert check(ws, phone, "2026-11-24T10:00")["reason"] == "COOLDOWN"
    clash = tmp_path / "clash.csv"
    clash.write_text(HEADER + f"L2,{phone},2026-11-20 11:00,no_answer,outbound,op1,sat,0\n"
                     + f"L2,{other},2026-11-20 11:05,optout,outbound,op1,sat,0\n")
    refused(ws, clash, "call_id 'L2' is on lines 2, 3 for different numbers")


def test_an_objection_on_any_leg_is_recorded_once_however_often_imported(
        files_ws: Workspace, tmp_path: Path) -> None:
    """An import killed after its objections and run again (here: its segment gone, as a
    kill before the segment leaves it), or the call sent again in another file, never
    records the objection twice."""
    ws = files_ws  # it edits data/ files itself
    phone = fresh(ws)
    path = tmp_path / "dnc.csv"
    path.write_text(HEADER + f"K1,{phone},2026-11-20 10:00:00,optout,outbound,op1,sat,30\n"
                    + f"K1,{phone},2026-11-20 10:01:00,sale,outbound,closer1,sat,200\n")
    assert gk(ws, "calls", "import", str(path), "--agency", "connecto").exit_code == 0
    mine = [e for e in journal_lines(ws) if e.get("phone") == phone]
    assert len(mine) == 1 and mine[0]["note"] == "call connecto/K1"
    # As if killed between the journal and the ledger: the segment was never listed.
    listing = ws.ledger_dir / "segments.jsonl"
    lines = listing.read_text().splitlines()
    listing.write_text("".join(line + "\n" for line in lines[:-1]))
    again = gk(ws, "calls", "import", str(path), "--agency", "connecto")
    assert again.exit_code == 0 and "objections" not in again.output, again.output
    resent = tmp_path / "dnc-resent.csv"
    resent.write_text(path.read_text() + f"K2,{phone},2026-11-21 10:00,busy,,op1,sat,0\n")
    assert gk(ws, "calls", "import", str(resent), "--agency", "connecto").exit_code == 0
    assert len([e for e in journal_lines(ws) if e.get("phone") == phone]) == 1
    assert check(ws, phone, "2026-11-24T10:00")["reason"] == "OPTED_OUT"


def test_an_odd_stored_call_fails_closed_for_its_number_only(files_ws: Workspace) -> None:
    """A call stored without an outcome (an older writer, a damaged line): before, `check`
    exited 70 for every number. Now that number rests (it may have been a refusal), and
    every other number is answered as before."""
    ws = files_ws  # it edits data/ files itself
    phone, other = fresh(ws), fresh(ws)
    odd = {"agency": "connecto", "call_id": "odd-1", "phone": phone,
           "phone_key": int(phone.removeprefix("+")), "campaign": None, "agent": None,
           "caller_id": None, "direction": None, "started_at": "2026-11-20T09:00:00Z",
           "duration_s": None, "outcome": None, "recorded_at": "2026-11-20T09:00:05Z",
           "via": "api:old"}
    ws.ledger_dir.mkdir(parents=True, exist_ok=True)
    with (ws.ledger_dir / "calls.jsonl").open("a") as wal:
        wal.write(json.dumps(odd) + "\n")
    assert check(ws, other, "2026-11-24T10:00")["dialable"]
    assert check(ws, phone, "2026-11-24T10:00")["reason"] == "COOLDOWN"


def test_an_inbound_call_needs_an_agency_with_inbound_lines(ws: Workspace,
                                                            tmp_path: Path) -> None:
    """An inbound call clears a contract of its list (INBOUND): only an agency whose
    manifest declares inbound lines may report one, to one of those lines."""
    phone = fresh(ws)
    path = tmp_path / "inbound.csv"
    path.write_text("uniqueid,phone_number,call_date,user,campaign_id,length_in_sec,status,"
                    "direction\n"
                    f"99.1,{phone.removeprefix('+39')},2026-11-20 10:00,a1,sat,60,SALE,"
                    "inbound\n")
    pro = ws.root / "agencies" / "callpro.toml"
    original = pro.read_text()
    try:
        pro.write_text(original.replace('outcome = "status" }',
                                        'outcome = "status", direction = "direction" }'))
        refused(ws, path, "line 2", "does not declare inbound lines", agency="callpro")
        pro.write_text(pro.read_text().replace(
            'campaigns = []', 'campaigns = []\ninbound = true\n'
            'inbound_numbers = ["+390299990009"]', 1))
        path.write_text(path.read_text().replace("inbound\n", "inbound\n").replace(
            "status,direction", "status,direction").rstrip("\n") + "\n")
        refused(ws, path, "not one of the inbound_numbers", agency="callpro")
    finally:
        pro.write_text(original)


def test_outcomes_from_several_columns_and_times_as_dialers_write_them(
        ws: Workspace, tmp_path: Path) -> None:
    """Twilio-like: outcome from status and answered_by with `*`, RFC 2822 and epoch
    instants, a dialer logging UTC, its own direction words, a default caller id."""
    phone = fresh(ws)
    (ws.root / "agencies" / "cloud.toml").write_text(
        'id = "cloud"\nname = "Cloud S.r.l."\nvat = "IT01234567890"\n'
        'authorised_from = 2026-01-01\ncaller_ids = ["+390299990001"]\n'
        "[calls]\n"
        'columns = { call_id = "sid", phone = "to", started_at = "start_time", '
        'outcome = ["status", "answered_by"], direction = "direction" }\n'
        'outcomes = { "completed/human" = "answered", "completed/machine_*" = "voicemail", '
        '"completed/" = "answered", "busy/*" = "busy", "no-answer/*" = "no_answer" }\n'
        'directions = { "outbound-dial" = "outbound", "outbound-api" = "outbound" }\n'
        'defaults = { caller_id = "+390299990001" }\ntimezone = "UTC"\n')
    path = tmp_path / "twilio.csv"
    to = phone
    path.write_text("sid,to,start_time,status,answered_by,direction\n"
                    f"CA1,{to},\"Fri, 20 Nov 2026 09:00:00 +0000\",completed,machine_end_beep,"
                    "outbound-api\n"
                    f"CA2,{to},1795165200,busy,,outbound-dial\n"
                    f"CA3,{to},2026-11-20 11:00:00,completed,human,outbound-api\n")
    result = gk(ws, "calls", "import", str(path), "--agency", "cloud")
    assert result.exit_code == 0 and "3 calls recorded" in result.output, result.output
    held = {c["call_id"]: c for c in calls_held(ws, phone)}
    assert held["CA1"]["outcome"] == "voicemail" and held["CA2"]["outcome"] == "busy"
    assert held["CA3"]["outcome"] == "answered"
    # 11:00 UTC as the dialer logs it, shown in Rome time; epoch seconds of 09:00 UTC.
    assert held["CA3"]["started_at"] == "2026-11-20T12:00:00+01:00"
    assert held["CA2"]["started_at"] == "2026-11-20T10:00:00+01:00"
    assert held["CA1"]["caller_id"] == "+390299990001"


def test_the_autumn_hour_is_read_as_the_manifest_says(ws: Workspace, tmp_path: Path) -> None:
    phone = fresh(ws)
    manifest = ws.root / "agencies" / "connecto.toml"
    original = manifest.read_text()
    path = tmp_path / "autumn.csv"
    path.write_text(HEADER + f"au1,{phone},2026-10-25 02:30:00,no_answer,outbound,op1,sat,0\n")
    try:
        for policy, shown in (("earlier", "2026-10-25T02:30:00+02:00"),  # 00:30 UTC
                              ("later", "2026-10-25T02:30:00+01:00")):  # 01:30 UTC
            manifest.write_text(original + f'\n[calls]\nambiguous = "{policy}"\n')
            path.write_text(path.read_text().replace("au1" if policy == "later" else "zz",
                                                     "au2"))
            result = gk(ws, "calls", "import", str(path), "--agency", "connecto")
            assert result.exit_code == 0, result.output
            assert shown in [c["started_at"] for c in calls_held(ws, phone)]
    finally:
        manifest.write_text(original)


ZONES = ("Europe/Rome", "Europe/Bucharest", "UTC", "Europe/London")


@settings(max_examples=150, deadline=None)
@given(st.datetimes(min_value=dt.datetime(2000, 1, 2), max_value=dt.datetime(2037, 12, 30))
       .map(lambda d: d.replace(microsecond=0)), st.sampled_from(ZONES))
def test_every_instant_format_reads_the_same_instant(moment: dt.datetime, zone: str) -> None:
    """One instant written as each format a dialer uses reads back to that instant (UTC);
    a local time the zone skips or repeats is refused under `ambiguous = "refuse"`, never
    read as some other time."""
    from zoneinfo import ZoneInfo
    aware = moment.replace(tzinfo=dt.UTC)
    local = aware.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    texts = [aware.strftime("%a, %d %b %Y %H:%M:%S +0000"), f"{int(aware.timestamp())}.1001",
             aware.isoformat(), aware.strftime("%Y-%m-%dT%H:%M:%SZ"),
             local.strftime("%Y-%m-%d %H:%M:%S"), local.strftime("%d/%m/%Y %H:%M:%S")]
    read, why = dialer_instants(pl.Series(texts), zone)
    local_forms = texts[4:]
    for text, got, problem in zip(texts, read.to_list(), why.to_list(), strict=True):
        if problem is not None:  # only a local time in the repeated hour may be refused
            assert "repeated" in problem and text in local_forms, (text, problem)
            continue
        assert got == moment, (text, got, moment)


def test_an_inbound_call_stored_before_the_doors_checked_clears_no_contract(
        files_ws: Workspace, tmp_path: Path) -> None:
    """A forged inbound call already in the ledger (any dialer token could post one before
    tokens were bound): a contract of an agency that answers no inbound line stays
    NO_CONTACT_RECORD; Connecto, which declares its inbound line, gets INBOUND."""
    ws = files_ws  # it edits data/ files itself
    phone = fresh(ws)
    forged = {"agency": "callpro", "call_id": "forged-1", "phone": phone,
              "phone_key": int(phone.removeprefix("+")), "campaign": None, "agent": "x",
              "caller_id": None, "direction": "inbound", "started_at": "2026-11-20T09:00:00Z",
              "duration_s": 60, "outcome": "answered", "recorded_at": "2026-11-20T09:01:00Z",
              "via": "api:dialer"}
    ws.ledger_dir.mkdir(parents=True, exist_ok=True)
    with (ws.ledger_dir / "calls.jsonl").open("a") as wal:
        wal.write(json.dumps(forged) + "\n")
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,phone,signed_at,agency,agent,campaign\n"
                         f"F1,{phone},2026-11-20 12:00,callpro,x,sat\n")
    result = gk(ws, "contracts", "verify", str(contracts), "--name", "forged")
    assert result.exit_code == 1, result.output
    rows = pl.read_csv(ws.root / "reports" / "contracts" / "forged" / "contracts.csv")
    assert rows["status"].to_list() == ["NO_CONTACT_RECORD"]
    honest = tmp_path / "inbound.csv"
    honest.write_text(HEADER + f"in-1,{phone},2026-11-20 09:30,answered,inbound,op1,,60\n")
    assert gk(ws, "calls", "import", str(honest), "--agency", "connecto").exit_code == 0
    contracts.write_text(contracts.read_text().replace("callpro", "connecto"))
    result = gk(ws, "contracts", "verify", str(contracts), "--name", "honest")
    rows = pl.read_csv(ws.root / "reports" / "contracts" / "honest" / "contracts.csv")
    assert rows["status"].to_list() == ["INBOUND"], result.output


def test_a_number_less_objection_left_by_an_older_version_is_cleared_by_repair(
        scrubbed: Workspace) -> None:
    """An older version wrote an objection with `"phone": null` (a VICIdial DNC row of a
    withheld number): every decision stopped (exit 2), and after `optout repair` still did
    (exit 5, "entries were rewritten": the receipt at that line holds its own hash). Now
    the repair clears it; and the journal never writes such a line again."""
    from gatekeeper.privacy.optouts.journal import GENESIS, Journal, digest
    journal = Journal(scrubbed.journal_path)
    position, prev = journal.head()
    seq = max(e["seq"] for e in journal_lines(scrubbed)) if position else 0
    body = {"type": "optout", "phone": None, "channel": "operator", "scope": "all",
            "recorded_by": "agent07", "note": "call callpro/1795.1", "at":
            "2026-11-20T09:00:00Z", "recorded_at": "2026-11-20T09:00:00Z", "seq": seq + 1,
            "prev": prev or GENESIS}
    line = json.dumps({**body, "hash": digest(body["prev"], body)}, sort_keys=True) + "\n"
    with scrubbed.journal_path.open("a") as out:
        out.write(line)
    with journal.checkpoints_path.open("a") as out:
        out.write(json.dumps({"position": position + len(line.encode()),
                              "hash": digest(body["prev"], body), "seq": seq + 1}) + "\n")
    phone = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"][0]
    asked = ("check", phone, "--purpose", "telemarketing", "--campaign", "demo", "--at",
             "2026-11-23T10:00")
    assert gk(scrubbed, "optout", "add", "3331234567", "--channel", "operator", "--by",
              "agent02").exit_code == 0  # agents go on recording meanwhile
    assert gk(scrubbed, *asked).exit_code == 2
    assert gk(scrubbed, "optout", "repair", "--by", "dpo", "--reason",
              "objection without a number, ticket 7").exit_code == 0
    assert gk(scrubbed, *asked).exit_code in (0, 1), gk(scrubbed, *asked).output
    with pytest.raises(Exception, match="without a valid phone"):
        journal.append([{**{k: v for k, v in body.items() if k not in ("seq", "prev")}}])
    assert journal_lines(scrubbed)[-1]["type"] == "repair"


def test_a_closers_leg_in_a_later_export_still_rests_the_number(ws: Workspace,
                                                                 tmp_path: Path) -> None:
    """A transfer still going on when an export was taken: the fronter's XFER came in the
    first file, both legs in the next. The closer's refusal must rest the number (it was
    dropped as 'already recorded'); the same file again records nothing."""
    phone = fresh(ws)
    first = tmp_path / "morning.csv"
    first.write_text(HEADER + f"T1,{phone},2026-11-20 10:00:00,answered,outbound,op1,sat,30\n")
    assert gk(ws, "calls", "import", str(first), "--agency", "connecto").exit_code == 0
    assert check(ws, phone, "2026-11-24T10:00")["dialable"]
    second = tmp_path / "evening.csv"
    second.write_text(first.read_text()
                      + f"T1,{phone},2026-11-20 10:02:00,refused,outbound,closer2,sat,80\n")
    result = gk(ws, "calls", "import", str(second), "--agency", "connecto")
    assert result.exit_code == 0 and "1 calls recorded" in result.output, result.output
    assert check(ws, phone, "2026-11-24T10:00")["reason"] == "COOLDOWN"
    outcomes = sorted((c["call_id"], c["outcome"]) for c in calls_held(ws, phone))
    assert outcomes == [("T1", "answered"), ("T1#refused", "refused")]
    again = tmp_path / "evening-again.csv"
    again.write_text(second.read_text() + "\n")
    assert "0 calls recorded" in gk(ws, "calls", "import", str(again), "--agency",
                                    "connecto").output


def test_a_call_id_reused_days_apart_is_no_transfer(ws: Workspace, tmp_path: Path) -> None:
    """Before, a refusal on 2 November and a no-answer on 20 November under one id were
    merged into one call dated the 2nd with the outcome no_answer: the refusal was lost."""
    phone = fresh(ws)
    path = tmp_path / "reused.csv"
    path.write_text(HEADER + f"R1,{phone},2026-11-02 10:00,refused,outbound,op1,sat,30\n"
                    + f"R1,{phone},2026-11-20 10:00,no_answer,outbound,op2,sat,0\n")
    refused(ws, path, "call_id 'R1' is on lines 2, 3 more than 4 hours apart")


def test_an_export_with_no_call_rows_records_nothing(ws: Workspace, tmp_path: Path) -> None:
    """A header alone, or every row skipped by a rule (a mid-shift export of live calls):
    nothing to record, said so, never an internal error."""
    path = tmp_path / "empty.csv"
    path.write_text(HEADER)
    result = gk(ws, "calls", "import", str(path), "--agency", "connecto")
    assert result.exit_code == 0 and "0 calls recorded" in result.output, result.output


def test_an_inbound_call_counts_only_on_a_line_its_agency_declares(
        ws: Workspace, tmp_path: Path) -> None:
    """Connecto answers inbound lines; once its manifest lists them, a stored inbound call
    to another line (stored before the list, or forged) clears no contract."""
    phone = fresh(ws)
    calls = tmp_path / "inbound.csv"
    calls.write_text(HEADER.replace("duration_s", "duration_s,caller_id")
                     + f"il-1,{phone},2026-11-20 09:30,answered,inbound,op1,,60,0287659999\n")
    assert gk(ws, "calls", "import", str(calls), "--agency", "connecto").exit_code == 0
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,phone,signed_at,agency,agent,campaign\n"
                         f"L1,{phone},2026-11-20 12:00,connecto,op1,sat\n")
    manifest = ws.root / "agencies" / "connecto.toml"
    original = manifest.read_text()
    try:
        for lines, status in (("", "INBOUND"), ('\ninbound_numbers = ["+390287650000"]',
                                                 "NO_CONTACT_RECORD")):
            manifest.write_text(original.replace("inbound = true", "inbound = true" + lines))
            gk(ws, "contracts", "verify", str(contracts), "--name", f"lines{len(lines)}")
            rows = pl.read_csv(ws.root / "reports" / "contracts" / f"lines{len(lines)}"
                               / "contracts.csv")
            assert rows["status"].to_list() == [status]
    finally:
        manifest.write_text(original)


def test_backup_and_audit_of_a_ledger_with_more_segments_than_file_handles(
        tmp_path: Path) -> None:
    """Every import is a segment: months of daily imports from a few agencies pass a
    process's file-handle limit. Backup and audit verify opened every segment at once
    ("Too many open files", exit 70); they now read them in turn."""
    import resource
    import shutil
    import subprocess
    import sys

    from gatekeeper.dial.ledger import Ledger, conform
    root = tmp_path / "ws"
    root.mkdir()
    shutil.copy(Path(__file__).resolve().parent.parent / "gatekeeper.toml", root)
    ledger = Ledger(root / "data" / "ledger")
    at = dt.datetime(2026, 11, 20, 9)
    for n in range(300):
        ledger.record(conform(pl.DataFrame({
            "agency": ["connecto"], "call_id": [f"c{n}"], "phone": ["+393331234567"],
            "phone_key": [393331234567], "direction": ["outbound"], "started_at": [at],
            "outcome": ["no_answer"], "recorded_at": [at], "via": ["import"]})), None,
            source=f"import:s{n}")

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    for args in (("backup", str(tmp_path / "b.tar")), ("audit", "verify")):
        done = subprocess.run([sys.executable, "-m", "gatekeeper.cli", "--home", str(root),
                               *args], capture_output=True, text=True, preexec_fn=limited,
                              check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_a_campaign_check_is_answered_while_a_writer_holds_the_store(
        scrubbed: Workspace) -> None:
    """A dialer asks with its campaign; a load or run holding the store made that check
    wait 2 s and answer 503 (the quality bar: never a 503 for lack of a lock). It is now
    answered from the run records read before and the run's report files: the same
    answer as when the store is free."""
    import subprocess
    import sys

    from .service_helper import running_service
    phone = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"][0]
    asked = {"phone": phone, "purpose": "telemarketing", "campaign": "demo"}
    with running_service(scrubbed, as_of="2026-11-23T10:00") as svc, \
            svc.client("dialer") as client:
        # Without a campaign: the purpose's latest run, the same demo run; the campaign's
        # own run is not read (nor cached) yet.
        free = client.get("/v1/check", params={**asked, "campaign": ""}).json()
        assert free["dialable"] is True, free
        holder = subprocess.Popen(
            [sys.executable, "-c", "import duckdb, sys, time; "
             f"c = duckdb.connect({str(scrubbed.store_path)!r}); print('held', flush=True);"
             " time.sleep(6)"], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            busy = client.get("/v1/check", params=asked)
            assert busy.status_code == 200, busy.text
            assert busy.json()["dialable"] is True and busy.json()["run_id"] == free["run_id"]
        finally:
            holder.kill()
            holder.communicate()  # reaped, its pipe closed


def test_a_damaged_calls_log_line_rests_its_number_and_no_other(files_ws: Workspace) -> None:
    """A line of calls.jsonl damaged on disk made every check and `calls list` exit 70 (and
    the service answer 500). Now the number still read from it rests (the line may have
    been a refusal), every other number is answered, and the service starts."""
    ws = files_ws  # it edits data/ files itself
    phone, other = fresh(ws), fresh(ws)
    ws.ledger_dir.mkdir(parents=True, exist_ok=True)
    with (ws.ledger_dir / "calls.jsonl").open("ab") as wal:
        wal.write(b'{"agency": "connecto", "call_id": "dmg", "phone_key": '
                  + phone.removeprefix("+").encode() + b', "outcome": "ref\x00\xff\n'
                  + b"\x00\x00 garbage without a number\n")
    assert check(ws, other, "2026-11-24T10:00")["dialable"]
    assert check(ws, phone, "2026-11-24T10:00")["reason"] == "COOLDOWN"
    assert gk(ws, "calls", "list", other).exit_code == 0
    from .service_helper import running_service
    with running_service(ws, as_of="2026-11-24T10:00") as svc, svc.client("dialer") as client:
        for number, dialable in ((other, True), (phone, False)):
            answer = client.get("/v1/check", params={"phone": number, "purpose": "survey",
                                                     "campaign": "sat"})
            assert answer.status_code == 200 and answer.json()["dialable"] is dialable
