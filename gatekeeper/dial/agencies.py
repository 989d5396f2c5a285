"""The call centres that dial for the controller (agencies/<id>.toml), own or outsourced.

The code of conduct (art. 7) asks the controller to know every call centre that calls on
its behalf, for how long and for which campaigns, and the numbers it shows; rules 12
(AGENCY_NOT_AUTHORISED) and 13 (CALLER_ID_UNDECLARED) and `calls import` read them from
here. Validated as strictly as a source manifest: a misspelt `authorised_to` silently
ignored would let a call centre dial after its contract ended.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gatekeeper.config import read_toml
from gatekeeper.core.errors import InputError, ManifestError
from gatekeeper.core.timeutil import date_start_utc
from gatekeeper.dial.ledger import CALL_FIELDS, DIRECTIONS, OUTCOMES, REQUIRED_CALL_FIELDS
from gatekeeper.intake.manifest import ID_PATTERN, _check_keys, _fail, discover_by_id
from gatekeeper.intake.normalise import phone_of
from gatekeeper.jurisdictions import Jurisdiction

TOP_KEYS = ("id", "name", "vat", "roc", "contract_ref", "authorised_from", "authorised_to",
            "caller_ids", "campaigns", "inbound", "inbound_numbers", "calls")
CALLS_KEYS = ("columns", "outcomes", "header_row", "header", "timezone", "defaults",
              "directions", "skip", "ambiguous")
AMBIGUOUS = ("refuse", "earlier", "later")
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Agency:
    """One call centre as its manifest declares it; `path` is the manifest file."""

    id: str
    name: str
    vat: str
    authorised_from: dt.date
    caller_ids: tuple[str, ...]  # E.164, as declared (art. 7)
    path: Path
    # The controller's jurisdiction's zone: the contract's authorisation dates are its days.
    zone: str = field(kw_only=True)
    roc: str | None = None  # ROC registration; the controller's own centre may have none
    contract_ref: str | None = None  # none for the controller's own centre
    authorised_to: dt.date | None = None  # last authorised Rome day; None: open-ended
    campaigns: tuple[str, ...] = ()  # empty: every campaign
    # canonical ledger field -> the export's column; only the fields the export has
    columns: dict[str, str] = field(default_factory=lambda: {f: f for f in CALL_FIELDS})
    # the dialer's outcome code -> one of OUTCOMES
    outcomes: dict[str, str] = field(default_factory=lambda: {o: o for o in OUTCOMES})
    header_row: int | None = None  # the export's header line, when a title sits above it
    # --- inbound lines (a call the person made is no list's doing: contracts say INBOUND)
    inbound: bool = False
    inbound_numbers: tuple[str, ...] = ()  # E.164; empty with inbound: any of its lines
    # --- how its dialer writes an export, beyond the column names (PRODUCT.md "Agencies")
    header: bool = True  # False: no header line; columns name positions ("1" the first)
    outcome_columns: tuple[str, ...] = ()  # several: values joined with "/" before mapping
    timezone: str | None = None  # the zone its local times are in; None: the controller's
    defaults: dict[str, str] = field(default_factory=dict)  # field -> constant
    directions: dict[str, str] = field(default_factory=dict)  # its value -> in/outbound
    skip: dict[str, str] = field(default_factory=dict)  # column -> regex of non-calls
    ambiguous: str = "refuse"  # the hour repeated when summer time ends

    def answers_on(self, line: str | None) -> bool:
        """May an inbound call to this line be its? Only for an agency declaring inbound
        lines, and to one of them when it lists them: a call centre claiming an inbound
        call clears a contract of the list it came from (PRODUCT.md "The contact ledger")."""
        if not self.inbound:
            return False
        return not self.inbound_numbers or line in self.inbound_numbers

    def authorised(self, at: dt.datetime, campaign: str | None) -> bool:
        """May it dial at this instant (naive UTC) for this campaign? From 00:00 local time
        (the controller's zone) of authorised_from through the whole local day of
        authorised_to. An agency limited to
        some campaigns is not authorised when the campaign is not given: it could
        otherwise dial for any campaign by not saying which."""
        if at < date_start_utc(self.authorised_from, self.zone):
            return False
        if self.authorised_to is not None and at >= date_start_utc(self.authorised_to + _DAY,
                                                                   self.zone):
            return False
        return not self.campaigns or campaign in self.campaigns

    def declared(self, caller_id: str, jurisdiction: Jurisdiction) -> bool:
        """Is this number (as an agent or a dialer writes it) one the agency declared? A
        value that is no phone number (empty, "anonymous") was never declared."""
        try:
            return phone_of(caller_id, jurisdiction) in self.caller_ids
        except InputError:
            return False


def parse_agency(path: Path, jurisdiction: Jurisdiction) -> Agency:
    """Validate one agency manifest; every error names the file, the key and the fix."""
    raw = read_toml(path, ManifestError)
    _check_keys(path, raw, TOP_KEYS, "")
    agency_id = _text(path, raw, "id")
    if not ID_PATTERN.match(agency_id):
        raise _fail(path, "id", f"{agency_id!r} is not an id; use letters, digits, '.', '_' "
                    "or '-' (max 100), e.g. id = \"callpro\"")
    authorised_from = _date(path, raw, "authorised_from")
    authorised_to = _date(path, raw, "authorised_to") if "authorised_to" in raw else None
    if authorised_to is not None and authorised_to < authorised_from:
        raise _fail(path, "authorised_to", f"{authorised_to} is before authorised_from "
                    f"({authorised_from}); give the last day the agency may call")
    calls = _calls_table(path, raw.get("calls", {}))
    columns, outcome_columns = _columns(path, calls.get("columns"), calls.get("header", True))
    inbound = raw.get("inbound", False)
    if not isinstance(inbound, bool):
        raise _fail(path, "inbound", f"must be true or false, got {inbound!r}")
    numbers = raw.get("inbound_numbers", [])
    if numbers and not inbound:
        raise _fail(path, "inbound_numbers", "lists lines but inbound is not true; set "
                    "inbound = true, or remove inbound_numbers")
    return Agency(
        id=agency_id,
        name=_text(path, raw, "name"),
        vat=_text(path, raw, "vat"),
        authorised_from=authorised_from,
        caller_ids=_caller_ids(path, raw.get("caller_ids"), jurisdiction),
        path=path,
        zone=jurisdiction.timezone_name,
        roc=_optional_text(path, raw, "roc", "31234"),
        contract_ref=_optional_text(path, raw, "contract_ref", "2026/03"),
        authorised_to=authorised_to,
        campaigns=_campaigns(path, raw.get("campaigns", [])),
        columns=columns,
        outcomes=_outcomes(path, calls.get("outcomes")),
        header_row=_header_row(path, calls.get("header_row")),
        inbound=inbound,
        inbound_numbers=(_numbers(path, "inbound_numbers", numbers, jurisdiction)
                         if numbers else ()),
        header=_flag(path, "calls.header", calls.get("header", True)),
        outcome_columns=outcome_columns,
        timezone=_timezone(path, calls.get("timezone")),
        defaults=_defaults(path, calls.get("defaults")),
        directions=_directions(path, calls.get("directions")),
        skip=_skip(path, calls.get("skip")),
        ambiguous=_ambiguous(path, calls.get("ambiguous", "refuse")),
    )


def discover_agencies(folder: Path, jurisdiction: Jurisdiction
                      ) -> tuple[dict[str, Agency], list[ManifestError]]:
    """Every valid manifest in agencies/ by id, and an error for each one that is not (a
    duplicate id is an error of the later file): one bad manifest stops no other. No
    folder means no agencies."""
    return discover_by_id(folder, lambda path: parse_agency(path, jurisdiction))


def _text(path: Path, raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, key, f"required text is missing or empty; add {key} = \"…\"")
    return value.strip()


def _optional_text(path: Path, raw: dict[str, Any], key: str, example: str) -> str | None:
    """Text when given: a number written without quotes would lose a ROC's leading zeros."""
    if key not in raw:
        return None
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, key, f"must be text in quotes, got {value!r}; write e.g. "
                    f"{key} = \"{example}\", or remove the key")
    return value.strip()


