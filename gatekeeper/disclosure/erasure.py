"""`gatekeeper erase`: the person's data goes from every copy the workspace holds, or the
copy is named with the reason it is kept (GDPR art. 17(3)).

Order matters for "nothing is lost": the store's rows, run lists and rejects are blanked
and the suppression entry written in one transaction first (from then on the number is
never dialled and no copy gatekeeper reads holds the person's data); the copies outside
the store (report files, received list files) follow, each recorded as an evidence change
so an audit tells the erasure from tampering. Run again with the same reference, the
command finishes what a crash interrupted.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from ..config import Workspace
from ..digest import sha256_file
from ..errors import InputError
from ..ledger import Ledger
from ..normalise import phone_of
from ..optouts import Journal
from ..sources.erasure import erase_from_list
from ..sources.manifest import discover_all
from ..store import Store
from ..store import evidence as evidence_store
from ..store import people as people_store
from ..store import rpo as rpo_store
from ..store import runs as run_store
from ..store import sources as source_store
from ..timeutil import iso, now_utc
from .requests import record_request

# Why a copy is kept, as codes the letter renders in the person's language.
KEPT_RPO = "rpo_evidence"  # art. 17(3)(b): comparison files kept 5 years (code of conduct)
KEPT_OPTOUT = "optout"  # art. 17(3)(b), art. 21: the objection must go on being honoured
KEPT_SUPPRESSION = "suppression"  # the number alone, so it is never called again
KEPT_BY_HAND = "by_hand"  # gatekeeper could not edit it: the DPO removes it by hand
KEPT_UNMANAGED = "unmanaged"  # a file gatekeeper does not manage holds the number
KEPT_BACKUPS = "backups"  # backups made before the erasure, until they expire

Progress = Callable[[str], None]  # hears a line per step (a person watching a terminal)


def _quiet(message: str) -> None:
    """No one is watching."""


@dataclass(frozen=True)
class Copy:
    """One place the person's data was (or is), and what the erasure did there."""

    where: str
    action: str  # erased | kept
    why: str | None = None  # for kept: one of the KEPT_* codes
    detail: str = ""


@dataclass
class EraseResult:
    phone: str
    request_ref: str
    erased_at: str
    rows: int
    rejects: int
    campaigns: int
    reports_rewritten: list[str] = field(default_factory=list)
    already: bool = False
    copies: list[Copy] = field(default_factory=list)


def _rewrite_reports(ws: Workspace, store: Store, phone: str, ref: str,
                     at: dt.datetime, progress: Progress = _quiet) -> list[str]:
    """Blank the number in every campaign report still on disk (decisions and dialable).

    A folder is rewritten once, for the newest run that wrote it (its recorded sha256
    matches the file), and that run's record gets the new sha256s, so the service keeps
    trusting the files; the change is recorded as evidence.
    """
    rewritten: list[str] = []
    seen: set[str] = set()
    for run_id, campaign, outputs_json in run_store.runs_newest_first(store):
        folder = ws.report_dir(campaign)
        decisions, dialable = folder / "decisions.parquet", folder / "dialable.csv"
        outputs = json.loads(outputs_json or "{}")
        if (campaign in seen or not decisions.is_file()
                or sha256_file(decisions) != outputs.get(decisions.name)):
            continue  # done, gone, or overwritten by a later run of the same campaign
        seen.add(campaign)
        frame = pl.read_parquet(decisions)
        hit = pl.col("phone") == phone
        if not frame.select(hit.any()).item():
            continue
        progress(f"rewriting {folder.relative_to(ws.root)}/ (decisions, dialable, rejects)")
        frame.with_columns(
            pl.when(hit).then(None).otherwise(pl.col(c)).alias(c) for c in ("raw", "phone")
        ).write_parquet(decisions, statistics=False)
        if dialable.is_file():
            dial = pl.read_csv(dialable, infer_schema=False)
            dial.filter(pl.col("phone") != phone).write_csv(dialable)
        extra = _rewrite_excel_copies(ws, folder, phone, outputs)
        names = (decisions.name, dialable.name, *extra)
        before = {name: outputs.get(name) for name in names}
        outputs.update({name: sha256_file(folder / name) for name in names
                        if (folder / name).is_file()})
        with store.transaction():
            run_store.set_outputs(store, run_id, outputs)
            for name, old in before.items():
                evidence_store.record_change(store, at, "erasure", f"report {campaign}/{name} "
                                             f"of run {run_id}", old, outputs.get(name), ref)
        rewritten.append(str(folder.relative_to(ws.root)))
    return sorted(rewritten)


