"""Consent audits (`gatekeeper audit sample` / `audit answer` / `audit list`).

The code of conduct (art. 6) asks the buyer of a list to check its consents on a
representative sample, and whenever a complaint or a rights request arrives. A sample is a
simple random sample of the source version's rows with a valid number, drawn from a seed
that is recorded (the same seed draws the same rows years later); the supplier sends each
row's proof by `due_on`. A row still unanswered after that day counts as a failure, and so
does a reply that comes later. With k failures in n rows the audit fails when the
Clopper–Pearson upper bound of the failure rate exceeds max_rate (bounds.py); a verdict
counts from the instant it was reached, so a run as of an earlier instant decides as
things stood then.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import InputError, NotFound
from gatekeeper.core.outfile import output_path
from gatekeeper.core.spreadsheet import safe_for_spreadsheets
from gatekeeper.core.textfile import bom_encoding
from gatekeeper.core.timeutil import Zone, date_start_utc, local_date, local_words, now_utc
from gatekeeper.intake.normalise import normalise, phone_key
from gatekeeper.jurisdictions import Jurisdiction
from gatekeeper.store import Store
from gatekeeper.store import consent_audits as audit_store
from gatekeeper.store import sources as source_store
from gatekeeper.suppliers import bounds

SAMPLE = "sample"  # a representative sample of a list
REQUEST = "request"  # the one row a complaint or rights request is about
RESULTS = ("ok", "missing", "mismatch")
PROOF_COLUMNS = ("row", "phone", "consent_date", "consent_proof")
DEFAULT_CONFIDENCE = 0.95
DEFAULT_MAX_RATE = 0.02
SEED_LIMIT = 2**32  # numpy's RandomState takes seeds below 2**32
BATCH_ROWS = 1_000_000


@dataclass
class SampleResult:
    audit_id: str
    source_id: str
    source_version: int
    size: int
    population: int
    seed: int
    due_on: dt.date
    out: Path
    warnings: list[str]


def draw(rows: pl.Series, size: int, seed: int) -> pl.Series:
    """`size` of the row numbers, a simple random sample (without replacement), in order.

    numpy's legacy RandomState: its stream is frozen (NEP 19), so a recorded seed draws
    the same rows with any later numpy; the rows are taken in row order first, so the
    order they are stored in does not matter."""
    ordered = rows.sort()
    picked = np.random.RandomState(seed).choice(ordered.len(), size=size, replace=False)
    return ordered.gather(np.sort(picked))


def _source(store: Store, source_id: str) -> dict[str, Any]:
    versions = source_store.newest_versions(store, [source_id])
    if versions.is_empty():
        raise NotFound(f"no loaded source {source_id}; see 'gatekeeper sources'")
    version = versions.to_dicts()[0]
    if version["kind"] != "third_party":
        raise InputError(f"{source_id} is a {version['kind']} list: audits check the consents "
                         "a supplier collected (third_party lists only)")
    if version["rows_file"] is None:
        raise InputError(f"the rows of {source_id} were purged (retention); load it again")
    return version


def _valid_rows(store: Store, rows_file: str) -> pl.Series:
    parts = [batch.filter(pl.col("valid").fill_null(False))["row"] for batch in
             source_store.version_batches(store, rows_file, ("row", "valid"), BATCH_ROWS)]
    return pl.concat(parts) if parts else pl.Series("row", [], pl.Int64)


def _proof_request(store: Store, rows_file: str, rows: pl.Series) -> pl.DataFrame:
    """What the supplier is asked to prove, one line per sampled row."""
    wanted = rows.implode()
    parts = [batch.filter(pl.col("row").is_in(wanted)) for batch in
             source_store.version_batches(store, rows_file, PROOF_COLUMNS, BATCH_ROWS)]
    return pl.concat(parts).sort("row").with_columns(
        pl.col("consent_date").dt.strftime("%Y-%m-%d"))


def _check_at(at: dt.datetime | None, what: str, zone: Zone) -> dt.datetime:
    now = now_utc()
    if at is not None and at > now:
        raise InputError(f"{what} {local_words(at, zone)} is in the future; give the time it "
                         "happened")
    return at or now


def sample(ws: Workspace, source_id: str, out: Path, *, size: int | None = None,
           confidence: float = DEFAULT_CONFIDENCE, max_rate: float = DEFAULT_MAX_RATE,
           seed: int | None = None, at: dt.datetime | None = None) -> SampleResult:
    """Draw a sample of the source's newest version, record it as an audit and write the
    proof request for the supplier (row, phone, consent_date, consent_proof)."""
    bounds.check_levels(confidence, max_rate)
    if seed is not None and not 0 <= seed < SEED_LIMIT:
        raise InputError(f"--seed must be from 0 to {SEED_LIMIT - 1}, got {seed}")
    if size is not None and size < 1:
        raise InputError(f"--size must be 1 or more, got {size}")
    target = output_path(out)
    zone = ws.config().jurisdiction.timezone_name
    created = _check_at(at, "--at", zone)
    days = ws.config().policy.audit_answer_days
    with Store(ws.store_path) as store:
        version = _source(store, source_id)
        population = _valid_rows(store, version["rows_file"])
        if population.is_empty():
            raise InputError(f"{source_id} has no row with a valid number to audit")
        wanted = size or bounds.sample_size(confidence, max_rate)
        warnings = _size_warnings(wanted, population.len(), confidence, max_rate)
        chosen_seed = secrets.randbelow(SEED_LIMIT) if seed is None else seed
        rows = draw(population, min(wanted, population.len()), chosen_seed)
        proof = _proof_request(store, version["rows_file"], rows)
        audit_id = audit_store.next_audit_id(store)
        due = local_date(created, zone) + dt.timedelta(days=days)
        audit_store.add_audit(store, {
            "audit_id": audit_id, "kind": SAMPLE, "source_id": source_id,
            "source_version": version["version"], "supplier_id": version["supplier_id"],
            "created_at": created, "due_on": due, "size": rows.len(),
            "population": population.len(), "seed": chosen_seed, "confidence": confidence,
            "max_rate": max_rate, "recorded_at": now_utc()}, rows)
    safe_for_spreadsheets(proof.select(PROOF_COLUMNS)).write_csv(target)
    return SampleResult(audit_id, source_id, version["version"], rows.len(),
                        population.len(), chosen_seed, due, target, warnings)


def _size_warnings(size: int, population: int, confidence: float,
                   max_rate: float) -> list[str]:
    notes = []
    if size > population:
        notes.append(f"the list has only {population:,} rows with a valid number: all are "
                     "asked for")
    elif bounds.fails(0, size, confidence, max_rate):
        least = bounds.sample_size(confidence, max_rate)
        notes.append(f"{size} rows cannot prove a failure rate of at most "
                     f"{max_rate:.1%} even if all are proven ({least} can): the audit will "
                     "fail; draw again without --size")
    return notes


# --- replies ---------------------------------------------------------------------------

@dataclass
class AnswerResult:
    audit_id: str
    recorded: int  # rows answered by this file
    already: int  # rows this file answers as they were answered before
    late: int  # rows answered after the audit was due: failures all the same
    status: dict[str, Any]


def _reply_text(path: Path) -> str:
    if not path.is_file():
        raise InputError("file not found", file=path)
    data = path.read_bytes()
    encoding = bom_encoding(data)
    if encoding:
        return data.decode(encoding, errors="replace")
    if b"\x00" in data:
        raise InputError("the file holds NUL bytes (not a CSV); save it again as CSV UTF-8",
                         file=path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _read_reply(path: Path) -> pl.DataFrame:
    """The supplier's reply: row (or phone), result, document, sha256; line = file line."""
    try:
        frame = pl.read_csv(_reply_text(path).encode(), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"cannot read as CSV ({str(exc).splitlines()[0]}); save it as CSV "
                         "with the header row,result,document,sha256", file=path) from None
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    if "result" not in frame.columns or not {"row", "phone"} & set(frame.columns):
        raise InputError("the reply needs the columns row (or phone) and result, and may "
                         "have document and sha256; found: " + ", ".join(frame.columns),
                         file=path, row=0)
    frame = frame.select(pl.col(c).str.strip_chars() for c in frame.columns)
    for optional in ("row", "phone", "document", "sha256"):
        if optional not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(optional))
    return frame.with_row_index("line", offset=2).with_columns(
        pl.col("result").str.to_lowercase(), pl.col("sha256").str.to_lowercase(),
        pl.when(pl.col("document") != "").then(pl.col("document")).alias("document"))


