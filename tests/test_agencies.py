"""Agency manifests (agencies/<id>.toml): real files, parsed as `calls import` and the dial-time
rules 12 and 13 will read them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatekeeper.core.errors import ManifestError
from gatekeeper.core.timeutil import UTC
from gatekeeper.dial.agencies import CALL_FIELDS, OUTCOMES, Agency, discover_agencies, parse_agency
from gatekeeper.jurisdictions import IT

ROME = ZoneInfo(IT.timezone_name)

REPO = Path(__file__).resolve().parent.parent

OWN = """\
id = "connecto"
name = "Connecto S.r.l."
vat = "IT08606060963"
authorised_from = 2026-01-01
caller_ids = ["+390299990001", "+390299990002"]
"""

# PRODUCT.md's example with a campaign list; [calls] as sections (the demo file has the
# inline tables PRODUCT.md shows).
OUTSOURCED = """\
id = "callpro"
name = "CallPro S.r.l."
vat = "IT07654321098"
roc = "31234"
contract_ref = "2026/03"
authorised_from = 2026-01-01
authorised_to = 2026-12-31
caller_ids = ["+390299990001", "02 9999 0002"]
campaigns = ["energia-2026-11", "fibra-2026-12"]

[calls.columns]
call_id = "uniqueid"
phone = "phone_number"
started_at = "call_date"
agent = "user"
campaign = "campaign_id"
duration_s = "length_in_sec"
outcome = "status"

[calls.outcomes]
NA = "no_answer"
B = "busy"
N = "no_answer"
AB = "busy"
A = "voicemail"
AA = "voicemail"
AM = "voicemail"
AL = "voicemail"
DROP = "abandoned"
PDROP = "abandoned"
XFER = "answered"
NI = "refused"
CALLBK = "callback"
DNC = "optout"
SALE = "sale"
WN = "wrong_number"
DC = "failed"
ADC = "failed"
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def agency(tmp_path: Path, text: str, name: str = "agency.toml") -> Agency:
    return parse_agency(write(tmp_path / "agencies", name, text), IT)


def rome(text: str) -> dt.datetime:
    """A Rome wall-clock time as the naive UTC the library takes."""
    local = dt.datetime.fromisoformat(text).replace(tzinfo=ROME)
    return local.astimezone(UTC).replace(tzinfo=None)


# --- valid manifests -----------------------------------------------------------------------

def test_the_controllers_own_call_centre(tmp_path: Path) -> None:
    own = agency(tmp_path, OWN)
    assert (own.id, own.name, own.vat) == ("connecto", "Connecto S.r.l.", "IT08606060963")
    assert own.roc is None and own.contract_ref is None and own.authorised_to is None
    assert own.authorised_from == dt.date(2026, 1, 1)
    assert own.caller_ids == ("+390299990001", "+390299990002")
    assert own.campaigns == ()
    # no [calls]: its export uses the ledger's own names and outcomes
    assert own.columns == {name: name for name in CALL_FIELDS}
    assert own.outcomes == {name: name for name in OUTCOMES}
    assert own.authorised(rome("2031-06-01 12:00"), "any-campaign")  # open-ended


def test_an_outsourced_centre_with_a_vicidial_export(tmp_path: Path) -> None:
    pro = agency(tmp_path, OUTSOURCED)
    assert (pro.roc, pro.contract_ref) == ("31234", "2026/03")
    assert pro.authorised_to == dt.date(2026, 12, 31)
    assert pro.caller_ids == ("+390299990001", "+390299990002")  # stored E.164
    assert pro.campaigns == ("energia-2026-11", "fibra-2026-12")
    assert pro.columns == {
        "call_id": "uniqueid", "phone": "phone_number", "started_at": "call_date",
        "agent": "user", "campaign": "campaign_id", "duration_s": "length_in_sec",
        "outcome": "status"}
    assert pro.outcomes["DNC"] == "optout" and pro.outcomes["DC"] == "failed"
    assert set(pro.outcomes.values()) == set(OUTCOMES)