def _rewrite_excel_copies(ws: Workspace, folder: Path, phone: str,
                          outputs: dict[str, object]) -> list[str]:
    """dialable.xlsx and rejects.csv/.xlsx of the run, without the number: the copies a
    manager sends on or dials from (an erased number left there would be called again).
    Each is rewritten only when the run wrote it (its sha256 is in the record), from the
    rewritten dialable.csv (the xlsx) or without the rows whose value holds the digits
    (the rejects). Returns the names rewritten."""
    from ..campaign_files import DIALABLE_WIDTHS, INSTANTS, ISO_UTC, REJECT_WIDTHS
    from ..outfile import XlsxTable, excel_instants
    from ..reports import REJECT_COLUMNS
    zone = ws.config().jurisdiction.timezone_name
    digits = phone.removeprefix("+")
    national = ws.config().jurisdiction.national_one(phone)
    done = []
    created = dt.datetime(2000, 1, 1)
    xlsx, csv_rejects, xlsx_rejects = (folder / n for n in (
        "dialable.xlsx", "rejects.csv", "rejects.xlsx"))
    def kept(path: Path) -> bool:
        return path.is_file() and sha256_file(path) == outputs.get(path.name)
    if kept(xlsx):
        dial = pl.read_csv(folder / "dialable.csv", infer_schema=False).with_columns(
            pl.col(c).str.to_datetime(ISO_UTC, time_unit="us", strict=False)
            for c in INSTANTS)
        with XlsxTable(xlsx, "Chiamabili", DIALABLE_WIDTHS, INSTANTS, created) as sheet:
            sheet.write(dial.with_columns(excel_instants(c, zone) for c in INSTANTS))
        done.append(xlsx.name)
    if kept(csv_rejects):
        rejects = pl.read_csv(csv_rejects, infer_schema=False)
        holds = pl.col("valore").fill_null("").str.replace_all(r"\D", "")
        rest = rejects.filter(~(holds.str.contains(digits, literal=True)
                                | holds.str.contains(national, literal=True)))
        if rest.height != rejects.height:
            rest.write_csv(csv_rejects)
            done.append(csv_rejects.name)
            if kept(xlsx_rejects):
                typed = rest.with_columns(pl.col(c).cast(pl.Int64, strict=False)
                                          for c in ("riga", "riga_dati"))
                with XlsxTable(xlsx_rejects, "Scarti", REJECT_WIDTHS, set(), created) as sheet:
                    sheet.write(typed.select(REJECT_COLUMNS))
                done.append(xlsx_rejects.name)
    return done


def _list_files(ws: Workspace, store: Store, phone: str, ref: str,
                at: dt.datetime, progress: Progress = _quiet) -> list[Copy]:
    """Every received list file a manifest points to, edited where it holds the number."""
    manifests, _ = discover_all(ws.sources_dir, ws.root)
    national = ws.config().jurisdiction.national_one(phone)
    copies, seen = [], set()
    for manifest in manifests.values():
        if manifest.file in seen:
            continue
        seen.add(manifest.file)
        progress(f"looking through list file {_relative(ws, manifest.file)}")
        done = erase_from_list(manifest, phone, national)
        where = _relative(ws, done.path)
        if done.new_sha:
            with store.transaction():
                source_store.list_file_edited(store, done.old_sha, done.new_sha)
                evidence_store.record_change(store, at, "erasure", f"list file {where}",
                                             done.old_sha, done.new_sha, ref)
            copies.append(Copy(where, "erased", None, f"{done.rows} row(s) blanked"))
        if done.kept_why:
            copies.append(Copy(where, "kept", KEPT_BY_HAND, done.kept_why))
    return copies


def _relative(ws: Workspace, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ws.root.resolve()))
    except ValueError:
        return str(path)


def _digits_pattern(national: str) -> re.Pattern[bytes]:
    """The number as people write it in a file: its digits, with or without separators."""
    return re.compile(rb"[ .\-/]?".join(re.escape(d.encode()) for d in national))