def _refuse(frame: pl.DataFrame, bad: pl.Expr, message: pl.Expr, path: Path) -> None:
    """The first line where `bad` holds is an error (nothing of the file is recorded)."""
    hit = frame.filter(bad.fill_null(True))
    if hit.height:
        line = hit["line"][0]
        raise InputError(f"line {line}: {hit.select(message)[0, 0]}", file=path)


def _audited_row(store: Store, audit: dict[str, Any], reply: pl.DataFrame,
                 jurisdiction: Jurisdiction) -> pl.DataFrame:
    """Each reply line with `_row`, the audited row it answers: by `row`, else by `phone`
    among the audited rows (a supplier may answer with the number it holds)."""
    asked = audit_store.audit_rows(store, audit["audit_id"]).implode()
    rows_file = source_store.rows_file(store, audit["source_id"], audit["source_version"])
    held = (pl.concat([b.filter(pl.col("row").is_in(asked)) for b in
                       source_store.version_batches(store, rows_file, ("row", "phone_key"),
                                                    BATCH_ROWS)])
            if rows_file else pl.DataFrame(schema={"row": pl.Int64, "phone_key": pl.Int64}))
    phones = normalise(reply["phone"].fill_null(""), jurisdiction)["phone"]
    by_phone = (reply.select("line").with_columns(
        phone_key(pl.lit(phones), strict=False).alias("phone_key"))
        .join(held.drop_nulls("phone_key").unique("phone_key", keep="first"),
              on="phone_key", how="left", maintain_order="left")["row"])
    by_row = reply["row"].cast(pl.Int64, strict=False)
    return reply.with_columns(
        pl.when(pl.col("row").is_not_null()).then(pl.lit(by_row)).otherwise(pl.lit(by_phone))
        .alias("_row"), pl.lit(by_row).is_in(asked).alias("_asked"),
        pl.lit(by_phone).alias("_by_phone"))


