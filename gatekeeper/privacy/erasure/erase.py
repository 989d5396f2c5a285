"""`gatekeeper erase`: the person's data goes from every copy the workspace holds, or the
copy is named with the reason it is kept (GDPR art. 17(3)).

What erase touches is found once, by `_survey`, before anything is written: the DPO's
confirmation (`erase_plan`, `erase --dry-run`, the console) and the erasure itself read
the same survey, so the list the DPO confirms is the list erase works through.

Order matters for "nothing is lost": the store's rows, run lists and rejects are blanked
and the suppression entry written in one transaction first (from then on the number is
never dialled and no copy gatekeeper reads holds the person's data); the copies outside
the store (report files, received list files) follow, each recorded as an evidence change
so an audit tells the erasure from tampering. Run again with the same reference, the
command finishes what a crash interrupted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import InputError, ManifestError
from gatekeeper.core.progress import Progress
from gatekeeper.core.timeutil import iso, now_utc
from gatekeeper.dial.ledger import open_ledger
from gatekeeper.intake.manifest import Manifest, discover_all
from gatekeeper.intake.normalise import key_of, phone_of
from gatekeeper.jurisdictions import Jurisdiction
from gatekeeper.privacy.erasure.list_files import FileErasure, erase_from_list
from gatekeeper.privacy.erasure.register import share_erasure
from gatekeeper.privacy.optouts import open_journal
from gatekeeper.privacy.requests import record_request
from gatekeeper.store import Store
from gatekeeper.store import evidence as evidence_store
from gatekeeper.store import people as people_store
from gatekeeper.store import rpo as rpo_store
from gatekeeper.store import runs as run_store
from gatekeeper.store import sources as source_store

# Why a copy is kept, as codes the letter renders in the person's language.
KEPT_RPO = "rpo_evidence"  # art. 17(3)(b): comparison files kept 5 years (code of conduct)
KEPT_OPTOUT = "optout"  # art. 17(3)(b), art. 21: the objection must go on being honoured
KEPT_SUPPRESSION = "suppression"  # the number alone, so it is never called again
KEPT_BY_HAND = "by_hand"  # gatekeeper could not edit it: the DPO removes it by hand
KEPT_UNMANAGED = "unmanaged"  # a file gatekeeper does not manage holds the number
KEPT_BACKUPS = "backups"  # backups made before the erasure, until they expire





def _national(ws: Workspace, phone: str) -> str:
    """The number as its own country writes it (France: 0145876321), to find it in files
    and rejects: the workspace's own country's form is another number's for a foreign one."""
    return ws.config().country_of_number(phone).national_one(phone)
def _quiet(message: str, done: int | None = None, total: int | None = None) -> None:
    """No one is watching."""


# What a copy is, so the letter can say it in words (its `where` is an internal path).
COPY_KINDS = ("store_rows", "rejects", "campaign_lists", "report", "calls", "list_file",
              "rpo", "optouts", "other", "suppression", "backups")


@dataclass(frozen=True)
class Copy:
    """One place the person's data was (or is), and what the erasure did (or, in a plan,
    will do) there."""

    where: str
    action: str  # erased | kept
    why: str | None = None  # for kept: one of the KEPT_* codes
    detail: str = ""
    kind: str = ""  # one of COPY_KINDS (records made before it was added have none)


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


@dataclass(frozen=True)
class ErasePlan:
    """What `erase` would rewrite, remove or keep, before anything is written."""

    phone: str
    already_erased: str | None  # when an earlier erasure of the number happened (ISO)
    copies: list[Copy]


@dataclass(frozen=True)
class _Report:
    """A campaign folder holding the number, as the newest run that wrote it left it."""

    run_id: str
    campaign: str
    folder: Path
    outputs: dict[str, str]
    decisions: int  # rows of decisions.parquet holding the number
    dialable: int  # rows of dialable.csv holding it
    rejects: int  # rows of rejects.csv quoting it (0 when the run did not write the file)
    files: tuple[str, ...]  # the files erase rewrites there, in the order it does