def test_the_demo_workspace_ships_both_agencies(tmp_path: Path) -> None:
    found, errors = discover_agencies(REPO / "agencies", IT)
    assert errors == []
    assert set(found) == {"connecto", "callpro"}
    own, pro = found["connecto"], found["callpro"]
    assert own.vat == "IT08606060963" and own.authorised_from == dt.date(2026, 1, 1)
    assert own.caller_ids == ("+390287650001", "+390287650002")  # not CallPro's
    assert own.columns == {name: name for name in CALL_FIELDS}
    assert (pro.name, pro.vat, pro.roc, pro.contract_ref) == (
        "CallPro S.r.l.", "IT07654321098", "31234", "2026/03")
    assert pro.authorised_to == dt.date(2026, 12, 31) and pro.campaigns == ()
    sections = agency(tmp_path, OUTSOURCED)  # PRODUCT.md's inline tables, the same mapping
    assert (pro.columns, pro.outcomes) == (sections.columns, sections.outcomes)


# --- authorised: instants in Rome days, campaigns ------------------------------------------

@pytest.mark.parametrize(("local", "expected"), [
    ("2025-12-31 23:59:59.999999", False),  # the instant before authorised_from
    ("2026-01-01 00:00", True),  # 00:00 Rome of authorised_from (23:00 UTC the day before)
    ("2026-07-01 12:00", True),
    ("2026-12-31 23:59:59", True),  # the last second of the authorised_to day
    ("2026-12-31 23:59:59.999999", True),
    ("2027-01-01 00:00", False),  # the next day
])
def test_authorised_from_through_the_whole_day_of_authorised_to(
        tmp_path: Path, local: str, expected: bool) -> None:
    pro = agency(tmp_path, OUTSOURCED)
    assert pro.authorised(rome(local), "energia-2026-11") is expected


def test_authorised_boundaries_are_rome_days_not_utc_days(tmp_path: Path) -> None:
    pro = agency(tmp_path, OUTSOURCED)
    assert pro.authorised(dt.datetime(2025, 12, 31, 23, 0), "energia-2026-11")
    assert not pro.authorised(dt.datetime(2025, 12, 31, 22, 59, 59), "energia-2026-11")
    assert pro.authorised(dt.datetime(2026, 12, 31, 22, 59, 59), "energia-2026-11")
    assert not pro.authorised(dt.datetime(2026, 12, 31, 23, 0), "energia-2026-11")


def test_a_summer_authorised_to_ends_at_rome_midnight_in_summer_time(tmp_path: Path) -> None:
    pro = agency(tmp_path, OUTSOURCED.replace("2026-12-31", "2026-07-31"))
    assert pro.authorised(dt.datetime(2026, 7, 31, 21, 59, 59), None) is False  # campaigns
    assert pro.authorised(dt.datetime(2026, 7, 31, 21, 59, 59), "fibra-2026-12")
    assert not pro.authorised(dt.datetime(2026, 7, 31, 22, 0), "fibra-2026-12")


def test_campaigns(tmp_path: Path) -> None:
    pro = agency(tmp_path, OUTSOURCED)
    noon = rome("2026-11-20 12:00")
    assert pro.authorised(noon, "energia-2026-11")
    assert not pro.authorised(noon, "gas-2026-11")  # outside its list
    assert not pro.authorised(noon, "Energia-2026-11")  # names are exact
    assert not pro.authorised(noon, None)  # a limited agency must say which campaign
    own = agency(tmp_path, OWN, "own.toml")
    assert own.authorised(noon, "gas-2026-11") and own.authorised(noon, None)


# --- declared caller ids -------------------------------------------------------------------

@pytest.mark.parametrize(("caller_id", "expected"), [
    ("+390299990001", True),
    ("02 9999 0001", True),  # another spelling of the same number
    ("0039 02 99990002", True),
    ("+39 02-9999-0002", True),
    ("02 9999 0003", False),  # a number it never declared
    ("+39 02 99990003", False),
    ("+442079460001", False),
    ("anonymous", False),  # a hidden caller id is never a declared one
    ("", False),
])
def test_declared(tmp_path: Path, caller_id: str, expected: bool) -> None:
    assert agency(tmp_path, OUTSOURCED).declared(caller_id, IT) is expected


