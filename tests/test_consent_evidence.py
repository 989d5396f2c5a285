"""The consent evidence fields (IP, instant, method, wording, sectors): read from real list
files like the other canonical fields, wrong values rejected with the fix, kept as evidence
and disclosed."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gatekeeper.core.exprs import sector_name
from gatekeeper.intake import consent_evidence as E
from gatekeeper.jurisdictions import IT

from .conftest import WorkspaceMaker, gk, stored_rows

ROME = ZoneInfo("Europe/Rome")


def _parse(parser: tuple[pl.Expr, pl.Expr], field: str, values: list[str | None]
           ) -> list[tuple[object, object]]:
    value, error = parser
    frame = pl.DataFrame({field: values}, schema={field: pl.String})
    out = frame.select(value.alias("v"), error.alias("e"))
    return list(zip(out["v"].to_list(), out["e"].to_list(), strict=True))


# --- IP addresses -----------------------------------------------------------------------

def _python_reads(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text  # a zone id is not an address a web form sees


IP_TEXT = st.text(alphabet="0123456789abcdefABCDEF:.", max_size=45)


@settings(max_examples=600, deadline=None)
@given(st.lists(IP_TEXT | st.ip_addresses().map(str), min_size=1, max_size=30))
@example(["1:2:3:4:5:6::1.2.3.4", "::ffff:1.2.3.4", "01.2.3.4", "1::", "::", ":::"])
def test_ip_addresses_are_read_exactly_as_python_reads_them(values: list[str]) -> None:
    for text, (value, error) in zip(values, _parse(E.ip("consent_ip"), "consent_ip", values),
                                    strict=True):
        assert (value is not None) == _python_reads(text), text
        assert (error is None) == (value is not None), text


@settings(max_examples=300, deadline=None)
@given(st.ip_addresses(v=6))
def test_every_written_form_of_an_ipv6_address_is_read(address: ipaddress.IPv6Address) -> None:
    forms = [str(address), address.exploded, address.exploded.upper()]
    assert all(v == f for f, (v, _) in zip(forms, _parse(E.ip("consent_ip"), "consent_ip",
                                                          forms), strict=True))


def test_ip_errors_say_what_to_write() -> None:
    [(value, error)] = _parse(E.ip("consent_ip"), "consent_ip", ["fe80::1%eth0"])
    assert value is None and "2001:db8::1" in str(error)


# --- instants ---------------------------------------------------------------------------

AWARE = st.datetimes(dt.datetime(1971, 1, 1), dt.datetime(2099, 12, 31),
                     timezones=st.sampled_from([dt.UTC, ZoneInfo("Europe/Rome"),
                                                dt.timezone(dt.timedelta(hours=5, minutes=30)),
                                                dt.timezone(-dt.timedelta(hours=3))]))


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


@settings(max_examples=300, deadline=None)
@given(AWARE, st.sampled_from(["iso", "space", "compact", "millis"]))
def test_instants_with_an_offset(moment: dt.datetime, form: str) -> None:
    offset = moment.strftime("%z")
    text = {"iso": moment.isoformat(),
            "space": moment.strftime("%Y-%m-%d %H:%M:%S ") + offset,
            "compact": moment.strftime("%Y-%m-%dT%H:%M:%S") + offset,
            "millis": moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + offset}[form]
    [(value, error)] = _parse(E.instant("consent_at", IT.timezone_name), "consent_at", [text])
    expected = _utc(moment)
    if form == "millis":
        expected = expected.replace(microsecond=moment.microsecond // 1000 * 1000)
    elif form in ("space", "compact"):
        expected = expected.replace(microsecond=0)
    assert (value, error) == (expected, None), text


@settings(max_examples=300, deadline=None)
@given(st.datetimes(dt.datetime(1971, 1, 1), dt.datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0, fold=0)),  # hypothesis sets fold=1 at times
    st.sampled_from(["iso", "dmy", "dmy-comma"]))
def test_instants_without_an_offset_are_rome_time(local: dt.datetime, form: str) -> None:
    text = {"iso": local.strftime("%Y-%m-%d %H:%M:%S"),
            "dmy": local.strftime("%d/%m/%Y %H:%M:%S"),
            "dmy-comma": local.strftime("%d.%m.%Y, %H:%M:%S")}[form]
    [(value, error)] = _parse(E.instant("consent_at", IT.timezone_name), "consent_at", [text])
    rome = local.replace(tzinfo=ROME)  # fold=0: a repeated hour is its first (summer) time
    exists = _utc(rome).replace(tzinfo=dt.UTC).astimezone(ROME).replace(tzinfo=None) == local
    if exists:
        assert (value, error) == (_utc(rome), None), text
    else:  # the hour the clocks skip: the fix asks for the offset
        assert value is None and "UTC offset" in str(error), text


def test_common_forms_of_an_instant() -> None:
    values = ["2026-03-31", "31/03/2026 14:05", "46112.5", "1774958700", "1774958700123",
              "2026-03-31T12:05:00Z", "2026-02-30 10:00", "3331234567", "ieri"]
    parsed = _parse(E.instant("consent_at", IT.timezone_name), "consent_at", values)
    assert [v for v, _ in parsed] == [
        dt.datetime(2026, 3, 30, 22), dt.datetime(2026, 3, 31, 12, 5),
        dt.datetime(2026, 3, 31, 10), dt.datetime(2026, 3, 31, 12, 5),
        dt.datetime(2026, 3, 31, 12, 5, 0, 123000), dt.datetime(2026, 3, 31, 12, 5),
        None, None, None]
    assert all("31/03/2026 14:05" in str(e) for _, e in parsed[-3:])


# --- sectors ----------------------------------------------------------------------------

SECTOR = st.sampled_from(["energia", "telefonia", "assicurazioni", "energia elettrica",
                          "servizi finanziari"])


def _as_typed(name: str, upper: bool, spaces: int) -> str:
    typed = name.upper() if upper else name.title()
    return " " * spaces + typed.replace(" ", " " * (spaces + 1)) + " " * spaces


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(SECTOR, st.booleans(), st.integers(0, 3)), min_size=1, max_size=5),
       st.sampled_from([";", ",", "/", " ; ", ", "]), SECTOR)
def test_sectors_with_spaces_and_case_differences(names: list[tuple[str, bool, int]],
                                                  separator: str, campaign: str) -> None:
    text = separator.join(_as_typed(*n) for n in names)
    [(value, error)] = _parse(E.sectors("consent_sectors"), "consent_sectors", [text])
    assert value == list(dict.fromkeys(n for n, _, _ in names)) and error is None
    assert (sector_name(f"  {campaign.upper()} ") in value) == (
        campaign in {n for n, _, _ in names})


def test_no_sector_named_is_no_sectors() -> None:
    assert _parse(E.sectors("consent_sectors"), "consent_sectors", [";; ,", None]) == [
        (None, None), (None, None)]


# --- through a real list ----------------------------------------------------------------

EVIDENCE_COLUMNS = """phone = "Telefono"
consent_third_party = "Consenso"
consent_date = "Data"
consent_proof = "Prova"
consent_ip = "IP"
consent_at = "Quando"
consent_method = "Modalita"
consent_text_id = "Testo"
consent_sectors = "Settori"
"""
LIST = """Telefono;Consenso;Data;Prova;IP;Quando;Modalita;Testo;Settori
3331234567;si;2026-03-31;P1;2001:db8::7;31/03/2026 14:05;double_opt_in;INF-3;Energia; Telefonia
3471234568;si;2026-03-31;P2;93.44.12.7;2026-03-31T12:05:00Z;sms_otp;INF-3;energia
3201234569;si;2026-03-31;P3;1.2.3;2026-03-31;web_form;INF-3;
3201234560;si;2026-03-31;P4;93.44.12.8;l'altro ieri;web_form;INF-3;
"""


def test_evidence_is_read_kept_and_disclosed(maker: WorkspaceMaker) -> None:
    maker.source("ev", LIST.replace("Energia; Telefonia", '"Energia; Telefonia"'),
                 columns=EVIDENCE_COLUMNS)
    ws = maker.ws
    loaded = gk(ws, "load")
    assert loaded.exit_code == 0, loaded.output
    # Named as the file shows them: the line, beside the data row.
    assert ("line 4 (data row 3): consent_ip '1.2.3' is not an IPv4 or IPv6 address"
            in loaded.output)
    assert ("line 5 (data row 4): consent_at 'l'altro ieri' is not a date and time"
            in loaded.output)
    rows = stored_rows(ws).sort("row")
    assert rows["row"].to_list() == [1, 2]
    assert rows["consent_ip"].to_list() == ["2001:db8::7", "93.44.12.7"]
    assert rows["consent_at"].to_list() == [dt.datetime(2026, 3, 31, 12, 5)] * 2
    assert rows["consent_sectors"].to_list() == [["energia", "telefonia"], ["energia"]]
    data = json.loads(gk(ws, "disclose", "3331234567", "--format", "json").output)
    consent = data["sources"][0]["consent"]
    assert consent["ip"] == "2001:db8::7"
    assert (consent["at"], consent["method"], consent["text_id"], consent["sectors"]) == (
        "2026-03-31T14:05:00+02:00", "double_opt_in", "INF-3", ["energia", "telefonia"])
    letter = " ".join(gk(ws, "disclose", "3331234567").output.split())  # unwrapped
    assert "indirizzo IP 2001:db8::7" in letter and "31/03/2026 14:05" in letter
    assert "settori scelti: energia, telefonia" in letter
    assert "Abbiamo verificato il fornitore" in letter and "01/10/2026" in letter


def test_an_erasure_blanks_the_evidence_too(maker: WorkspaceMaker) -> None:
    maker.source("ev", LIST.replace("Energia; Telefonia", "energia"), columns=EVIDENCE_COLUMNS)
    ws = maker.ws
    assert gk(ws, "load").exit_code == 0
    assert gk(ws, "erase", "3331234567", "--ref", "E-1").exit_code == 0
    erased = stored_rows(ws).filter(pl.col("erased_ref") == "E-1")
    assert erased.select("consent_ip", "consent_at", "consent_method", "consent_text_id",
                         "consent_sectors").null_count().row(0) == (1, 1, 1, 1, 1)