@dataclass(frozen=True)
class _Survey:
    """Every place the number is, found before erase writes anything."""

    phone: str
    rows: pl.DataFrame  # stored list rows holding it: source_id, source_version, row
    rejects: int  # rejected rows whose reason quotes it
    listed: int  # entries in the runs' call lists
    reports: list[_Report]
    calls: int  # calls of the ledger made to or from it
    list_files: list[Manifest]  # one manifest per received list file on disk
    rpo_checked: bool
    opted_out: bool
    others: list[Copy]  # files under data/ gatekeeper does not edit that hold it


def _recorded(path: Path, outputs: dict[str, str]) -> bool:
    """The run wrote this file and it is still what the run wrote."""
    return path.is_file() and sha256_file(path) == outputs.get(path.name)


def _rejects_quoting(ws: Workspace, phone: str) -> pl.Expr:
    """Rows of rejects.csv whose value holds the number's digits (as the list wrote it)."""
    holds = pl.col("valore").fill_null("").str.replace_all(r"\D", "")
    national = _national(ws, phone)
    return (holds.str.contains(phone.removeprefix("+"), literal=True)
            | holds.str.contains(national, literal=True))


def _reports(ws: Workspace, store: Store, phone: str) -> list[_Report]:
    """The campaign folders still on disk that hold the number. A folder counts once, for
    the newest run that wrote it (its recorded sha256 matches the file)."""
    found: list[_Report] = []
    seen: set[str] = set()
    for run_id, campaign, outputs_json in run_store.runs_newest_first(store):
        folder = ws.report_dir(campaign)
        decisions = folder / "decisions.parquet"
        outputs = json.loads(outputs_json or "{}")
        if campaign in seen or not _recorded(decisions, outputs):
            continue  # done, gone, or overwritten by a later run of the same campaign
        seen.add(campaign)
        hits = int(pl.read_parquet(decisions, columns=["phone"]).select(
            (pl.col("phone") == phone).sum()).item())
        if not hits:
            continue
        dialable = folder / "dialable.csv"
        dialled = (int(pl.read_csv(dialable, infer_schema=False, columns=["phone"]).select(
            (pl.col("phone") == phone).sum()).item()) if dialable.is_file() else 0)
        rejects = folder / "rejects.csv"
        quoted = (int(pl.read_csv(rejects, infer_schema=False).select(
            _rejects_quoting(ws, phone).sum()).item())
            if _recorded(rejects, outputs) else 0)
        files = ("decisions.parquet", *(("dialable.csv",) if dialable.is_file() else ()),
                 *(("dialable.xlsx",) if _recorded(folder / "dialable.xlsx", outputs) else ()),
                 *(("rejects.csv",) if quoted else ()),
                 *(("rejects.xlsx",) if quoted and _recorded(folder / "rejects.xlsx", outputs)
                   else ()))
        found.append(_Report(run_id, campaign, folder, outputs, hits, dialled, quoted, files))
    return found


def _list_manifests(ws: Workspace) -> list[Manifest]:
    """One manifest per received list file (two sources may read one file)."""
    manifests, _ = discover_all(ws.sources_dir, ws.root)
    chosen: dict[Path, Manifest] = {}
    for manifest in manifests.values():
        chosen.setdefault(manifest.file, manifest)
    return list(chosen.values())


def _survey(ws: Workspace, store: Store, phone: str) -> _Survey:
    """Where the number is: the one list both the plan and the erasure work from."""
    rows = people_store.source_rows_of(store, phone).select("source_id", "source_version",
                                                             "row")
    national = _national(ws, phone)
    rejects = int(store.scalar("SELECT count(*) FROM source_rejects WHERE "
                               "contains(reason, ?)", [national]))
    listed = run_store.campaigns_of(store, phone).height
    manifests = _list_manifests(ws)
    return _Survey(
        phone, rows, rejects, listed, _reports(ws, store, phone),
        open_ledger(ws).calls(key_of(phone)).height, manifests,
        not rpo_store.checks_of(store, phone).is_empty(),
        not open_journal(ws).events_of(phone).is_empty(),
        _other_copies(ws, store, phone, {m.file for m in manifests}))


