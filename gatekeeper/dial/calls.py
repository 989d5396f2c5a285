"""`gatekeeper calls import` and `calls list`: the contact ledger from the command line.

A call centre's export is read with its agency's mapping (agencies/<id>.toml [calls]),
checked row by row (all or nothing), and recorded as one segment of the ledger; its
`optout` calls become objections in the journal first. The same file imported twice
records nothing new; a call already reported (by the service, or in another file) is
never counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatekeeper.config import Workspace
from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import InputError
from gatekeeper.core.timeutil import local_iso
from gatekeeper.dial.agencies import discover_agencies
from gatekeeper.dial.ledger import open_ledger
from gatekeeper.dial.ledger.imports import read_export
from gatekeeper.intake.normalise import key_of, phone_of
from gatekeeper.privacy.optouts import open_journal


@dataclass
class CallImport:
    file: Path
    agency: str
    rows: int  # data rows read: calls, legs and skipped rows
    stored: int
    repeated: int
    same_file: bool
    optouts: int = 0
    legs: int = 0  # rows that were a further leg of a call (a transfer to a closer)
    skipped: dict[str, int] = field(default_factory=dict)  # per rule, in words


def import_calls(ws: Workspace, file: Path, agency_id: str) -> CallImport:
    """Record a dialer's call records for one agency (see the module docstring)."""
    agencies, errors = discover_agencies(ws.root / "agencies", ws.config().jurisdiction)
    agency = agencies.get(agency_id)
    if agency is None:
        broken = f" ({len(errors)} manifest(s) could not be read: {errors[0]})" if errors else ""
        raise InputError(f"no agency '{agency_id}'{broken}; known: "
                         + (", ".join(sorted(agencies)) or "none")
                         + "; add agencies/<id>.toml (see README)", file=ws.root / "agencies")
    if not file.is_file():
        raise InputError("file not found", file=file)
    source = sha256_file(file)
    export = read_export(file, agency, jurisdiction=ws.config().jurisdiction)
    recorded = open_ledger(ws).record(
        export.calls, open_journal(ws), source=f"import:{source}",
        objections=export.objections,
        zone=ws.config().jurisdiction.timezone_name)
    return CallImport(file, agency.id, export.rows, recorded.stored.height,
                      export.calls.height - recorded.stored.height, recorded.same_file,
                      recorded.optouts, export.legs, export.skipped)


def calls_of(ws: Workspace, value: str) -> list[dict[str, Any]]:
    """Every call recorded for a number, oldest first (for `calls list` and disclosure)."""
    jurisdiction = ws.config().jurisdiction
    zone = jurisdiction.timezone_name
    phone = phone_of(value, jurisdiction)
    calls = open_ledger(ws).calls(key_of(phone)).sort("started_at")
    return [{**row, "started_at_utc": row["started_at"],
             "started_at": local_iso(row["started_at"], zone),
             "recorded_at": local_iso(row["recorded_at"], zone)}
            for row in calls.drop("phone_key").iter_rows(named=True)]
