"""Do-not-call registers (Italy's RPO, France's Bloctel, Spain's Lista Robinson, the UK's
TPS/CTPS): what needs checking, and what they answered.

Every answer is kept as evidence (number, when checked, registered or not, which
exchange and its sha256) for five years (telemarketing code of conduct, GU 27/3/2024).
Adapters only differ in how they obtain answers: `record_checks` is where every adapter's
results land, so the file round trip and a web service produce the same rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import InputError, RegistryError
from gatekeeper.core.outfile import output_path
from gatekeeper.core.progress import Progress
from gatekeeper.core.timeutil import iso, local_words, now_utc
from gatekeeper.decide.policy import registration
from gatekeeper.intake.normalise import phone_key, phone_of_key
from gatekeeper.jurisdictions import JURISDICTIONS, Jurisdiction, Register
from gatekeeper.registers.numbers import (
    fast_keys,
    numbers,
    read_lines,
    refuse_foreign,
    refuse_invalid,
)
from gatekeeper.store import Store
from gatekeeper.store import rpo as rpo_store
from gatekeeper.store.sources import newest_keys

# What an exchange's answer file lists: the numbers kept (not registered) or registered.
ANSWERS = ("kept", "registered")
CHECK_SCHEMA = {"phone": pl.String, "registered": pl.Boolean, "registered_at": pl.Datetime("us")}


@dataclass(frozen=True)
class ImportResult:
    exchange_id: str
    checked_at: dt.datetime
    numbers: int
    registered: int
    already_imported: bool = False
    ignored: int = 0
    # What to do with the answers (next_steps.py): a field, so a web page's copy of the
    # result (dataclass fields as JSON) carries it too.
    next_steps: list[str] = field(default_factory=list, compare=False)

    def __post_init__(self) -> None:
        from gatekeeper.next_steps import after_register

        if not self.next_steps:
            object.__setattr__(self, "next_steps", after_register(self.numbers))


def numbers_needing_check(store: Store, as_of: dt.datetime, validity_days: int,
                          jurisdiction: Jurisdiction) -> pl.DataFrame:
    """Numbers with no register result still valid at as_of (never pay twice for one):
    the jurisdiction's callable numbers of the newest lists, not erased."""
    return rpo_store.numbers_needing_check(store, as_of, validity_days, jurisdiction.region,
                                           jurisdiction.dialable_types)


def candidates(store: Store, jurisdiction: Jurisdiction) -> int:
    """How many numbers a register check covers now (the web check's saving is counted
    on it)."""
    return rpo_store.candidates(store, jurisdiction.region, jurisdiction.dialable_types).height


def _request_lines(keys: pl.Series, jurisdiction: Jurisdiction) -> pl.DataFrame:
    """The numbers (keys) one a line in national form, as a request is written: the
    digits after the calling code, behind the trunk prefix."""
    cc = len(str(jurisdiction.calling_code))
    return keys.to_frame("phone_key").select(
        (pl.lit(jurisdiction.trunk_prefix) + pl.col("phone_key").cast(pl.String).str.slice(cc))
        .alias("phone"))


def write_request(store: Store, out: Path, as_of: dt.datetime, validity_days: int,
                  jurisdiction: Jurisdiction) -> int:
    """Write the numbers that need a check, one national number per line (the register's
    format), each once, in text order (the same numbers always make the same file);
    returns how many. The keys are kept by the file's sha256, so its answer's import need
    not read the numbers back (rpo_store.keep_request_keys).

    Sorted as the lines they are, not as E.164 text first: the same order (one country,
    one prefix), one string sort of 9.5M instead of two passes (2.0 -> ~1.2 CPU-s)."""
    keys = rpo_store.keys_needing_check(store, as_of, validity_days, jurisdiction.region,
                                        jurisdiction.dialable_types)
    lines = keys.to_frame("phone_key").with_columns(
        _request_lines(keys, jurisdiction)["phone"]).sort("phone")
    lines = lines.filter(pl.col("phone") != pl.col("phone").shift(1).fill_null(""))
    output_path(out, make_folder=True)
    try:
        lines.select("phone").write_csv(out, include_header=False)
    except OSError as exc:
        raise InputError(f"cannot be written ({exc.strerror}); choose another --out",
                         file=out) from None
    with contextlib.suppress(OSError):  # a speed-up only: the import reads the file without
        rpo_store.keep_request_keys(store, sha256_file(out), lines["phone_key"])
    return lines.height


