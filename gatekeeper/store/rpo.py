"""Register evidence: exchanges (with their files kept byte for byte), checks and web jobs.

The RPO's tables hold every register's answers (Bloctel, the Lista Robinson, TPS/CTPS):
a number belongs to one country, so its checks come from its country's register alone,
and an exchange records which register it asked (`register`, the code of
`--register NAME`) and what its answer file listed (`answer`: "kept" or "registered").

Every answer is kept as evidence (number, when checked, registered or not, which exchange
and the sha256 of the files it came from) for five years (telemarketing code of conduct,
GU 27/3/2024), so `audit verify` can re-derive each check from its files.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import StoreError
from gatekeeper.intake.normalise import phone_of_key
from gatekeeper.store import RESTORE_HINT, Store
from gatekeeper.store.evidence import keep_file
from gatekeeper.store.sources import newest_keys

EXCHANGE_COLUMNS = ("exchange_id", "adapter", "request_file", "request_sha256",
                    "response_file", "response_sha256", "checked_at", "imported_at",
                    "numbers", "registered", "register", "answer")


CHECKS_DIR = "checks"  # one Parquet file of checks per exchange
STATUS_DIR = "status"  # the register status per number (one file, replaced at each import)
CHECK_COLUMNS = ("phone_key", "registered", "registered_at")
_AT = pl.Datetime("us")
CHECK_SCHEMA = pl.Schema({"phone_key": pl.Int64(), "registered": pl.Boolean(),
                          "registered_at": _AT})
SUMMARY_SCHEMA = pl.Schema({
    "phone_key": pl.Int64(), "rpo_checked_at": _AT, "newest_registered": _AT,
    "newest_not_registered": _AT, "adapter_date": _AT, "first_registered": _AT,
    "adapter_date_since": _AT, "first_registered_since": _AT})


def candidate_keys(store: Store, region: str, types: Sequence[str], *,
                   distinct: bool = True) -> pl.Series:
    """Valid numbers of the region and dialable types in the newest version of every
    source, not erased (integer keys, in no order; each once, or as often as the lists
    hold it): what a register check is bought for. Read as integers from the rows files:
    no DISTINCT of 9.5M strings."""
    keys = newest_keys(store, region, types, distinct=distinct)
    erased = store.frame("SELECT DISTINCT CAST(substr(phone, 2) AS BIGINT) AS phone_key "
                         "FROM erasures")["phone_key"]
    if erased.len():
        keys = keys.filter(~keys.is_in(erased.implode()))
    return keys


def _phones(keys: pl.Series) -> pl.DataFrame:
    """Keys as E.164 numbers (phone, phone_key), in text order."""
    return keys.to_frame("phone_key").select(
        phone_of_key(pl.col("phone_key")).alias("phone"), "phone_key"
    ).sort("phone")


def candidates(store: Store, region: str, types: Sequence[str]) -> pl.DataFrame:
    """The candidates (candidate_keys) as E.164 numbers (phone), in text order."""
    return _phones(candidate_keys(store, region, types)).select("phone")


def keys_needing_check(store: Store, as_of: dt.datetime, validity_days: int,
                       region: str, types: Sequence[str]) -> pl.Series:
    """Candidates with no result still valid at as_of (never pay twice for a number), as
    keys in no order, as often as the lists hold them (a request sorts and writes each
    once)."""
    keys = candidate_keys(store, region, types, distinct=False)
    valid = checked_between(store, as_of - dt.timedelta(days=validity_days), as_of)
    return keys.filter(~keys.is_in(valid.implode())) if valid.len() else keys


def numbers_needing_check(store: Store, as_of: dt.datetime, validity_days: int,
                          region: str, types: Sequence[str]) -> pl.DataFrame:
    """The same numbers, each once (phone, phone_key), in text order."""
    return _phones(keys_needing_check(store, as_of, validity_days, region, types).unique())


def checked_between(store: Store, after: dt.datetime, until: dt.datetime) -> pl.Series:
    """Keys of the numbers with a check in (after, until]: from the kept status when it
    covers no check later than `until`, else from the exchanges' files."""
    kept = _status_record(store)
    if kept is not None and kept[1] <= until:
        status = pl.scan_parquet(store.file_path(kept[0]))
        return status.filter(pl.col("rpo_checked_at") > after).select("phone_key").collect(
            )["phone_key"]
    files = _exchange_files(store, "checked_at > ? AND checked_at <= ?", [after, until])
    if not files:
        return pl.Series("phone_key", [], pl.Int64)
    return pl.concat([pl.scan_parquet(store.file_path(f)).select("phone_key")
                      for f, _ in files]).unique().collect()["phone_key"]


