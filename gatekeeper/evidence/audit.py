"""`gatekeeper audit verify` and `audit anchor`: is the evidence whole, and unchanged since?

Every piece of evidence is checked against something it cannot quietly agree with:

- the opt-out journal against its own hash chain and every checkpoint (runs, the store's
  high-water mark, the agents' receipts);
- each RPO check against the exchange files it came from, kept byte for byte: the checks
  are derived again from the files and compared, so `UPDATE rpo_checks SET registered =
  false` is caught;
- each source version's rows, each run's list and each report file against the sha256
  recorded when they were written (an erasure's rewrite is recorded as a change);
- the contact ledger: every segment its list names is there with the sha256 listed, and
  calls.jsonl reads as calls (else every check, contract replay and call list fails).

An anchor is one digest of all of that (journal head, exchanges, source versions, runs),
to be kept outside the workspace (sent to the DPO by PEC): `audit verify --anchor DIGEST`
then proves nothing recorded before it was rewritten since, even by someone able to edit
every file here consistently. Findings are rows; the CLI exits 1 when there is any.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.core.digest import sha256_file
from gatekeeper.core.timeutil import iso, local_words, now_utc
from gatekeeper.dial.ledger import conform
from gatekeeper.evidence.backup import workspace_ledger_view
from gatekeeper.privacy.optouts import Checkpoint, open_journal
from gatekeeper.privacy.retention import DEFAULT_EVIDENCE_YEARS, months_before
from gatekeeper.registers import country_of
from gatekeeper.registers.adapters import ADAPTERS
from gatekeeper.store import Store
from gatekeeper.store import evidence as evidence_store
from gatekeeper.store import rpo as rpo_store
from gatekeeper.store import runs as run_store
from gatekeeper.store import sources as source_store
from gatekeeper.store import suppliers as supplier_store

ANCHOR_VERSION = 1


@dataclass(frozen=True)
class Finding:
    """One thing the evidence no longer proves: where, and what is wrong."""

    area: str  # journal | rpo | sources | runs | reports | suppliers | ledger | anchor
    subject: str
    problem: str

    def __str__(self) -> str:
        return f"{self.area}: {self.subject}: {self.problem}"


@dataclass
class AuditReport:
    problems: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    anchor: str | None = None  # the anchor compared against, in words
    journal_entries: int = 0
    exchanges: int = 0
    checks: int = 0
    versions: int = 0
    runs: int = 0
    segments: int = 0

    @property
    def intact(self) -> bool:
        return not self.problems


def _journal(ws: Workspace, store: Store, report: AuditReport,
             extra: list[Checkpoint]) -> None:
    journal = open_journal(ws)
    stored = [Checkpoint(p, h, b) for p, h, b in evidence_store.journal_checkpoints(store)]
    state, problems = journal.verify([*stored, *extra])
    report.journal_entries = state.entries
    report.notes += state.warnings()
    report.problems += [Finding("journal", "data/optouts.jsonl", p) for p in problems]


def _file_matches(store: Store, sha: str | None) -> bytes | None:
    """The kept evidence file with this sha256, if it is there and still has it."""
    path = evidence_store.evidence_path(store, sha) if sha else None
    if path is None or not path.is_file():
        return None
    data = path.read_bytes()
    return data if hashlib.sha256(data).hexdigest() == sha else None


def _rpo(store: Store, report: AuditReport) -> None:
    # The status a run reads instead of every check: a status edited to "not registered"
    # would list a registered number, so it is summed up again and compared.
    report.problems += [Finding("rpo", "register status", p)
                        for p in rpo_store.status_problems(store)]
    for exchange in rpo_store.all_exchanges(store).to_dicts():
        subject = f"exchange {exchange['exchange_id']}"
        report.exchanges += 1
        shas = (exchange["request_sha256"], exchange["response_sha256"])
        if not any(evidence_store.evidence_path(store, s) for s in shas if s):
            report.notes.append(f"{subject}: its files were not kept (recorded by an older "
                                "gatekeeper); its checks cannot be derived again")
            continue
        request, response = (_file_matches(store, s) for s in shas)
        if request is None or response is None:
            report.problems.append(Finding("rpo", subject, "an exchange file is missing or "
                                           "was altered; restore data/store from a backup"))
            continue
        made_by = ADAPTERS.get(exchange["adapter"])
        if made_by is None:  # fail loud: an exchange nothing can re-derive proves nothing
            report.problems.append(Finding("rpo", subject, f"recorded by adapter "
                                           f"'{exchange['adapter']}', which this gatekeeper "
                                           "does not know; its checks cannot be derived "
                                           "again: upgrade gatekeeper"))
            continue
        # The exchange's own register says whose numbers its files hold (Bloctel's are
        # French, read in France's national format) and how its answer file reads.
        country, _ = country_of(exchange.get("register") or "rpo")
        derived = made_by.rederive(request, response, country,
                                   answer=exchange.get("answer") or "kept")
        stored = rpo_store.checks_of_exchange(store, exchange["exchange_id"])
        if stored is None:
            report.problems.append(Finding("rpo", subject, "its checks file is missing or "
                                           "was altered; restore data/store from a backup"))
            continue
        report.checks += stored.height
        _compare_checks(report, subject, derived, stored, exchange["checked_at"])


def _compare_checks(report: AuditReport, subject: str, derived: pl.DataFrame,
                    stored: pl.DataFrame, checked_at: dt.datetime) -> None:
    both = derived.join(stored, on="phone", how="full", suffix="_stored", coalesce=True)
    missing = both.filter(pl.col("registered_stored").is_null()).height
    invented = both.filter(pl.col("registered").is_null()).height
    flipped = both.filter(pl.col("registered") != pl.col("registered_stored"))
    moved = stored.filter(pl.col("checked_at") != checked_at).height
    if flipped.height:
        first = flipped.row(0, named=True)
        said = "registered" if first["registered"] else "not registered"
        report.problems.append(Finding("rpo", subject, (
            f"{flipped.height:,} stored check(s) differ from the exchange files (e.g. "
            f"{first['phone']}: the files say {said}); the store was edited")))
    for count, what in ((missing, "check(s) the files prove are missing"),
                        (invented, "stored check(s) are not in the files"),
                        (moved, "check(s) carry another check time than the exchange")):
        if count:
            report.problems.append(Finding("rpo", subject, f"{count:,} {what}; the store "
                                           "was edited"))


def _hashed(store: Store, report: AuditReport, area: str, subject: str,
            relative: str | None, sha: str | None) -> None:
    if relative is None:
        return
    path = store.file_path(relative)
    if not path.is_file():
        report.problems.append(Finding(area, subject, f"{relative} is missing; restore "
                                       "data/store from a backup"))
    elif sha256_file(path) != sha:
        report.problems.append(Finding(area, subject, f"{relative} differs from what was "
                                       "recorded (edited outside gatekeeper)"))


def _sources_and_runs(store: Store, report: AuditReport) -> None:
    for v in source_store.all_versions(store).to_dicts():
        report.versions += 1
        _hashed(store, report, "sources", f"{v['source_id']} v{v['version']}",
                v["rows_file"], v["rows_sha256"])
    for run in run_store.all_runs(store).unique("run_id", keep="last").to_dicts():
        report.runs += 1
        _hashed(store, report, "runs", f"run {run['run_id']}", run["dialable_file"],
                run["dialable_sha256"])


def _notices(store: Store, report: AuditReport) -> None:
    """Each supplier's privacy notice, kept when its due diligence was recorded."""
    for s in supplier_store.notices(store).to_dicts():
        if _file_matches(store, s["privacy_notice_sha256"]) is None:
            report.problems.append(Finding(
                "suppliers", f"supplier {s['supplier_id']} v{s['version']}", "its privacy "
                "notice kept as evidence is missing or was altered; restore data/store from a "
                "backup"))


