"""Real dialer exports, as VICIdial, Asterisk and Twilio write them, imported with the
manifests docs/dialers.md gives: no pre-processing, every row stored, merged or skipped and
counted. The manifests are read from the document itself, so the page cannot drift from what
is tested. The samples (tests/data/dialers/) are in October and November 2026, before any
date these tests run on, and no test reads today's date."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.config import Workspace

from .conftest import WorkspaceMaker, gk

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "dialers.md"
DATA = Path(__file__).resolve().parent / "data" / "dialers"


def doc_manifests() -> dict[str, str]:
    """The ```toml blocks of docs/dialers.md that are agency manifests, by agency id."""
    blocks = re.findall(r"^```toml\n(.*?)^```$", DOC.read_text(encoding="utf-8"),
                        flags=re.MULTILINE | re.DOTALL)
    manifests = {}
    for block in blocks:
        parsed = tomllib.loads(block)
        if "id" in parsed and "calls" in parsed:
            manifests[parsed["id"]] = block
    return manifests


MANIFESTS = doc_manifests()


@pytest.fixture
def ws(maker: WorkspaceMaker) -> Workspace:
    """A workspace with the three agencies of docs/dialers.md, written as the page shows them."""
    folder = maker.root / "agencies"
    folder.mkdir()
    for agency_id, text in MANIFESTS.items():
        (folder / f"{agency_id}.toml").write_text(text, encoding="utf-8")
    return maker.ws


def imported(ws: Workspace, name: str, agency: str) -> str:
    result = gk(ws, "calls", "import", str(DATA / name), "--agency", agency)
    assert result.exit_code == 0, result.output
    return result.output


def stored(output: str) -> int:
    found = re.search(r"([\d,]+) calls recorded", output)
    assert found, output
    return int(found.group(1).replace(",", ""))


def skipped(output: str) -> int:
    """Rows the import says it skipped, every rule summed (the output names each rule)."""
    return sum(int(n.replace(",", "")) for n in re.findall(r"([\d,]+) rows? skipped", output))


def calls_of(ws: Workspace, phone: str) -> list[dict[str, Any]]:
    result = gk(ws, "calls", "list", phone, "--json")
    assert result.exit_code == 0, result.output
    calls: list[dict[str, Any]] = json.loads(result.stdout)
    return calls


def objections(ws: Workspace, phone: str) -> list[dict[str, Any]]:
    result = gk(ws, "optout", "list", "--json")
    assert result.exit_code == 0, result.output
    return [e for e in json.loads(result.stdout) if e["phone"] == phone]


def data_rows(name: str, *, header: bool = True) -> int:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return len([line for line in lines if line.strip()]) - (1 if header else 0)


# --- the document ---------------------------------------------------------------------------

def test_the_page_gives_one_manifest_per_dialer() -> None:
    assert set(MANIFESTS) == {"telesud", "voxitalia", "cloudcall"}
    for text in MANIFESTS.values():
        manifest = tomllib.loads(text)
        assert manifest["authorised_from"].isoformat() == "2026-01-01"
        assert manifest["vat"].startswith("IT") and manifest["campaigns"] == []


def test_the_samples_keep_each_systems_layout() -> None:
    """The files are the systems' own: VICIdial's tab-separated CRLF export with its header,
    Asterisk's header-less all-quoted Master.csv, Twilio's CSV with quoted RFC 2822 times."""
    vicidial = (DATA / "vicidial_extended.csv").read_bytes()
    header = vicidial.split(b"\r\n", 1)[0].decode()
    assert header.startswith("call_date\tphone_number_dialed\tstatus\tuser\tfull_name\t")
    assert header.endswith("\tuniqueid\tcaller_code\tserver_ip\thangup_cause\tdialstatus\t"
                           "channel\tdial_time\tanswered_time\tcpd_result\tdid_pattern\t"
                           "did_id\tdid_description")
    assert {line.count(b"\t") for line in vicidial.split(b"\r\n") if line} == {57}
    first = (DATA / "asterisk_Master.csv").read_text().splitlines()[0]
    assert first.startswith('"voxitalia","201","3331239876","from-internal",'
                            '"""Giulia Ferri"" <201>",')
    twilio = (DATA / "twilio_calls.csv").read_text().splitlines()
    assert twilio[0].startswith("sid,date_created,date_updated,parent_call_sid,account_sid,to,")
    assert '"Fri, 23 Oct 2026 08:13:48 +0000"' in "\n".join(twilio)


# --- VICIdial -------------------------------------------------------------------------------

def test_vicidial_extended_export(ws: Workspace) -> None:
    output = imported(ws, "vicidial_extended.csv", "telesud")
    rows = data_rows("vicidial_extended.csv")
    assert rows == 34
    # 30 vicidial_log rows (one still INCALL) + 3 closer legs of transfers + 1 inbound call
    assert skipped(output) == 1, output
    assert stored(output) == 30, output
    assert "3 rows were further legs" in output, output
    assert "1 objections recorded" in output, output

    # a transfer: the fronter's XFER leg and the closer's SALE leg, one call, the closer's
    sale = calls_of(ws, "3331234567")
    assert [(c["outcome"], c["agent"], c["call_id"]) for c in sale] == [
        ("sale", "lbianchi", "1794903087.1181")]
    refused = calls_of(ws, "0298765432")
    assert [(c["outcome"], c["agent"]) for c in refused] == [("refused", "fconti")]

    # DNC said to the closer: the call is an optout, the objection recorded once
    dnc = calls_of(ws, "3284455667")
    assert [(c["outcome"], c["agent"]) for c in dnc] == [("optout", "lbianchi")]
    assert len(objections(ws, "+393284455667")) == 1

    # VICIdial's own codes: A/AA/AM/AL machines, DROP/PDROP nobody free, VDAD's no answer
    for phone, outcome in [("3405566778", "voicemail"), ("3478810022", "voicemail"),
                           ("3207788990", "voicemail"), ("3895012367", "voicemail"),
                           ("3209988776", "abandoned"), ("3316702288", "abandoned"),
                           ("3351029384", "no_answer"), ("0302256701", "failed")]:
        assert [c["outcome"] for c in calls_of(ws, phone)] == [outcome], phone
    assert calls_of(ws, "3479900115") == []  # still INCALL when exported: skipped, counted

    # a person calling the controller's line: inbound, the line as caller id
    inbound = calls_of(ws, "3471122334")
    assert [(c["direction"], c["caller_id"], c["outcome"]) for c in inbound] == [
        ("inbound", "+390294750100", "callback")]

    listed = gk(ws, "calls", "list", "3453344556").output  # call_date is Rome time
    assert "17/11/2026 09:23" in listed and "sale" in listed, listed

    again = gk(ws, "calls", "import", str(DATA / "vicidial_extended.csv"), "--agency", "telesud")
    assert again.exit_code == 0 and "nothing new" in again.output, again.output
    assert len(objections(ws, "+393284455667")) == 1


# --- Asterisk -------------------------------------------------------------------------------

def test_asterisk_master_csv(ws: Workspace) -> None:
    output = imported(ws, "asterisk_Master.csv", "voxitalia")
    assert data_rows("asterisk_Master.csv", header=False) == 28
    # 3 calls in from the trunk, 2 extension-to-extension calls, *97, a transfer's 2nd leg
    assert skipped(output) == 7, output
    assert stored(output) == 21, output

    answered = calls_of(ws, "3331239876")
    assert [(c["outcome"], c["agent"], c["direction"], c["caller_id"], c["duration_s"])
            for c in answered] == [("answered", "201", "outbound", "+390519990200", 187)]
    # logged in UTC: 08:02 UTC is 09:02 in Rome
    assert "18/11/2026 09:02" in gk(ws, "calls", "list", "3331239876").output

    for phone, outcome in [("0516478123", "no_answer"), ("3402287654", "busy"),
                           ("0532765401", "failed"), ("+393460098712", "failed")]:
        assert [c["outcome"] for c in calls_of(ws, phone)] == [outcome], phone

    # the transferred call: its leg to extension 206 is skipped, the call stored once
    transferred = calls_of(ws, "3281100456")
    assert [(c["outcome"], c["agent"]) for c in transferred] == [("answered", "202")]
    # a person calling in is no outbound call of this centre: skipped, not stored
    assert calls_of(ws, "3479876543") == []


# --- Twilio ---------------------------------------------------------------------------------

def test_twilio_calls_csv(ws: Workspace) -> None:
    output = imported(ws, "twilio_calls.csv", "cloudcall")
    assert data_rows("twilio_calls.csv") == 32
    # 5 inbound (3 agents' browser legs, 2 people calling), 4 <Dial> legs to agents,
    # 2 canceled before they were dialled
    assert skipped(output) == 11, output
    assert stored(output) == 21, output

    # RFC 2822 in UTC, before and after summer time ended (25 October 2026)
    machine = calls_of(ws, "+393481122998")
    assert [(c["outcome"], c["caller_id"], c["campaign"]) for c in machine] == [
        ("voicemail", "+390119990300", "fibra-2026-10")]
    assert "23/10/2026 10:13" in gk(ws, "calls", "list", "3481122998").output
    assert "26/10/2026 09:07" in gk(ws, "calls", "list", "3398877665").output

    for phone, outcome in [("3331112233", "answered"),   # completed/human
                           ("3471234500", "voicemail"),  # completed/machine_end_beep
                           ("3931122334", "voicemail"),  # completed/machine_end_silence
                           ("3286655443", "answered"),   # completed/unknown
                           ("3455566778", "wrong_number"),  # completed/fax
                           ("3351234987", "answered"),   # manual call, no AMD: completed/
                           ("0115678123", "no_answer"),  # manual call, no-answer/
                           ("3209876512", "busy"), ("0114567890", "no_answer"),
                           ("3407788112", "no_answer"),  # canceled while ringing
                           ("0119988776", "failed")]:
        assert [c["outcome"] for c in calls_of(ws, phone)] == [outcome], phone
    assert calls_of(ws, "3924455661") == []  # canceled while queued: never dialled
    assert calls_of(ws, "3471239900") == []  # called in: skipped
