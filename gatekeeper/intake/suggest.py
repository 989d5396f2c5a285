"""Intake: a workspace from nothing (`init`) and a draft manifest from a list as sent
(`sources suggest`).

A campaign manager has a supplier's spreadsheet, not a manifest; copying the demo's TOML
by hand and guessing `header_row` took seven load attempts. So the list is read by the
same readers `load` uses (a guess that reads differently from the load is worthless),
the header row is found among the first rows, and each column is matched to a canonical
field by its header words and checked against its values. Every guess carries the reason
for it, printed as a comment beside it, because the person must be able to judge it.

A guess that could make someone look consented (a yes/no column whose header is not
recognised, a header whose values disagree) is written commented out: a missing consent
blocks a row, a wrong one would let it be called.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from gatekeeper.config import CONFIG_FILE, Workspace
from gatekeeper.core.columns import PURPOSES, ROW, SOURCE_KINDS
from gatekeeper.core.errors import InputError, SourceFileError
from gatekeeper.core.timeutil import local_date, now_utc
from gatekeeper.intake.fields import STATUS_WORDS, _boolean, _date
from gatekeeper.intake.manifest import ID_PATTERN, TOP_KEYS, Manifest
from gatekeeper.intake.normalise import lost_leading_zero, normalise
from gatekeeper.intake.readers import HINT_ROWS, READERS, _cells, _decode, _split_lines, read_source
from gatekeeper.jurisdictions import Jurisdiction

# The folders a workspace holds from the start (PRODUCT.md, "The workspace").
WORKSPACE_FOLDERS = ("sources", "data/lists", "agencies", "suppliers", "reports")
SAMPLE_ROWS = 1000  # values looked at per column: enough to judge, bounded for big lists
PHONE_SHARE = 0.5  # a column named like a phone must hold at least this share of numbers
VALUES_ONLY_PHONE_SHARE = 0.8  # an unnamed column must hold more to be taken as the phone
AGREE_SHARE = 0.5  # below this, a header's values contradict it: the guess is commented out
_UNNAMED = "__UNNAMED__"
# A column name no list has: the readers' phone column while the real one is not known.
_PROBE_PHONE = "\x1fgatekeeper-suggest-phone"

# Header words per canonical field, best first (accents, case and punctuation ignored).
# "Consenso" alone is decided by the kind of list (see _BARE_CONSENT).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "phone": ("telefono", "cellulare", "cell", "tel", "numero", "numero telefono",
              "numero di telefono", "numero cellulare", "n telefono", "nr telefono",
              "num tel", "recapito", "recapito telefonico", "utenza", "numero utenza",
              "telefono fisso", "fisso", "mobile", "phone", "phone number", "telephone",
              "mobile phone", "cell phone", "cellphone", "msisdn", "contact number"),
    "name": ("nominativo", "nome e cognome", "cognome e nome", "ragione sociale",
             "denominazione", "intestatario", "nome cliente", "cliente", "full name",
             "name", "customer name", "company name", "company", "contact name",
             "cognome", "nome", "surname", "last name", "first name"),
    "customer_id": ("codice cliente", "cod cliente", "id cliente", "customer id",
                    "customer code", "client id", "codice", "id"),
    "contract_status": ("stato contratto", "stato", "contract status", "status"),
    "contract_end": ("data cessazione", "fine contratto", "data fine contratto",
                     "scadenza contratto", "cessazione", "contract end", "end date"),
    "consent_third_party": ("consenso terzi", "consenso a terzi", "consenso cessione",
                            "consenso cessione terzi", "consenso comunicazione terzi",
                            "cessione a terzi", "cessione terzi", "terzi",
                            "third party consent", "consent third party", "third party",
                            "third parties"),
    "consent_marketing": ("consenso marketing", "consenso commerciale",
                          "consenso promozionale", "marketing", "privacy marketing",
                          "marketing consent", "consent marketing"),
    "consent_date": ("data consenso", "data del consenso", "data raccolta",
                     "data privacy", "data acquisizione", "consent date",
                     "date of consent"),
    "consent_at": ("data ora consenso", "data e ora consenso", "timestamp consenso",
                   "timestamp", "consent at", "consent timestamp"),
    "consent_channel": ("canale", "canale consenso", "canale raccolta", "fonte",
                        "channel", "consent channel", "source"),
    "consent_proof": ("id prova", "prova", "prova consenso", "id consenso", "proof",
                      "proof id", "consent proof"),
    "consent_collector": ("raccolto da", "consenso raccolto da", "raccoglitore",
                          "collector", "collected by"),
    "consent_ip": ("ip", "indirizzo ip", "ip consenso", "ip address"),
    "consent_method": ("metodo", "metodo consenso", "modalita", "modalita raccolta",
                       "method", "consent method"),
    "consent_text_id": ("id informativa", "versione informativa", "testo informativa",
                        "informativa", "text id", "consent text", "consent text id"),
    "consent_sectors": ("settori", "settori consenso", "settore", "sectors",
                        "consent sectors"),
}
_BARE_CONSENT = ("consenso", "consenso privacy", "privacy", "consent", "opt in", "optin")
_DATES = ("contract_end", "consent_date", "consent_at")
_YES_NO = ("consent_marketing", "consent_third_party")


def _words(text: str) -> tuple[str, ...]:
    """A header as comparable words: "Cell." -> ("cell",), "N° Telefono" -> ("n",
    "telefono"), "Modalità" -> ("modalita",)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return tuple(re.findall(r"[a-z0-9]+", plain.lower()))