def _other_copies(ws: Workspace, store: Store, phone: str, managed: set[Path]) -> list[Copy]:
    """Files under data/ that gatekeeper does not manage but that hold the number."""
    pattern = _digits_pattern(ws.config().jurisdiction.national_one(phone))
    journal = Journal(ws.journal_path)
    skip = {ws.journal_path, journal.checkpoints_path, Path(f"{ws.journal_path}.torn"),
            *managed}
    exchanges = rpo_store.all_exchanges(store)
    rpo_files = {Path(p) for column in ("request_file", "response_file")
                 for p in exchanges[column].drop_nulls().to_list()}
    copies = []
    for path in sorted(ws.data_dir.rglob("*")):
        if (not path.is_file() or path.is_relative_to(ws.store_dir) or path in skip
                or path.stat().st_size > (1 << 31)):
            continue
        if not pattern.search(path.read_bytes()):
            continue
        if path.resolve() in {p.resolve() for p in rpo_files}:
            copies.append(Copy(_relative(ws, path), "kept", KEPT_RPO))
        else:
            copies.append(Copy(_relative(ws, path), "kept", KEPT_UNMANAGED,
                               "not managed by gatekeeper: delete it, or remove the number"))
    return copies


def _erase_calls(ws: Workspace, phone: str) -> int:
    """The person's number leaves every call of the ledger (what was called when, by which
    call centre and with what outcome stays: evidence of the calls themselves)."""
    ledger = Ledger(ws.ledger_dir)
    key = int(phone.removeprefix("+"))
    hits = ledger.calls(key).height
    if hits:
        hit = pl.col("phone_key") == key
        ledger.rewrite(lambda calls: calls.with_columns(
            pl.when(hit).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("phone", "phone_key")), "erasure")
    return hits


def erase(ws: Workspace, value: str, ref: str, *, by: str = "privacy officer",
          received_on: dt.date | None = None,
          progress: Progress | None = None) -> EraseResult:
    """Remove a person's data from every copy, keeping the number only as a suppression
    entry; each copy kept is named with its reason. `progress` hears each step (big lists
    and reports take a while to rewrite)."""
    say = progress or _quiet
    if not ref.strip():
        raise InputError("--ref is required: the reference of the person's request")
    jurisdiction = ws.config().jurisdiction
    phone = phone_of(value, jurisdiction)
    now = now_utc()
    with Store(ws.store_path) as store:
        prior = people_store.erasure_under(store, phone, ref)
        checked = not rpo_store.checks_of(store, phone).is_empty()
        say("blanking the number in the store (list rows, rejects, campaign lists)")
        with store.transaction():
            rows, retired = source_store.erase_rows(store, phone, ref, now)
            rejects = source_store.erase_rejects(store, jurisdiction.national_one(phone))
            campaigns, retired_lists = run_store.erase_listed(store, phone, ref, now)
            if not prior:
                people_store.record_erasure(store, phone, now, ref, by)
            store.fault("erase.before_commit")
            record_request(store, ref, "erasure", phone, received_on, answered=True)
            evidence_store.note_journal_head(store, *Journal(ws.journal_path).head(),
                                             "erase", now)
        for file in retired + retired_lists:  # the old files held the person's data
            store.remove_file(file)
        reports = _rewrite_reports(ws, store, phone, ref, now, say)
        say("blanking the number in the call ledger (data/ledger)")
        called = _erase_calls(ws, phone)
        copies = [Copy("store: list rows", "erased", None, f"{rows} row(s) blanked"),
                  Copy("store: campaign lists", "erased", None, f"{campaigns} entr(ies)"),
                  *(Copy(r, "erased", None, "report rewritten") for r in reports)]
        if called:
            copies.append(Copy("data/ledger (calls)", "erased", None,
                               f"the number blanked in {called} call(s); when, by whom and "
                               "the outcome stay as evidence of the calls made"))
        manifests, _ = discover_all(ws.sources_dir, ws.root)
        copies += _list_files(ws, store, phone, ref, now, say)
        if checked:
            copies.append(Copy("store: RPO checks and exchange files", "kept", KEPT_RPO))
        if not Journal(ws.journal_path).events_of(phone).is_empty():
            copies.append(Copy("data/optouts.jsonl", "kept", KEPT_OPTOUT))
        say("looking for other copies under data/")
        copies += _other_copies(ws, store, phone, {m.file for m in manifests.values()})
        copies += [Copy("store: erasure entry", "kept", KEPT_SUPPRESSION),
                   Copy("backups", "kept", KEPT_BACKUPS,
                        "backups made before today hold it until they expire; after a "
                        f"restore, run this erase again (--ref {ref})")]
        people_store.set_erasure_copies(store, phone, ref,
                                        json.dumps([asdict(c) for c in copies]))
    return EraseResult(phone, ref, iso(prior or now) or "", rows, rejects, campaigns, reports,
                       already=bool(prior), copies=copies)