def _copies(ws: Workspace, survey: _Survey, *, rows: int, listed: int, ref: str,
            lists: list[FileErasure]) -> list[Copy]:
    """The survey as the copies named to the DPO and, in words, in the letter; `rows`,
    `listed` and `lists` are what was (or would be) done, the rest is the survey's."""
    by_version = survey.rows.group_by("source_id", "source_version", maintain_order=True).agg(
        pl.col("row").sort())
    where_rows = "; ".join(
        f"{s} v{v} row(s) {', '.join(map(str, r))}" for s, v, r in by_version.iter_rows())
    copies = [Copy("store: list rows", "erased", None,
                   f"{rows} row(s) blanked" + (f" ({where_rows})" if where_rows else ""),
                   "store_rows")]
    if survey.rejects:
        copies.append(Copy("store: rejected rows", "erased", None,
                           f"{survey.rejects} row(s) quoting the number deleted", "rejects"))
    copies.append(Copy("store: campaign lists", "erased", None, f"{listed} entr(ies)",
                       "campaign_lists"))
    for report in survey.reports:
        counts = {"decisions.parquet": f"{report.decisions} row(s) blanked",
                  "dialable.csv": f"{report.dialable} row(s) removed",
                  "rejects.csv": f"{report.rejects} row(s) removed"}
        detail = "; ".join(f"{name} {counts[name]}" if name in counts else f"{name} rewritten"
                           for name in report.files)
        copies.append(Copy(_relative(ws, report.folder), "erased", None,
                           f"report rewritten: {detail}", "report"))
    if survey.calls:
        copies.append(Copy("data/ledger (calls)", "erased", None,
                           f"the number blanked in {survey.calls} call(s); when, by whom and "
                           "the outcome stay as evidence of the calls made", "calls"))
    for done in lists:
        where = _relative(ws, done.path)
        if done.rows:
            copies.append(Copy(where, "erased", None, f"{done.rows} row(s) blanked",
                               "list_file"))
        if done.kept_why:
            copies.append(Copy(where, "kept", KEPT_BY_HAND, done.kept_why, "list_file"))
    if survey.rpo_checked:
        copies.append(Copy("store: RPO checks and exchange files", "kept", KEPT_RPO,
                           kind="rpo"))
    if survey.opted_out:
        copies.append(Copy(_relative(ws, ws.journal_path), "kept", KEPT_OPTOUT,
                           kind="optouts"))
    return [*copies, *survey.others,
            Copy("store: erasure entry", "kept", KEPT_SUPPRESSION, kind="suppression"),
            Copy("backups", "kept", KEPT_BACKUPS,
                 "backups made before today hold it until they expire; after a restore, "
                 f"run this erase again (--ref {ref})", "backups")]


def _list_reading(ws: Workspace, manifest: Manifest, phone: str) -> tuple[str, Jurisdiction]:
    """How a list file is searched for a number: the digits after its country code (in
    every way a list writes it: 0721 234 567, +40 721 234 567; for Italy its national
    number) and the country the list's cells are read as (its manifest's `country`), so
    a Romanian archive's 0721 234 567 is found as the load read it."""
    config = ws.config()
    owner = config.country_of_number(phone)
    try:
        country = manifest.country_in(config.jurisdictions)
    except ManifestError:  # a country not called: never loaded, read as the workspace's
        country = config.jurisdiction
    return phone.removeprefix(owner.prefix), country


def _dry_list_file(ws: Workspace, manifest: Manifest, phone: str) -> FileErasure:
    """What erasing would do to a list file, found by erasing a scratch copy of it with
    the very code erase runs (so the plan cannot disagree with the erasure)."""
    if not manifest.file.is_file():
        return FileErasure(manifest.file)
    with tempfile.TemporaryDirectory(prefix="gatekeeper-erase-plan-") as scratch:
        copy = Path(scratch) / manifest.file.name
        shutil.copyfile(manifest.file, copy)
        done = erase_from_list(dataclasses.replace(manifest, file=copy), phone,
                               *_list_reading(ws, manifest, phone))
    return dataclasses.replace(done, path=manifest.file)


def erase_plan(ws: Workspace, value: str, ref: str | None = None) -> ErasePlan:
    """Every file and row `erase` would rewrite or remove, and every copy it would keep
    with why, without writing anything: the DPO's confirmation before erasing."""
    jurisdiction = ws.config().jurisdiction
    phone = phone_of(value, jurisdiction)
    with Store(ws.store_path, read_only=True) as store:
        survey = _survey(ws, store, phone)
        prior = people_store.erasure_of(store, phone)
    lists = [_dry_list_file(ws, m, phone) for m in survey.list_files]
    return ErasePlan(phone, iso(prior["erased_at"][0]) if prior.height else None,
                     _copies(ws, survey, rows=survey.rows.height, listed=survey.listed,
                             ref=ref or "REF", lists=lists))