# How long a report folder naming a run the store has not recorded yet is given to be
# recorded: a run swaps its reports in, then records itself (waiting for this audit's
# read of the store to end).
SETTLE_SECONDS = 10.0


def _claimed_run(folder: Path) -> str | None:
    """The run a report folder says it is of (its summary.json), if it says."""
    try:
        claimed = json.loads((folder / "summary.json").read_bytes()).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None
    return claimed if isinstance(claimed, str) else None


def _reports(ws: Workspace, store: Store, report: AuditReport,
             only: set[str] | None = None) -> dict[str, list[Finding]]:
    """Each campaign's report files against its newest run's record. A folder that says
    it is of another run than that one is a run finishing (its reports swapped in, its
    record not yet written): its differences are returned, to be judged once it is
    recorded, not reported now."""
    seen: set[str] = set()
    unsettled: dict[str, list[Finding]] = {}
    for run_id, campaign, outputs_json in run_store.runs_newest_first(store):
        folder = ws.report_dir(campaign)
        # One folder, one newest run: judged by folder, as a folder is what a run writes
        # (two names with one folder are one campaign; see run._recorded_name).
        where = folder.relative_to(ws.root).as_posix()
        if where in seen or (only is not None and campaign not in only):
            continue
        seen.add(where)
        if not folder.is_dir():
            continue
        found = []
        for name, sha in json.loads(outputs_json or "{}").items():
            path = folder / name
            if path.is_file() and sha256_file(path) != sha:
                found.append(Finding(
                    "reports", f"{where}/{name}", f"differs from what run {run_id} "
                    "wrote (edited after the run); run the campaign again"))
        if found and _claimed_run(folder) not in (None, run_id):
            unsettled[campaign] = found
        else:
            report.problems += found
    return unsettled


