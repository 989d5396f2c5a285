"""A list supplier (suppliers/<id>.toml): who sells us numbers, and what our due diligence
found (code of conduct, G.U. 27 March 2024, art. 6).

Validated as strictly as a manifest: a misspelt `outcome` or `next_review` must never
approve a supplier by accident. Sources name their supplier with `supplier = "<id>"`; an
inline [supplier] table still names who sold a list but carries no due diligence, so
`inline_fix` writes out the supplier file that would replace it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatekeeper.config import read_toml
from gatekeeper.core.errors import GatekeeperError, ManifestError
from gatekeeper.intake.manifest import (
    ID_PATTERN,
    Manifest,
    Supplier,
    _check_keys,
    _fail,
    _string,
    toml_date,
)

SUPPLIERS_DIR = "suppliers"
TOP_KEYS = ("id", "name", "vat", "contact", "contract_ref", "eu_establishment",
            "representative", "due_diligence")
DUE_DILIGENCE_KEYS = ("reviewed_on", "reviewed_by", "privacy_notice", "collection",
                      "sector_choice", "outcome", "next_review")
COLLECTION_METHODS = ("double_opt_in", "sms_otp", "web_form", "phone_recorded", "paper")
OUTCOMES = ("approved", "suspended", "rejected")
# An approval rests on the notice read, how consents are collected, whether the person
# chose the sectors, and when to look again: without them it is no approval.
APPROVAL_NEEDS = ("privacy_notice", "collection", "sector_choice", "next_review")
# VAT prefixes of EU member states (and XI, Northern Ireland's goods trade).
EU_VAT = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU",
          "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI")


@dataclass(frozen=True)
class DueDiligence:
    """The privacy officer's review of a supplier; an approval holds until next_review."""

    reviewed_on: dt.date
    reviewed_by: str
    outcome: str
    privacy_notice: Path | None = None
    collection: tuple[str, ...] = ()
    sector_choice: bool | None = None
    next_review: dt.date | None = None


@dataclass(frozen=True)
class SupplierFile:
    """One supplier as its file declares it; `path` is the file."""

    id: str
    identity: Supplier
    eu_establishment: bool
    representative: str | None
    due_diligence: DueDiligence | None
    path: Path




def _notice(path: Path, root: Path, value: Any) -> Path:
    """The privacy notice file, inside the workspace: it is kept as evidence."""
    key = "due_diligence.privacy_notice"
    if not isinstance(value, str) or not value.strip() or any(ord(c) < 32 for c in value):
        raise _fail(path, key, 'must be the notice file\'s path, e.g. privacy_notice = '
                    '"data/suppliers/acme-informativa.pdf"')
    file = root / value
    if not file.resolve().is_relative_to(root.resolve()):
        raise _fail(path, key, f"'{value}' is outside the workspace; copy the notice under "
                    "data/suppliers/")
    if not file.is_file():
        raise _fail(path, key, f"'{value}' is not a file; save the supplier's privacy "
                    "notice there (it is kept as evidence)")
    return file


def _collection(path: Path, value: Any) -> tuple[str, ...]:
    key = "due_diligence.collection"
    if not isinstance(value, list) or not value:
        raise _fail(path, key, 'must be a list, e.g. collection = ["double_opt_in"]')
    for item in value:
        if item not in COLLECTION_METHODS:
            raise _fail(path, key, f"unknown method {item!r}; accepted: "
                        + ", ".join(COLLECTION_METHODS))
    return tuple(dict.fromkeys(value))


def _due_diligence(path: Path, root: Path, value: Any) -> DueDiligence | None:
    if value is None:
        return None
    where = "due_diligence."
    if not isinstance(value, dict):
        raise _fail(path, "due_diligence", "must be a table: [due_diligence]")
    _check_keys(path, value, DUE_DILIGENCE_KEYS, where)
    outcome = _string(path, value, "outcome", where)
    if outcome not in OUTCOMES:
        raise _fail(path, f"{where}outcome", f"unknown outcome {outcome!r}; accepted: "
                    + ", ".join(OUTCOMES))
    if outcome == "approved":
        for key in APPROVAL_NEEDS:
            if key not in value:
                raise _fail(path, f"{where}{key}", "missing; an approval needs "
                            + ", ".join(APPROVAL_NEEDS))
    if "sector_choice" in value and not isinstance(value["sector_choice"], bool):
        raise _fail(path, f"{where}sector_choice", "must be true (the person chose the "
                    'sectors) or false ("omnibus" consent)')
    reviewed = toml_date(path, f"{where}reviewed_on", value.get("reviewed_on"))
    following = (toml_date(path, f"{where}next_review", value["next_review"])
                 if "next_review" in value else None)
    if following is not None and following <= reviewed:
        raise _fail(path, f"{where}next_review", f"{following} is not after reviewed_on "
                    f"{reviewed}; write the date of the next review")
    return DueDiligence(
        reviewed_on=reviewed, reviewed_by=_string(path, value, "reviewed_by", where),
        outcome=outcome,
        privacy_notice=(_notice(path, root, value["privacy_notice"])
                        if "privacy_notice" in value else None),
        collection=_collection(path, value["collection"]) if "collection" in value else (),
        sector_choice=value.get("sector_choice"), next_review=following)


def _establishment(path: Path, raw: dict[str, Any]) -> tuple[bool, str | None]:
    """GDPR art. 27: a supplier outside the EU answers through a representative here."""
    eu = raw.get("eu_establishment")
    if eu is not None and not isinstance(eu, bool):
        raise _fail(path, "eu_establishment", "must be true or false")
    representative = raw.get("representative")
    if representative is not None:
        representative = _string(path, raw, "representative")
    if not eu and representative is None:
        raise _fail(path, "eu_establishment" if eu is None else "representative",
                    'say where the supplier is established: eu_establishment = true, or '
                    'representative = "…" (its representative in the EU, GDPR art. 27)')
    return bool(eu), representative


