"""Fuzz: malformed files through the real CLI end in one clear error, never a bug report.

Issue 13 item 18: a tester fed 331 malformed inputs to Gatekeeper and 18 ended in
"internal error ... This is a bug in gatekeeper". A user who saves a manifest in Excel's
encoding or whose disk damages the store must be told which file is wrong and how to fix
it, and nothing half-read may be decided on. So this module generates a corpus of broken
inputs, each written as a real file into a copy of a real workspace (config, manifests,
list files in CSV, xlsx and Parquet, opt-out CSVs, the opt-out journal, RPO exchange
files, the DuckDB store), runs the CLI command that reads it, and fails on an internal
error, a traceback, a "store busy" that is not one, or an error that does not name the
file (or the option) that is wrong.

The corpus (about 350 cases, some 40 s) is drawn by random.Random from a fixed seed, so
CI sees the same cases every time; set GATEKEEPER_FUZZ_SEED to explore others locally (a
failure prints its case id, which replays it with the same seed). The CLI runs in-process
like the other tests' `gk`: an exception escaping it is exactly what `main()` would print
as "internal error ... This is a bug in gatekeeper" (exit 70), and is reported here with
its traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import textwrap
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from openpyxl import Workbook

from gatekeeper.cli import cli

SEED = int(os.environ.get("GATEKEEPER_FUZZ_SEED", "1318"))
AS_OF = "2026-11-22T12:00"
PHONE = "3331234567"
RUN = ("run", "--campaign", "fuzz", "--purpose", "telemarketing", "--as-of", AS_OF)
CHECK = ("check", PHONE, "--purpose", "telemarketing")
RPO_IMPORT = ("rpo", "import", "--request", "data/rpo/req.txt", "--response",
              "data/rpo/resp.txt", "--checked-at", "2026-11-21T10:00")

# --- the workspace every case starts from ------------------------------------------------

CONFIG = {
    "controller.name": '"Connecto S.r.l."',
    "controller.vat": '"IT08606060963"',
    "controller.address": '"Piazza Eleonora Duse 2, 20122 Milano (MI)"',
    "controller.dpo_email": '"dpo@connecto.example"',
    "policy.jurisdiction": '"IT"',
    "policy.rpo_validity_days": "15",
    "policy.consent_max_age_days": "730",
    "policy.contract_grace_days": "30",
    "policy.survey_checks_rpo": "false",
    "registry.adapter": '"file"',
    "registry.price_per_number": "0.004",
    "retention.list_rows_months": "24",
    "retention.evidence_years": "5",
}
MANIFEST = {
    "id": '"fz"',
    "kind": '"third_party"',
    "file": '"data/lists/fz.csv"',
    "received_on": "2026-11-02",
    "purposes": '["telemarketing"]',
    "supplier.name": '"Acme Lead S.r.l."',
    "supplier.vat": '"IT01234567890"',
    "supplier.contact": '"privacy@acme.example"',
    "supplier.contract_ref": '"2026/17"',
    "columns.phone": '"Telefono"',
    "columns.name": '"Nominativo"',
    "columns.consent_third_party": '"Consenso terzi"',
    "columns.consent_date": '"Data consenso"',
    "columns.consent_proof": '"ID prova"',
}
HEADER = ["Telefono", "Nominativo", "Consenso terzi", "Data consenso", "ID prova"]
ROWS = [
    ["3331234567", "Mario Rossi", "si", "2026-03-01", "P-1"],
    ["3471234568", "Anna Bianchi", "si", "15/04/2026", "P-2"],
    ["0612345678", "Studio Verdi", "no", "", ""],
    ["3201234569", "Luca Neri", "x", "2025-12-31", "P-4"],
    ["12345", "Totale sbagliato", "forse", "31/02/2026", ""],
]
OPTOUT_HEADER = "phone,channel,received_at,by,scope,note"


def toml_text(values: dict[str, str | None]) -> str:
    """TOML from dotted keys ("table.key") and literal values; None leaves a key out."""
    top = [f"{k} = {v}" for k, v in values.items() if "." not in k and v is not None]
    tables: dict[str, list[str]] = {}
    for key, value in values.items():
        if "." in key and value is not None:
            table, name = key.split(".", 1)
            tables.setdefault(table, []).append(f"{name} = {value}")
    parts = ["\n".join(top)] + [f"[{t}]\n" + "\n".join(lines) for t, lines in tables.items()]
    return "\n\n".join(parts) + "\n"


def csv_text(rows: list[list[str]], delimiter: str = ";") -> str:
    return "".join(delimiter.join(row) + "\n" for row in rows)


def gk(root: Path, *args: str) -> Result:
    """The real CLI, in-process, from inside the workspace; exceptions are kept for the
    verdict (what `main()` would print as an internal error, exit 70)."""
    with contextlib.chdir(root):
        return CliRunner().invoke(cli, ["--home", str(root), *args], catch_exceptions=True)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with everything a command may read: a loaded list, an RPO exchange, an
    opt-out in the journal, a run and its reports."""
    root = tmp_path_factory.mktemp("fuzz") / "template"
    (root / "sources").mkdir(parents=True)
    (root / "data" / "lists").mkdir(parents=True)
    (root / "data" / "rpo").mkdir(parents=True)
    (root / "gatekeeper.toml").write_text(toml_text(CONFIG))
    (root / "sources" / "fz.toml").write_text(toml_text(MANIFEST))
    (root / "data" / "lists" / "fz.csv").write_text(csv_text([HEADER, *ROWS]))
    numbers = [row[0] for row in ROWS[:4]]
    (root / "data" / "rpo" / "req.txt").write_text("\n".join(numbers) + "\n")
    (root / "data" / "rpo" / "resp.txt").write_text("\n".join(numbers[1:]) + "\n")
    (root / "data" / "optouts.csv").write_text(
        f"{OPTOUT_HEADER}\n3471234568,letter,2026-11-01,back-office,all,\n")
    steps = [("load",),
             ("rpo", "import", "--request", "data/rpo/req.txt", "--response",
              "data/rpo/resp.txt", "--checked-at", "2026-11-20T10:00"),
             ("optout", "add", "3201234569", "--channel", "operator", "--by", "a7", "--at",
              "2026-11-10"),
             ("run", "--campaign", "base", "--purpose", "telemarketing", "--as-of", AS_OF)]
    for step in steps:
        result = gk(root, *step)
        assert result.exit_code == 0, (step, result.output, result.exception)
    return root