def _checked_reply(store: Store, audit: dict[str, Any], path: Path,
                   jurisdiction: Jurisdiction) -> pl.DataFrame:
    """The reply, each line checked: one error names the first wrong line and the fix."""
    reply = _audited_row(store, audit, _read_reply(path), jurisdiction)
    _refuse(reply, pl.col("row").is_null() & pl.col("phone").is_null(),
            pl.lit("give the row (or the phone) each answer is about"), path)
    _refuse(reply, pl.col("row").is_not_null() & ~pl.col("_asked"), pl.format(
        "row {} is not one of audit {}'s rows; answer the rows of its proof request",
        pl.col("row"), pl.lit(audit["audit_id"])), path)
    _refuse(reply, pl.col("_row").is_null(), pl.format(
        "phone {} is not one of audit {}'s rows; answer the rows of its proof request",
        pl.col("phone"), pl.lit(audit["audit_id"])), path)
    _refuse(reply, pl.col("row").is_not_null() & pl.col("phone").is_not_null()
            & (pl.col("_by_phone") != pl.col("_row")), pl.format(
                "row {} and phone {} are not the same row of the audit; correct one of them",
                pl.col("row"), pl.col("phone")), path)
    _refuse(reply, ~pl.col("result").is_in(RESULTS), pl.format(
        "result '{}' is not one of {}", pl.col("result").fill_null(""),
        pl.lit(", ".join(RESULTS))), path)
    _refuse(reply, (pl.col("result") == "ok") & pl.col("document").is_null(),
            pl.lit("an 'ok' needs the document that proves the consent (its name or "
                   "reference) in the column document"), path)
    _refuse(reply, pl.col("sha256").is_not_null() & ~pl.col("sha256").str.contains(
        "^[0-9a-f]{64}$"), pl.format("sha256 '{}' is not a SHA-256 (64 hex digits); copy it "
                                     "as the supplier sent it", pl.col("sha256")), path)
    twice = pl.col("_row").is_duplicated()
    _refuse(reply, twice, pl.format("row {} is answered twice in this file; keep one answer",
                                    pl.col("_row")), path)
    return reply