def _date(path: Path, raw: dict[str, Any], key: str) -> dt.date:
    value = raw.get(key)
    fix = f"write a date, e.g. {key} = 2026-01-01"
    if value is None:
        raise _fail(path, key, f"required date is missing; {fix}")
    if isinstance(value, dt.datetime):  # authorisations run by whole Rome days
        raise _fail(path, key, f"{value.isoformat()} is a date and time; {fix}")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _fail(path, key, f"{value!r} is not a date; {fix}")


def _caller_ids(path: Path, value: Any, jurisdiction: Jurisdiction) -> tuple[str, ...]:
    """The numbers it shows, in E.164. Required and not empty: every call carries one, and
    the code of conduct asks that each be declared."""
    return _numbers(path, "caller_ids", value, jurisdiction)


def _numbers(path: Path, key: str, value: Any, jurisdiction: Jurisdiction) -> tuple[str, ...]:
    fix = f'list the numbers, e.g. {key} = ["+390299990001"]'
    if not isinstance(value, list) or not value:
        raise _fail(path, key, f"required list of numbers is missing or empty; {fix}")
    phones: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise _fail(path, key, f"{item!r} is not text; write each number in quotes; {fix}")
        try:
            phones.append(phone_of(item, jurisdiction))
        except InputError:
            raise _fail(path, key, f"{item!r} is not a valid phone number; write it as "
                        f"people dial it, e.g. {jurisdiction.number_examples}") from None
    return tuple(dict.fromkeys(phones))