def country_of(register: str) -> tuple[Jurisdiction, Register]:
    """The country and register of a register code, whatever the workspace calls now: an
    exchange recorded when France was called is proven again after it no longer is."""
    for j in JURISDICTIONS.values():
        for r in j.registers:
            if r.code == register:
                return j, r
    raise RegistryError(f"register '{register}' is unknown to this gatekeeper; upgrade it")


def _asked(request: Path, jurisdiction: Jurisdiction, register: Register,
           known: Callable[[], pl.Series] | None = None, kept: pl.Series | None = None,
           request_sha: str | None = None) -> pl.Series:
    """The request's numbers as keys, each once, sorted: every line a real number of the
    register's country, or the import stops at that line.

    `kept`: the keys Gatekeeper wrote the request from (write_request), taken when they
    spell the file's very bytes (its sha256), so 9.5M lines are not read back (~5 CPU-s).
    `known`: the keys of the numbers the store's lists hold as valid numbers of the
    country (asked for only when needed). A line that spells one of them was proven valid
    by libphonenumber when its list was loaded, so only the other lines go through it
    again: a request edited by hand is read line by line only where it differs."""
    if kept is not None and request_sha is not None and hashlib.sha256(
            _request_lines(kept, jurisdiction).write_csv(include_header=False).encode()
    ).hexdigest() == request_sha:
        keys = kept
    else:
        lines = read_lines(request, "request", register)
        valid = known() if known is not None else None
        if valid is None or not valid.len():
            read = numbers(lines, jurisdiction, valid_only=True)
        else:
            key = fast_keys(lines, jurisdiction)
            ours = key.is_in(valid.implode()).fill_null(False)
            done = lines.filter(ours).with_columns(
                (pl.lit("+") + key.filter(ours).cast(pl.String)).alias("phone"),
                pl.lit(None, pl.String).alias("region"))
            rest = lines.filter(~ours)
            read = done if not rest.height else pl.concat(
                [done, numbers(rest, jurisdiction, valid_only=True)]).sort("line")
        refuse_invalid(read, request, register)
        refuse_foreign(read, request, jurisdiction, register)
        keys = read.select(phone_key(pl.col("phone")))["phone"]
    keys = keys.sort()
    if keys.len() > 1 and not bool((keys.diff().slice(1) > 0).all()):  # a number twice
        keys = keys.unique(maintain_order=True)
    return keys.rename("key").set_sorted()


def _member(values: pl.Series, keys: pl.Series) -> pl.Series:
    """Whether each of values (sorted) is one of keys (sorted): two sorted runs searched
    in step, ~3x cheaper than hashing 9.5M keys to look 7M values up (is_in)."""
    if not keys.len():
        return pl.Series([False] * values.len(), dtype=pl.Boolean)
    at = keys.search_sorted(values).clip(0, keys.len() - 1)
    return (keys.gather(at) == values).fill_null(False)


def _listed(asked: pl.Series, response: Path, jurisdiction: Jurisdiction,
            register: Register, answer: str) -> tuple[pl.Series, int]:
    """The numbers asked (keys, sorted) that the answer lists (keys, sorted), and how many
    numbers it lists that were not asked.

    An answer that lists the numbers kept must only repeat numbers asked: one more is
    another request's answer, refused. An answer that lists the numbers registered
    (Lista Robinson, TPS) may hold others (the register's own extract): they say nothing
    of the numbers asked and are ignored, counted."""
    asked = asked.sort()
    lines = read_lines(response, "response", register)
    # A line that spells a number asked is that number (the numbers asked are valid ones
    # of the country): only the others are read the slow way, for what they are.
    fast = fast_keys(lines, jurisdiction)
    spelled = fast.sort(nulls_last=True)
    if not spelled.null_count() and _member(spelled, asked).all():
        return spelled, 0  # the usual answer: every line a number asked
    hit_asked = fast.is_in(asked.implode()).fill_null(False)
    read = numbers(lines.filter(~hit_asked), jurisdiction)
    refuse_invalid(read, response, register)
    refuse_foreign(read, response, jurisdiction, register)
    keys = pl.concat([
        lines.filter(hit_asked).with_columns(fast.filter(hit_asked).alias("key")),
        read.select("line", "raw", phone_key(pl.col("phone")).alias("key"))])
    hit = pl.col("key").is_in(asked.implode())
    extra = keys.filter(~hit).sort("line")
    if extra.height and answer == "kept":
        raise RegistryError(
            f"{extra.height} number(s) in the response were not in the request (first: "
            f"'{extra['raw'][0]}'); is this the answer to that request?", file=response,
            row=int(extra["line"][0]))
    return keys.filter(hit)["key"].sort(), extra["key"].n_unique()


