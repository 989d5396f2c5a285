"""The opt-out journal: an append-only, hash-chained file that survives a crash.

An opt-out acknowledged to an agent must never be lost (Garante, TIM 2020), and must be
recordable while a long run holds the DuckDB store. So each event is one JSON line in
data/optouts.jsonl, appended under an exclusive file lock and fsynced before the call
returns. Each line carries the hash of the line before it, so cutting, editing or
re-hashing the journal is evidence (Garante, Edison 2022).

Three kinds of trouble, three answers:

- a torn last line (a crash mid-write, never acknowledged): the next writer moves it to
  optouts.jsonl.torn; readers skip it and say so.
- a damaged complete line (garbage, a disk error): writing goes on (the next line chains
  to the damaged bytes, so they become evidence too), but deciding stops - no run, no
  "dialable" answer - until the privacy officer acknowledges the line with
  `gatekeeper optout repair`, which appends a repair event and leaves the line in place.
- a journal shorter than, or different from, a checkpoint (a position and hash recorded by
  a run, by the store, or printed to the agent by `optout add`): deciding stops until the
  journal is restored from a backup.

Each append also leaves its position and hash in optouts.checkpoints, so a cut made
before the next run is still caught.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import io
import json
import os
import re
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from gatekeeper.core.errors import EvidenceError, InputError, JournalError

GENESIS = "0" * 64
EVENT_TYPES = ("optout", "withdraw", "repair")
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "seq": pl.Int64(), "type": pl.String(), "phone": pl.String(), "at": pl.Datetime("us"),
    "channel": pl.String(), "recorded_by": pl.String(), "scope": pl.String(),
    "note": pl.String(), "evidence": pl.String(), "recorded_at": pl.Datetime("us"),
    "line": pl.Int64(), "line_sha256": pl.String(),
}
_REQUIRED = {"optout": ("phone", "scope", "recorded_by"),
             "withdraw": ("phone", "recorded_by"),
             "repair": ("line", "line_sha256", "recorded_by")}
REPAIR_HINT = ("the privacy officer reviews it with 'gatekeeper audit verify' and "
               "acknowledges it with 'gatekeeper optout repair --by NAME --reason TEXT'")
RESTORE_HINT = ("restore data/optouts.jsonl (and data/optouts.checkpoints) from a backup; "
                "'gatekeeper audit verify' shows what differs")


def digest(prev: str, body: dict[str, Any]) -> str:
    """The chain hash of an entry: sha256 of the previous hash and the canonical body."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev + canonical).encode()).hexdigest()


@dataclass(frozen=True)
class BadLine:
    """A complete line that is not a journal entry (garbage, a disk error, an edit)."""

    line: int
    sha256: str
    size: int
    preview: str

    def describe(self) -> str:
        return (f"line {self.line} is not a journal entry ({self.size} bytes, sha256 "
                f"{self.sha256[:12]}…, starts {self.preview})")


@dataclass(frozen=True)
class Checkpoint:
    """A (position, hash) someone relied on: the journal must still hold it."""

    position: int
    hash: str
    recorded_by: str


@dataclass(frozen=True)
class JournalState:
    """What a reader saw.

    events: the opt-out and withdrawal events (EVENT_SCHEMA); position: bytes of complete
    lines read; last_hash: the chain hash at position; torn_bytes: an unfinished last
    line skipped; damaged: bad lines nobody has acknowledged yet; repaired: bad lines a
    repair event acknowledged; links: per line its number, end position and chain hash.
    """

    events: pl.DataFrame
    position: int
    last_hash: str
    torn_bytes: int = 0
    damaged: tuple[BadLine, ...] = ()
    repaired: tuple[BadLine, ...] = ()
    broken: tuple[int, ...] = ()  # lines whose "prev" is not the hash of the line before
    links: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(
        {"line": [0], "end": [0], "link": [GENESIS]},
        schema={"line": pl.Int64, "end": pl.Int64, "link": pl.String}))

    @property
    def entries(self) -> int:
        """Complete lines that are journal entries (damaged ones not counted)."""
        return self.links.height - 1 - len(self.damaged) - len(self.repaired)

    def warnings(self) -> list[str]:
        out = []
        if self.torn_bytes:
            out.append(f"the opt-out journal ends in a torn line ({self.torn_bytes} bytes) "
                       "from a crash; it was never acknowledged and is ignored")
        out += [f"opt-out journal {b.describe()}: acknowledged by a repair, kept as evidence"
                for b in self.repaired]
        return out


