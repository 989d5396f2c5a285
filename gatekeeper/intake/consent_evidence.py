"""The consent's evidence as lists carry it (code of conduct art. 6): the IP address it came
from, the instant it was given, and the sectors it covers. Each parser is one polars
expression pair (value, error) over a whole column, like the flags and dates of fields.py:
a value that cannot be read makes the row a reject with the fix, never a silent null
(a garbled IP read as "no IP" would only look like missing evidence; a misread instant
could make a consent look given before the person ever saw the form).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from gatekeeper.core.exprs import sector_names

# What each parsed evidence field holds (a field a list does not carry is a null of it).
TYPES: dict[str, pl.DataType] = {"consent_ip": pl.String(), "consent_at": pl.Datetime("us"),
                                 "consent_sectors": pl.List(pl.String())}

# --- IP addresses -----------------------------------------------------------------------
# The address grammar of RFC 4291 (and RFC 791 dotted quads without leading zeros, as
# Python's ipaddress reads them since 3.9.5): written out as one regular expression, so a
# million addresses are checked in one pass. ASCII digits only: "١.٢.٣.٤" is no address.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H16 = r"[0-9A-Fa-f]{1,4}"
_LS32 = rf"(?:{_H16}:{_H16}|{IPV4})"


def _ipv6() -> str:
    def groups(n: int) -> str:  # n "h16:" in a row
        return f"(?:{_H16}:){{{n}}}" if n else ""

    def head(most: int) -> str:  # [ *most( h16 ":" ) h16 ] before "::"
        return f"(?:(?:{_H16}:){{0,{most}}}{_H16})?" if most >= 0 else ""

    forms = [f"{groups(6)}{_LS32}", f"::{groups(5)}{_LS32}"]
    forms += [f"{head(k - 1)}::{groups(4 - k)}{_LS32}" for k in range(1, 5)]
    forms += [f"{head(4)}::{_LS32}", f"{head(5)}::{_H16}", f"{head(6)}::"]
    return "|".join(f"(?:{form})" for form in forms)


IP_PATTERN = rf"^(?:{IPV4}|{_ipv6()})$"


def ip(field: str) -> tuple[pl.Expr, pl.Expr]:
    """An IPv4 or IPv6 address, kept as written (trimmed); no zone id ("%eth0"): the
    address a form saw is a public one."""
    text = pl.col(field)
    valid = text.str.contains(IP_PATTERN)
    error = pl.when(text.is_not_null() & ~valid).then(pl.format(
        f"{field} '{{}}' is not an IPv4 or IPv6 address (e.g. 93.44.12.7 or 2001:db8::1)",
        text))
    return pl.when(valid).then(text).alias(field), error.alias(f"__err_{field}")


# --- instants ---------------------------------------------------------------------------
# ISO 8601 (T or a space, seconds and fraction optional, Z or an offset), d/m/yyyy with a
# time, a date alone (00:00 Rome, as everywhere in Gatekeeper), an Excel serial with its
# fraction of a day, or Unix seconds/milliseconds. Without an offset the time is Rome's.
_TIME = r"(?:(?:T| +)([0-9]{1,2})[:.]([0-9]{2})(?:[:.]([0-9]{2})(?:[.,]([0-9]{1,9}))?)?)?"
_OFFSET = r"\s*(Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
ISO_INSTANT = rf"^([0-9]{{4}})-([0-9]{{2}})-([0-9]{{2}}){_TIME}{_OFFSET}$"
_DMY_TIME = _TIME.replace("(?:T| +)", "(?:T|[ ,]+)")  # "31/03/2026, 14:05" too
DMY_INSTANTS = tuple(
    rf"^([0-9]{{1,2}}){sep}([0-9]{{1,2}}){sep}([0-9]{{4}}){_DMY_TIME}{_OFFSET}$"
    for sep in ("/", "-", r"\."))
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
EXCEL_SERIALS = (20000, 80000)  # 1954-2119, as for dates (fields.py)
# Unix time only between 2000 and 2050: a mobile number mapped to the wrong column
# (3331234567) would otherwise read as a consent given in 2075.
EPOCH_RANGE = (946_684_800, 2_524_608_000)


def _local_text(y: pl.Expr, mo: pl.Expr, d: pl.Expr, h: pl.Expr, mi: pl.Expr,
                s: pl.Expr) -> pl.Expr:
    return pl.concat_str([y, pl.lit("-"), mo.str.zfill(2), pl.lit("-"), d.str.zfill(2),
                          pl.lit(" "), h.fill_null("0").str.zfill(2), pl.lit(":"),
                          mi.fill_null("00"), pl.lit(":"), s.fill_null("00")])


def _parts(text: pl.Expr) -> list[tuple[pl.Expr, pl.Expr]]:
    """(naive local or offset time, offset text) for each written form of an instant."""
    forms = []
    for pattern, order in [(ISO_INSTANT, (0, 1, 2)),
                           *((p, (2, 1, 0)) for p in DMY_INSTANTS)]:
        g = text.str.extract_groups(pattern)
        y, mo, d = (g.struct[i] for i in order)
        h, mi, s, frac, offset = (g.struct[i] for i in range(3, 8))
        naive = _local_text(y, mo, d, h, mi, s).str.to_datetime(
            "%Y-%m-%d %H:%M:%S", time_unit="us", strict=False)
        micros = frac.str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int64, strict=False)
        forms.append((naive + pl.duration(microseconds=micros.fill_null(0)), offset))
    return forms


def _offset_minutes(offset: pl.Expr) -> pl.Expr:
    digits = offset.str.replace(":", "", literal=True)
    sign = pl.when(digits.str.starts_with("-")).then(-1).otherwise(1)
    hours = digits.str.slice(1, 2).cast(pl.Int64, strict=False)
    minutes = digits.str.slice(3, 2).cast(pl.Int64, strict=False).fill_null(0)
    return pl.when(offset.str.to_lowercase() == "z").then(0).otherwise(
        sign * (hours * 60 + minutes))


def _local_to_utc(local: pl.Expr, zone: str) -> pl.Expr:
    """Wall-clock time of the zone as naive UTC; a time the clocks skipped is null, one
    they repeat is its first occurrence (summer time), as zoneinfo reads it (fold=0)."""
    return (local.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC").dt.replace_time_zone(None))


def instant(field: str, zone: str) -> tuple[pl.Expr, pl.Expr]:
    """An instant in any common written form, as naive UTC (Datetime us); one without an
    offset is local time of `zone` (the jurisdiction's: where the consent was given)."""
    text = pl.col(field)
    forms = _parts(text)
    local = pl.coalesce([naive for naive, _ in forms])
    offset = pl.coalesce([off for naive, off in forms])
    with_offset = local - pl.duration(minutes=_offset_minutes(offset))
    written = pl.when(offset.is_not_null()).then(with_offset).otherwise(_local_to_utc(local, zone))
    serial = text.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
    excel = pl.when(text.str.contains(r"^[0-9]{5}(?:[.,][0-9]+)?$")
                    & serial.is_between(*EXCEL_SERIALS)).then(
        pl.lit(EXCEL_EPOCH) + pl.duration(seconds=(serial * 86400).round(0).cast(pl.Int64)))
    number = text.cast(pl.Int64, strict=False)
    in_ms = text.str.contains(r"^[0-9]{13}$")
    seconds = (pl.when(text.str.contains(r"^[0-9]{10}$")).then(number)
               .when(in_ms).then(number // 1000))
    epoch = pl.when(seconds.is_between(*EPOCH_RANGE, closed="left")).then(pl.from_epoch(
        pl.when(in_ms).then(number).otherwise(number * 1000), time_unit="ms"
    ).dt.cast_time_unit("us"))
    value = pl.coalesce([written, _local_to_utc(excel, zone), epoch])
    skipped = local.is_not_null() & offset.is_null() & value.is_null()
    error = (pl.when(skipped).then(pl.format(
        f"{field} '{{}}' is a time the clocks skipped in {zone} (summer time began); write it "
        "with its UTC offset, e.g. 2026-03-29T02:30:00+01:00", text))
        .when(text.is_not_null() & value.is_null()).then(pl.format(
            f"{field} '{{}}' is not a date and time (use 2026-03-31T14:05:00+02:00, "
            "31/03/2026 14:05 or 2026-03-31)", text)))
    return value.alias(field), error.alias(f"__err_{field}")


# --- sectors ----------------------------------------------------------------------------

SECTOR_SEPARATORS = r"[;,/]"  # "energia;telefonia", "energia, telefonia", "luce/gas"


def sectors(field: str) -> tuple[pl.Expr, pl.Expr]:
    """The sectors a consent covers ("Energia; Telefonia", "energia,telefonia"), each in
    its compared form (exprs.sector_names), in order, once; nothing named is null."""
    parts = (pl.col(field).str.replace_all(SECTOR_SEPARATORS, ";").str.split(";")
             .list.eval(sector_names(pl.element())).list.eval(
                 pl.element().filter(pl.element() != "")).list.unique(maintain_order=True))
    value = pl.when(parts.list.len() > 0).then(parts)
    return value.alias(field), pl.lit(None, pl.String).alias(f"__err_{field}")
