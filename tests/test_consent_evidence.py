"""The consent evidence fields (IP, instant, method, wording, sectors): read like the other
canonical fields, wrong values rejected with the fix."""

from __future__ import annotations

import datetime as dt
import ipaddress
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gatekeeper.exprs import sector_name
from gatekeeper.sources import evidence as E

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
    [(value, error)] = _parse(E.instant("consent_at"), "consent_at", [text])
    expected = _utc(moment)
    if form == "millis":
        expected = expected.replace(microsecond=moment.microsecond // 1000 * 1000)
    elif form in ("space", "compact"):
        expected = expected.replace(microsecond=0)
    assert (value, error) == (expected, None), text


@settings(max_examples=300, deadline=None)
@given(st.datetimes(dt.datetime(1971, 1, 1), dt.datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0)), st.sampled_from(["iso", "dmy", "dmy-comma"]))
def test_instants_without_an_offset_are_rome_time(local: dt.datetime, form: str) -> None:
    text = {"iso": local.strftime("%Y-%m-%d %H:%M:%S"),
            "dmy": local.strftime("%d/%m/%Y %H:%M:%S"),
            "dmy-comma": local.strftime("%d.%m.%Y, %H:%M:%S")}[form]
    [(value, error)] = _parse(E.instant("consent_at"), "consent_at", [text])
    rome = local.replace(tzinfo=ROME)  # fold=0: a repeated hour is its first (summer) time
    exists = _utc(rome).replace(tzinfo=dt.UTC).astimezone(ROME).replace(tzinfo=None) == local
    if exists:
        assert (value, error) == (_utc(rome), None), text
    else:  # the hour the clocks skip: the fix asks for the offset
        assert value is None and "UTC offset" in str(error), text


def test_common_forms_of_an_instant() -> None:
    values = ["2026-03-31", "31/03/2026 14:05", "46112.5", "1774958700", "1774958700123",
              "2026-03-31T12:05:00Z", "2026-02-30 10:00", "3331234567", "ieri"]
    parsed = _parse(E.instant("consent_at"), "consent_at", values)
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