def _rewrite_report(ws: Workspace, store: Store, report: _Report, phone: str, ref: str,
                    at: dt.datetime) -> None:
    """Blank the number in one campaign folder (the files `report.files` names); the run's
    record gets the new sha256s, so the service keeps trusting the files, and the change
    is recorded as evidence."""
    folder, outputs = report.folder, dict(report.outputs)
    names = report.files
    decisions = folder / "decisions.parquet"
    hit = pl.col("phone") == phone
    pl.read_parquet(decisions).with_columns(
        pl.when(hit).then(None).otherwise(pl.col(c)).alias(c) for c in ("raw", "phone")
    ).write_parquet(decisions, statistics=False)
    if "dialable.csv" in names:
        dialable = folder / "dialable.csv"
        pl.read_csv(dialable, infer_schema=False).filter(
            pl.col("phone") != phone).write_csv(dialable)
    _rewrite_excel_copies(ws, folder, phone, names)
    before = {name: outputs.get(name) for name in names}
    outputs.update({name: sha256_file(folder / name) for name in names
                    if (folder / name).is_file()})
    with store.transaction():
        run_store.set_outputs(store, report.run_id, outputs)
        for name, old in before.items():
            evidence_store.record_change(store, at, "erasure", f"report {report.campaign}/"
                                         f"{name} of run {report.run_id}", old,
                                         outputs.get(name), ref)


def _rewrite_excel_copies(ws: Workspace, folder: Path, phone: str,
                          names: tuple[str, ...]) -> None:
    """dialable.xlsx and rejects.csv/.xlsx of the run, without the number: the copies a
    manager sends on or dials from (an erased number left there would be called again).
    The xlsx is written from the rewritten dialable.csv, the rejects without the rows
    whose value holds the digits; which of them is the survey's call (`_Report.files`)."""
    from gatekeeper.core.outfile import XlsxTable, excel_instants
    from gatekeeper.core.timeutil import read_iso
    from gatekeeper.decide.campaign_files import DIALABLE_WIDTHS, INSTANTS, REJECT_WIDTHS
    from gatekeeper.decide.reports import REJECT_COLUMNS
    zone = ws.config().jurisdiction.timezone_name
    created = dt.datetime(2000, 1, 1)
    if "dialable.xlsx" in names:
        dial = pl.read_csv(folder / "dialable.csv", infer_schema=False).with_columns(
            read_iso(pl.col(c), strict=False) for c in INSTANTS)
        with XlsxTable(folder / "dialable.xlsx", "Chiamabili", DIALABLE_WIDTHS, INSTANTS,
                       created) as sheet:
            sheet.write(dial.with_columns(excel_instants(c, zone) for c in INSTANTS))
    if "rejects.csv" in names:
        csv_rejects = folder / "rejects.csv"
        rest = pl.read_csv(csv_rejects, infer_schema=False).filter(
            ~_rejects_quoting(ws, phone))
        rest.write_csv(csv_rejects)
        if "rejects.xlsx" in names:
            typed = rest.with_columns(pl.col(c).cast(pl.Int64, strict=False)
                                      for c in ("riga", "riga_dati"))
            with XlsxTable(folder / "rejects.xlsx", "Scarti", REJECT_WIDTHS, set(),
                           created) as sheet:
                sheet.write(typed.select(REJECT_COLUMNS))


def _edit_list_files(ws: Workspace, store: Store, manifests: list[Manifest], phone: str,
                     ref: str, at: dt.datetime, say: Progress) -> list[FileErasure]:
    """Every received list file a manifest points to, edited where it holds the number;
    each edit is recorded as evidence and the versions read from it follow the new bytes."""
    done = []
    for manifest in manifests:
        say(f"looking through list file {_relative(ws, manifest.file)}")
        edited = erase_from_list(manifest, phone, *_list_reading(ws, manifest, phone))
        if edited.new_sha:
            with store.transaction():
                source_store.list_file_edited(store, edited.old_sha, edited.new_sha)
                evidence_store.record_change(store, at, "erasure",
                                             f"list file {_relative(ws, edited.path)}",
                                             edited.old_sha, edited.new_sha, ref)
        done.append(edited)
    return done