def _campaigns(path: Path, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(c, str) and c.strip() for c in value):
        raise _fail(path, "campaigns", f"must be a list of campaign names, got {value!r}; "
                    "e.g. campaigns = [\"energia-2026-11\"], or [] for every campaign")
    return tuple(dict.fromkeys(c.strip() for c in value))


def _calls_table(path: Path, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, "calls", "must be a table: [calls] with columns and outcomes")
    _check_keys(path, value, CALLS_KEYS, "calls.")
    return value


def _header_row(path: Path, value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
        raise _fail(path, "calls.header_row", f"must be the header's line number, 1 to 1000, "
                    f"got {value!r}; e.g. header_row = 2 when a title line comes first")
    return value


def _columns(path: Path, value: Any, header: Any = True
             ) -> tuple[dict[str, str], tuple[str, ...]]:
    """Which column of the dialer's export holds each ledger field, and the columns whose
    values make the outcome (several: joined with "/"). Absent: the export uses the
    canonical names. Given: exactly the fields the export has; without a header line
    (`header = false`) a column is a position, "1" the first field."""
    if value is None:
        return {name: name for name in CALL_FIELDS}, ("outcome",)
    if not isinstance(value, dict):
        raise _fail(path, "calls.columns", "must be a table, e.g. columns = { call_id = "
                    "\"uniqueid\", phone = \"phone_number\", … }")
    for key, column in value.items():  # the mapping written the other way round
        if key not in CALL_FIELDS and isinstance(column, str) and column in CALL_FIELDS:
            raise _fail(path, f"calls.columns.{key}", "the field goes on the left and the "
                        f"export's column on the right; write {column} = \"{key}\"")
    _check_keys(path, value, CALL_FIELDS, "calls.columns.")
    seen: dict[str, str] = {}
    outcome_columns: tuple[str, ...] = ()
    for canonical, column in value.items():
        key = f"calls.columns.{canonical}"
        several = canonical == "outcome" and isinstance(column, list)
        names = column if several else [column]
        if several and not column:
            raise _fail(path, key, "lists no column; name one or more, e.g. outcome = "
                        "[\"status\", \"answered_by\"]")
        for name in names:
            if not isinstance(name, str) or not name.strip():
                raise _fail(path, key, "must be the column's name in the dialer's export, "
                            f"e.g. {canonical} = \"{canonical}\""
                            + (" (outcome may list several)" if canonical == "outcome" else ""))
            if header is False and not (name.isdigit() and 1 <= int(name) <= 1000):
                raise _fail(path, key, f"'{name}' is no position: with header = false a "
                            f"column is the field's position, e.g. {canonical} = \"3\" for "
                            "the third field")
            if name in seen:
                raise _fail(path, key, f"column '{name}' is already mapped to {seen[name]}; "
                            "map each field to its own column")
            seen[name] = canonical
        if canonical == "outcome":
            outcome_columns = tuple(names)
    for required in REQUIRED_CALL_FIELDS:
        if required not in value:
            raise _fail(path, f"calls.columns.{required}", "missing; name the export's column "
                        f"that holds it, e.g. {required} = \"…\" (required: "
                        f"{', '.join(REQUIRED_CALL_FIELDS)})")
    columns = {f: (c if isinstance(c, str) else c[0]) for f, c in value.items()}
    return columns, outcome_columns


def _flag(path: Path, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, key, f"must be true or false, got {value!r}")
    return value


def _timezone(path: Path, value: Any) -> str | None:
    """The zone the dialer writes local times in: a centre abroad, or one logging UTC."""
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise _fail(path, "calls.timezone", f"{value!r} is not a time zone; write an IANA "
                    "name, e.g. timezone = \"Europe/Bucharest\", \"Europe/Paris\" or "
                    "\"UTC\"") from None
    return value


def _text_table(path: Path, key: str, value: Any, example: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(v, str) for v in value.values()):
        raise _fail(path, key, f"must be a table of text values, e.g. {example}")
    return {str(k): v for k, v in value.items()}


def _defaults(path: Path, value: Any) -> dict[str, str]:
    """A constant for a field the export lacks (a one-line centre's caller id)."""
    table = _text_table(path, "calls.defaults", value,
                        'defaults = { direction = "outbound", caller_id = "+390299990001" }')
    for name in table:
        if name not in CALL_FIELDS or name == "call_id":
            raise _fail(path, f"calls.defaults.{name}", "is no field a default can fill; "
                        "accepted: " + ", ".join(f for f in CALL_FIELDS if f != "call_id"))
    return table


def _directions(path: Path, value: Any) -> dict[str, str]:
    table = _text_table(path, "calls.directions", value,
                        'directions = { "outbound-dial" = "outbound", "inbound" = "inbound" }')
    for code, direction in table.items():
        if direction not in DIRECTIONS:
            raise _fail(path, f"calls.directions.{code}", f"'{direction}' is not a direction; "
                        f"map the export's value to one of {', '.join(DIRECTIONS)}")
    return table


def _skip(path: Path, value: Any) -> dict[str, str]:
    """Rows that are no call to a person (an internal extension), by a regular expression
    over a column's whole value: counted and said, never silently dropped."""
    table = _text_table(path, "calls.skip", value,
                        'skip = { dcontext = "from-internal", dst = "^\\\\d{2,4}$" }')
    for column, pattern in table.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _fail(path, f"calls.skip.{column}", f"'{pattern}' is not a regular "
                        f"expression ({exc}); e.g. \"^\\\\d{{2,4}}$\" for a 2-4 digit "
                        "extension") from None
    return table


def _ambiguous(path: Path, value: Any) -> str:
    if value not in AMBIGUOUS:
        raise _fail(path, "calls.ambiguous", f"{value!r} is not one of {', '.join(AMBIGUOUS)}:"
                    " how to read a time in the hour repeated when summer time ends")
    return str(value)


def _outcomes(path: Path, value: Any) -> dict[str, str]:
    """The dialer's codes for the ledger's outcomes. Absent: it writes the canonical names."""
    if value is None:
        return {name: name for name in OUTCOMES}
    if not isinstance(value, dict) or not value:
        raise _fail(path, "calls.outcomes", "must be a table of the dialer's codes, e.g. "
                    "outcomes = { NA = \"no_answer\", SALE = \"sale\" }")
    for code, outcome in value.items():
        if code in OUTCOMES and outcome not in OUTCOMES:  # written the other way round
            raise _fail(path, f"calls.outcomes.{code}", "the dialer's code goes on the left "
                        f"and the outcome on the right; write {outcome} = \"{code}\"")
        if outcome not in OUTCOMES:
            close = difflib.get_close_matches(str(outcome), OUTCOMES, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise _fail(path, f"calls.outcomes.{code}", f"unknown outcome {outcome!r}; {hint}"
                        f"accepted: {', '.join(OUTCOMES)}")
    return dict(value)