@given(st.sampled_from(["+390299990001", "+390299990002"]),
       st.lists(st.sampled_from([" ", "-", ".", "/"]), min_size=8, max_size=8))
def test_declared_whatever_the_separators(number: str, separators: list[str]) -> None:
    own = Agency(id="x", name="X", vat="IT0", authorised_from=dt.date(2026, 1, 1),
                 caller_ids=("+390299990001", "+390299990002"), path=Path("x.toml"),
                 zone=IT.timezone_name)
    national = number.removeprefix("+39")
    spelt = "".join(d + s for d, s in zip(national, separators, strict=False)) + national[8:]
    assert own.declared(spelt, IT)
    assert own.declared("+39 " + spelt, IT)


# --- errors: file, key, fix ----------------------------------------------------------------

def _error(tmp_path: Path, text: str) -> ManifestError:
    path = write(tmp_path / "agencies", "bad.toml", text)
    with pytest.raises(ManifestError) as caught:
        parse_agency(path, IT)
    error = caught.value
    assert error.file == str(path)
    where = f"{path}, key '{error.key}'" if error.key else str(path)
    assert str(error).startswith(f"{where}: ")
    assert "\n" not in str(error)
    return error


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    # misspelt keys
    ("authorised_to = ", "authorized_to = ", "authorized_to", "did you mean 'authorised_to'?"),
    ("caller_ids = ", "callerids = ", "callerids", "did you mean 'caller_ids'?"),
    ("campaigns = ", "campaign = ", "campaign", "did you mean 'campaigns'?"),
    ("[calls.columns]", "[call.columns]", "call", "did you mean 'calls'?"),
    ("[calls.outcomes]", "[calls.outcome]", "calls.outcome", "did you mean 'outcomes'?"),
    ("started_at = ", "start_at = ", "calls.columns.start_at", "did you mean 'started_at'?"),
    # required keys
    ('vat = "IT07654321098"\n', "", "vat", 'add vat = "…"'),
    ('name = "CallPro S.r.l."\n', 'name = ""\n', "name", "missing or empty"),
    ("authorised_from = 2026-01-01\n", "", "authorised_from", "required date is missing"),
    ('caller_ids = ["+390299990001", "02 9999 0002"]\n', "caller_ids = []\n", "caller_ids",
     'e.g. caller_ids = ["+390299990001"]'),
    ('id = "callpro"', 'id = "call pro"', "id", "use letters, digits"),
    # bad dates
    ("authorised_from = 2026-01-01", 'authorised_from = "01/01/2026"', "authorised_from",
     "is not a date; write a date, e.g. authorised_from = 2026-01-01"),
    ("authorised_to = 2026-12-31", "authorised_to = 2026-12-31T18:00:00", "authorised_to",
     "is a date and time"),
    ("authorised_to = 2026-12-31", "authorised_to = 2025-12-31", "authorised_to",
     "is before authorised_from (2026-01-01)"),
    # bad caller ids
    ('"02 9999 0002"', '"333 12"', "caller_ids", "'333 12' is not a valid phone number"),
    ('"02 9999 0002"', "299990002", "caller_ids", "write each number in quotes"),
    # text that must stay text
    ('roc = "31234"', "roc = 31234", "roc", 'write e.g. roc = "31234", or remove the key'),
    ('campaigns = ["energia-2026-11", "fibra-2026-12"]', 'campaigns = "energia"', "campaigns",
     "or [] for every campaign"),
    # [calls]
    ('NI = "refused"', 'NI = "not_interested"', "calls.outcomes.NI",
     "unknown outcome 'not_interested'; accepted: no_answer, busy, failed, voicemail, "
     "abandoned, answered, refused, callback, optout, wrong_number, sale"),
    ('NA = "no_answer"', 'NA = "no-answer"', "calls.outcomes.NA", "did you mean 'no_answer'?"),
    ('NA = "no_answer"', 'no_answer = "NA"', "calls.outcomes.no_answer",
     'write NA = "no_answer"'),
    ('call_id = "uniqueid"', 'uniqueid = "call_id"', "calls.columns.uniqueid",
     'write call_id = "uniqueid"'),
    ('call_id = "uniqueid"\n', "", "calls.columns.call_id", "missing; name the export's column"),
    ('agent = "user"', 'agent = "phone_number"', "calls.columns.agent",
     "already mapped to phone"),
    ('agent = "user"', 'agent = ""', "calls.columns.agent", "must be the column's name"),
])
def test_a_wrong_manifest_names_the_key_and_the_fix(
        tmp_path: Path, old: str, new: str, key: str, words: str) -> None:
    assert old in OUTSOURCED
    error = _error(tmp_path, OUTSOURCED.replace(old, new, 1))
    assert error.key == key
    assert words in str(error), str(error)