def answer(ws: Workspace, audit_id: str, path: Path,
           at: dt.datetime | None = None) -> AnswerResult:
    """Record the supplier's reply (all of it, or none if a line is wrong). A row answered
    before keeps its answer: the same answer again is no change, another one is refused
    (a reply is evidence). Returns the audit's status as of the reply."""
    zone = ws.config().jurisdiction.timezone_name
    answered_at = _check_at(at, "--at", zone)
    with Store(ws.store_path) as store:
        audit = audit_store.audit(store, audit_id)
        if audit is None:
            raise NotFound(f"no audit {audit_id}; see 'gatekeeper audit list'")
        reply = _checked_reply(store, audit, path, ws.config().jurisdiction)
        before = audit_store.answers_of(store, audit_id).select(
            pl.col("row").alias("_row"), pl.col("result").alias("_before"))
        reply = reply.join(before, on="_row", how="left", maintain_order="left")
        _refuse(reply, pl.col("_before").is_not_null() & (pl.col("_before") != pl.col(
            "result")), pl.format("row {} was already answered '{}'; a recorded answer is "
                                  "not changed (open a new audit to check it again)",
                                  pl.col("_row"), pl.col("_before")), path)
        new = reply.filter(pl.col("_before").is_null())
        if new.height:
            audit_store.add_answers(store, new.select(
                pl.lit(audit_id).alias("audit_id"), pl.col("_row").alias("row"), "result",
                "document", pl.col("sha256").alias("document_sha256"),
                pl.lit(answered_at).alias("answered_at"),
                pl.lit(sha256_file(path)).alias("reply_sha256"),
                pl.lit(now_utc()).alias("recorded_at")))
        late = new.height if answered_at >= _due_end(audit["due_on"], zone) else 0
        status = status_of(store, audit_id, answered_at, zone)
    return AnswerResult(audit_id, new.height, reply.height - new.height, late, status)


# --- verdicts ---------------------------------------------------------------------------

def _due_end(due_on: dt.date, zone: Zone) -> dt.datetime:
    """The first instant an audit is overdue: 00:00 local time the day after due_on."""
    return date_start_utc(due_on + dt.timedelta(days=1), zone)


def _verdict(audit: dict[str, Any], at: dt.datetime, zone: Zone) -> dict[str, Any]:
    """k, n, bound and verdict of one audit as of `at` (answers counted as of `at`)."""
    n, answered, failed = audit["n"], audit["answered"], audit["failed"]
    overdue = at >= _due_end(audit["due_on"], zone)
    k = failed + (n - answered if overdue else 0)
    if audit["kind"] == REQUEST:
        bound = None
        verdict = "failed" if k else ("passed" if answered == n else "open")
    else:
        bound = bounds.upper_bound(k, n, audit["confidence"]) if n else 1.0
        verdict = ("failed" if not n or bound > audit["max_rate"] else
                   "passed" if answered == n or overdue else "open")
    return {**audit, "k": k, "bound": bound, "verdict": verdict, "overdue": overdue}