def _settle_reports(ws: Workspace, report: AuditReport,
                    unsettled: dict[str, list[Finding]]) -> None:
    """Judge again the report folders of runs that were finishing, once recorded: a run
    writing its reports while the audit read is no edit. Still unrecorded after
    SETTLE_SECONDS (a summary.json naming a run that never was), they are problems."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while unsettled:
        if time.monotonic() > deadline:
            report.problems += [f for found in unsettled.values() for f in found]
            return
        time.sleep(0.05)
        with Store(ws.store_path, read_only=True) as store:
            unsettled = _reports(ws, store, report, set(unsettled))


_LEDGER_HINT = "restore data/ledger/ from a backup"


def _ledger(ws: Workspace, report: AuditReport) -> None:
    """Every segment the ledger lists, there and unchanged; calls.jsonl readable. Taken
    from one instant of the ledger (`ledger_view`): an import listing a segment, or a
    rewrite deleting old ones, while this reads is no damage."""
    listing = "data/ledger/segments.jsonl"
    with workspace_ledger_view(ws) as view:
        if view is None:
            return
        if view.unreadable:
            report.problems.append(Finding("ledger", listing, "a line is not a segment's "
                                           f"(name, sha256, rows); {_LEDGER_HINT}"))
        expected = {} if view.unreadable else {
            item["name"]: item.get("sha256") for item in
            (json.loads(line) for line in (view.listing or b"").splitlines())}
        for name, handle in view.segments:
            report.segments += 1
            if handle is None:
                report.problems.append(Finding("ledger", listing, f"segment {name} is "
                                               f"missing; {_LEDGER_HINT}"))
                continue
            sha = hashlib.sha256()
            while chunk := handle.read(1 << 20):
                sha.update(chunk)
            if name in expected and sha.hexdigest() != expected[name]:
                report.problems.append(Finding("ledger", listing, (
                    f"segment {name} differs from its listed sha256 (edited or damaged); "
                    f"{_LEDGER_HINT}")))
        problem = _calls_problem(view.calls or b"")
        if problem:
            report.problems.append(Finding("ledger", "data/ledger/calls.jsonl",
                                           f"{problem}; {_LEDGER_HINT}"))


def _calls_problem(data: bytes) -> str | None:
    """Why calls.jsonl cannot be read as the ledger reads it, else None. A torn last line
    (a write killed midway, never acknowledged) is not a problem: the ledger skips it."""
    data = data[:data.rfind(b"\n") + 1]
    if not data:
        return None
    for number, line in enumerate(data.splitlines(), 1):
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            entry = None
        if not isinstance(entry, dict):
            return f"line {number} is not a call (not a JSON object)"
    try:
        frame = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
        conform(frame.with_columns(
            pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="us")
            for c in ("started_at", "recorded_at") if c in frame.columns))
    except Exception as exc:  # any reading failure: the ledger's own read fails the same
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"its calls cannot be read ({first[:200]})"
    return None


# --- anchors -----------------------------------------------------------------------------

def _state(ws: Workspace, store: Store) -> dict[str, Any]:
    """The evidence state an anchor pins down, in a canonical form."""
    position, head = open_journal(ws).head()
    exchanges = rpo_store.all_exchanges(store).select(
        "exchange_id", "request_sha256", "response_sha256", "checked_at", "numbers",
        "registered")
    versions = source_store.all_versions(store).select(
        "source_id", "version", "file_sha256", "rows_sha256")
    runs = run_store.all_runs(store).unique("run_id", keep="last", maintain_order=True)
    return {
        "anchor_version": ANCHOR_VERSION,
        "journal": {"position": position, "hash": head},
        "rpo": [{**e, "checked_at": iso(e["checked_at"])} for e in exchanges.to_dicts()],
        "sources": versions.to_dicts(),
        "runs": [{"run_id": r["run_id"], "executed_at": iso(r["executed_at"]),
                  "dialable_sha256": r["dialable_sha256"],
                  "outputs": json.loads(r["outputs_json"] or "{}")} for r in runs.to_dicts()],
        "changes": evidence_store.changes(store).height,
    }


def _canonical(components: dict[str, Any]) -> str:
    return json.dumps(components, sort_keys=True, separators=(",", ":"), default=str)


def make_anchor(ws: Workspace) -> tuple[str, AuditReport]:
    """One digest of the whole evidence state, recorded in the store; only over evidence
    that verifies (an anchor must never vouch for a tampered state)."""
    report = verify(ws)
    if not report.intact:
        return "", report
    with Store(ws.store_path) as store:
        components = _canonical({**_state(ws, store), "created_at": iso(now_utc())})
        digest = hashlib.sha256(components.encode()).hexdigest()
        with store.transaction():
            evidence_store.save_anchor(store, digest, now_utc(), components)
    return digest, report


def _chain(store: Store, old: str | None, new: str | None) -> bool:
    """True when recorded changes (erasures) lead from the anchored sha256 to today's."""
    if old == new:
        return True
    steps = dict(evidence_store.changes(store).select("old_sha256", "new_sha256").rows())
    seen = set()
    while old in steps and old not in seen:
        seen.add(old)
        old = steps[old]
        if old == new:
            return True
    return False