# --- mutations ---------------------------------------------------------------------------

ENCODINGS = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be",
             "cp1252")
ACCENTED = "Società Cooperativa Perché Più € "


def reencode(text: str, encoding: str) -> bytes:
    """The text as another program would save it (accents added so cp1252 differs)."""
    return text.replace("S.r.l.", f"{ACCENTED}S.r.l.").replace(
        "Rossi", "Rossì").encode(encoding)


def with_nuls(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out.insert(rng.randrange(len(out) + 1), 0)
    return bytes(out)


BAD_UTF8 = (b"\xff", b"\xfe\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\xe8",
            b"\xf8\x88\x80\x80\x80")


def with_bad_utf8(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(out) + 1)
        out[at:at] = rng.choice(BAD_UTF8)
    return bytes(out)


def truncated(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.randrange(len(data))] if data else data


def flipped(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.choice((1, 3, 20))):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def byte_mutation(text: str, rng: random.Random) -> tuple[str, bytes]:
    """One way a text file arrives damaged or in a foreign encoding: (label, bytes)."""
    kind = rng.choice(("encoding", "encoding-cut", "nul", "utf8", "truncate", "flip",
                       "empty", "bom"))
    data = text.encode()
    if kind == "encoding":
        encoding = rng.choice(ENCODINGS)
        return encoding, reencode(text, encoding)
    if kind == "encoding-cut":  # a UTF-16/32 file cut at an odd byte
        encoding = rng.choice(("utf-16", "utf-32"))
        return f"{encoding}-cut", truncated(reencode(text, encoding), rng)
    if kind == "bom":
        return "bom-only", rng.choice((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff",
                                       b"\xff\xfe\x00\x00"))
    mutate = {"nul": with_nuls, "utf8": with_bad_utf8, "truncate": truncated,
              "flip": flipped, "empty": lambda d, r: b""}[kind]
    return kind, mutate(data, rng)


# Values of the wrong type or out of range, for any TOML key.
WRONG_VALUES = (
    "[1, 2]", "{ a = 1 }", "99999999999999999999999999", "-99999999999999999999", "-1", "0",
    "2026-11-02", '"2026-11-02"', "true", "1.5e308", "inf", "nan", '""', '"   "', "[]", "{}",
    "1979-05-27T07:32:00Z", "07:32:00", '"\\u0000"', '["telemarketing", 1]', "3.5",
    '"2026-13-45"', '"x" ', '"ñ€ß"', '"' + "x" * 5000 + '"',
)


# --- the corpus --------------------------------------------------------------------------

Write = Callable[[Path, random.Random], None]


@dataclass(frozen=True)
class Case:
    """One malformed input: what is written, the command that reads it, and what its
    error must name (any one of `names`)."""

    name: str
    write: Write
    args: tuple[str, ...]
    names: tuple[str, ...]


def _put(relative: str, data: bytes) -> Write:
    def write(root: Path, rng: random.Random) -> None:
        path = root / relative
        if path.is_dir():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return write


def _folder(relative: str) -> Write:
    """A folder where a file is expected (a mistaken unzip, a copy gone wrong)."""
    def write(root: Path, rng: random.Random) -> None:
        path = root / relative
        if path.is_file():
            path.unlink()
        (path / "inside").mkdir(parents=True, exist_ok=True)
    return write


def _all(*writes: Write) -> Write:
    def write(root: Path, rng: random.Random) -> None:
        for one in writes:
            one(root, rng)
    return write


def _manifest(**changes: str | None) -> Write:
    values = {**MANIFEST, **{k.replace("__", "."): v for k, v in changes.items()}}
    return _put("sources/fz.toml", toml_text(values).encode())


DEEP_TOML = "x = " + "[" * 5000 + "]" * 5000 + "\n"
PURGE = ("purge", "--dry-run", "--as-of", AS_OF)
RPO_REQUEST = ("rpo", "request", "--out", "out.txt", "--as-of", AS_OF)
# Whole-number knobs and a command that computes with each (dates, counts).
NUMBER_KNOBS = {"policy.rpo_validity_days": RPO_REQUEST, "policy.consent_max_age_days": RUN,
                "policy.contract_grace_days": CHECK, "retention.list_rows_months": PURGE,
                "retention.evidence_years": PURGE, "registry.price_per_number": RPO_REQUEST}


def config_cases(rng: random.Random) -> list[Case]:
    """gatekeeper.toml: encodings, damage, a folder, wrong types for every key, and
    numbers too large for the dates and counts computed from them."""
    commands = [RUN, CHECK, ("disclose", PHONE), RPO_REQUEST, PURGE]
    names = ("gatekeeper.toml",)
    cases = [Case("config/deep-nesting", _put("gatekeeper.toml", DEEP_TOML.encode()), RUN,
                  names)]
    text = toml_text(CONFIG)
    for key, command in NUMBER_KNOBS.items():
        for value in ("99999999999999999999999999", "1000000000", "-5"):
            data = toml_text({**CONFIG, key: value}).encode()
            cases.append(Case(f"config/{key}={value[:12]}", _put("gatekeeper.toml", data),
                              command, names))
    for i in range(8):
        label, data = byte_mutation(text, rng)
        cases.append(Case(f"config/{label}/{i}", _put("gatekeeper.toml", data),
                          rng.choice(commands), names))
    for encoding in ENCODINGS:
        cases.append(Case(f"config/encoding-{encoding}",
                          _put("gatekeeper.toml", reencode(text, encoding)),
                          rng.choice(commands), names))
    cases.append(Case("config/folder", _folder("gatekeeper.toml"), RUN, names))
    for i, key in enumerate(sorted(CONFIG)):
        value = rng.choice(WRONG_VALUES)
        data = toml_text({**CONFIG, key: value}).encode()
        cases.append(Case(f"config/{key}={value[:20]}/{i}", _put("gatekeeper.toml", data),
                          rng.choice(commands), names))
    for table in ("controller", "policy", "registry", "retention"):
        data = (f'{table} = "x"\n'  # a value where a table belongs, above the tables
                + toml_text({k: v for k, v in CONFIG.items() if not k.startswith(table)}))
        cases.append(Case(f"config/{table}-not-a-table", _put("gatekeeper.toml",
                                                              data.encode()),
                          rng.choice(commands), names))
    return cases


def manifest_cases(rng: random.Random) -> list[Case]:
    """sources/fz.toml: encodings, damage, a folder, wrong types, odd options."""
    names = ("fz.toml",)
    load = ("load",)
    text = toml_text(MANIFEST)
    cases = [Case("manifest/folder", _folder("sources/fz.toml"), load, names),
             Case("manifest/deep-nesting", _put("sources/fz.toml", DEEP_TOML.encode()), load,
                  names)]
    for i in range(6):
        label, data = byte_mutation(text, rng)
        cases.append(Case(f"manifest/{label}/{i}", _put("sources/fz.toml", data), load,
                          names))
    for encoding in ENCODINGS:
        cases.append(Case(f"manifest/encoding-{encoding}",
                          _put("sources/fz.toml", reencode(text, encoding)), load, names))
    for i, key in enumerate(sorted(MANIFEST)):
        value = rng.choice(WRONG_VALUES)
        cases.append(Case(f"manifest/{key}={value[:20]}/{i}",
                          _manifest(**{key.replace(".", "__"): value}), load, names))
    odd = {
        "header_row-huge": {"header_row": "99999999999999999999"},
        "header_row-big": {"header_row": "1000000"},
        "skip_rows-huge": {"skip_rows": "99999999999999999999"},
        "sheet-int": {"sheet": "5"},
        "delimiter-empty": {"delimiter": '""'},
        "delimiter-newline": {"delimiter": '"\\n"'},
        "delimiter-quote": {"delimiter": "'\"'"},
        "encoding-unknown": {"encoding": '"utf-99"'},
        "encoding-base64": {"encoding": '"base64"'},
        "encoding-rot13": {"encoding": '"rot13"'},
        "encoding-hex": {"encoding": '"hex"'},
        "encoding-utf-32": {"encoding": '"utf-32"'},
        "encoding-ascii": {"encoding": '"ascii"'},
        "file-folder": {"file": '"data/lists"'},
        "file-missing": {"file": '"data/lists/nope.csv"'},
        "file-outside": {"file": '"../../../etc/hostname.csv"'},
        "file-nul": {"file": '"data/lists/fz\\u0000.csv"'},
        "file-no-suffix": {"file": '"data/lists/fz"'},
        "outside_workspace-text": {"outside_workspace": '"yes"'},
        "supplier-text": {"supplier": '"Acme"'},
        "columns-text": {"columns": '"Telefono"'},
        "defaults-list": {"defaults": '["x"]'},
        "defaults-date": {"defaults": "{ consent_date = 2026-01-01 }"},
        "defaults-table": {"defaults": "{ consent_date = { a = 1 } }"},
        "defaults-array": {"defaults": '{ consent_proof = ["a", "b"] }'},
        "supplier-contact-number": {"supplier__contact": "42"},
        "defaults-phone": {"defaults": '{ phone = "3331234567" }'},
        "purposes-text": {"purposes": '"telemarketing"'},
        "received_on-time": {"received_on": "07:32:00"},
        "received_on-bad": {"received_on": '"2026-02-30"'},
        "id-slash": {"id": '"../fz"'},
        "unknown-key": {"colums": '{ phone = "Telefono" }'},
    }
    for label, change in odd.items():
        cases.append(Case(f"manifest/{label}", _manifest(**change), load,
                          (*names, "fz.csv", "data/lists")))
    return cases


def _list_manifest(file: str, **changes: str | None) -> Write:
    return _manifest(file=f'"data/lists/{file}"', **changes)


def csv_cases(rng: random.Random) -> list[Case]:
    """The CSV list: encodings, damage, and the shapes exports take when they go wrong."""
    names = ("fz.csv", "fz.toml")
    load = ("load", "fz")
    text = csv_text([HEADER, *ROWS])
    cases = [Case("csv/folder", _folder("data/lists/fz.csv"), load, names)]
    for i in range(6):
        label, data = byte_mutation(text, rng)
        cases.append(Case(f"csv/{label}/{i}", _put("data/lists/fz.csv", data), load, names))
    for encoding in ENCODINGS:
        data = reencode(text, encoding)
        cases.append(Case(f"csv/encoding-{encoding}", _put("data/lists/fz.csv", data), load,
                          names))
    wide = ";".join(["Telefono", *(f"c{i}" for i in range(10_000))])
    shapes = {
        "header-only": csv_text([HEADER]),
        "header-only-no-newline": ";".join(HEADER),
        "only-delimiters": ";;;;\n;;;;\n;;;;\n",
        "only-newlines": "\n\n\n\n",
        "ragged": csv_text([HEADER, ["3331234567"], ROWS[1] + ["extra", "more"], ROWS[2]]),
        "10k-columns": wide + "\n" + ";".join(["3331234567", *("x" * 10_000)]) + "\n",
        "huge-header-field": '"' + "T" * 200_000 + '"\n3331234567\n',
        "unclosed-quote-header": '"Telefono;Nominativo\n' + "3331234567;x\n" * 50,
        "stray-quote": csv_text([HEADER, ['333"1234567', '"Mario', "si", "", ""], ROWS[1]]),
        "open-quote-at-end": csv_text([HEADER, ROWS[0]]) + '3471234568;"Anna',
        "cr-only": text.replace("\n", "\r"),
        "huge-line": "Telefono;Nominativo\n3331234567;" + "x" * 2_000_000 + "\n",
        "duplicate-header": csv_text([["Telefono", "Telefono"], ["3331234567", "1"]]),
        "blank-header": csv_text([["", "", ""], ["3331234567", "a", "b"]]),
        "no-phone-column": csv_text([["Numero", "Nome"], ["3331234567", "a"]]),
        "row-column": csv_text([["Telefono", "row"], ["3331234567", "7"]]),
        "mixed-delimiters": "Telefono,Nominativo;Consenso terzi\n3331234567;a,b\n",
        "nul-only": "\x00" * 64,
        "binary": "".join(map(chr, range(256))),
        "bad-dates": csv_text([HEADER, ["3331234567", "a", "si", "9999-99-99", "P"],
                               ["3471234568", "b", "si", "00/00/0000", "P"],
                               ["3201234569", "c", "si", "99999", "P"],
                               ["3201234560", "d", "si", "2026-02-30", "P"]]),
        "future-dates": csv_text([HEADER, ["3331234567", "a", "si", "9999-12-31", "P"],
                                  ["3471234568", "b", "si", "31/12/2999", "P"]]),
        "phone-garbage": csv_text([HEADER, ["+" + "9" * 400, "a", "si", "", ""],
                                   ["\u202e3331234567", "b", "si", "", ""],
                                   ["=HYPERLINK(1)", "c", "si", "", ""]]),
    }
    for label, body in shapes.items():
        cases.append(Case(f"csv/{label}", _put("data/lists/fz.csv", body.encode("utf-8",
                          "surrogatepass")), load, names))
    return cases


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _rezip(data: bytes, change: Callable[[str, bytes], bytes | None]) -> bytes:
    """The workbook with each part passed through change (None drops the part)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            part = change(info.filename, src.read(info.filename))
            if part is not None:
                dst.writestr(info, part)
    return out.getvalue()


def xlsx_cases(rng: random.Random) -> list[Case]:
    """.xlsx lists that are zips with damaged or missing parts, or no zip at all."""
    names = ("fz.xlsx", "fz.toml")
    load = ("load", "fz")
    good = _xlsx([HEADER, *ROWS])
    manifest = _list_manifest("fz.xlsx")

    def case(label: str, data: bytes, **changes: str) -> Case:
        write = _all(_put("data/lists/fz.xlsx", data),
                     _list_manifest("fz.xlsx", **changes) if changes else manifest)
        return Case(f"xlsx/{label}", write, load, names)

    def part(suffix: str, new: Callable[[bytes], bytes | None]) -> Callable[[str, bytes],
                                                                            bytes | None]:
        return lambda name, body: new(body) if name.endswith(suffix) else body

    cases = [
        case("sheet-xml-cut", _rezip(good, part("sheet1.xml", lambda b: b[:len(b) // 2]))),
        case("sheet-xml-garbage", _rezip(good, part("sheet1.xml", lambda b: b"<<garbage"))),
        case("sheet-xml-missing", _rezip(good, part("sheet1.xml", lambda b: None))),
        case("workbook-missing", _rezip(good, part("workbook.xml", lambda b: None))),
        case("content-types-missing", _rezip(good, part("Types].xml", lambda b: None))),
        case("rels-missing", _rezip(good, part("workbook.xml.rels", lambda b: None))),
        case("shared-strings-garbage", _rezip(good, part("sharedStrings.xml",
                                                         lambda b: b"\xff\xfe<sst"))),
        case("styles-garbage", _rezip(good, part("styles.xml", lambda b: b"<styleSheet"))),
        case("sheet-bad-ref", _rezip(good, part("sheet1.xml", lambda b: b.replace(
            b'r="A1"', b'r="ZZZZZZ99999999999"')))),
        case("sheet-row-zero", _rezip(good, part("sheet1.xml", lambda b: b.replace(
            b'<row r="1"', b'<row r="0"')))),
        case("empty-zip", _rezip(good, lambda name, body: None)),
        case("zip-of-text", _rezip(good, lambda name, body: body if name.endswith(
            "Types].xml") else None)),
        case("csv-named-xlsx", csv_text([HEADER, *ROWS]).encode()),
        case("empty-file", b""),
        case("empty-sheet", _xlsx([])),
        case("header-only", _xlsx([HEADER])),
        case("no-phone-column", _xlsx([["Numero"], ["3331234567"]])),
        case("duplicate-header", _xlsx([["Telefono", "Telefono"], ["3331234567", "x"]])),
        case("error-cells", _xlsx([HEADER, ["=1/0", "=NA()", "=#REF!", None, None]])),
        case("sheet-unknown", good, sheet='"Nope"'),
        case("header-row-past-end", good, header_row="50"),
    ]
    for i in range(4):
        cases.append(case(f"truncated/{i}", truncated(good, rng)))
    for i in range(4):
        cases.append(case(f"flipped/{i}", flipped(good, rng)))
    cases.append(Case("xlsx/folder", _all(_folder("data/lists/fz.xlsx"), manifest), load,
                      names))
    return cases


def _parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def parquet_cases(rng: random.Random) -> list[Case]:
    """Parquet lists with nested, binary and null-typed columns, and damaged files."""
    names = ("fz.parquet", "fz.toml")
    load = ("load", "fz")
    phones = pa.array(["3331234567", "3471234568"])
    good = _parquet(pa.table({"Telefono": phones, "Nominativo": ["a", "b"]}))
    tables = {
        "list-column": {"Telefono": phones, "tags": pa.array([["a"], ["b", "c"]])},
        "list-phone": {"Telefono": pa.array([["3331234567"], []])},
        "struct-column": {"Telefono": phones, "s": pa.array([{"a": 1}, {"a": None}])},
        "struct-phone": {"Telefono": pa.array([{"n": "3331234567"}, {"n": None}])},
        "map-column": {"Telefono": phones, "m": pa.array([[("k", 1)], []],
                                                         pa.map_(pa.string(), pa.int64()))},
        "list-of-struct": {"Telefono": phones,
                           "x": pa.array([[{"a": 1}], [{"a": 2}, {"a": 3}]])},
        "binary-phone": {"Telefono": pa.array([b"3331234567", b"3471234568"], pa.binary())},
        "binary-not-utf8": {"Telefono": pa.array([b"\xff\xfe\x00", b"\x80"], pa.binary())},
        "binary-column-not-utf8": {"Telefono": phones,
                                   "blob": pa.array([b"\xff\xfe", b"\xc0"], pa.binary())},
        "fixed-binary": {"Telefono": pa.array([b"33312345", b"34712345"], pa.binary(8))},
        "null-column": {"Telefono": phones, "n": pa.nulls(2)},
        "null-phone": {"Telefono": pa.nulls(2)},
        "int-phone": {"Telefono": pa.array([3331234567, 612345678], pa.int64())},
        "float-phone": {"Telefono": pa.array([3331234567.0, float("nan")])},
        "decimal-phone": {"Telefono": pa.array([3331234567, 1], pa.decimal128(12, 0))},
        "dictionary-phone": {"Telefono": phones.dictionary_encode()},
        "duration-column": {"Telefono": phones, "d": pa.array([1, 2], pa.duration("s"))},
        "time-column": {"Telefono": phones, "t": pa.array([1, 2], pa.time64("us"))},
        "date-column": {"Telefono": phones, "d": pa.array([0, 99999], pa.date32())},
        "timestamp-tz": {"Telefono": phones,
                         "t": pa.array([0, 2**62], pa.timestamp("us", tz="Europe/Rome"))},
        "large-list": {"Telefono": phones,
                       "l": pa.array([[1], [2]], pa.large_list(pa.int64()))},
        "row-column": {"Telefono": phones, "row": pa.array([7, 8])},
        "no-phone-column": {"Numero": phones},
        "zero-rows": {"Telefono": pa.array([], pa.string())},
    }
    manifest = _list_manifest("fz.parquet")
    cases = []
    for label, columns in tables.items():
        data = _parquet(pa.table(columns))
        cases.append(Case(f"parquet/{label}", _all(_put("data/lists/fz.parquet", data),
                                                   manifest), load, names))
    damaged = {"zero-columns": _parquet(pa.table({})), "empty-file": b"",
               "csv-named-parquet": csv_text([HEADER, *ROWS]).encode(),
               "magic-only": b"PAR1"}
    for i in range(3):
        damaged[f"truncated/{i}"] = truncated(good, rng)
    for i in range(3):
        damaged[f"flipped/{i}"] = flipped(good, rng)
    for label, data in damaged.items():
        cases.append(Case(f"parquet/{label}", _all(_put("data/lists/fz.parquet", data),
                                                   manifest), load, names))
    cases.append(Case("parquet/folder", _all(_folder("data/lists/fz.parquet"), manifest),
                      load, names))
    return cases


def optout_csv_cases(rng: random.Random) -> list[Case]:
    """`optout import`: encodings, missing columns, bad and future dates, damage."""
    names = ("o.csv",)
    command = ("optout", "import", "o.csv")
    good = f"{OPTOUT_HEADER}\n3331234567,operator,2026-11-01,Josè,all,\n"
    cases = [Case("optout-csv/folder", _folder("o.csv"), command, names),
             Case("optout-csv/missing", lambda root, rng: None, command, names)]
    for i in range(6):
        label, data = byte_mutation(good, rng)
        cases.append(Case(f"optout-csv/{label}/{i}", _put("o.csv", data), command, names))
    for encoding in ENCODINGS:
        cases.append(Case(f"optout-csv/encoding-{encoding}",
                          _put("o.csv", good.encode(encoding)), command, names))

    def row(received_at: str, channel: str = "operator", phone: str = PHONE) -> str:
        return f"{OPTOUT_HEADER}\n{phone},{channel},{received_at},bo,all,\n"

    shapes = {
        "header-only": OPTOUT_HEADER + "\n",
        "missing-columns": "phone,channel\n3331234567,operator\n",
        "missing-by": "phone,channel,received_at\n3331234567,operator,2026-11-01\n",
        "semicolons": OPTOUT_HEADER.replace(",", ";")
        + "\n3331234567;operator;2026-11-01;bo;;\n",
        "only-delimiters": ",,,,,\n,,,,,\n",
        "ragged": f"{OPTOUT_HEADER}\n3331234567,operator\n"
        "3471234568,letter,2026-11-01,bo,all,,x,y\n",
        "10k-columns": OPTOUT_HEADER + "," + ",".join(f"c{i}" for i in range(10_000)) + "\n"
        + "3331234567,operator,2026-11-01,bo,all," + "," * 10_000 + "\n",
        "duplicate-columns": "phone,phone,channel,received_at,by\n"
        "3331234567,1,operator,2026-11-01,bo\n",
        "huge-header-field": '"' + "p" * 200_000 + '"\n1\n',
        "bad-date": row("2026-02-30"),
        "bad-date-dmy": row("31/12/2026"),
        "bad-date-word": row("ieri"),
        "empty-date": row(""),
        "future-date": row("9999-12-31"),
        "future-instant": row("2999-01-01T10:00:00+01:00"),
        "huge-year": row("99999-01-01"),
        "year-zero": row("0000-01-01"),
        "bad-offset": row("2026-11-01T10:00+99:00"),
        "bad-channel": row("2026-11-01", channel="piccione"),
        "bad-phone": row("2026-11-01", phone="not-a-number"),
        "huge-phone": row("2026-11-01", phone="9" * 5000),
        "quoted-newline": f'{OPTOUT_HEADER}\n"333\n1234567",operator,2026-11-01,bo,all,\n',
        "stray-quote": f'{OPTOUT_HEADER}\n3331234567,"operator,2026-11-01,bo,all,\n',
    }
    for label, body in shapes.items():
        cases.append(Case(f"optout-csv/{label}", _put("o.csv", body.encode()), command,
                          names))
    return cases


def option_cases(rng: random.Random) -> list[Case]:
    """Values on the command line and output paths that cannot be written."""
    nothing: Write = lambda root, rng: None  # noqa: E731
    add = ("optout", "add", PHONE, "--channel", "operator", "--by", "a7")
    cases = [
        Case("disclose/out-missing-folder", nothing,
             ("disclose", PHONE, "--format", "html", "--out", "nodir/x.html"), ("nodir",)),
        Case("disclose/out-under-a-file", nothing,
             ("disclose", PHONE, "--out", "data/lists/fz.csv/x.txt"), ("fz.csv",)),
        Case("disclose/out-is-a-folder", nothing, ("disclose", PHONE, "--out", "data"),
             ("data",)),
        Case("rpo-request/out-under-a-file", nothing,
             ("rpo", "request", "--out", "data/lists/fz.csv/req.txt"), ("fz.csv",)),
        Case("disclose/received-bad", nothing, ("disclose", PHONE, "--received", "2026-02-30"),
             ("--received",)),
    ]
    for label, at in {"bad": "2026-02-30", "future": "9999-12-31", "huge": "99999-01-01",
                      "word": "domani", "offset": "2026-11-01T10:00+25:00",
                      "nul": "2026-11-01\x00"}.items():
        cases.append(Case(f"optout-add/at-{label}", nothing, (*add, "--at", at), ("--at",)))
        cases.append(Case(f"run/as-of-{label}", nothing, (*RUN[:-1], at), ("--as-of",)))
    for label, phone in {"nul": "333\x001234567", "huge": "9" * 5000, "empty": "",
                         "letters": "abc"}.items():
        cases.append(Case(f"optout-add/phone-{label}", nothing,
                          ("optout", "add", phone, "--channel", "operator", "--by", "a7"),
                          ("phone", phone[:10])))
        cases.append(Case(f"check/phone-{label}", nothing,
                          ("check", phone, "--purpose", "telemarketing"), ("phone",)))
    return cases


JOURNAL = "data/optouts.jsonl"
JOURNAL_READERS = [RUN, CHECK, ("optout", "list"), ("audit", "verify"), ("disclose", PHONE),
                   ("load",), ("optout", "add", "3471234568", "--channel", "web", "--by", "x")]
ENTRY = ('{{"at": "{at}", "channel": "operator", "hash": "{hash}", "note": "", "phone": '
         '"+393331234567", "prev": "{prev}", "recorded_at": "2026-11-20T10:00:00Z", '
         '"recorded_by": "a7", "scope": "all", "seq": {seq}, "type": "optout"}}')


def journal_cases(rng: random.Random) -> list[Case]:
    """The opt-out journal with damaged lines, odd values and damaged files beside it."""
    names = ("optouts.jsonl", "opt-out journal", "optouts.checkpoints")
    entry = {"at": "2026-11-20T10:00:00Z", "hash": "a" * 64, "prev": "0" * 64, "seq": "2"}
    lines = {
        "garbage": b"garbage",
        "nul": b"\x00" * 40,
        "bad-utf8": b'{"type": "optout", "phone": "\xff\xfe"}',
        "json-array": b"[1, 2, 3]",
        "impossible-date": ENTRY.format(**{**entry, "at": "2026-99-99T99:99:99Z"}).encode(),
        "huge-seq": ENTRY.format(**{**entry, "seq": "9" * 30}).encode(),
        "negative-seq": ENTRY.format(**{**entry, "seq": "-1"}).encode(),
        "float-seq": ENTRY.format(**{**entry, "seq": "2.5"}).encode(),
        "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
        "huge-line": b'{"note": "' + b"x" * 2_000_000 + b'"}',
    }
    cases = [Case("journal/folder", _folder(JOURNAL), rng.choice(JOURNAL_READERS), names)]

    def append(line: bytes) -> Write:
        def write(root: Path, rng: random.Random) -> None:
            with (root / JOURNAL).open("ab") as handle:
                handle.write(line + b"\n")
        return write

    for label, line in lines.items():  # the decisions' reader always, and one other
        for command in (RUN, rng.choice(JOURNAL_READERS[1:])):
            cases.append(Case(f"journal/{label}/{command[0]}", append(line), command, names))

    def mutate(kind: str, relative: str) -> Write:
        def write(root: Path, rng: random.Random) -> None:
            path = root / relative
            data = path.read_bytes()
            path.write_bytes(truncated(data, rng) if kind == "truncate" else flipped(data, rng))
        return write

    for i in range(8):
        kind = rng.choice(("truncate", "flip"))
        relative = rng.choice((JOURNAL, "data/optouts.checkpoints"))
        cases.append(Case(f"journal/{kind}-{Path(relative).suffix[1:]}/{i}",
                          mutate(kind, relative), rng.choice(JOURNAL_READERS), names))
    cases.append(Case("journal/checkpoints-folder", _folder("data/optouts.checkpoints"),
                      rng.choice(JOURNAL_READERS), names))
    return cases


STORE = "data/store/gatekeeper.duckdb"
STORE_READERS = [("load",), ("sources",), RUN, CHECK, ("disclose", PHONE), ("audit", "verify"),
                 RPO_IMPORT, ("requests",), ("purge", "--dry-run", "--as-of", AS_OF),
                 ("rpo", "request", "--out", "out.txt", "--as-of", AS_OF)]


def store_cases(rng: random.Random) -> list[Case]:
    """A damaged store: the catalog file, its WAL, and the Parquet and evidence files."""
    names = ("data/store",)

    def catalog(kind: str) -> Write:
        def write(root: Path, rng: random.Random) -> None:
            path = root / STORE
            data = bytearray(path.read_bytes())
            if kind == "random":
                data = bytearray(rng.randbytes(len(data)))
            elif kind == "truncate":
                data = data[:rng.randrange(len(data))]
            elif kind == "flip":
                for _ in range(rng.choice((5, 50, 500))):
                    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            elif kind == "zero":
                at = rng.randrange(len(data))
                size = rng.randrange(4096, 200_000)
                data[at:at + size] = bytes(len(data[at:at + size]))
            elif kind == "empty":
                data = bytearray()
            path.write_bytes(bytes(data))
        return write

    def store_file(folder: str, kind: str) -> Write:
        def write(root: Path, rng: random.Random) -> None:
            files = sorted(p for p in (root / "data/store" / folder).rglob("*") if p.is_file())
            path = rng.choice(files)
            if kind == "delete":
                path.unlink()
            else:
                data = path.read_bytes()
                path.write_bytes(truncated(data, rng) if kind == "truncate"
                                 else flipped(data, rng))
        return write

    cases = []
    kinds = ["random"] * 2 + ["truncate"] * 3 + ["flip"] * 4 + ["zero"] * 2 + ["empty"]
    for i, kind in enumerate(kinds):
        cases.append(Case(f"store/catalog-{kind}/{i}", catalog(kind),
                          rng.choice(STORE_READERS), names))
    cases.append(Case("store/wal-garbage", _put(STORE + ".wal", rng.randbytes(5000)),
                      rng.choice(STORE_READERS), names))
    cases.append(Case("store/catalog-folder", _folder(STORE), rng.choice(STORE_READERS),
                      names))
    cases.append(Case("store/store-is-a-file", _all(
        lambda root, rng: shutil.rmtree(root / "data/store"), _put("data/store", b"x")),
        rng.choice(STORE_READERS), names))
    for folder in ("rows", "runs", "evidence"):
        for kind in ("truncate", "flip", "delete"):
            command = rng.choice([RUN, CHECK, ("disclose", PHONE), ("audit", "verify")])
            cases.append(Case(f"store/{folder}-{kind}", store_file(folder, kind), command,
                              names))
    return cases


def rpo_cases(rng: random.Random) -> list[Case]:
    """RPO exchange files: encodings, damage, lines that are no number, folders."""
    cases = []
    names = ("req.txt", "resp.txt")  # a damaged request can make the response look wrong
    good = {"req": "3331234567\n3471234568\n0612345678\n", "resp": "3471234568\n0612345678\n"}
    for i in range(8):
        which = rng.choice(("req", "resp"))
        label, data = byte_mutation(good[which], rng)
        cases.append(Case(f"rpo/{which}-{label}/{i}", _put(f"data/rpo/{which}.txt", data),
                          RPO_IMPORT, names))
    shapes = {"not-asked": "3999999999\n", "words": "numero\n", "huge-line": "3" * 2_000_000,
              "nul": "333\x001234567\n", "csv": "phone;registered\n3331234567;si\n"}
    for label, body in shapes.items():
        cases.append(Case(f"rpo/resp-{label}", _put("data/rpo/resp.txt", body.encode()),
                          RPO_IMPORT, ("resp.txt",)))
    for which in ("req", "resp"):
        cases.append(Case(f"rpo/{which}-folder", _folder(f"data/rpo/{which}.txt"), RPO_IMPORT,
                          (f"{which}.txt",)))
    return cases


def corpus(seed: int = SEED) -> list[Case]:
    """Every case, drawn from one seed: the same list on every run."""
    rng = random.Random(seed)
    groups = (config_cases, manifest_cases, csv_cases, xlsx_cases, parquet_cases,
              optout_csv_cases, option_cases, journal_cases, store_cases, rpo_cases)
    cases = [case for group in groups for case in group(random.Random(rng.random()))]
    seen: set[str] = set()
    unique = []
    for case in cases:  # ids must be unique for pytest
        name, n = case.name, 1
        while name in seen:
            n += 1
            name = f"{case.name}#{n}"
        seen.add(name)
        unique.append(Case(name, case.write, case.args, case.names))
    return unique


CORPUS = corpus()


# --- the verdict -------------------------------------------------------------------------

USER_EXITS = {0, 1, 2, 3, 5}  # never 4: nothing else holds the store; 70 is a bug
LINE_STARTS = ("error:", "warning:", "problem:")


def verdict(case: Case, result: Result) -> str | None:
    """Why the result is not a clean answer to a malformed input, or None when it is."""
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        trace = "".join(traceback.format_exception(exc))
        return f"internal error ({type(exc).__name__}: {exc})\n{trace}"
    stderr = result.stderr
    if "Traceback" in result.output or "internal error" in result.output:
        return "a traceback or internal error in the output"
    if result.exit_code not in USER_EXITS:
        return f"exit code {result.exit_code} (expected one of {sorted(USER_EXITS)})"
    if result.exit_code in (0, 1, 3):
        return None
    if stderr.startswith("Usage:"):  # click refused an option: it names the option
        return None if any(n in stderr for n in case.names) else "usage error names nothing"
    lines = stderr.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    if not errors:
        return "failed without an 'error:' line"
    stray = [line for line in lines if not line.startswith(LINE_STARTS)]
    if stray:
        return f"the message spills over several lines: {stray[:2]}"
    if len(errors) > 1:
        return f"{len(errors)} error lines for one malformed input"
    if not any(n in errors[0] for n in case.names):
        return f"the error does not name {' or '.join(case.names)}"
    return None


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_malformed_input_gets_one_clear_error(case: Case, template: Path,
                                              tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(template, root, symlinks=True)
    case.write(root, random.Random(f"{SEED}:{case.name}"))
    result = gk(root, *case.args)
    problem = verdict(case, result)
    assert problem is None, (f"{case.name}: gatekeeper {' '.join(case.args)[:200]} -> "
                             f"exit {result.exit_code}: {problem}\n"
                             f"{textwrap.shorten(result.output, 2000)}")


def test_the_corpus_covers_every_kind_of_input() -> None:
    """The corpus is what the issue asked for, whatever the seed draws."""
    groups = {case.name.split("/")[0] for case in CORPUS}
    assert groups >= {"config", "manifest", "csv", "xlsx", "parquet", "optout-csv",
                      "journal", "store", "rpo", "disclose", "optout-add", "run", "check"}
    assert 150 <= len(CORPUS) <= 350


# --- what the verdict above cannot see: the right answer, not only a clean one -----------

def _copy(template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(template, root, symlinks=True)
    return root


def test_a_damaged_store_says_damaged_and_how_to_recover_never_busy(template: Path,
                                                                     tmp_path: Path) -> None:
    """DuckDB reports a bad block as "... checksum ... in block at location N": "block"
    holds "lock", which used to mean 30 s of waiting and then "another gatekeeper process
    is writing the store", sending the user to look for a process that does not exist."""
    root = _copy(template, tmp_path)
    catalog = root / STORE
    data = bytearray(catalog.read_bytes())
    for header in (4096, 8192):  # both database headers: whichever is current, its
        for at in range(header + 16, header + 48):  # checksum no longer matches
            data[at] ^= 0xFF
    catalog.write_bytes(bytes(data))
    for args in (("sources",), RUN, ("load",)):
        result = gk(root, *args)
        assert result.exit_code == 5, result.output
        assert "another gatekeeper process" not in result.output
        assert "damaged" in result.output and "restore the whole data/store/" in result.output
        assert "gatekeeper.duckdb" in result.output


def test_a_missing_or_cut_rows_file_is_named(template: Path, tmp_path: Path) -> None:
    root = _copy(template, tmp_path)
    rows = next((root / "data/store/rows").rglob("*.parquet"))
    rows.write_bytes(rows.read_bytes()[:100])
    cut = gk(root, *RUN)
    assert cut.exit_code == 5 and rows.name in cut.output and "sha256" in cut.output
    rows.unlink()
    missing = gk(root, "disclose", PHONE)
    assert missing.exit_code == 5 and rows.name in missing.output
    assert "missing" in missing.output


def test_a_file_in_place_of_the_store_folder_is_no_empty_store(template: Path,
                                                               tmp_path: Path) -> None:
    """Read-only commands open a missing store as an empty one; a file where the store's
    folder was must not make a disclosure answer "nothing is held"."""
    root = _copy(template, tmp_path)
    shutil.rmtree(root / "data/store")
    (root / "data/store").write_bytes(b"not a folder")
    result = gk(root, "disclose", PHONE)
    assert result.exit_code == 2 and "data/store" in result.output
    assert "nothing is held" not in result.output


def test_disclose_into_a_missing_folder_says_so_before_logging_the_answer(
        template: Path, tmp_path: Path) -> None:
    root = _copy(template, tmp_path)
    result = gk(root, "disclose", PHONE, "--format", "html", "--ref", "REQ-1", "--out",
                "nodir/x.html")
    assert result.exit_code == 2
    assert "nodir/x.html: the folder nodir does not exist" in result.stderr
    logged = gk(root, "requests", "--all", "--json")
    assert "REQ-1" not in logged.output  # not answered: the letter was never written


def test_utf32_lists_are_read_and_cut_utf16_ones_named(template: Path, tmp_path: Path
                                                       ) -> None:
    """A UTF-32 file's byte-order mark starts with UTF-16's: it was read as UTF-16 full of
    NULs, so the header did not match and the error quoted '\\x00T\\x00e…'."""
    root = _copy(template, tmp_path)
    text = csv_text([HEADER, *ROWS])
    (root / "data/lists/fz.csv").write_bytes(text.encode("utf-32"))
    loaded = gk(root, "load", "fz", "--json")
    assert loaded.exit_code == 0, loaded.output
    assert '"rows_read": 5' in loaded.output
    (root / "data/lists/fz.csv").write_bytes(text.encode("utf-16")[:-1])
    cut = gk(root, "load", "fz")
    assert cut.exit_code == 2 and "fz.csv: the file starts as UTF-16" in cut.stderr


def test_a_column_named_row_is_dropped_unless_the_manifest_maps_it(template: Path,
                                                                   tmp_path: Path) -> None:
    """Readers number rows in a column called `row`: a file's own `row` column used to be
    overwritten silently (CSV) or to crash the load (.xlsx, Parquet)."""
    root = _copy(template, tmp_path)
    (root / "data/lists/fz.csv").write_text(csv_text([["Telefono", "row"],
                                                      ["3331234567", "70"],
                                                      ["3471234568", "80"]]))
    (root / "sources/fz.toml").write_text(toml_text(
        {k: v for k, v in MANIFEST.items() if not k.startswith("columns.")}
        | {"columns.phone": '"Telefono"'}))
    loaded = gk(root, "load", "fz", "--json")
    assert loaded.exit_code == 0, loaded.output
    (root / "sources/fz.toml").write_text(toml_text(
        {k: v for k, v in MANIFEST.items() if not k.startswith("columns.")}
        | {"columns.phone": '"Telefono"', "columns.customer_id": '"row"'}))
    mapped = gk(root, "load", "fz")
    assert mapped.exit_code == 2
    assert "key 'columns.customer_id'" in mapped.stderr and "rename it" in mapped.stderr


def test_an_optout_is_recorded_even_when_its_receipt_cannot_be_kept(template: Path,
                                                                    tmp_path: Path) -> None:
    """The receipt (optouts.checkpoints) is written after the objection is fsynced: failing
    then would tell the agent "not recorded" about a recorded objection."""
    root = _copy(template, tmp_path)
    receipts = root / "data/optouts.checkpoints"
    receipts.unlink()
    receipts.mkdir()
    added = gk(root, "optout", "add", "3471234568", "--channel", "web", "--by", "x")
    assert added.exit_code == 0, added.output
    assert "opt-out recorded" in added.stdout and "could not be kept" in added.stderr
    assert "+393471234568" in (root / JOURNAL).read_text()
    decided = gk(root, *RUN)  # deciding without the receipts would miss a cut journal
    assert decided.exit_code == 2 and "optouts.checkpoints" in decided.stderr
