"""The Registro Pubblico delle Opposizioni: what needs checking, and what it answered.

Every answer is kept as evidence (number, when checked, registered or not, which
exchange and its sha256) for five years (telemarketing code of conduct, GU 27/3/2024).
Adapters only differ in how they obtain answers: `record_checks` is where every adapter's
results land, so the file round trip and a web service produce the same rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import InputError, RegistryError
from gatekeeper.core.outfile import output_path
from gatekeeper.core.progress import Progress
from gatekeeper.core.timeutil import iso, local_words, now_utc
from gatekeeper.decide.policy import registration
from gatekeeper.intake.normalise import normalise, phone_key
from gatekeeper.jurisdictions import Jurisdiction
from gatekeeper.store import Store
from gatekeeper.store import rpo as rpo_store

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


def write_request(store: Store, out: Path, as_of: dt.datetime, validity_days: int,
                  jurisdiction: Jurisdiction) -> int:
    """Write the numbers that need a check, one national number per line (the register's
    format); returns how many."""
    needed = numbers_needing_check(store, as_of, validity_days, jurisdiction)
    output_path(out, make_folder=True)
    try:
        needed.select(jurisdiction.national(pl.col("phone"))).write_csv(out,
                                                                         include_header=False)
    except OSError as exc:
        raise InputError(f"cannot be written ({exc.strerror}); choose another --out",
                         file=out) from None
    return needed.height


def _lines(path: Path, role: str) -> pl.DataFrame:
    """The non-blank lines of an exchange file (line = 1-based line number), stripped.

    Split by pyarrow's CSV reader as one text column, blank lines kept so line numbers
    stay true (9.5M lines: 0.8-1.0 s -> about 0.5 s); a file that is not valid UTF-8
    takes the slow road, where the bad bytes become a line the import then refuses by
    number."""
    if not path.is_file():
        raise RegistryError(f"{role} file not found; give the path of the file exchanged "
                            "with the RPO", file=path)
    try:
        table = pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(column_names=["raw"], block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter="\x1f", quote_char=False,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={"raw": pa.string()},
                                                 strings_can_be_null=False))
        series = pl.Series("raw", table.column("raw"))
    except pa.ArrowInvalid:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
        series = pl.Series("raw", [text]).str.split("\n").explode()
        if text.endswith("\n"):
            series = series.head(-1)
    raw = series.str.strip_chars()
    return raw.to_frame().with_row_index("line", 1).filter(pl.col("raw") != "")


def _with_phones(lines: pl.DataFrame, path: Path, jurisdiction: Jurisdiction
                 ) -> pl.DataFrame:
    """lines plus their E.164 phone; any line that is not a valid number stops the import."""
    phones = lines.with_columns(normalise(lines["raw"], jurisdiction)["phone"])
    bad = phones.filter(pl.col("phone").is_null())
    if bad.height:
        raise RegistryError(f"{bad.height} line(s) are not valid phone numbers (first: "
                            f"'{bad['raw'][0]}'); is this an RPO exchange file?", file=path,
                            row=int(bad["line"][0]))
    return phones


def _answered(asked_keys: pl.Series, response: Path, jurisdiction: Jurisdiction
              ) -> pl.Series:
    """The numbers (as keys) the cleansed response kept; each must have been asked.

    The response repeats the request's national numbers, so a line is first read as a
    national number; only a line that is then not a number asked is normalised (the
    register never sends many of those)."""
    lines = _lines(response, "response")
    asked_set = asked_keys.implode()
    lines = lines.with_columns(
        phone_key(jurisdiction.international(pl.col("raw")), strict=False).alias("key"))
    hit = pl.col("key").is_in(asked_set).fill_null(False)
    kept = lines.filter(hit)["key"]
    other = lines.filter(~hit).drop("key")
    if other.height:
        other_keys = _with_phones(other, response, jurisdiction).select(
            phone_key(pl.col("phone")))["phone"]
        extra = other.filter(~other_keys.is_in(asked_set))
        if extra.height:
            raise RegistryError(
                f"{extra.height} number(s) in the response were not in the request (first: "
                f"'{extra['raw'][0]}'); is this the answer to that request?", file=response,
                row=int(extra["line"][0]))
        kept = pl.concat([kept, other_keys])
    return kept


def import_exchange(store: Store, request: Path, response: Path, jurisdiction: Jurisdiction,
                    *, checked_at: dt.datetime | None = None,
                    progress: Progress | None = None,
                    same_as_request: bool = False) -> ImportResult:
    """Record an RPO answer: in the request but not in the cleansed response = registered.

    Without --checked-at the check time is the request file's modification time (a copy
    of the file looks newer than the check: the CLI says so), and files imported before
    are a repeat. With it, the same files at a new time are a new check.

    A response with the request's very bytes says "none registered" for every number,
    and is far more often the request picked by mistake than the register's answer: it is
    refused unless `same_as_request` says the register really answered so.
    """
    say = progress or (lambda *_: None)
    if not same_as_request and sha256_file(request) == sha256_file(response):
        raise RegistryError(
            f"{response.name} is byte for byte the request {request.name}: recording it "
            "would make every number 'not registered'. Import the file the register sent "
            "back; if its answer really is the request unchanged (none registered), "
            "import again with --same-as-request")
    say(f"reading the request {request.name}")
    asked = (_with_phones(_lines(request, "request"), request, jurisdiction)
             .select("phone", phone_key(pl.col("phone")).alias("key")))
    say(f"matching the response {response.name} against {asked.height:,} numbers asked")
    if asked["key"].n_unique() < asked.height:  # counting is 20x cheaper than deduplicating
        asked = asked.unique("key", keep="first", maintain_order=True)
    kept = _answered(asked["key"], response, jurisdiction)
    req_sha, resp_sha = sha256_file(request), sha256_file(response)
    if checked_at is None:
        prior = rpo_store.exchange_of_files(store, req_sha, resp_sha)
        if prior:  # no time given: the files' time is a guess, never a new check
            return ImportResult(*prior, already_imported=True)
    when = checked_at or dt.datetime.fromtimestamp(
        request.stat().st_mtime, dt.UTC).replace(tzinfo=None, microsecond=0)
    # The same files checked again later (an unchanged list re-checked a month on, the
    # same answer) are a new check; only the same files at the same time are a repeat.
    exchange_id = "file-" + hashlib.sha256(
        f"{req_sha}:{resp_sha}:{iso(when)}".encode()).hexdigest()[:16]
    known = rpo_store.exchange(store, exchange_id)
    if known:
        return ImportResult(exchange_id, *known, already_imported=True)
    results = asked.select(
        "phone", (~pl.col("key").is_in(kept.implode())).alias("registered"),
        pl.lit(None, pl.Datetime("us")).alias("registered_at"))
    _refuse_future(when, jurisdiction.timezone_name)
    say(f"recording {results.height:,} checks and keeping both files as evidence")
    meta = {"request_file": str(request.resolve()), "request_sha256": req_sha,
            "response_file": str(response.resolve()), "response_sha256": resp_sha}
    return record_checks(store, results, when, exchange_id, "file", meta,
                         [(request, "rpo request"), (response, "rpo response")])


def _refuse_future(checked_at: dt.datetime, zone: str) -> None:
    """A register answer dated in the future is a mistyped --checked-at: relied on, it
    would stay valid two weeks too long."""
    if checked_at > now_utc() + dt.timedelta(minutes=5):
        raise RegistryError(f"check time {local_words(checked_at, zone)}"
                            f"{' UTC' if zone == 'UTC' else ''} is in the future; give the "
                            "time the RPO answered with --checked-at")


def record_checks(store: Store, results: pl.DataFrame, checked_at: dt.datetime,
                  exchange_id: str, adapter: str, meta: dict[str, str] | None = None,
                  files: Sequence[tuple[Path | bytes, str]] = ()) -> ImportResult:
    """Store one exchange's results as evidence, with the files they came from kept byte
    for byte (audit verify re-derives the checks from them), in one transaction."""
    _refuse_future(checked_at, "UTC")  # a last guard: the callers said it in local time
    meta = meta or {}
    rows = results.select(
        pl.col("phone"), pl.lit(checked_at, pl.Datetime("us")).alias("checked_at"),
        pl.col("registered"), pl.col("registered_at").cast(pl.Datetime("us")),
        pl.lit(exchange_id).alias("exchange_id")
    ).sort(phone_key(pl.col("phone"), strict=False))  # number order: a lookup reads one block
    registered = int(rows["registered"].sum())
    record = {"exchange_id": exchange_id, "adapter": adapter,
              "request_file": meta.get("request_file"),
              "request_sha256": meta.get("request_sha256"),
              "response_file": meta.get("response_file"),
              "response_sha256": meta.get("response_sha256"), "checked_at": checked_at,
              "imported_at": now_utc(), "numbers": rows.height, "registered": registered}
    rpo_store.record_exchange(store, record, rows, files)
    return ImportResult(exchange_id, checked_at, rows.height, registered)


def rederive_files(request: bytes, response: bytes, jurisdiction: Jurisdiction
                   ) -> pl.DataFrame:
    """The checks a file exchange's kept files prove (phone, registered): what audit
    verify compares the stored checks with (adapters.FileExchange)."""
    with tempfile.TemporaryDirectory(prefix="gk-audit-") as folder:
        req, resp = Path(folder) / "request", Path(folder) / "response"
        req.write_bytes(request)
        resp.write_bytes(response)
        numbers = (_with_phones(_lines(req, "request"), req, jurisdiction)
                   .select("phone", phone_key(pl.col("phone")).alias("key"))
                   .unique("key", keep="first", maintain_order=True))
        kept = _answered(numbers["key"], resp, jurisdiction)
        return numbers.select("phone", (~pl.col("key").is_in(kept.implode())).alias(
            "registered"))


def rpo_status(store: Store, as_of: dt.datetime, phone: str | None = None) -> pl.DataFrame:
    """Per number (or for one), what the checks up to as_of prove: phone (for one number),
    phone_key, rpo_checked_at and the named facts registered and registration_bound
    (policy/registration.py reasons over the store's summary of the answers)."""
    return registration.status(rpo_store.check_summary(store, as_of, phone))


def exchanges_until(store: Store, as_of: dt.datetime) -> list[str]:
    """Ids of every RPO exchange a run at as_of may rely on (its evidence trail)."""
    return rpo_store.exchanges_until(store, as_of)