def _against_anchor(ws: Workspace, store: Store, digest: str, report: AuditReport
                    ) -> list[Checkpoint]:
    """Compare today's state with an anchor; returns its journal checkpoint."""
    found = evidence_store.anchor(store, digest)
    if found is None:
        report.problems.append(Finding("anchor", digest[:16], (
            "no anchor with this digest in the store: its record was removed, or the store "
            "was replaced; restore data/store from a backup made after the anchor")))
        return []
    created, components_json = found
    if hashlib.sha256(components_json.encode()).hexdigest() != digest:
        report.problems.append(Finding("anchor", digest[:16], "the store's record of this "
                                       "anchor was altered"))
        return []
    anchored = json.loads(components_json)
    now = _state(ws, store)
    expired = months_before(now_utc(), 12 * DEFAULT_EVIDENCE_YEARS)
    _anchored_items(report, "rpo", anchored["rpo"], now["rpo"], "exchange_id",
                    lambda a, b: a == b, expired, "checked_at")
    _anchored_items(report, "sources", anchored["sources"], now["sources"],
                    ("source_id", "version"),
                    lambda a, b: a["file_sha256"] == b["file_sha256"] and (
                        b["rows_sha256"] is None
                        or _chain(store, a["rows_sha256"], b["rows_sha256"])), None, None)
    _anchored_items(report, "runs", anchored["runs"], now["runs"], "run_id",
                    lambda a, b: _chain(store, a["dialable_sha256"], b["dialable_sha256"])
                    and all(_chain(store, sha, b["outputs"].get(name))
                            for name, sha in a["outputs"].items()), expired, "executed_at")
    if now["changes"] < anchored["changes"]:
        report.problems.append(Finding("anchor", digest[:16], "records of erasures made "
                                       "before the anchor were removed"))
    report.anchor = (f"anchor {digest[:16]}… of "
                     f"{local_words(created, ws.config().jurisdiction.timezone_name)}")
    journal = anchored["journal"]
    return [Checkpoint(int(journal["position"]), str(journal["hash"]),
                       f"anchor {digest[:16]}")]


def _anchored_items(report: AuditReport, area: str, anchored: list[dict[str, Any]],
                    now: list[dict[str, Any]], key: Any, same: Any,
                    expired: dt.datetime | None, when: str | None) -> None:
    def key_of(item: dict[str, Any]) -> Any:
        return tuple(item[k] for k in key) if isinstance(key, tuple) else item[key]

    current = {key_of(item): item for item in now}
    for item in anchored:
        subject = " v".join(str(k) for k in key_of(item)) if isinstance(key, tuple) else str(
            key_of(item))
        today = current.get(key_of(item))
        if today is None:
            old = when and expired and item[when] and item[when] < iso(expired)
            if old:
                report.notes.append(f"{area} {subject}: purged by retention since the anchor")
            else:
                report.problems.append(Finding(area, subject, "recorded before the anchor, "
                                               "gone now: it was deleted"))
        elif not same(item, today):
            report.problems.append(Finding(area, subject, "rewritten since the anchor"))


def verify(ws: Workspace, anchor: str | None = None) -> AuditReport:
    """Every check above; findings as rows (none: the evidence is whole)."""
    report = AuditReport()
    with Store(ws.store_path, read_only=True) as store:
        extra = _against_anchor(ws, store, anchor, report) if anchor else []
        _journal(ws, store, report, extra)
        _rpo(store, report)
        _sources_and_runs(store, report)
        _notices(store, report)
        unsettled = _reports(ws, store, report)
    _settle_reports(ws, report, unsettled)
    _ledger(ws, report)
    return report