REQUESTS_DIR = "requests"  # the keys of each request written, by the request's sha256
KEPT_REQUESTS = 3


def keep_request_keys(store: Store, request_sha: str, keys: pl.Series) -> None:
    """The keys a request was written from, in its line order, found again by the
    request's sha256 when its answer is imported (reading 9.5M lines back costs ~5 s).
    Not evidence and not in the catalog: the newest few are kept, an erasure or a purge
    drops them all (they hold numbers), and an import without one reads the file."""
    folder = store.folder / REQUESTS_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = folder / f".{request_sha}.tmp-{os.getpid()}"
    keys.rename("phone_key").to_frame().write_parquet(tmp, compression="zstd",
                                                      compression_level=1)
    os.chmod(tmp, 0o600)
    os.replace(tmp, folder / f"{request_sha}.parquet")
    kept = sorted(folder.glob("*.parquet"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[KEPT_REQUESTS:]:
        old.unlink(missing_ok=True)


def request_keys(store: Store, request_sha: str) -> pl.Series | None:
    """The keys kept for the request with this sha256, or None."""
    path = store.folder / REQUESTS_DIR / f"{request_sha}.parquet"
    try:
        return pl.read_parquet(path)["phone_key"]
    except (OSError, pl.exceptions.PolarsError):  # none kept, or damaged: read the file
        return None


def forget_requests(store: Store) -> None:
    """Drop every request's kept keys (an erasure or a purge: they hold numbers)."""
    shutil.rmtree(store.folder / REQUESTS_DIR, ignore_errors=True)


def exchange(store: Store, exchange_id: str) -> tuple[dt.datetime, int, int] | None:
    """(checked_at, numbers, registered) of a recorded exchange, or None."""
    row = store.one("SELECT checked_at, numbers, registered FROM rpo_exchanges "
                    "WHERE exchange_id = ?", [exchange_id])
    return None if row is None else (row[0], int(row[1]), int(row[2]))


def exchange_of_files(store: Store, request_sha: str, response_sha: str,
                      answer: str = "kept") -> tuple[str, dt.datetime, int, int] | None:
    """The latest exchange recorded from these two files read so, or None."""
    row = store.one("SELECT exchange_id, checked_at, numbers, registered FROM rpo_exchanges "
                    "WHERE request_sha256 = ? AND response_sha256 = ? AND answer = ? "
                    "ORDER BY checked_at DESC LIMIT 1", [request_sha, response_sha, answer])
    return None if row is None else (row[0], row[1], int(row[2]), int(row[3]))


def record_exchange(store: Store, record: dict[str, Any], checks: pl.DataFrame,
                    files: Sequence[tuple[Path | bytes, str, str | None]] = ()) -> None:
    """One exchange, its checks (phone_key, registered, registered_at; one per number) and
    its files (path or bytes, kind, sha256 if known), in one transaction; the register
    status is brought up to date in the same one."""
    with store.transaction():
        for source, kind, digest in files:
            keep_file(store, source, kind, digest)
        store.con.execute(
            f"INSERT INTO rpo_exchanges ({', '.join(EXCHANGE_COLUMNS)}) VALUES "
            f"({', '.join('?' for _ in EXCHANGE_COLUMNS)})",
            [record[c] for c in EXCHANGE_COLUMNS])
        sorted_checks = checks.select(CHECK_COLUMNS).sort("phone_key")
        keys = sorted_checks["phone_key"]
        if keys.len() > 1 and not bool((keys.diff().slice(1) > 0).all()):
            # One answer per number and exchange; a number twice is registered if either
            # answer says so (fail closed), as the old table of checks was read.
            sorted_checks = sorted_checks.group_by("phone_key", maintain_order=True).agg(
                pl.col("registered").any(), pl.col("registered_at").max())
        write_checks(store, record["exchange_id"], sorted_checks)
        retired = _merge_status(store, record["checked_at"], sorted_checks)
    store.remove_file(retired)


def write_checks(store: Store, exchange_id: str, checks: pl.DataFrame) -> None:
    """An exchange's checks (sorted by number) as its immutable Parquet file, recorded on
    its row: a lookup of one number reads a row group, a run never reads them at all."""
    frame = checks.select(pl.col(c).cast(t) for c, t in CHECK_SCHEMA.items())
    relative, digest = store.write_file(
        CHECKS_DIR, exchange_id, lambda path: frame.write_parquet(
            path, compression="zstd", compression_level=1, statistics=True,
            row_group_size=100_000))
    store.con.execute("UPDATE rpo_exchanges SET checks_file = ?, checks_sha256 = ? "
                      "WHERE exchange_id = ?", [relative, digest, exchange_id])


# --- the register status per number -------------------------------------------------------
#
# What every check up to a moment says of a number, summed up: the newest check, the newest
# "registered" and "not registered" answers, the adapter's date and the first "registered"
# answer, overall and since the newest "not registered" one (the columns
# policy/registration.py reasons on). Aggregation only, no law: what the answers prove is
# registration.py's. Kept as one file sorted by number and merged with each new exchange,
# so a run reads 9.5M rows instead of grouping every check ever made (7.8 CPU-s at 10M).

def _status_record(store: Store) -> tuple[str, dt.datetime, int] | None:
    """(file, newest check time it covers, exchanges it covers) of the kept status."""
    row = store.one("SELECT status_file, through, exchanges FROM register_status")
    return None if row is None else (str(row[0]), row[1], int(row[2]))


def _exchange_files(store: Store, where: str, params: list[Any]
                    ) -> list[tuple[str, dt.datetime]]:
    """(checks file, checked_at) of the exchanges matching `where`, oldest first."""
    return [(str(r[0]), r[1]) for r in store.con.execute(
        f"SELECT checks_file, checked_at FROM rpo_exchanges WHERE checks_file IS NOT NULL "
        f"AND {where} ORDER BY checked_at, exchange_id", params).fetchall()]


def _exchange_count(store: Store) -> int:
    """How many exchanges have a checks file (what the kept status must cover)."""
    return int(store.scalar("SELECT count(*) FROM rpo_exchanges WHERE checks_file IS NOT NULL"))


def _all_checks(store: Store, files: list[tuple[str, dt.datetime]],
                key: int | None = None) -> pl.LazyFrame:
    """Every check of the files (of one number's key, if given), with its check time."""
    parts = [pl.scan_parquet(store.file_path(f)).with_columns(
        pl.lit(at, _AT).alias("checked_at")) for f, at in files]
    checks = pl.concat(parts) if parts else pl.LazyFrame(
        schema={**CHECK_SCHEMA, "checked_at": _AT})
    return checks if key is None else checks.filter(pl.col("phone_key") == key)


def summarise(checks: pl.LazyFrame) -> pl.DataFrame:
    """The status of every number from all its checks (phone_key, checked_at, registered,
    registered_at), sorted by number."""
    reg, at = pl.col("registered"), pl.col("checked_at")
    agg = checks.group_by("phone_key").agg(
        at.max().alias("rpo_checked_at"),
        at.filter(reg).max().alias("newest_registered"),
        at.filter(~reg).max().alias("newest_not_registered"),
        pl.col("registered_at").filter(reg).max().alias("adapter_date"),
        at.filter(reg).min().alias("first_registered"))
    # The "registered" answers after the newest "not registered" one: only a number
    # registered again after leaving has any, so the second pass reads only those.
    again = agg.filter(pl.col("newest_registered") > pl.col("newest_not_registered")
                       ).select("phone_key", "newest_not_registered")
    since = checks.join(again, on="phone_key").filter(
        reg & (at > pl.col("newest_not_registered"))).group_by("phone_key").agg(
        pl.col("registered_at").max().alias("adapter_date_since"),
        at.min().alias("first_registered_since"))
    return agg.join(since, on="phone_key", how="left").sort("phone_key").select(
        pl.col(c).cast(t) for c, t in SUMMARY_SCHEMA.items()).collect()


def merged(old: pl.DataFrame, checks: pl.DataFrame, at: dt.datetime) -> pl.DataFrame:
    """The status after one more exchange at `at`, no earlier than any check `old` covers
    (checks: phone_key, registered, registered_at; one per number): what summarise gives
    over every check, computed from the old status alone (a test holds the two equal)."""
    t = pl.lit(at, _AT)
    if old.is_empty():  # the first exchange: its answers are the status
        reg = pl.col("registered")
        return checks.select(
            "phone_key", t.alias("rpo_checked_at"),
            pl.when(reg).then(t).alias("newest_registered"),
            pl.when(~reg).then(t).alias("newest_not_registered"),
            pl.when(reg).then(pl.col("registered_at")).alias("adapter_date"),
            pl.when(reg).then(t).alias("first_registered"),
            pl.lit(None, _AT).alias("adapter_date_since"),
            pl.lit(None, _AT).alias("first_registered_since"),
        ).select(pl.col(c).cast(t) for c, t in SUMMARY_SCHEMA.items())
    # Both sorted by number: every number once, then two left joins that polars does as
    # sorted merges (9.5M and 9.5M: 3.5 s as one full join -> 0.7 s).
    old, checks = _by_number(old), _by_number(checks)
    every = old.select("phone_key").merge_sorted(checks.select("phone_key"), "phone_key")
    every = _by_number(every.filter(pl.col("phone_key") != pl.col("phone_key").shift(1)
                                    .fill_null(-1)))
    both = every.join(old, on="phone_key", how="left", maintain_order="left").with_columns(
        pl.col("phone_key").set_sorted()).join(checks, on="phone_key", how="left",
                                                maintain_order="left")
    reg = pl.col("registered").fill_null(False)
    unreg = (~pl.col("registered")).fill_null(False)
    nnr = pl.col("newest_not_registered")
    # Registered answers after the newest "not registered" one existed before this one.
    had_since = (pl.col("newest_registered") > nnr).fill_null(False)
    starts_since = reg & (t > nnr).fill_null(False)
    return both.select(
        "phone_key",
        pl.max_horizontal("rpo_checked_at", pl.when(pl.col("registered").is_not_null())
                          .then(t)).alias("rpo_checked_at"),
        pl.when(reg).then(t).otherwise(pl.col("newest_registered")).alias("newest_registered"),
        pl.when(unreg).then(t).otherwise(nnr).alias("newest_not_registered"),
        pl.when(reg).then(pl.max_horizontal("adapter_date", "registered_at"))
        .otherwise(pl.col("adapter_date")).alias("adapter_date"),
        pl.when(reg).then(pl.min_horizontal("first_registered", t))
        .otherwise(pl.col("first_registered")).alias("first_registered"),
        pl.when(starts_since & had_since)
        .then(pl.max_horizontal("adapter_date_since", "registered_at"))
        .when(starts_since).then(pl.col("registered_at"))
        .when(reg | unreg).then(None)
        .otherwise(pl.col("adapter_date_since")).alias("adapter_date_since"),
        pl.when(starts_since & had_since).then(pl.col("first_registered_since"))
        .when(starts_since).then(t)
        .when(reg | unreg).then(None)
        .otherwise(pl.col("first_registered_since")).alias("first_registered_since"),
    ).select(pl.col(c).cast(t) for c, t in SUMMARY_SCHEMA.items())  # in number order


def _by_number(frame: pl.DataFrame) -> pl.DataFrame:
    """frame with its phone_key marked sorted, once it is proven strictly increasing (a
    sorted merge of unsorted keys would pair the wrong numbers, silently)."""
    keys = frame["phone_key"]
    if keys.len() > 1 and not bool((keys.diff().slice(1) > 0).all()):
        raise StoreError("the register status or an exchange's checks are out of number "
                         f"order; {RESTORE_HINT}")
    return frame.with_columns(pl.col("phone_key").set_sorted())


def _set_status(store: Store, summary: pl.DataFrame, through: dt.datetime) -> str | None:
    """Record a new status file; returns the old one's path, to delete after the commit
    (None when the new one has the same bytes, hence the same name)."""
    old = _status_record(store)
    relative, digest = store.write_file(
        STATUS_DIR, "status", lambda path: summary.write_parquet(
            path, compression="zstd", compression_level=1, statistics=True,
            row_group_size=100_000))
    count = _exchange_count(store)
    store.con.execute("DELETE FROM register_status")
    store.con.execute("INSERT INTO register_status VALUES (?, ?, ?, ?)",
                      [relative, digest, through, count])
    return old[0] if old and old[0] != relative else None


def _merge_status(store: Store, at: dt.datetime, checks: pl.DataFrame) -> str | None:
    """The status with a new exchange's checks (already recorded): merged when no check
    kept is later (the usual import), else summed up again from every exchange."""
    kept = _status_record(store)
    others = _exchange_count(store)
    if kept is not None and kept[1] <= at and kept[2] == others - 1:
        old = pl.read_parquet(store.file_path(kept[0]))
        return _set_status(store, merged(old, checks, at), at)
    if kept is None and others == 1:
        return _set_status(store, merged(pl.DataFrame(schema=SUMMARY_SCHEMA), checks, at), at)
    return rebuild_status(store)


def rebuild_status(store: Store) -> str | None:
    """The status summed up again from every exchange's checks (a backdated import, the
    migration, purge); returns the old file, to delete after the commit."""
    files = _exchange_files(store, "TRUE", [])
    if not files:
        old = _status_record(store)
        store.con.execute("DELETE FROM register_status")
        return old[0] if old else None
    return _set_status(store, summarise(_all_checks(store, files)), max(at for _, at in files))


def check_summary(store: Store, as_of: dt.datetime, phone: str | None = None
                  ) -> pl.DataFrame:
    """Per number (or for one), its checks up to as_of summed up (SUMMARY_SCHEMA; one
    number also by phone): the kept status when it covers no later check, else summed up
    from the files of the exchanges up to as_of (a run replayed at an earlier date)."""
    key = None if phone is None else int(phone.removeprefix("+"))
    kept = _status_record(store)
    if kept is not None and kept[1] <= as_of:
        status = pl.scan_parquet(store.file_path(kept[0]))
        summary = (status if key is None else status.filter(pl.col("phone_key") == key)
                   ).collect()
    else:
        files = _exchange_files(store, "checked_at <= ?", [as_of])
        summary = summarise(_all_checks(store, files, key))
    if phone is None:
        return summary
    return summary.select(pl.lit(phone).alias("phone"), pl.all())


def status_problems(store: Store) -> list[str]:
    """What is wrong with the kept status: its file altered, or not what the exchanges'
    checks sum up to (audit verify; a status edited to "not registered" would list a
    registered number)."""
    kept = store.one("SELECT status_file, status_sha256, through FROM register_status")
    files = _exchange_files(store, "TRUE", [])
    if kept is None:
        return ["the register status is missing; run 'gatekeeper rpo import' of any answer, "
                "or restore data/store from a backup"] if files else []
    path = store.file_path(str(kept[0]))
    if not path.is_file() or sha256_file(path) != kept[1]:
        return ["the register status file is missing or was altered; restore data/store "
                "from a backup"]
    if not pl.read_parquet(path).equals(summarise(_all_checks(store, files))):
        return ["the register status is not what the exchanges' checks say; the store "
                "was edited"]
    return []


def exchanges_until(store: Store, as_of: dt.datetime) -> list[str]:
    """Ids of every RPO exchange a run at as_of may rely on (its evidence trail)."""
    frame = store.frame("SELECT exchange_id FROM rpo_exchanges WHERE checked_at <= ? "
                        "ORDER BY exchange_id", [as_of])
    return frame["exchange_id"].to_list()


def checks_of(store: Store, phone: str) -> pl.DataFrame:
    """Every check of one number, with the adapter that made it and the register it asked
    by the name people know it by ("Bloctel"), so a disclosure says which register
    answered (disclosure)."""
    from gatekeeper.jurisdictions import JURISDICTIONS

    names = {r.code: r.name for j in JURISDICTIONS.values() for r in j.registers}
    exchanges = store.frame(
        "SELECT exchange_id, checks_file, checked_at, adapter, coalesce(register, 'rpo') AS "
        "register FROM rpo_exchanges WHERE checks_file IS NOT NULL")
    key = int(phone.removeprefix("+"))
    found = [pl.scan_parquet(store.file_path(f)).filter(pl.col("phone_key") == key).select(
        pl.lit(at, _AT).alias("checked_at"), "registered", "registered_at",
        pl.lit(e).alias("exchange_id"), pl.lit(a).alias("adapter"),
        pl.lit(r).alias("register"))
        for e, f, at, a, r in exchanges.iter_rows()]
    checks = pl.concat(found).collect() if found else pl.DataFrame(schema={
        "checked_at": _AT, "registered": pl.Boolean, "registered_at": _AT,
        "exchange_id": pl.String, "adapter": pl.String, "register": pl.String})
    return checks.sort("checked_at", "exchange_id").with_columns(
        pl.col("register").replace(names))


def every_check(store: Store) -> pl.DataFrame:
    """Every check of every exchange (phone, checked_at, registered, registered_at,
    exchange_id), by exchange and number: for a person or a test looking at the evidence
    whole; a run reads the status instead."""
    exchanges = store.frame("SELECT exchange_id, checks_file, checked_at FROM rpo_exchanges "
                            "WHERE checks_file IS NOT NULL ORDER BY checked_at, exchange_id")
    parts = [pl.scan_parquet(store.file_path(f)).select(
        phone_of_key(pl.col("phone_key")).alias("phone"),
        pl.lit(at, _AT).alias("checked_at"), "registered", "registered_at",
        pl.lit(e).alias("exchange_id")) for e, f, at in exchanges.iter_rows()]
    return pl.concat(parts).collect() if parts else pl.DataFrame(schema={
        "phone": pl.String, "checked_at": _AT, "registered": pl.Boolean,
        "registered_at": _AT, "exchange_id": pl.String})


def all_exchanges(store: Store) -> pl.DataFrame:
    """Every exchange record (audit, anchors)."""
    return store.frame(f"SELECT {', '.join(EXCHANGE_COLUMNS)} FROM rpo_exchanges "
                       "ORDER BY checked_at, exchange_id")


def checks_of_exchange(store: Store, exchange_id: str) -> pl.DataFrame | None:
    """phone, registered, checked_at of one exchange (audit re-derives them), or None when
    its checks file is missing or no longer has the sha256 recorded."""
    row = store.one("SELECT checks_file, checks_sha256, checked_at FROM rpo_exchanges WHERE "
                    "exchange_id = ?", [exchange_id])
    if row is None or row[0] is None:
        return None
    path = store.file_path(str(row[0]))
    if not path.is_file() or sha256_file(path) != row[1]:
        return None
    return pl.read_parquet(path).select(
        phone_of_key(pl.col("phone_key")).alias("phone"), "registered",
        pl.lit(row[2], _AT).alias("checked_at"))


def checks_before(store: Store, cutoff: dt.datetime) -> int:
    """How many checks the exchanges older than cutoff hold (what purge would delete)."""
    return int(store.scalar("SELECT coalesce(sum(numbers), 0) FROM rpo_exchanges WHERE "
                            "checked_at < ?", [cutoff]))


def purge_before(store: Store, cutoff: dt.datetime) -> list[str]:
    """Delete the exchanges older than cutoff, with their checks, and sum the status up
    again from what is left (call inside a transaction); returns the files to delete once
    it commits."""
    retired = [str(r[0]) for r in store.con.execute(
        "SELECT checks_file FROM rpo_exchanges WHERE checked_at < ? AND checks_file IS NOT "
        "NULL", [cutoff]).fetchall()]
    if not retired and not store.one("SELECT 1 FROM rpo_exchanges WHERE checked_at < ?",
                                     [cutoff]):
        return []
    store.con.execute("DELETE FROM rpo_exchanges WHERE checked_at < ?", [cutoff])
    old_status = rebuild_status(store)
    return retired + ([old_status] if old_status else [])


# --- the web service's jobs (persisted so a crash resumes, never re-buys) ------------------

def numbers_in_open_jobs(store: Store) -> pl.DataFrame:
    return store.frame("SELECT DISTINCT n.phone FROM rpo_job_numbers n JOIN rpo_jobs j "
                       "USING (batch_key) WHERE j.state <> 'done'")


def add_job(store: Store, key: str, base_url: str, numbers: pl.Series,
            at: dt.datetime) -> None:
    store.con.execute("INSERT INTO rpo_jobs VALUES (?,?,?,?,?,?,?,?)",
                      [key, base_url, None, "submitting", numbers.len(), at, None, None])
    store.insert_frame("rpo_job_numbers", pl.DataFrame(
        {"batch_key": [key] * numbers.len(), "phone": numbers}))


def jobs(store: Store, base_url: str, states: Sequence[str]
         ) -> list[tuple[str, str | None, int]]:
    """(batch key, job id, numbers) of the jobs at base_url in these states, oldest first."""
    return [(r[0], r[1], int(r[2])) for r in store.con.execute(
        "SELECT batch_key, job_id, numbers FROM rpo_jobs WHERE base_url = ? "
        "AND list_contains(?, state) ORDER BY created_at, batch_key",
        [base_url, list(states)]).fetchall()]


def job_numbers(store: Store, key: str) -> pl.Series:
    return store.frame("SELECT phone FROM rpo_job_numbers WHERE batch_key = ? ORDER BY phone",
                       [key])["phone"]


def job_submitted(store: Store, key: str, job_id: str, at: dt.datetime) -> None:
    store.con.execute("UPDATE rpo_jobs SET job_id = ?, state = 'submitted', submitted_at = ? "
                      "WHERE batch_key = ?", [job_id, at, key])


def job_done(store: Store, key: str, exchange_id: str) -> None:
    store.con.execute("UPDATE rpo_jobs SET state = 'done', exchange_id = ? "
                      "WHERE batch_key = ?", [exchange_id, key])