def _registered(asked: pl.Series, listed: pl.Series, answer: str) -> pl.Series:
    """For each number asked (sorted), registered as the answer file says it: listed
    (registered answers) or missing (kept answers)."""
    found = _member(asked.sort(), listed.sort())
    return (found if answer == "registered" else ~found).rename("registered")


def _answer_of(register: Register, answer: str | None) -> str:
    chosen = answer or register.answer
    if chosen not in ANSWERS:
        raise RegistryError(f"answer '{chosen}' is not one of {', '.join(ANSWERS)}: say "
                            "whether the answer file lists the numbers kept (not registered) "
                            "or the numbers registered")
    return chosen


def import_exchange(store: Store, request: Path, response: Path, jurisdiction: Jurisdiction,
                    *, checked_at: dt.datetime | None = None,
                    progress: Progress | None = None,
                    same_as_request: bool = False, register: Register | None = None,
                    answer: str | None = None) -> ImportResult:
    """Record a register's answer: with an answer of the numbers kept (the RPO's cleansed
    list, Bloctel's), a number asked and missing is registered; with an answer of the
    numbers registered (Lista Robinson), a number asked and listed is.

    Without --checked-at the check time is the request file's modification time (a copy
    of the file looks newer than the check: the CLI says so), and files imported before
    are a repeat. With it, the same files at a new time are a new check.

    A kept answer with the request's very bytes says "none registered" for every number,
    and is far more often the request picked by mistake than the register's answer: it is
    refused unless `same_as_request` says the register really answered so. (A registered
    answer equal to the request says every number is registered: fail closed, and the
    CLI warns.)
    """
    say = progress or (lambda *_: None)
    register = register or _own_register(jurisdiction)
    answer = _answer_of(register, answer)
    for path, role in ((request, "request"), (response, "response")):
        if not path.is_file():
            raise RegistryError(f"{role} file not found; give the path of the file "
                                f"exchanged with the {register.name}", file=path)
    req_sha, resp_sha = sha256_file(request), sha256_file(response)  # once: 100+ MB each
    if answer == "kept" and not same_as_request and req_sha == resp_sha:
        raise RegistryError(
            f"{response.name} is byte for byte the request {request.name}: recording it "
            "would make every number 'not registered'. Import the file the register sent "
            "back; if its answer really is the request unchanged (none registered), "
            "import again with --same-as-request")
    say(f"reading the request {request.name}")
    asked = _asked(request, jurisdiction, register,
                   lambda: newest_keys(store, jurisdiction.region),
                   rpo_store.request_keys(store, req_sha), req_sha)
    say(f"matching the response {response.name} against {asked.len():,} numbers asked")
    listed, ignored = _listed(asked, response, jurisdiction, register, answer)
    if checked_at is None:
        prior = rpo_store.exchange_of_files(store, req_sha, resp_sha, answer)
        if prior:  # no time given: the files' time is a guess, never a new check
            return ImportResult(*prior, already_imported=True, ignored=ignored)
    when = checked_at or dt.datetime.fromtimestamp(
        request.stat().st_mtime, dt.UTC).replace(tzinfo=None, microsecond=0)
    # The same files checked again later (an unchanged list re-checked a month on, the
    # same answer) are a new check; only the same files at the same time are a repeat.
    # (The answer's reading is part of the exchange: the RPO's ids stay as they were.)
    reading = "" if answer == "kept" else f":{answer}"
    exchange_id = "file-" + hashlib.sha256(
        f"{req_sha}:{resp_sha}:{iso(when)}{reading}".encode()).hexdigest()[:16]
    known = rpo_store.exchange(store, exchange_id)
    if known:
        return ImportResult(exchange_id, *known, already_imported=True, ignored=ignored)
    results = pl.DataFrame([asked.rename("phone_key"), _registered(asked, listed, answer)]
                           ).with_columns(pl.lit(None, pl.Datetime("us")).alias("registered_at"))
    _refuse_future(when, jurisdiction.timezone_name, register)
    say(f"recording {results.height:,} checks and keeping both files as evidence")
    meta = {"request_file": str(request.resolve()), "request_sha256": req_sha,
            "response_file": str(response.resolve()), "response_sha256": resp_sha}
    kind = register.code
    recorded = record_checks(store, results, when, exchange_id, "file", meta,
                             [(request, f"{kind} request", req_sha),
                              (response, f"{kind} response", resp_sha)],
                             register=register.code, answer=answer)
    return dataclasses.replace(recorded, ignored=ignored)