@dataclass
class AppendResult:
    entries: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    position: int = 0  # the receipt: where the journal ends after this append, and its hash
    hash: str = GENESIS


def _utf8(data: bytes) -> bool:
    """Whether the bytes are text at all (a disk error rarely leaves valid UTF-8)."""
    if data.isascii():  # most journals: a 3 ms look instead of a 25 ms decode
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _preview(raw: bytes) -> str:
    return repr(raw[:24]) + ("…" if len(raw) > 24 else "")


_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
# Plain sets, not EVENT_SCHEMA's dtypes: comparing polars dtypes per field of every line
# cost ~90 µs a line (1 s per 10k opt-outs on each run).
_TEXT_FIELDS = tuple(k for k, v in EVENT_SCHEMA.items() if v == pl.String)
_INT64 = range(-(2**63), 2**63)


def _instant(value: object) -> bool:
    """An instant as the journal writes it, and a real one (not 2026-02-31T99:00:00Z)."""
    if not isinstance(value, str) or _INSTANT.fullmatch(value) is None:
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def journal_entry(raw: bytes) -> dict[str, Any] | None:
    """The line as a journal entry, or None when it is not one. Every value is checked to
    fit its column (a real instant, a 64-bit integer), so reading never fails on a line
    that merely looks like an entry: it is a damaged line, named as such."""
    try:
        entry = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError too; RecursionError: [[[[…
        return None
    return entry if _is_entry(entry) else None


def _is_entry(entry: object) -> bool:
    """Whether a parsed line (or an entry about to be written) is a journal entry."""
    if not isinstance(entry, dict) or entry.get("type") not in EVENT_TYPES:
        return False
    if not (type(entry.get("seq")) is int and entry["seq"] in _INT64
            and isinstance(entry.get("hash"), str) and isinstance(entry.get("prev"), str)
            and _instant(entry.get("at"))):
        return False
    if any(entry.get(k) in (None, "") for k in _REQUIRED[entry["type"]]):
        return False
    for key in _TEXT_FIELDS:  # every field its type, so reading never fails
        value = entry.get(key)
        if value is not None and type(value) is not str:
            return False
    line = entry.get("line", 0)
    return type(line) is int and line in _INT64 and (
        entry.get("recorded_at") is None or _instant(entry["recorded_at"]))


def _missing_field(entry: dict[str, Any]) -> str:
    """What makes an event no journal entry, for the refusal's words."""
    required = _REQUIRED.get(str(entry.get("type")), ())
    empty = [k for k in required if entry.get(k) in (None, "")]
    return ("a valid " + " or ".join(empty)) if empty else "valid fields"


def chain_lines(events: Sequence[dict[str, Any]], prev: str, seq: int
                ) -> tuple[list[dict[str, Any]], list[str]]:
    """(entries, lines without their newline) for events appended after a journal whose
    last link is prev and last seq is seq: the one way an entry is made, whether the line
    goes to the file or to the shared register's rows."""
    lines, written = [], []
    for event in events:
        seq += 1
        body = {**event, "seq": seq, "prev": prev}
        prev = digest(prev, body)
        entry = {**body, "hash": prev}
        # The entry as a reader will see it (its values are JSON's own types, so checking
        # the dict is checking the line, without parsing it back: 95,000 objections ~1.5
        # CPU-s less).
        if not _is_entry(entry):
            # Written, it would be a damaged line stopping every decision (an objection
            # without a number did): refused before anything is written.
            raise InputError(f"a journal {event.get('type')} event without "
                             f"{_missing_field(entry)} cannot be recorded; nothing was "
                             "written")
        written.append(entry)
        lines.append(json.dumps(entry, ensure_ascii=False, sort_keys=True))
    return written, lines


def chain_link(raw: bytes, entry: dict[str, Any] | None) -> str:
    """What the next line chains to: the entry's hash, or the bad line's own bytes."""
    return str(entry["hash"]) if entry is not None else hashlib.sha256(raw).hexdigest()


class Journal:
    """The opt-out journal of one workspace (data/optouts.jsonl)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.checkpoints_path = path.with_name(path.stem + ".checkpoints")

    # --- writing ---------------------------------------------------------------------

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[BinaryIO]:
        created = not self.path.exists()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except IsADirectoryError:
            raise JournalError("is a folder, not the opt-out journal; move the folder away "
                               f"and {RESTORE_HINT}", file=self.path) from None
        except OSError as exc:
            raise JournalError(f"cannot be opened ({exc.strerror}); check that the folder "
                               "and the file belong to the user running gatekeeper",
                               file=self.path) from None
        with os.fdopen(fd, "r+b") as handle:
            if created:
                dir_fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)  # the new file's name must survive a crash too
                finally:
                    os.close(dir_fd)
            if exclusive and stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
                os.fchmod(fd, 0o600)  # personal data: owner only, whoever created it
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield handle
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _set_torn_tail_aside(self, handle: BinaryIO, size: int) -> tuple[int, list[str]]:
        handle.seek(0)
        data = handle.read()
        keep = data.rfind(b"\n") + 1
        torn_path = Path(f"{self.path}.torn")
        fd = os.open(torn_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as torn:
            torn.write(data[keep:] + b"\n")
            torn.flush()
            os.fsync(torn.fileno())
        handle.truncate(keep)
        os.fsync(handle.fileno())
        return keep, [f"{self.path}: a torn last line ({size - keep} bytes, from a crash "
                      f"during a write that was never acknowledged) was moved to "
                      f"{torn_path.name}"]

    @staticmethod
    def _tail(handle: BinaryIO, size: int) -> tuple[str, int]:
        """(chain hash, last seq) at `size`, the end of a complete line; only the last
        lines are parsed, so a damaged old line cannot stop an agent recording."""
        window, link, seq = 65536, None, None
        while size and seq is None:
            start = max(0, size - window)
            handle.seek(start)
            lines = handle.read(size - start).split(b"\n")[:-1]
            for raw in reversed(lines if start == 0 else lines[1:]):
                entry = journal_entry(raw)
                link = link or chain_link(raw, entry)
                if entry is not None:
                    seq = int(entry["seq"])
                    break
            if start == 0:
                break
            window *= 4
        return link or GENESIS, seq or 0

    def head(self) -> tuple[int, str]:
        """(position, chain hash) of the journal's complete lines now: a checkpoint."""
        if not self.path.exists():
            return 0, GENESIS
        with self._locked(exclusive=False) as handle:
            size = handle.seek(0, io.SEEK_END)
            window = min(size, 65536)
            handle.seek(size - window)
            size -= len(handle.read(window).rsplit(b"\n", 1)[-1])
            return size, self._tail(handle, size)[0]

    def append(self, events: Sequence[dict[str, Any]]) -> AppendResult:
        """Append events durably: when this returns they are on disk (fsync)."""
        with self._locked(exclusive=True) as handle:
            size, warnings = handle.seek(0, io.SEEK_END), list[str]()
            if size:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    size, warnings = self._set_torn_tail_aside(handle, size)
            prev, seq = self._tail(handle, size)
            written, lines = chain_lines(events, prev, seq)
            if written:
                prev, seq = str(written[-1]["hash"]), int(written[-1]["seq"])
            data = "".join(line + "\n" for line in lines).encode()
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            end = size + len(data)
            warnings += self._note_checkpoint_or_warn(end, prev, seq)
        return AppendResult(written, warnings, end, prev)

    def _note_checkpoint(self, position: int, chain_hash: str, seq: int) -> None:
        """The receipt of an append, kept beside the journal. Not fsynced: it only ever
        points at lines that are already durable, and losing the newest one in a crash
        weakens no promise made to anyone."""
        line = json.dumps({"position": position, "hash": chain_hash, "seq": seq}) + "\n"
        fd = os.open(self.checkpoints_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as handle:
            handle.write(line)

    def _note_checkpoint_or_warn(self, position: int, chain_hash: str, seq: int
                                 ) -> list[str]:
        """The receipt, or a warning when it cannot be kept: the events are already
        durable, so failing now would tell an agent "not recorded" about a recorded
        objection (and invite a second one)."""
        try:
            self._note_checkpoint(position, chain_hash, seq)
        except OSError as exc:
            return [f"{self.checkpoints_path}: the receipt of this append could not be kept "
                    f"({exc.strerror}); the opt-out itself is recorded. Make "
                    f"{self.checkpoints_path.name} a writable file again"]
        return []

    # --- reading ---------------------------------------------------------------------

    def _bytes(self) -> bytes:
        if not self.path.exists():
            return b""
        with self._locked(exclusive=False) as handle:
            handle.seek(0)
            return handle.read()

    def _bytes_and_receipts(self) -> tuple[bytes, bytes | OSError]:
        """The journal and its receipts as of one instant: both read under the shared
        lock, which `append` holds until its receipt is written. Read one after the other
        without it, a receipt written in between points past the journal read, and a
        whole journal looks cut (a false refusal of every run and check while agents
        record). The receipts' read error is handed back, for `_receipts` to word."""
        if not self.path.exists():
            return b"", self._read_receipts()
        with self._locked(exclusive=False) as handle:
            handle.seek(0)
            return handle.read(), self._read_receipts()

    def _read_receipts(self) -> bytes | OSError:
        try:
            return self.checkpoints_path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as exc:  # a folder in its place, or not ours: said by _receipts
            return exc

    def view(self) -> tuple[JournalState, list[Checkpoint]]:
        """What the journal holds and every receipt of it, consistent with each other:
        what decisions and the audit compare (see `_bytes_and_receipts`)."""
        data, receipts = self._bytes_and_receipts()
        return parse(data), self._receipts(receipts)

    def contents(self) -> tuple[bytes, bytes]:
        """(the journal's bytes, its receipts' bytes) read together: what a migration or a
        restore moves whole."""
        data, receipts = self._bytes_and_receipts()
        if isinstance(receipts, OSError):
            self._receipts(receipts)  # raises, in words
            receipts = b""
        return data, receipts

    def read(self) -> JournalState:
        """Every complete line: events, damaged lines and chain links. Never raises for
        what it finds; `require_whole` decides whether decisions may rely on it."""
        return parse(self._bytes())

    def snapshot(self) -> tuple[int, str, bytes, bytes]:
        """(position, chain hash, the complete lines, the receipts) read together under
        the lock, so a copy holds every entry acknowledged before this moment."""
        if not self.path.exists():
            return 0, GENESIS, b"", b""
        with self._locked(exclusive=False) as handle:
            handle.seek(0)
            data = handle.read()
            data = data[:data.rfind(b"\n") + 1]
            receipts = self._read_receipts()
            if isinstance(receipts, OSError):
                self._receipts(receipts)  # raises, in words
                receipts = b""
            return len(data), self._tail(handle, len(data))[0], data, receipts

    def events_of(self, phone: str) -> pl.DataFrame:
        """The events of one number, without parsing the whole journal (erasure)."""
        return self.about(phone)[0]

    def about(self, phone: str) -> tuple[pl.DataFrame, list[int], list[int]]:
        """What the journal says of one number, for an answer to the person, in one read
        and one byte search: its events, and the damaged lines nobody acknowledged that may
        hide an objection of it (those holding its digits; any other, since the damage may
        have hit the digits). Damage is looked for cheaply (a line holding the digits that
        is no entry, a line not shaped as one, bytes that are not UTF-8); only then is the
        journal parsed whole. A byte changed into another valid entry is found only by
        `audit verify`, which checks the chain. An answer to the person is incomplete until
        the journal is repaired."""
        data = self._bytes()
        end = data.rfind(b"\n") + 1  # a torn last line was never acknowledged
        digits = phone.removeprefix("+").encode()
        found, holding, at = [], set(), data.find(digits, 0, end)
        while at >= 0:  # a byte search, then the line around each hit
            start, stop = data.rfind(b"\n", 0, at) + 1, data.find(b"\n", at, end)
            entry = journal_entry(data[start:stop])
            if entry is None:
                holding.add(data.count(b"\n", 0, start) + 1)
            elif entry.get("phone") == phone:
                found.append(entry)
            at = data.find(digits, stop, end)
        lines = data.count(b"\n", 0, end)
        shaped = not lines or (data[:1] == b"{" and data[end - 2:end] == b"}\n"
                               and data.count(b"}\n{", 0, end) == lines - 1)  # one pass
        if not holding and shaped and _utf8(data if end == len(data) else data[:end]):
            return events_frame(found), [], []
        # Something is damaged (its digits may be what was hit): every damaged line nobody
        # acknowledged may be the person's, those holding the digits named as such.
        damaged = {b.line for b in self.read().damaged}
        return events_frame(found), sorted(holding & damaged), sorted(damaged - holding)

    # --- following (the service reads only what was appended since it last asked) -----

    def start_following(self) -> None:
        """Nothing to start for a file: its size says when it grew."""

    def follow_token(self) -> object:
        """Changes whenever the journal may hold lines not read yet: the file's size."""
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return None

    def tail_from(self, position: int) -> bytes | None:
        """The complete lines after position; None when the journal is now shorter than
        position (cut while it was followed: nothing read from it can be trusted)."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return None if position else b""
        if size < position:
            return None
        if size == position:
            return b""
        with open(self.path, "rb") as handle:
            handle.seek(position)
            data = handle.read(size - position)
        return data[:data.rfind(b"\n") + 1]  # a line being written is read next time

    def checkpoints(self) -> list[Checkpoint]:
        """The receipts of every append (optouts.checkpoints). To compare them with the
        journal, take both from `view`: read apart, they may not agree."""
        return self._receipts(self._read_receipts())

    def _receipts(self, data: bytes | OSError) -> list[Checkpoint]:
        """The receipts' lines as checkpoints; a damaged line there is skipped: it is a
        copy of what the journal itself proves. A file that cannot be read at all (a
        folder in its place) stops decisions: a cut it would catch could go unseen."""
        if isinstance(data, OSError):  # a folder in its place, or not ours: receipts lost
            raise JournalError(
                f"the opt-out journal's receipts cannot be read ({data.strerror}); make it a "
                "readable file again (restore data/optouts.checkpoints from a backup, or "
                "move it away to go on with the store's checkpoints only)",
                file=self.checkpoints_path)
        out = []
        for raw in data.split(b"\n"):
            try:
                item = json.loads(raw)
                out.append(Checkpoint(int(item["position"]), str(item["hash"]),
                                      f"optout add (ref {item.get('seq')})"))
            except (ValueError, KeyError, TypeError):
                continue
        return out

    def verify(self, extra: Sequence[Checkpoint] = ()) -> tuple[JournalState, list[str]]:
        """Every line's hash recomputed, every link and checkpoint compared: (what was
        read, problems). The full audit; decisions use the cheaper `require_whole`."""
        data, receipts = self._bytes_and_receipts()
        state = parse(data)
        problems = [f"{b.describe()}; {REPAIR_HINT}" for b in state.damaged]
        problems += [f"line {n}: hash chain broken (an entry before it was edited, removed "
                     "or reordered)" for n in state.broken]
        problems += checkpoint_problems(state, [*self._receipts(receipts), *extra])
        complete = data[:state.position]
        for number, raw in enumerate(complete.split(b"\n")[:-1], 1):
            entry = journal_entry(raw)
            if entry is None:
                continue
            body = {k: v for k, v in entry.items() if k != "hash"}
            if digest(str(entry["prev"]), body) != entry["hash"]:
                problems.append(f"line {number}: its content does not match its hash "
                                "(edited after it was written)")
        return state, problems


def events_frame(entries: Sequence[dict[str, Any]] | pl.DataFrame) -> pl.DataFrame:
    """Journal entries in EVENT_SCHEMA, whatever keys they carry."""
    raw = entries if isinstance(entries, pl.DataFrame) else pl.from_dicts(
        list(entries), infer_schema_length=None) if entries else pl.DataFrame()
    columns = []
    for name, dtype in EVENT_SCHEMA.items():
        if name not in raw.columns:
            columns.append(pl.lit(None, dtype).alias(name))
        elif dtype == pl.Datetime("us"):
            columns.append(pl.col(name).cast(pl.String)
                           .str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="us").alias(name))
        else:
            columns.append(pl.col(name).cast(dtype).alias(name))
    return raw.select(columns) if raw.width else pl.DataFrame(schema=EVENT_SCHEMA)


def _links(lines: list[bytes], links: list[str]) -> pl.DataFrame:
    """Per line its number, end position and chain hash. Line 0 is the empty journal's
    start: a checkpoint at byte 0 (a run before any opt-out) holds while it has lines."""
    sizes = pl.Series([0, *(len(raw) + 1 for raw in lines)], dtype=pl.Int64)
    return pl.DataFrame({"line": pl.int_range(0, len(lines) + 1, eager=True, dtype=pl.Int64),
                         "end": sizes.cum_sum(),
                         "link": pl.Series([GENESIS, *links], dtype=pl.String)})


def _real_instant(text: pl.Expr) -> pl.Expr:
    """The journal's instant form, and a real instant (columnar twin of _instant)."""
    return (text.str.contains(f"^{_INSTANT.pattern}$")
            & text.str.to_datetime("%Y-%m-%dT%H:%M:%SZ", strict=False).is_not_null())


def _all_entries(complete: bytes, count: int) -> pl.DataFrame | None:
    """Every line as a journal entry, read columnar (100k lines in ~0.1 s instead of
    ~2.5 s line by line), or None when any line may not be one: the careful line-by-line
    reading then decides, and names it."""
    try:
        raw = pl.read_ndjson(io.BytesIO(complete), infer_schema_length=None)
    except Exception:
        return None
    schema = raw.schema
    if raw.height != count or any(schema.get(k) != pl.String for k in ("type", "hash", "prev",
                                                                        "at")):
        return None
    if schema.get("seq") != pl.Int64 or any(
            k in schema and schema[k] not in (pl.String, pl.Null) for k in _TEXT_FIELDS):
        return None
    if "line" in schema and schema["line"] not in (pl.Int64, pl.Null):
        return None
    if "recorded_at" in schema and schema["recorded_at"] not in (pl.String, pl.Null):
        return None
    recorded = (pl.col("recorded_at").cast(pl.String) if "recorded_at" in schema
                else pl.lit(None, pl.String))
    text = [pl.col(k) if k in schema else pl.lit(None, pl.String) for k in _TEXT_FIELDS]
    kind = pl.col("type")
    filled = {k: (c.is_not_null() & (c.cast(pl.String) != "")) for k, c in zip(
        _TEXT_FIELDS, text, strict=True)}
    line = pl.col("line") if "line" in schema else pl.lit(None, pl.Int64)
    ok = (kind.is_in(EVENT_TYPES) & pl.col("seq").is_not_null() & pl.col("hash").is_not_null()
          & pl.col("prev").is_not_null() & _real_instant(pl.col("at"))
          & (recorded.is_null() | _real_instant(recorded))
          & pl.when(kind == "optout").then(filled["phone"] & filled["scope"]
                                           & filled["recorded_by"])
          .when(kind == "withdraw").then(filled["phone"] & filled["recorded_by"])
          .otherwise(line.is_not_null() & filled["line_sha256"] & filled["recorded_by"]))
    return raw if raw.select(ok.fill_null(False).all()).item() else None


def parse(data: bytes) -> JournalState:
    """The journal's bytes as a JournalState (see there)."""
    end = data.rfind(b"\n") + 1
    torn = len(data) - end
    lines = data[:end].split(b"\n")[:-1]
    whole = _all_entries(data[:end], len(lines)) if lines else None
    if whole is not None:  # the usual journal: every line an entry
        links = whole["hash"].to_list()
        prevs = whole["prev"]
        expected = pl.Series([GENESIS, *links[:-1]], dtype=pl.String)
        broken = tuple(i + 1 for i in (prevs != expected).arg_true().to_list())
        events = events_frame(whole.filter(pl.col("type") != "repair"))
        return JournalState(events, end, links[-1], torn, (), (), broken,
                            _links(lines, links))
    entries = [journal_entry(raw) for raw in lines]  # one JSON parse per line: needed to find
    links = [chain_link(raw, e) for raw, e in zip(lines, entries, strict=True)]  # damage
    bad = {n: BadLine(n, links[n - 1], len(raw), _preview(raw))
           for n, (raw, e) in enumerate(zip(lines, entries, strict=True), 1) if e is None}
    acknowledged = {(int(e["line"]), str(e["line_sha256"])) for e in entries
                    if e is not None and e["type"] == "repair"}
    prevs_list = [GENESIS, *links][:len(links)]
    broken = tuple(n for n, (e, prev) in enumerate(zip(entries, prevs_list, strict=True), 1)
                   if e is not None and e["prev"] != prev
                   and (n - 1, prev) not in acknowledged)
    events = events_frame([e for e in entries if e is not None and e["type"] != "repair"])
    return JournalState(
        events, end, links[-1] if links else GENESIS, torn,
        tuple(b for n, b in bad.items() if (n, b.sha256) not in acknowledged),
        tuple(b for n, b in bad.items() if (n, b.sha256) in acknowledged),
        broken, _links(lines, links))


def checkpoint_problems(state: JournalState, checkpoints: Sequence[Checkpoint]) -> list[str]:
    """Each way the journal no longer holds its checkpoints, in words (cut, rewritten)."""
    if not checkpoints:
        return []
    wanted = pl.DataFrame({"end": [c.position for c in checkpoints],
                           "hash": [c.hash for c in checkpoints],
                           "by": [c.recorded_by for c in checkpoints]},
                          schema={"end": pl.Int64, "hash": pl.String, "by": pl.String})
    found = wanted.join(state.links, on="end", how="left")
    missing = found.filter(pl.col("link").is_null() | (pl.col("link") != pl.col("hash")))
    if state.repaired:  # a receipt at the end of a line the privacy officer acknowledged
        # holds that line's own hash, while the chain links its bytes: no rewrite (a line
        # written damaged by an older version, e.g. an objection without a number).
        ends = state.links.filter(pl.col("line").is_in(
            pl.Series([b.line for b in state.repaired], dtype=pl.Int64).implode()))["end"]
        missing = missing.filter(~pl.col("end").is_in(ends.implode()))
    problems = []
    for beyond, what in ((True, "the journal is shorter ({size:,} bytes) than {n} "
                                "checkpoint(s), the first recorded by {by} at byte {end:,}: "
                                "entries were cut"),
                         (False, "the journal differs from {n} checkpoint(s), the first "
                                 "recorded by {by} at byte {end:,}: entries were rewritten")):
        part = missing.filter((pl.col("end") > state.position) == beyond).sort("end")
        if part.height:
            first = part.row(0, named=True)
            problems.append(what.format(size=state.position, n=part.height, by=first["by"],
                                        end=first["end"]))
    return problems


def require_whole(state: JournalState, checkpoints: Sequence[Checkpoint]) -> None:
    """Refuse to decide on a journal with an unacknowledged damaged line, a broken chain
    or a missing checkpoint: an opt-out may be missing, so no answer may be "dialable"."""
    if state.damaged:
        raise JournalError(f"the opt-out journal's {state.damaged[0].describe()}; no number "
                           f"is decided until {REPAIR_HINT}", file="data/optouts.jsonl")
    problems = [f"line {n}: hash chain broken" for n in state.broken]
    problems += checkpoint_problems(state, checkpoints)
    if problems:
        raise EvidenceError(f"the opt-out journal cannot be trusted: {problems[0]}"
                            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
                            + f"; {RESTORE_HINT}", file="data/optouts.jsonl")
