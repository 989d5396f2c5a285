"""A source manifest (sources/<id>.toml): what a list is, who sold it, how to read it.

Validated strictly: a wrong key could silently drop a consent column, and then
every row of a bought list would look unconsented (or worse, the reverse).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from gatekeeper.config import read_toml
from gatekeeper.core.columns import CANONICAL_FIELDS, PURPOSES, SOURCE_KINDS
from gatekeeper.core.errors import ManifestError
from gatekeeper.jurisdictions import JURISDICTIONS, Jurisdiction

TOP_KEYS = (
    "id", "kind", "file", "received_on", "purposes", "supplier", "columns", "defaults",
    "sheet", "delimiter", "encoding", "header_row", "skip_rows", "outside_workspace",
    "leading_zero", "country",
)
SUPPLIER_KEYS = ("name", "vat", "contact", "contract_ref")
# What to do with a landline stored as a number, its leading 0 lost (212345678): reject
# the row (the supplier exports the column again as text) or read it as that landline.
LEADING_ZERO_MODES = ("reject", "restore")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Supplier:
    name: str
    vat: str
    contact: str | None = None
    contract_ref: str | None = None


@dataclass(frozen=True)
class Manifest:
    """One list as declared by its manifest; `path` is the manifest file."""

    id: str
    kind: str
    file: Path
    received_on: dt.date
    purposes: tuple[str, ...]
    supplier: Supplier | None
    columns: dict[str, str]
    defaults: dict[str, Any]
    path: Path
    sheet: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    header_row: int | None = None  # 1-based line (CSV) or sheet row (.xlsx); None: default
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    supplier_id: str | None = None  # supplier = "<id>": suppliers/<id>.toml (due diligence)
    leading_zero: str = "reject"  # one of LEADING_ZERO_MODES
    # country = "RO": the country whose numbers the list writes without a prefix (a
    # Romanian archive writes 0721 234 567); None: the workspace's own country.
    country: str | None = None

    @property
    def restores_leading_zero(self) -> bool:
        """Is a landline that lost its leading 0 read as that landline (else rejected)?"""
        return self.leading_zero == "restore"

    def country_in(self, called: tuple[Jurisdiction, ...]) -> Jurisdiction:
        """The country the list is read as (its bare numbers, its leading zeros, its
        instants without an offset), among the countries called (the first: the
        workspace's own, the default). A country not called is refused rather than
        guessed: read as another country, a bare number is another person's number."""
        if self.country is None:
            return called[0]
        for j in called:
            if j.code == self.country:
                return j
        accepted = ", ".join(j.code for j in called)
        raise _fail(self.path, "country", f"'{self.country}' is not a country called; "
                    f"accepted: {accepted} ([policy] jurisdictions in gatekeeper.toml: "
                    "write one of them, or add this one there)")


def _fail(path: Path, key: str, message: str) -> ManifestError:
    return ManifestError(message, file=path, key=key)


def _check_keys(path: Path, table: dict[str, Any], accepted: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise _fail(path, f"{where}{key}",
                        f"unknown key; {hint}accepted: {', '.join(accepted)}")


def _string(path: Path, table: dict[str, Any], key: str, where: str = "") -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"{where}{key}", "required text value is missing or empty")
    return value.strip()


def toml_date(path: Path, key: str, value: Any) -> dt.date:
    """A date key of a manifest (TOML date, or its text), else the error naming it."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise _fail(path, key, f"must be a date like 2026-11-02, got {value!r}")


def _purposes(path: Path, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(path, "purposes", 'must be a list, e.g. purposes = ["telemarketing"]')
    for item in value:
        if item not in PURPOSES:
            raise _fail(path, "purposes", f"unknown purpose {item!r}; accepted: "
                        + ", ".join(PURPOSES))
    return tuple(dict.fromkeys(value))


def _supplier_id(path: Path, value: str) -> str:
    """supplier = "acme": the supplier file suppliers/acme.toml (suppliers/supplier.py)."""
    if not ID_PATTERN.match(value.strip()):
        raise _fail(path, "supplier", f"{value!r} is not a supplier id; write the id of its "
                    'file suppliers/<id>.toml, e.g. supplier = "acme"')
    return value.strip()


def _supplier(path: Path, kind: str, value: Any) -> Supplier | None:
    if value is None:
        if kind == "internal_archive":
            return None
        raise _fail(path, "supplier", f'a {kind} source needs supplier = "<id>" (its file '
                    "suppliers/<id>.toml) or a [supplier] table with name and vat")
    if not isinstance(value, dict):
        raise _fail(path, "supplier", 'must be a supplier id, e.g. supplier = "acme" (its '
                    "file suppliers/acme.toml), or a table: [supplier]")
    _check_keys(path, value, SUPPLIER_KEYS, "supplier.")
    for key in ("contact", "contract_ref"):  # optional, but printed as text when given
        if key in value and not isinstance(value[key], str):
            raise _fail(path, f"supplier.{key}", f"must be text, e.g. {key} = \"…\"")
    return Supplier(
        name=_string(path, value, "name", "supplier."),
        vat=_string(path, value, "vat", "supplier."),
        contact=value.get("contact"),
        contract_ref=value.get("contract_ref"),
    )


def _mapping(path: Path, value: Any, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, key, f"must be a table: [{key}]")
    _check_keys(path, value, CANONICAL_FIELDS, f"{key}.")
    return dict(value)


def _list_file(path: Path, workspace_root: Path, value: str, outside: Any) -> Path:
    """The list file, which must lie inside the workspace (symlinks followed): a manifest
    could otherwise load, and later disclose, any file the user can read."""
    if not isinstance(outside, bool):
        raise _fail(path, "outside_workspace", "must be true or false")
    if any(ord(c) < 32 for c in value):  # no file system takes a NUL; a newline is a typo
        raise _fail(path, "file", f"{value!r} holds a control character; write the list "
                    "file's path, e.g. file = \"data/lists/acme.csv\"")
    file = workspace_root / value
    if not outside and not file.resolve().is_relative_to(workspace_root.resolve()):
        raise _fail(path, "file", f"'{value}' is outside the workspace; copy the list under "
                    "data/lists/ (or set outside_workspace = true if it must stay there)")
    return file


def _header_row(path: Path, raw: dict[str, Any], file_value: str) -> int | None:
    """Where the header is, from `header_row` (its line or sheet row) or `skip_rows` (the
    lines above it): lists arrive with a title or a blank line over the header."""
    given: dict[str, int] = {}
    for key, least in (("header_row", 1), ("skip_rows", 0)):
        if key not in raw:
            continue
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise _fail(path, key, f"must be a whole number >= {least}, got {value!r}")
        given[key] = value if key == "header_row" else value + 1
    if not given:
        return None
    if Path(file_value).suffix.lower() == ".parquet":
        key = next(iter(given))
        raise _fail(path, key, "a Parquet file has no header line; remove this key")
    if len(set(given.values())) > 1:
        raise _fail(path, "skip_rows",
                    f"skip_rows = {raw['skip_rows']} means header_row = {given['skip_rows']}, "
                    f"but header_row = {raw['header_row']}; keep only one of them")
    return next(iter(given.values()))


def _leading_zero(path: Path, value: Any) -> str:
    if value not in LEADING_ZERO_MODES:
        raise _fail(path, "leading_zero", f"must be \"reject\" (the default: such rows are "
                    "rejects) or \"restore\" (read as the landline they were), got "
                    f"{value!r}")
    return str(value)


def _country(path: Path, value: Any) -> str | None:
    """country = "RO": a code Gatekeeper has a policy for; whether the workspace calls that
    country is Manifest.country_in's question (it needs the workspace's config)."""
    if value is None:
        return None
    if not isinstance(value, str) or value.strip() not in JURISDICTIONS:
        raise _fail(path, "country", f"{value!r} is not a country code; accepted: "
                    f"{', '.join(JURISDICTIONS)} (and only those in [policy] jurisdictions)")
    return value.strip()


def parse_manifest(path: Path, workspace_root: Path) -> Manifest:
    """Validate one manifest; every error names the file and the key to fix."""
    raw = read_toml(path, ManifestError)
    _check_keys(path, raw, TOP_KEYS, "")
    source_id = _string(path, raw, "id")
    if not ID_PATTERN.match(source_id):
        raise _fail(path, "id", "use letters, digits, '.', '_' or '-' (max 100)")
    kind = _string(path, raw, "kind")
    if kind not in SOURCE_KINDS:
        raise _fail(path, "kind", f"unknown kind {kind!r}; accepted: {', '.join(SOURCE_KINDS)}")
    columns = _mapping(path, raw.get("columns"), "columns")
    for canonical, column in columns.items():
        if not isinstance(column, str) or not column:
            raise _fail(path, f"columns.{canonical}", "must be the column's name in the file")
    if "phone" not in columns:
        raise _fail(path, "columns.phone",
                    'missing; name the column holding the number, e.g. phone = "Telefono"')
    defaults = _mapping(path, raw.get("defaults"), "defaults")
    if "phone" in defaults:
        raise _fail(path, "defaults.phone", "a list cannot default its phone number")
    for canonical, constant in defaults.items():  # one value for every row: no arrays
        if not isinstance(constant, str | int | float | bool | dt.date):
            raise _fail(path, f"defaults.{canonical}", "must be one value (text, a number, "
                        "true/false or a date) that every row of the list shares")
    file_value = _string(path, raw, "file")
    file = _list_file(path, workspace_root, file_value, raw.get("outside_workspace", False))
    for opt in ("sheet", "delimiter", "encoding"):
        if opt in raw and not isinstance(raw[opt], str):
            raise _fail(path, opt, "must be text")
    if "delimiter" in raw and (len(raw["delimiter"]) != 1 or raw["delimiter"] in '"\r\n'):
        raise _fail(path, "delimiter", 'must be one character other than a quote or a line '
                    'break, e.g. delimiter = ";"')
    return Manifest(
        id=source_id,
        kind=kind,
        file=file,
        received_on=toml_date(path, "received_on", raw.get("received_on")),
        purposes=_purposes(path, raw.get("purposes")),
        supplier=(None if isinstance(raw.get("supplier"), str)
                  else _supplier(path, kind, raw.get("supplier"))),
        columns=columns,
        defaults=defaults,
        path=path,
        sheet=raw.get("sheet"),
        delimiter=raw.get("delimiter"),
        encoding=raw.get("encoding"),
        header_row=_header_row(path, raw, file_value),
        raw=raw,
        supplier_id=(_supplier_id(path, raw["supplier"])
                     if isinstance(raw.get("supplier"), str) else None),
        leading_zero=_leading_zero(path, raw.get("leading_zero", "reject")),
        country=_country(path, raw.get("country")),
    )


def discover_all(sources_dir: Path, workspace_root: Path
                 ) -> tuple[dict[str, Manifest], list[ManifestError]]:
    """Every valid manifest in sources/ by id, and an error for each one that is not (a
    duplicate id is an error of the later file): one bad manifest stops no other."""
    return discover_by_id(sources_dir, lambda path: parse_manifest(path, workspace_root))


class _Identified(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def path(self) -> Path: ...


T = TypeVar("T", bound=_Identified)


def discover_by_id(folder: Path, parse: Callable[[Path], T]
                   ) -> tuple[dict[str, T], list[ManifestError]]:
    """Every file of a folder of manifests (sources/, agencies/) parsed, by id, and an
    error for each one that is not (a duplicate id is an error of the later file)."""
    found: dict[str, T] = {}
    errors: list[ManifestError] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            item = parse(path)
        except ManifestError as exc:
            errors.append(exc)
            continue
        if item.id in found:
            other = found[item.id].path.name
            errors.append(_fail(path, "id", f"id '{item.id}' is already used by {other}; "
                                "ids must be unique"))
            continue
        found[item.id] = item
    return found, errors


def discover(sources_dir: Path, workspace_root: Path) -> dict[str, Manifest]:
    """All manifests in sources/, keyed by id; the first bad one is an error."""
    found, errors = discover_all(sources_dir, workspace_root)
    if errors:
        raise errors[0]
    return found