def statuses(store: Store, at: dt.datetime, zone: Zone) -> pl.DataFrame:
    """Every audit created at or before `at`, with k, n, bound and verdict as of `at`.
    Answers count only when received by the end of the due day."""
    audits = audit_store.audits_until(store, at)
    due_ends = pl.Series("due_end", [_due_end(d, zone) for d in audits["due_on"]],  # per audit
                         dtype=pl.Datetime("us"))
    on_time = audit_store.answers_until(store, at).join(
        audits.select("audit_id").with_columns(due_ends), on="audit_id").with_columns(
        (pl.col("answered_at") < pl.col("due_end")).alias("on_time"))
    counts = on_time.group_by("audit_id").agg(
        pl.col("on_time").sum().alias("answered"),
        (pl.col("on_time") & (pl.col("result") != "ok")).sum().alias("failed"),
        (~pl.col("on_time")).sum().alias("late"))
    joined = audits.join(counts, on="audit_id", how="left", maintain_order="left").with_columns(
        pl.col("answered", "failed", "late").fill_null(0).cast(pl.Int64))
    rows = [_verdict(a, at, zone) for a in joined.to_dicts()]  # one per audit, never per list row
    return pl.DataFrame(rows, schema={**joined.schema, "k": pl.Int64, "bound": pl.Float64,
                                      "verdict": pl.String, "overdue": pl.Boolean})


def status_of(store: Store, audit_id: str, at: dt.datetime, zone: Zone) -> dict[str, Any]:
    found = statuses(store, at, zone).filter(pl.col("audit_id") == audit_id)
    if found.is_empty():
        raise InputError(f"audit {audit_id} was drawn after {local_words(at, zone)}; give a "
                         "later --at")
    return found.to_dicts()[0]


VERDICT_SCHEMA = {"source_id": pl.String, "source_version": pl.Int32, "audit_id": pl.String,
                  "audit_k": pl.Int64, "audit_n": pl.Int64, "audit_bound": pl.Float64,
                  "audit_verdict": pl.String, "audit_due_on": pl.Date}


def latest_verdicts(store: Store, at: dt.datetime, zone: Zone) -> pl.DataFrame:
    """Per source version, its latest sample audit (drawn at or before `at`) as of `at`."""
    found = statuses(store, at, zone).filter(pl.col("kind") == SAMPLE)
    if found.is_empty():
        return pl.DataFrame(schema=VERDICT_SCHEMA)
    return found.group_by("source_id", "source_version", maintain_order=True).last().select(
        "source_id", "source_version", "audit_id", pl.col("k").alias("audit_k"),
        pl.col("n").alias("audit_n"), pl.col("bound").alias("audit_bound"),
        pl.col("verdict").alias("audit_verdict"), pl.col("due_on").alias("audit_due_on")
    ).cast(VERDICT_SCHEMA)  # type: ignore[arg-type]


# --- complaints and rights requests -------------------------------------------------------

def open_proof_requests(store: Store, phone: str, ref: str, received: dt.date,
                        days: int, zone: Zone) -> pl.DataFrame:
    """A complaint or rights request about a number held from a third_party list asks its
    supplier for the proof of that row's consent (one row per list, its first). Logged
    once per request reference; returns the proof requests it has."""
    opened = audit_store.requests_of(store, ref)
    if opened.height:
        return opened
    rows = source_store.rows_of_phone(store, phone, newest_only=True)
    versions = source_store.newest_versions(store).filter(pl.col("kind") == "third_party")
    held = (rows.join(versions.select("source_id", pl.col("version").alias("source_version"),
                                      "supplier_id"), on=["source_id", "source_version"])
            .sort("source_id", "row").unique("source_id", keep="first", maintain_order=True))
    for source in held.to_dicts():  # one per list holding the number: a handful at most
        audit_store.add_audit(store, {
            "audit_id": audit_store.next_audit_id(store), "kind": REQUEST,
            "source_id": source["source_id"], "source_version": source["source_version"],
            "supplier_id": source["supplier_id"], "created_at": date_start_utc(received, zone),
            "due_on": received + dt.timedelta(days=days), "size": 1,
            "request_ref": ref, "recorded_at": now_utc()},
            pl.Series([source["row"]], dtype=pl.Int64))
    return audit_store.requests_of(store, ref)