def _relative(ws: Workspace, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ws.root.resolve()))
    except ValueError:
        return str(path)


def _digits_pattern(national: str) -> re.Pattern[bytes]:
    """The number as people write it in a file: its digits, with or without separators."""
    return re.compile(rb"[ .\-/]?".join(re.escape(d.encode()) for d in national))


def _other_copies(ws: Workspace, store: Store, phone: str, managed: set[Path]) -> list[Copy]:
    """Files under data/ that gatekeeper does not edit on erasure but that hold the number
    (the store and the call ledger are erased through their own code, never searched)."""
    pattern = _digits_pattern(_national(ws, phone))
    journal = open_journal(ws)
    skip = {ws.journal_path, journal.checkpoints_path, Path(f"{ws.journal_path}.torn"),
            *managed}
    exchanges = rpo_store.all_exchanges(store)
    rpo_files = {Path(p).resolve() for column in ("request_file", "response_file")
                 for p in exchanges[column].drop_nulls().to_list()}
    copies = []
    for path in sorted(ws.data_dir.rglob("*")):
        if (not path.is_file() or path.is_relative_to(ws.store_dir)
                or path.is_relative_to(ws.ledger_dir) or path in skip
                or path.stat().st_size > (1 << 31)):
            continue
        if not pattern.search(path.read_bytes()):
            continue
        if path.resolve() in rpo_files:
            copies.append(Copy(_relative(ws, path), "kept", KEPT_RPO, kind="rpo"))
        else:
            copies.append(Copy(_relative(ws, path), "kept", KEPT_UNMANAGED,
                               "not managed by gatekeeper: delete it, or remove the number",
                               "other"))
    return copies


def _erase_calls(ws: Workspace, phone: str) -> int:
    """The person's number leaves every call of the ledger (what was called when, by which
    call centre and with what outcome stays: evidence of the calls themselves)."""
    ledger = open_ledger(ws)
    key = key_of(phone)
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
    say: Progress = progress or _quiet
    if not ref.strip():
        raise InputError("--ref is required: the reference of the person's request")
    jurisdiction = ws.config().jurisdiction
    phone = phone_of(value, jurisdiction)
    now = now_utc()
    with Store(ws.store_path) as store:
        survey = _survey(ws, store, phone)
        prior = people_store.erasure_under(store, phone, ref)
        # First where every service instance reads it (a shared store): a failure after
        # it leaves the number erased everywhere, never only here.
        share_erasure(ws, phone, prior or now, ref)
        say("blanking the number in the store (list rows, rejects, campaign lists)")
        rpo_store.forget_requests(store)  # the keys kept of requests written: a speed-up
        with store.transaction():
            rows, retired = source_store.erase_rows(store, phone, ref, now)
            rejects = source_store.erase_rejects(store, _national(ws, phone))
            campaigns, retired_lists = run_store.erase_listed(store, phone, ref, now)
            if not prior:
                people_store.record_erasure(store, phone, now, ref, by)
            store.fault("erase.before_commit")
            record_request(store, ref, "erasure", phone, received_on,
                           jurisdiction.timezone_name, answered=True)
            evidence_store.note_journal_head(store, *open_journal(ws).head(),
                                             "erase", now)
        for file in retired + retired_lists:  # the old files held the person's data
            store.remove_file(file)
        for report in survey.reports:
            say(f"rewriting {_relative(ws, report.folder)}/ (decisions, dialable, rejects)")
            _rewrite_report(ws, store, report, phone, ref, now)
        say("blanking the number in the call ledger (data/ledger)")
        _erase_calls(ws, phone)
        lists = _edit_list_files(ws, store, survey.list_files, phone, ref, now, say)
        copies = _copies(ws, survey, rows=rows, listed=campaigns, ref=ref, lists=lists)
        people_store.set_erasure_copies(store, phone, ref,
                                        json.dumps([asdict(c) for c in copies]))
    reports = sorted(_relative(ws, r.folder) for r in survey.reports)
    return EraseResult(phone, ref, iso(prior or now) or "", rows, rejects, campaigns, reports,
                       already=bool(prior), copies=copies)