@dataclass(frozen=True)
class Guess:
    """One proposed `[columns]` line; `active` False means written commented out."""

    field: str
    column: str
    why: str
    active: bool = True


@dataclass(frozen=True)
class Suggestion:
    """A draft manifest for one list file, each guess with its reason (for the CLI, which
    prints it, and the console, which shows it for correction)."""

    source_id: str
    kind: str
    file: str  # relative to the workspace, as the manifest writes it
    received_on: dt.date
    purposes: tuple[str, ...]
    supplier_id: str | None
    header_row: int | None
    header_why: str
    encoding: str | None
    delimiter: str | None
    columns: tuple[Guess, ...]
    names: tuple[str, ...]  # the header's column names, in file order
    preview: tuple[tuple[str, ...], ...]  # first data rows, as text, in header order
    unmapped: tuple[str, ...]
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # what stops `load` until the draft is edited
    lost_zero: int = 0  # phone values that look like landlines stored as numbers
    restore_zero: bool = False  # write leading_zero = "restore" (the console's tick box)

    @property
    def mapping(self) -> dict[str, str]:
        """The active `[columns]` table."""
        return {g.field: g.column for g in self.columns if g.active}

    def manifest_text(self) -> str:
        """The draft as TOML, a comment above each guess saying why."""
        lines = [f"# Draft by 'gatekeeper sources suggest' from {_comment(self.file)}.",
                 "# Check each guess, correct what is wrong, then: gatekeeper load "
                 + self.source_id]
        for note in self.notes:
            lines.append(f"# note: {_comment(note)}")
        for problem in self.problems:
            lines.append(f"# TO DO before loading: {_comment(problem)}")
        lines += [
            f"id = {_toml(self.source_id)}",
            f"kind = {_toml(self.kind)}  # {' | '.join(SOURCE_KINDS)}",
            f"file = {_toml(self.file)}",
            f"received_on = {self.received_on.isoformat()}  # today: change it to the day "
            "the list arrived",
            f"purposes = [{', '.join(_toml(p) for p in self.purposes)}]  # "
            + " and/or ".join(PURPOSES),
        ]
        if self.kind != "internal_archive":
            if self.supplier_id:
                lines.append(f"supplier = {_toml(self.supplier_id)}  # suppliers/"
                             f"{_comment(self.supplier_id)}.toml")
            else:
                lines.append('# supplier = "<id>"  # its file suppliers/<id>.toml')
        if self.header_row is not None:
            lines.append(f"# {_comment(self.header_why)}")
            lines.append(f"header_row = {self.header_row}")
        if self.lost_zero and "leading_zero" in TOP_KEYS:
            lines.append(f"# {self.lost_zero} phone values look like landlines that lost "
                         "their leading 0 (stored as numbers): read as those landlines; "
                         "remove the line to reject them instead")
            lines.append(('' if self.restore_zero else '# ') + 'leading_zero = "restore"')
        lines += ["", "[columns]  # canonical field = column name in the file"]
        for guess in self.columns:
            lines.append(f"# {guess.field}: {_comment(guess.why)}")
            line = f"{guess.field} = {_toml(guess.column)}"
            lines.append(line if guess.active else f"# {line}")
        if self.unmapped:
            lines.append("# not mapped (no canonical field recognised): "
                         + _comment(", ".join(self.unmapped)))
        return "\n".join(lines) + "\n"