def _own_register(jurisdiction: Jurisdiction) -> Register:
    if jurisdiction.register is None:
        raise RegistryError(f"{jurisdiction.code} has no do-not-call register to exchange "
                            "files with")
    return jurisdiction.register


def import_snapshot(store: Store, snapshots: Sequence[Path], as_of: dt.datetime,
                    jurisdiction: Jurisdiction, register: Register, *,
                    progress: Progress | None = None) -> list[ImportResult]:
    """Record a register delivered whole (TPS and CTPS: one file, or one each) as it was
    on one day: every number of the newest lists of its country is checked at as_of,
    registered iff a snapshot file lists it.

    Each file is one exchange whose request is the lists' numbers it answers for, kept
    as evidence beside the file, so audit verify re-derives every check from two kept
    files as it does a file exchange's (registered answers). A number listed by several
    files is answered by the first that lists it, a number listed by none by the first
    file: every number gets one check, and two checks at one instant never disagree (a
    disagreement would read as registered, and leave no registration date). Numbers
    loaded after the import have no check: the snapshot is imported again (the CLI says
    so); a later snapshot, or a delta, is a further import at its own date."""
    say = progress or (lambda *_: None)
    if not snapshots:
        raise RegistryError(f"give the {register.name} file with --snapshot FILE")
    _refuse_future(as_of, jurisdiction.timezone_name, register)
    lists = rpo_store.candidates(store, jurisdiction.region, jurisdiction.dialable_types)
    called = lists.select("phone", phone_key(pl.col("phone")).alias("key"))
    owner = pl.Series("file", [0] * called.height, dtype=pl.Int64)
    unowned = pl.Series([True] * called.height)
    files = []
    for index, path in enumerate(snapshots):
        say(f"reading the snapshot {path.name}")
        listed, _ = _listed(called["key"], path, jurisdiction, register, "registered")
        mine = called["key"].is_in(listed.implode()) & unowned
        owner = owner.zip_with(~mine, pl.Series([index] * called.height))
        unowned = unowned & ~mine
        files.append((path, listed, sha256_file(path)))
    results = []
    for index, (path, listed, snap_sha) in enumerate(files):
        asked = called.filter(owner == index)
        request = _national_lines(asked, jurisdiction)
        req_sha = hashlib.sha256(request).hexdigest()
        exchange_id = "snapshot-" + hashlib.sha256(
            f"{req_sha}:{snap_sha}:{iso(as_of)}".encode()).hexdigest()[:16]
        known = rpo_store.exchange(store, exchange_id)
        if known:
            results.append(ImportResult(exchange_id, *known, already_imported=True))
            continue
        keys = asked["key"].sort()
        checks = pl.DataFrame([keys.rename("phone_key"), _registered(keys, listed, "registered")]
                              ).with_columns(pl.lit(None, pl.Datetime("us")).alias("registered_at"))
        say(f"recording {checks.height:,} checks against {path.name}, keeping it as evidence")
        meta = {"request_file": None, "request_sha256": req_sha,
                "response_file": str(path.resolve()), "response_sha256": snap_sha}
        results.append(record_checks(
            store, checks, as_of, exchange_id, "file", meta,
            [(request, f"{register.code} snapshot numbers", req_sha),
             (path, f"{register.code} snapshot", snap_sha)],
            register=register.code, answer="registered"))
    return results