def test_not_toml_names_the_file(tmp_path: Path) -> None:
    error = _error(tmp_path, OWN + "caller_ids = [\n")
    assert "not valid TOML" in str(error)


# --- discover_agencies ---------------------------------------------------------------------

def test_discover_collects_every_error_and_keeps_the_good(tmp_path: Path) -> None:
    folder = tmp_path / "agencies"
    write(folder, "a-connecto.toml", OWN)
    write(folder, "b-callpro.toml", OUTSOURCED)
    write(folder, "c-copy.toml", OWN.replace("Connecto S.r.l.", "Connecto bis"))
    write(folder, "d-typo.toml", OWN.replace('id = "connecto"', 'id = "typo"')
          .replace("vat", "vta"))
    write(folder, "e-bad-number.toml", OUTSOURCED.replace('id = "callpro"', 'id = "other"')
          .replace("+390299990001", "+39 123"))
    write(folder, "notes.txt", "not a manifest")
    found, errors = discover_agencies(folder, IT)
    assert set(found) == {"connecto", "callpro"}
    assert found["connecto"].name == "Connecto S.r.l."  # the first file keeps the id
    assert [(Path(e.file or "").name, e.key) for e in errors] == [
        ("c-copy.toml", "id"), ("d-typo.toml", "vta"), ("e-bad-number.toml", "caller_ids")]
    assert "already used by a-connecto.toml" in str(errors[0])
    assert "did you mean 'vat'?" in str(errors[1])


def test_no_folder_means_no_agencies(tmp_path: Path) -> None:
    assert discover_agencies(tmp_path / "agencies", IT) == ({}, [])


def test_a_dialer_export_with_a_title_line_says_where_its_header_is(tmp_path: Path) -> None:
    """An export as an office sends it: cp1252, semicolons, a title line above the header,
    day-first dates. The error says which line the header is on and the key to set; with
    [calls] header_row set, it is read."""
    from .conftest import copy_demo, gk

    ws = copy_demo(tmp_path / "demo")
    export = tmp_path / "chiamate.csv"
    export.write_bytes(
        ("Esportazione chiamate CallPro – 24/11/2026;;;;;;\r\n"
         "uniqueid;phone_number;call_date;user;campaign_id;length_in_sec;status\r\n"
         "1795424724.5001;0212345678;23/11/2026 10:05:24;Niccolò;demo;30;NA\r\n"
         ).encode("cp1252"))
    first = gk(ws, "calls", "import", str(export), "--agency", "callpro")
    assert first.exit_code == 2
    assert "the header seems to be line 2: set header_row = 2 in [calls]" in first.output
    assert "__UNNAMED__" not in first.output
    manifest = ws.root / "agencies" / "callpro.toml"
    manifest.write_text(manifest.read_text().replace("[calls]", "[calls]\nheader_row = 2", 1))
    again = gk(ws, "calls", "import", str(export), "--agency", "callpro")
    assert again.exit_code == 0 and "1 calls recorded" in again.output, again.output
    listed = gk(ws, "calls", "list", "0212345678")
    assert "Niccolò" in listed.output and "23/11/2026 10:05" in listed.output, listed.output