def _toml(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, except DEL, which TOML refuses raw."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _comment(text: str) -> str:
    """Text safe inside a TOML comment: one line, no control characters (which a header
    read from a damaged file may hold)."""
    return re.sub(r"[\x00-\x08\x0a-\x1f\x7f]", "?", text)


@dataclass
class _Column:
    """What the first rows say about one column."""

    name: str
    filled: int = 0
    phone: int = 0
    lost_zero: int = 0
    dates: int = 0
    yes_no: int = 0
    status: int = 0
    header: tuple[str, int, int] | None = None  # field, strength, rank
    taken_by: str | None = field(default=None)

    def share(self, count: int) -> float:
        return count / self.filled if self.filled else 0.0


def _header_match(name: str, kind: str) -> tuple[str, int, int] | None:
    """The field a header names: (field, strength, rank). An exact header beats one that
    only contains the words ("Telefono cliente"); more words beat fewer ("Data consenso"
    is a date, not a consent); earlier synonyms beat later ones."""
    words = _words(name)
    if not words:
        return None
    bare = "consent_marketing" if kind == "internal_archive" else "consent_third_party"
    best: tuple[str, int, int] | None = None
    table = [*SYNONYMS.items(), (bare, _BARE_CONSENT)]
    for order, (canonical, phrases) in enumerate(table):
        for rank, phrase in enumerate(phrases):
            pw = tuple(phrase.split())
            if words == pw:
                strength = 1000 + len(pw)
            elif set(pw) <= set(words):
                strength = len(pw)
            else:
                continue
            candidate = (canonical, strength, order * 100 + rank)
            if best is None or (strength, -candidate[2]) > (best[1], -best[2]):
                best = candidate
    return best


def _header_score(cells: list[str], kind: str) -> tuple[int, int]:
    """How much a row looks like a header: header words recognised, then cells of text
    (a title row has one cell; a data row has numbers and dates)."""
    filled = [c for c in cells if c]
    if len(filled) < 2 and len(cells) > 1:
        return (0, 0)
    known = sum(1 for c in filled if _header_match(c, kind))
    text = sum(1 for c in filled if not re.search(r"\d", c))
    return (known, text)


def _probe(file: Path, kind: str, header_row: int | None) -> Manifest:
    """A manifest in memory, so the list is read exactly as `load` will read it."""
    return Manifest(id="suggest", kind=kind, file=file, received_on=dt.date.today(),
                    purposes=("telemarketing",), supplier=None,
                    columns={"phone": _PROBE_PHONE}, defaults={}, path=file,
                    header_row=header_row)


def _first_rows(file: Path, kind: str) -> dict[int, list[str]]:
    """The first rows as cells, keyed by the number the manifest's header_row uses (CSV
    line, sheet row)."""
    suffix = file.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        probe = _probe(file, kind, None)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise SourceFileError(f"cannot be read ({exc.strerror}); check the file",
                                  file=file) from None
        utf8, _ = _decode(data, probe)
        lines, _ = _split_lines(utf8[:1 << 20], HINT_ROWS)
        return {n: _cells(line.decode("utf-8", "replace"), probe)[0]
                for n, line in enumerate(lines, start=1)}
    if suffix == ".xlsx":
        table = read_source(_probe(file, kind, 1))
        names = [c for c in table.frame.columns if c != ROW]
        rows = {1: ["" if n.startswith(_UNNAMED) else n for n in names]}
        for record in table.frame.filter(pl.col(ROW) < HINT_ROWS).iter_rows(named=True):
            rows[record[ROW] + 1] = [(record[n] or "").strip() for n in names]
        return rows
    return {}


def _find_header(rows: dict[int, list[str]], kind: str) -> tuple[int | None, str]:
    if not rows:
        return None, ""
    scores = {n: _header_score(cells, kind) for n, cells in rows.items()}
    best = max(scores.values())
    if best == (0, 0):
        first = min(n for n, cells in rows.items() if any(cells)) if any(
            any(c) for c in rows.values()) else 1
        return first, f"header row {first}: the first row with something in it"
    number = min(n for n, s in scores.items() if s == best)
    known, _ = best
    why = (f"header found on row {number}: {known} of its names are known column words"
           if known else f"header found on row {number}: the first row of names")
    if number > 1:
        above = "row 1 above it is" if number == 2 else f"rows 1-{number - 1} above it are"
        why += f"; {above} a title or blank"
    return number, why


def _profile(frame: pl.DataFrame, names: list[str], kind: str,
             jurisdiction: Jurisdiction) -> list[_Column]:
    sample = frame.head(SAMPLE_ROWS)
    out = []
    for name in names:
        column = _Column(name, header=_header_match(name, kind))
        values = sample.get_column(name).cast(pl.String).str.strip_chars()
        values = values.filter(values.is_not_null() & (values != ""))
        column.filled = values.len()
        if column.filled:
            as_frame = values.to_frame("v")
            # 01/03/2026 is also 8 digits that make a valid landline: a date is not a phone.
            dated = as_frame.select(_date("v")[0].is_not_null()).to_series()
            numbers = normalise(values, jurisdiction)
            column.phone = int((numbers.get_column("valid").fill_null(False) & ~dated).sum())
            column.lost_zero = int((lost_leading_zero(values, jurisdiction) & ~dated).sum())
            column.phone += column.lost_zero
            column.dates = int(dated.sum())
            column.yes_no = int(as_frame.select(_boolean("v")[0].is_not_null().sum()).item())
            column.status = int(values.str.to_lowercase().is_in(list(STATUS_WORDS)).sum())
        out.append(column)
    return out


def _agreement(column: _Column, canonical: str) -> tuple[bool, str]:
    """Do the values agree with the field the header names? (active, the reason)."""
    head = f"header {column.name!r} is a word for {canonical}"
    if not column.filled:
        return True, f"{head}; no values in the first rows to check it against"
    kinds = {"contract_status": (column.status, "active/ceased words")}
    kinds |= {f: (column.dates, "dates") for f in _DATES}
    kinds |= {f: (column.yes_no, "yes/no") for f in _YES_NO}
    if canonical not in kinds:
        return True, head
    count, what = kinds[canonical]
    agree = column.share(count) >= AGREE_SHARE
    said = f"{head}; {count} of {column.filled} values are {what}"
    return agree, said if agree else f"{said}, so it is left commented out: check it"


def _guesses(columns: list[_Column], kind: str) -> tuple[list[Guess], list[str]]:
    guesses: list[Guess] = []
    notes: list[str] = []
    phone_named = [c for c in columns if c.header and c.header[0] == "phone"]
    phones = [c for c in phone_named if c.share(c.phone) >= PHONE_SHARE or not c.filled]
    for c in phone_named:
        if c not in phones:
            notes.append(f"column {c.name!r} is named like a phone but only {c.phone} of "
                         f"{c.filled} values are phone numbers")
    chosen: _Column | None
    if phones:
        phones.sort(key=lambda c: (-c.share(c.phone), -(c.header or ("", 0, 0))[1],
                                   (c.header or ("", 0, 0))[2]))
        chosen = phones[0]
        why = f"header {chosen.name!r} is a phone word"
        why += (f" and {chosen.phone} of {chosen.filled} values are phone numbers"
                if chosen.filled else "; no values in the first rows to check it against")
    else:
        spare = [c for c in columns if c.filled and c.share(c.phone) >= VALUES_ONLY_PHONE_SHARE]
        spare.sort(key=lambda c: -c.share(c.phone))
        chosen = spare[0] if spare else None
        why = (f"header {chosen.name!r} is not a phone word, but {chosen.phone} of "
               f"{chosen.filled} values are phone numbers" if chosen else "")
    if chosen is not None:
        chosen.taken_by = "phone"
        guesses.append(Guess("phone", chosen.name, why))
        others = [c.name for c in columns if c is not chosen and c.filled
                  and c.share(c.phone) >= PHONE_SHARE]
        if others:
            notes.append(f"also holding phone numbers: {', '.join(others)}; a manifest maps "
                         "one phone column, so load it as a second source if it is needed")
    by_field: dict[str, list[_Column]] = {}
    for c in columns:
        if c.taken_by is None and c.header and c.header[0] != "phone":
            by_field.setdefault(c.header[0], []).append(c)
    order = list(SYNONYMS)
    for canonical in sorted(by_field, key=order.index):
        candidates = sorted(by_field[canonical],
                            key=lambda c: (-(c.header or ("", 0, 0))[1],
                                           (c.header or ("", 0, 0))[2]))
        chosen_col = candidates[0]
        chosen_col.taken_by = canonical
        active, why = _agreement(chosen_col, canonical)
        if len(candidates) > 1:
            why += f" (preferred to {', '.join(repr(c.name) for c in candidates[1:])})"
        guesses.append(Guess(canonical, chosen_col.name, why, active))
    # From the values alone: offered commented out, never active (see the module's doc).
    mapped = {g.field for g in guesses}
    consent = "consent_marketing" if kind == "internal_archive" else "consent_third_party"
    for canonical, count_of, what in ((consent, "yes_no", "yes/no values"),
                                      ("consent_date", "dates", "dates")):
        if canonical in mapped:
            continue
        found = next((c for c in columns if c.taken_by is None and c.filled
                      and c.share(getattr(c, count_of)) == 1.0), None)
        if found is not None:
            found.taken_by = canonical
            guesses.append(Guess(canonical, found.name,
                                 f"header {found.name!r} is not recognised, but all "
                                 f"{found.filled} values are {what}; uncomment if it is "
                                 f"the {canonical.replace('_', ' ')}", active=False))
    return guesses, notes


def _source_id(file: Path, given: str | None) -> str:
    if given is not None:
        if not ID_PATTERN.match(given):
            raise InputError(f"--id {given!r}: use letters, digits, '.', '_' or '-' (max "
                             "100), starting with a letter or digit")
        return given
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", _words_ascii(file.stem)).strip("-._")[:100]
    return slug.lower() or "list"


def _words_ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _supplier(ws: Workspace, kind: str, given: str | None) -> tuple[str | None, str | None]:
    """The supplier id and a note on how it was chosen."""
    if kind == "internal_archive":
        if given:
            raise InputError("--supplier is for bought lists; an internal_archive list has "
                             "no supplier (drop --supplier or pass --kind third_party)")
        return None, None
    known = sorted(p.stem for p in ws.root.joinpath("suppliers").glob("*.toml"))
    if given:
        if given not in known:
            raise InputError(f"--supplier {given!r}: no suppliers/{given}.toml; known: "
                             f"{', '.join(known) or 'none yet'}")
        return given, None
    if len(known) == 1:
        return known[0], f"supplier {known[0]!r} is the only one in suppliers/: check it"
    return None, None


def suggest(ws: Workspace, file: Path, *, kind: str = "third_party",
            source_id: str | None = None, supplier: str | None = None,
            purposes: tuple[str, ...] = ("telemarketing",),
            today: dt.date | None = None) -> Suggestion:
    """A draft manifest for a list file inside the workspace."""
    if kind not in SOURCE_KINDS:
        raise InputError(f"--kind {kind!r} is unknown; accepted: {', '.join(SOURCE_KINDS)}")
    path = (file if file.is_absolute() else Path.cwd() / file).resolve()
    if not path.is_relative_to(ws.root.resolve()):
        raise InputError(f"{file} is outside the workspace; copy it under data/lists/ and "
                         "suggest again")
    relative = path.relative_to(ws.root.resolve()).as_posix()
    new_id = _source_id(path, source_id)
    supplier_id, supplier_note = _supplier(ws, kind, supplier)
    jurisdiction = ws.config().jurisdiction
    if not path.is_file() or path.suffix.lower() not in READERS:
        read_source(_probe(path, kind, None))  # raises the load's own message for it
    header_row, header_why = _find_header(_first_rows(path, kind), kind)
    if path.suffix.lower() == ".parquet":
        header_row = None
    table = read_source(_probe(path, kind, header_row))
    names = [c for c in table.frame.columns if c != ROW]
    named = [n for n in names if not n.startswith(_UNNAMED)]
    columns = _profile(table.frame, named, kind, jurisdiction)
    guesses, notes = _guesses(columns, kind)
    if supplier_note:
        notes.append(supplier_note)
    if table.encoding or table.delimiter:
        notes.append(f"read as {table.encoding or 'text'}, columns separated by "
                     f"{table.delimiter!r}, as load will read it")
    phone_col = next((c for c in columns if c.taken_by == "phone"), None)
    if phone_col is not None and phone_col.lost_zero:
        notes.append(f"{phone_col.lost_zero} of the first {phone_col.filled} phone values "
                     "look like landlines that lost their leading 0 (the column was stored "
                     "as numbers): the draft restores them (leading_zero = \"restore\")")
    problems = []
    if not any(g.field == "phone" for g in guesses):
        problems.append("no column looks like phone numbers; add phone = \"<column>\" under "
                        "[columns]")
    if kind != "internal_archive" and supplier_id is None:
        problems.append(f"a {kind} list needs its supplier: pass --supplier ID (its file "
                        "suppliers/<id>.toml) or write supplier = \"<id>\"")
    # Only the rows the draft would load: the header's row itself is gone already.
    preview = tuple(tuple("" if v is None else str(v) for v in row)
                    for row in table.frame.select(names).head(5).iter_rows())
    # A header row of 1 is what load assumes for a CSV; written only when it matters.
    shown_row = header_row if header_row is not None and header_row > 1 else None
    return Suggestion(
        source_id=new_id, kind=kind, file=relative,
        received_on=today or local_date(now_utc(), ws.config().jurisdiction.timezone_name),
        purposes=purposes,
        supplier_id=supplier_id, header_row=shown_row, header_why=header_why,
        encoding=table.encoding, delimiter=table.delimiter, columns=tuple(guesses),
        names=tuple(names), preview=preview,
        unmapped=tuple(c.name for c in columns if c.taken_by is None),
        notes=tuple(notes), problems=tuple(problems),
        lost_zero=phone_col.lost_zero if phone_col else 0,
        # The draft proposes what a person would choose: a landline whose 0 the number
        # format dropped is that landline. Written visibly, so the reviewer can remove it.
        restore_zero=bool(phone_col and phone_col.lost_zero))


def write_suggestion(ws: Workspace, suggestion: Suggestion) -> Path:
    """Write sources/<id>.toml; never over an existing manifest (someone's corrections
    would be lost), and only a draft that can load."""
    if suggestion.problems:
        raise InputError(f"not written: {suggestion.problems[0]}; then run again with "
                         "--write")
    path = ws.sources_dir / f"{suggestion.source_id}.toml"
    ws.sources_dir.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as out:
            out.write(suggestion.manifest_text())
    except FileExistsError:
        raise InputError(f"sources/{suggestion.source_id}.toml exists already; edit it, or "
                         "pass --id NEW for another manifest") from None
    return path


@dataclass(frozen=True)
class ControllerInfo:
    """Who answers for the data (gatekeeper.toml [controller])."""

    name: str
    vat: str
    address: str
    dpo_email: str


def init_workspace(root: Path, controller: ControllerInfo) -> list[Path]:
    """Make a workspace in `root`: gatekeeper.toml and the empty folders, nothing else.
    An existing gatekeeper.toml is never overwritten: it holds the controller printed on
    every disclosure letter and the policy every run applies."""
    for key, value in vars(controller).items():
        if not value.strip():
            raise InputError(f"--{key.replace('_', '-')} is empty; give the controller's "
                             f"{key.replace('_', ' ')} (printed on disclosure letters)")
    if "@" not in controller.dpo_email:
        raise InputError(f"--dpo-email {controller.dpo_email!r} is not an e-mail address; "
                         "give the DPO's, e.g. dpo@example.it")
    config = root / CONFIG_FILE
    text = "\n".join([
        "[controller]  # who answers for the data; printed on disclosure letters",
        f"name = {_toml(controller.name.strip())}",
        f"vat = {_toml(controller.vat.strip())}",
        f"address = {_toml(controller.address.strip())}",
        f"dpo_email = {_toml(controller.dpo_email.strip())}",
        "",
        "[policy]  # every knob optional; these are the defaults",
        'jurisdiction = "IT"',
        "rpo_validity_days = 15",
        "consent_max_age_days = 730",
        "contract_grace_days = 30",
        "survey_checks_rpo = false",
        "",
        "[registry]",
        'adapter = "file"  # "file" (request/response files) or "http" (web service)',
        "",
    ])
    if config.exists() or config.is_symlink():
        raise InputError(f"{config}: already exists, this folder is a workspace; edit that "
                         "file, or run gatekeeper init in another folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with config.open("x", encoding="utf-8") as out:
            out.write(text)
    except FileExistsError:
        raise InputError(f"{config}: already exists, this folder is a workspace; edit that "
                         "file, or run gatekeeper init in another folder") from None
    except OSError as exc:
        raise InputError(f"{root}: cannot write there ({exc.strerror}); choose a folder you "
                         "can write to") from None
    made = [config]
    for folder in WORKSPACE_FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
        made.append(root / folder)
    return made