def _national_lines(phones: pl.DataFrame, jurisdiction: Jurisdiction) -> bytes:
    """The numbers one a line in national format, as a request file is written."""
    return phones.select(jurisdiction.national(pl.col("phone"))).write_csv(
        include_header=False).encode()


def _refuse_future(checked_at: dt.datetime, zone: str, register: Register | None = None
                   ) -> None:
    """A register answer dated in the future is a mistyped --checked-at (or a snapshot's
    --as-of): relied on, it would stay valid weeks too long."""
    if checked_at > now_utc() + dt.timedelta(minutes=5):
        name, option = ((register.name, "--as-of" if register.delivery == "snapshot"
                         else "--checked-at") if register else ("RPO", "--checked-at"))
        raise RegistryError(f"check time {local_words(checked_at, zone)}"
                            f"{' UTC' if zone == 'UTC' else ''} is in the future; give the "
                            f"time the {name} answered with {option}")


def record_checks(store: Store, results: pl.DataFrame, checked_at: dt.datetime,
                  exchange_id: str, adapter: str, meta: Mapping[str, str | None] | None = None,
                  files: Sequence[tuple[Path | bytes, str, str | None]] = (), *,
                  register: str = "rpo", answer: str = "kept") -> ImportResult:
    """Store one exchange's results (phone or phone_key, registered, registered_at) as
    evidence, with the files they came from (path or bytes, kind, sha256 if known) kept
    byte for byte (audit verify re-derives the checks from them), in one transaction; the
    register asked and how its answer file reads say how."""
    _refuse_future(checked_at, "UTC")  # a last guard: the callers said it in local time
    meta = meta or {}
    key = (pl.col("phone_key") if "phone_key" in results.columns
           else phone_key(pl.col("phone")).alias("phone_key"))
    checks = results.select(key, pl.col("registered"),
                            pl.col("registered_at").cast(pl.Datetime("us")))
    registered = int(checks["registered"].sum())
    record = {"exchange_id": exchange_id, "adapter": adapter,
              "request_file": meta.get("request_file"),
              "request_sha256": meta.get("request_sha256"),
              "response_file": meta.get("response_file"),
              "response_sha256": meta.get("response_sha256"), "checked_at": checked_at,
              "imported_at": now_utc(), "numbers": checks.height, "registered": registered,
              "register": register, "answer": answer}
    rpo_store.record_exchange(store, record, checks, files)
    return ImportResult(exchange_id, checked_at, checks.height, registered)


def rederive_files(request: bytes, response: bytes, jurisdiction: Jurisdiction,
                   answer: str = "kept") -> pl.DataFrame:
    """The checks a file exchange's (or a snapshot's) kept files prove (phone,
    registered), read as the import read them: what audit verify compares the stored
    checks with (adapters.FileExchange)."""
    register = _own_register(jurisdiction)
    with tempfile.TemporaryDirectory(prefix="gk-audit-") as folder:
        req, resp = Path(folder) / "request", Path(folder) / "response"
        req.write_bytes(request)
        resp.write_bytes(response)
        asked = _asked(req, jurisdiction, register)
        listed, _ = _listed(asked, resp, jurisdiction, register, answer)
        return pl.DataFrame([asked, _registered(asked, listed, answer)]).select(
            phone_of_key(pl.col("key")).alias("phone"), "registered")


def rpo_status(store: Store, as_of: dt.datetime, phone: str | None = None) -> pl.DataFrame:
    """Per number (or for one), what the checks up to as_of prove: phone (for one number),
    phone_key, rpo_checked_at and the named facts registered and registration_bound
    (policy/registration.py reasons over the store's summary of the answers)."""
    return registration.status(rpo_store.check_summary(store, as_of, phone))


def exchanges_until(store: Store, as_of: dt.datetime) -> list[str]:
    """Ids of every RPO exchange a run at as_of may rely on (its evidence trail)."""
    return rpo_store.exchanges_until(store, as_of)