def parse_supplier(path: Path, workspace_root: Path) -> SupplierFile:
    """Validate one supplier file; every error names the file and the key to fix."""
    raw = read_toml(path, ManifestError)
    _check_keys(path, raw, TOP_KEYS, "")
    supplier_id = _string(path, raw, "id")
    if not ID_PATTERN.match(supplier_id):
        raise _fail(path, "id", "use letters, digits, '.', '_' or '-' (max 100)")
    if supplier_id != path.stem:
        raise _fail(path, "id", f"'{supplier_id}' must be the file's name: rename the file "
                    f"to {supplier_id}.toml or write id = \"{path.stem}\"")
    for key in ("contact", "contract_ref"):
        if key in raw and not isinstance(raw[key], str):
            raise _fail(path, key, f'must be text, e.g. {key} = "…"')
    eu, representative = _establishment(path, raw)
    return SupplierFile(
        id=supplier_id,
        identity=Supplier(name=_string(path, raw, "name"), vat=_string(path, raw, "vat"),
                          contact=raw.get("contact"), contract_ref=raw.get("contract_ref")),
        eu_establishment=eu, representative=representative,
        due_diligence=_due_diligence(path, workspace_root, raw.get("due_diligence")),
        path=path)


def discover_suppliers(workspace_root: Path
                       ) -> tuple[dict[str, SupplierFile], list[ManifestError]]:
    """Every valid supplier file by id, and an error for each one that is not."""
    found: dict[str, SupplierFile] = {}
    errors: list[ManifestError] = []
    for path in sorted((workspace_root / SUPPLIERS_DIR).glob("*.toml")):
        try:
            supplier = parse_supplier(path, workspace_root)
        except ManifestError as exc:
            errors.append(exc)
            continue
        found[supplier.id] = supplier
    return found, errors


def resolve(manifests: list[Manifest], workspace_root: Path
            ) -> tuple[list[Manifest], list[GatekeeperError]]:
    """The manifests with the identity of the supplier each names (supplier = "<id>"), and
    an error for each that names a supplier with no valid file: such a list is not loaded,
    as no one could say who sold it."""
    suppliers, bad = discover_suppliers(workspace_root)
    broken = {Path(str(e.file)).stem: e for e in bad}
    ready: list[Manifest] = []
    errors: list[GatekeeperError] = []
    for manifest in manifests:
        named = manifest.supplier_id
        if named is None:
            ready.append(manifest)
        elif named in suppliers:
            ready.append(dataclasses.replace(manifest, supplier=suppliers[named].identity))
        elif named in broken:
            errors.append(_fail(manifest.path, "supplier", f"supplier '{named}' cannot be "
                                f"used until {SUPPLIERS_DIR}/{named}.toml is fixed ("
                                f"{broken[named].message})"))
        else:
            errors.append(_fail(manifest.path, "supplier", f"no supplier file "
                                f"{SUPPLIERS_DIR}/{named}.toml; write it (see README, "
                                "'Suppliers') or name another supplier"))
    return ready, errors


def suggested_id(name: str) -> str:
    """A supplier id from its name, without the legal form: "Acme Lead S.r.l." -> acme-lead."""
    forms = {"srl", "srls", "spa", "sas", "snc", "sapa", "scarl", "ltd", "llc", "gmbh", "inc",
             "sa", "sl", "bv", "nv", "ag", "plc"}
    words = re.sub(r"[^a-z0-9]+", " ", name.lower()).split()
    kept = [w for w in words if len(w) > 1 and w not in forms]
    slug = "-".join(kept)[:60].strip("-")
    return slug if slug and ID_PATTERN.match(slug) else "supplier"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def inline_fix(supplier: Supplier, day: dt.date) -> tuple[str, str]:
    """(id, text) of the supplier file that replaces an inline [supplier] table: the
    identity as the manifest has it, the due diligence still to write (until then the
    list's rows stay SUPPLIER_NOT_APPROVED: nothing here approves anyone)."""
    supplier_id = suggested_id(supplier.name)
    lines = [f"id = {_quoted(supplier_id)}", f"name = {_quoted(supplier.name)}",
             f"vat = {_quoted(supplier.vat)}"]
    lines += [f"{key} = {_quoted(value)}" for key, value in
              (("contact", supplier.contact), ("contract_ref", supplier.contract_ref)) if value]
    if supplier.vat.strip().upper()[:2] in EU_VAT:
        lines.append("eu_establishment = true")
    else:
        lines += ["eu_establishment = false",
                  'representative = "…"               # its representative in the EU']
    try:
        later = day.replace(year=day.year + 1)
    except ValueError:  # 29 February, or a run dated in the year 9999
        later = day + dt.timedelta(days=365) if day.year < dt.MAXYEAR else day
    lines += ["", "# Until your review is written here its lists are not dialled "
              "(SUPPLIER_NOT_APPROVED):", "# [due_diligence]", f"# reviewed_on = {day}",
              '# reviewed_by = "dpo"',
              f'# privacy_notice = "data/suppliers/{supplier_id}-informativa.pdf"',
              '# collection = ["double_opt_in"]   # double_opt_in | sms_otp | web_form | '
              "phone_recorded | paper",
              "# sector_choice = true             # false: an \"omnibus\" consent",
              '# outcome = "approved"             # approved | suspended | rejected',
              f"# next_review = {later}"]
    return supplier_id, "\n".join(lines) + "\n"
