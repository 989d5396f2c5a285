"""Intake: `gatekeeper init` and `gatekeeper sources suggest` on lists as suppliers send
them (issue 22): real files in tmp folders, read by the same readers `load` uses, and a
draft that loads unchanged when its guesses are right."""

from __future__ import annotations

import contextlib
import datetime as dt
import tomllib
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from gatekeeper.cli import cli
from gatekeeper.config import Workspace, parse_config
from gatekeeper.core.errors import InputError, SourceFileError
from gatekeeper.intake.suggest import ControllerInfo, init_workspace, suggest, write_suggestion

from .conftest import SUPPLIER, gk

TODAY = dt.date(2026, 11, 22)
MOBILES = [f"33{i}1234567" for i in range(8)]
NAMES = [
    "Mario Rossi",
    "Anna Bianchi",
    "Luca Verdi",
    "Sara Neri",
    "Paolo Gallo",
    "Giulia Costa",
    "Marco Fontana",
    "Elena Ricci",
]


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    init_workspace(
        root,
        ControllerInfo(
            "Connecto S.r.l.", "IT08606060963", "Piazza Duse 2, Milano", "dpo@connecto.example"
        ),
    )
    return Workspace(root)


def _csv(
    rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8", bom: bool = False
) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        def cell(value: str) -> str:
            return f'"{value}"' if delimiter in value else value

        text = "\r\n".join(delimiter.join(cell(v) for v in row) for row in rows) + "\r\n"
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))

    return write


def _xlsx(rows: list[list[object]], merges: tuple[str, ...] = ()) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        for row in rows:
            sheet.append(row)
        for merge in merges:
            sheet.merge_cells(merge)
        book.save(path)

    return write


def _parquet(columns: dict[str, list[object]]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        pl.DataFrame(columns).write_parquet(path)

    return write


def _people(
    *header: str,
    phone_at: int = 0,
    phones: list[object] | None = None,
    extra: Callable[[int], list[object]] | None = None,
) -> list[list[object]]:
    """A header and eight rows: the phone at `phone_at`, a name in the other first cell."""
    rows: list[list[object]] = [list(header)]
    for i in range(8):
        row: list[object] = [NAMES[i]] * len(header)
        row[phone_at] = (phones or MOBILES)[i]
        if extra:
            row[len(header) - len(extra(i)) :] = extra(i)
        rows.append(row)
    return rows


def _text_rows(rows: list[list[object]]) -> list[list[str]]:
    return [[str(v) for v in row] for row in rows]


def _yes_date(i: int) -> list[object]:
    return ["SI" if i % 2 else "NO", f"0{1 + i}/03/2025"]


# (file name, writer, header_row the draft writes (None: the first), phone column)
CASES: list[tuple[str, Callable[[Path], None], int | None, str]] = [
    ("plain.csv", _csv(_text_rows(_people("Telefono", "Nominativo"))), None, "Telefono"),
    (
        "excel-it.csv",
        _csv(
            [
                ["Elenco contatti – novembre, città di Milano"],
                *_text_rows(_people("Nominativo", "Cell.", "Città", phone_at=1)),
            ],
            delimiter=";",
            encoding="cp1252",
        ),
        2,
        "Cell.",
    ),
    (
        "english.tsv",
        _csv(
            _text_rows(_people("Phone", "Name", "Consent", "Consent date", extra=_yes_date)),
            delimiter="\t",
        ),
        None,
        "Phone",
    ),
    (
        "pipe.txt",
        _csv(_text_rows(_people("Numero", "Ragione sociale")), delimiter="|"),
        None,
        "Numero",
    ),
    (
        "titles.csv",
        _csv(
            [
                ["ACME Lead S.r.l."],
                ["Estrazione del 01/11/2026"],
                [],
                *_text_rows(_people("Nome", "Tel.", phone_at=1)),
            ],
            delimiter=";",
        ),
        4,
        "Tel.",
    ),
    (
        "two-phones.csv",
        _csv(
            _text_rows(
                _people(
                    "Tel.",
                    "Mobile",
                    "Nome",
                    phones=MOBILES,
                    extra=lambda i: [MOBILES[i] if i % 2 else "n.d.", NAMES[i]],
                )
            )
        ),
        None,
        "Tel.",
    ),
    (
        "unnamed.csv",
        _csv(_text_rows(_people("Colonna A", "Colonna B", phone_at=1))),
        None,
        "Colonna B",
    ),
    (
        "plus39.csv",
        _csv(
            _text_rows(_people("Phone number", "Full name", phones=[f"+39 {m}" for m in MOBILES]))
        ),
        None,
        "Phone number",
    ),
    (
        "bom.csv",
        _csv(_text_rows(_people("N° Telefono", "Cognome e nome")), delimiter=";", bom=True),
        None,
        "N° Telefono",
    ),
    (
        "quoted.csv",
        _csv(
            _text_rows(
                _people("Nominativo", "Telefono", "Note", phone_at=1, extra=lambda i: ["a, b"])
            )
        ),
        None,
        "Telefono",
    ),
    (
        "latin1.csv",
        _csv(
            [
                ["Estrazione anagrafica - società"],
                ["", ""],
                *_text_rows(_people("Cognome e nome", "Recapito telefonico", phone_at=1)),
            ],
            delimiter=";",
            encoding="latin-1",
        ),
        3,
        "Recapito telefonico",
    ),
    (
        "contract-number.csv",
        _csv(
            _text_rows(
                _people(
                    "Numero contratto",
                    "Telefono",
                    "Nome",
                    phone_at=1,
                    extra=lambda i: [f"C-2026-{i:03}", MOBILES[i], NAMES[i]],
                )
            )
        ),
        None,
        "Telefono",
    ),
    (
        "numbers.xlsx",
        _xlsx(_people("Telefono", "Nominativo", phones=[int(m) for m in MOBILES])),
        None,
        "Telefono",
    ),
    (
        "merged-title.xlsx",
        _xlsx(
            [
                ["Lista ACME novembre 2026"],
                *_people(
                    "Nominativo",
                    "Cellulare",
                    "Consenso terzi",
                    phone_at=1,
                    phones=[int(m) for m in MOBILES],
                    extra=lambda i: ["SI"],
                ),
            ],
            merges=("A1:C1",),
        ),
        2,
        "Cellulare",
    ),
    (
        "group-header.xlsx",
        _xlsx(
            [
                ["Anagrafica", None, "Contatti", None],
                *_people(
                    "Nome",
                    "Cognome",
                    "Numero",
                    "Email",
                    phone_at=2,
                    extra=lambda i: ["x@example.it"],
                ),
            ],
            merges=("A1:B1", "C1:D1"),
        ),
        2,
        "Numero",
    ),
    (
        "blank-above.xlsx",
        _xlsx([[], [], ["Contatti da richiamare"], [], *_people("Mobile", "Name")]),
        5,
        "Mobile",
    ),
    (
        "merged-header.xlsx",
        _xlsx(
            [["Report"], *_people("Cliente", "Telefono", "", phone_at=1, extra=lambda i: ["note"])],
            merges=("A1:C1", "B2:C2"),
        ),
        2,
        "Telefono",
    ),
    (
        "english.xlsx",
        _xlsx(
            [["Full name", "Phone", "Consent date"]]
            + [[NAMES[i], MOBILES[i], dt.date(2025, 3, 1 + i)] for i in range(8)]
        ),
        None,
        "Phone",
    ),
    (
        "lost-zero.xlsx",
        _xlsx(
            [["Estrazione"], ["Nominativo", "Cell."]]
            + [[NAMES[i], int(MOBILES[i]) if i % 2 else 212345670 + i] for i in range(8)]
        ),
        2,
        "Cell.",
    ),
    (
        "consent.xlsx",
        _xlsx(
            [["Data consenso", "Consenso terzi", "Telefono cliente"]]
            + [[dt.date(2025, 1, 1 + i), "SI" if i % 2 else "NO", MOBILES[i]] for i in range(8)]
        ),
        None,
        "Telefono cliente",
    ),
    (
        "numbers.parquet",
        _parquet({"telefono": [int(m) for m in MOBILES], "nome": NAMES}),
        None,
        "telefono",
    ),
    ("english.parquet", _parquet({"Name": NAMES, "Mobile": MOBILES}), None, "Mobile"),
]


@pytest.mark.parametrize(("name", "write", "header_row", "phone"), CASES, ids=[c[0] for c in CASES])
def test_finds_header_and_phone_and_the_draft_loads(
    ws: Workspace, name: str, write: Callable[[Path], None], header_row: int | None, phone: str
) -> None:
    file = ws.root / "data" / "lists" / name
    write(file)
    draft = suggest(ws, file, kind="internal_archive", today=TODAY)
    assert draft.header_row == header_row, draft.header_why
    assert draft.mapping["phone"] == phone, draft.manifest_text()
    parsed = tomllib.loads(draft.manifest_text())
    assert parsed["columns"]["phone"] == phone
    assert parsed.get("header_row") == header_row
    assert not draft.problems
    write_suggestion(ws, draft)
    loaded = gk(ws, "load", draft.source_id)
    assert loaded.exit_code == 0, loaded.output
    assert "valid numbers" in loaded.output


def test_words_and_values_decide_the_other_columns(ws: Workspace) -> None:
    file = ws.root / "data" / "lists" / "acme.csv"
    _csv(
        [
            [
                "Nominativo",
                "Telefono",
                "Consenso",
                "Data consenso",
                "Privacy",
                "Nascita",
                "Stato contratto",
            ]
        ]
        + [
            [NAMES[i], MOBILES[i], "x", "31/03/2025", "si", "01/01/1980", "ceduto"]
            for i in range(8)
        ],
        delimiter=";",
        encoding="cp1252",
    )(file)
    third = suggest(ws, file, kind="third_party", today=TODAY)
    assert third.mapping == {
        "phone": "Telefono",
        "name": "Nominativo",
        "consent_third_party": "Consenso",
        "consent_date": "Data consenso",
    }
    # Contract status words the loader does not know: offered commented out, with why.
    status = next(g for g in third.columns if g.field == "contract_status")
    assert not status.active and "commented out" in status.why
    assert '# contract_status = "Stato contratto"' in third.manifest_text()
    # A third_party list without a supplier is a draft that cannot load yet.
    assert third.problems and "--supplier" in third.problems[0]
    with pytest.raises(InputError, match="supplier"):
        write_suggestion(ws, third)
    own = suggest(ws, file, kind="internal_archive", today=TODAY)
    assert own.mapping["consent_marketing"] == "Consenso"
    assert "Nascita" in own.unmapped


def test_values_alone_are_only_offered_commented_out(ws: Workspace) -> None:
    file = ws.root / "data" / "lists" / "bare.csv"
    _csv(
        [["Cliente", "Recapito", "Flag", "Quando"]]
        + [[NAMES[i], MOBILES[i], "1" if i % 2 else "0", f"2025-02-0{i + 1}"] for i in range(8)]
    )(file)
    draft = suggest(ws, file, kind="internal_archive", today=TODAY)
    assert draft.mapping == {"phone": "Recapito", "name": "Cliente"}
    offered = {g.field: g for g in draft.columns if not g.active}
    assert offered["consent_marketing"].column == "Flag"
    assert offered["consent_date"].column == "Quando"
    assert '# consent_marketing = "Flag"' in draft.manifest_text()


def test_no_phone_column_is_said_and_not_written(ws: Workspace) -> None:
    file = ws.root / "data" / "lists" / "nophone.csv"
    _csv([["Nome", "Città"], ["Mario", "Milano"], ["Anna", "Roma"]])(file)
    draft = suggest(ws, file, kind="internal_archive", today=TODAY)
    assert "phone" not in draft.mapping
    assert draft.problems and "phone" in draft.problems[0]
    tomllib.loads(draft.manifest_text())
    with pytest.raises(InputError, match="no column looks like phone numbers"):
        write_suggestion(ws, draft)
    assert not (ws.sources_dir / "nophone.toml").exists()


def test_files_the_loader_refuses_are_refused_the_same_way(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="file not found"):
        suggest(ws, ws.root / "data" / "lists" / "missing.csv")
    (ws.root / "data" / "lists" / "list.ods").write_bytes(b"PK")
    with pytest.raises(SourceFileError, match="unsupported file type"):
        suggest(ws, ws.root / "data" / "lists" / "list.ods")
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("Telefono\n3331234567\n")
    with pytest.raises(InputError, match="outside the workspace"):
        suggest(ws, outside)
    with pytest.raises(InputError, match="--id"):
        suggest(ws, ws.root / "data" / "lists" / "missing.csv", source_id="../x")


def _in(folder: Path, *args: str, input: str | None = None) -> tuple[int, str]:
    with contextlib.chdir(folder):
        result = CliRunner().invoke(cli, list(args), input=input)
    return result.exit_code, result.output


def test_init_suggest_write_load_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GATEKEEPER_HOME", raising=False)
    root = tmp_path / "new"
    root.mkdir()
    code, out = _in(root, "load")
    assert code == 2 and "gatekeeper init" in out
    identity = [
        "--name",
        "Connecto S.r.l.",
        "--vat",
        "IT08606060963",
        "--address",
        "Piazza Duse 2, Milano",
        "--dpo-email",
        "dpo@connecto.example",
    ]
    code, out = _in(root, "init", *identity)
    assert code == 0, out
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "agencies",
        "data",
        "data/lists",
        "gatekeeper.toml",
        "reports",
        "sources",
        "suppliers",
    ]
    assert parse_config(root / "gatekeeper.toml").controller.dpo_email == "dpo@connecto.example"
    before = (root / "gatekeeper.toml").read_bytes()
    code, out = _in(root, "init", *identity)
    assert code == 2 and "already exists" in out
    assert (root / "gatekeeper.toml").read_bytes() == before

    # A supplier's list: cp1252, ';', a title row, phones as text, and its supplier file.
    (root / "suppliers" / "acme.toml").write_text(
        SUPPLIER.format(
            id="acme",
            name="Acme Lead S.r.l.",
            reviewed_on="2026-10-01",
            next_review="2027-10-01",
            outcome="approved",
            sector_choice="true",
        )
    )
    (root / "data" / "suppliers").mkdir()
    (root / "data" / "suppliers" / "acme-informativa.txt").write_text("Informativa\n")
    _csv(
        [
            ["Lista ACME – novembre"],
            *_text_rows(
                _people(
                    "Nominativo",
                    "Cellulare",
                    "Consenso terzi",
                    "Data consenso",
                    phone_at=1,
                    extra=_yes_date,
                )
            ),
        ],
        delimiter=";",
        encoding="cp1252",
    )(root / "data" / "lists" / "acme nov.csv")
    code, out = _in(root, "sources", "suggest", "data/lists/acme nov.csv")
    assert code == 0, out
    assert 'supplier = "acme"' in out and "header_row = 2" in out
    assert not (root / "sources" / "acme-nov.toml").exists()  # only with --write
    code, out = _in(root, "sources", "suggest", "data/lists/acme nov.csv", "--write")
    assert code == 0, out
    assert "written sources/acme-nov.toml" in out
    code, out = _in(root, "sources", "suggest", "data/lists/acme nov.csv", "--write")
    assert code == 2 and "exists already" in out and "Traceback" not in out
    code, out = _in(root, "load")
    assert code == 0, out
    assert "acme-nov (version 1, loaded)" in out and "rows rejected           0" in out


def test_init_takes_home_and_prompts(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere" / "ws"
    code, out = _in(
        tmp_path,
        "--home",
        str(home),
        "init",
        input="Connecto S.r.l.\nIT08606060963\nVia Roma 1, Milano\ndpo@c.example\n",
    )
    assert code == 0, out
    assert (home / "gatekeeper.toml").is_file() and (home / "data" / "lists").is_dir()
    code, out = _in(
        tmp_path,
        "--home",
        str(tmp_path / "x"),
        "init",
        "--name",
        "C",
        "--vat",
        "IT1",
        "--address",
        "A",
        "--dpo-email",
        "not-an-email",
    )
    assert code == 2 and "--dpo-email" in out
    assert not (tmp_path / "x" / "gatekeeper.toml").exists()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=300)
    | st.lists(
        st.lists(
            st.sampled_from(
                [
                    "Telefono",
                    "Cell.",
                    "3331234567",
                    "",
                    "SI",
                    "31/03/2025",
                    '"',
                    ";",
                    ",",
                    "\t",
                    "é",
                    "x" * 3,
                    "\x00",
                    "\r",
                    "\n",
                ]
            ),
            max_size=6,
        ).map("".join),
        max_size=8,
    ).map(lambda ls: "\n".join(ls).encode())
)
def test_suggest_never_fails_but_with_our_errors(ws: Workspace, data: bytes) -> None:
    file = ws.root / "data" / "lists" / "fuzz.csv"
    file.write_bytes(data)
    try:
        draft = suggest(ws, file, kind="internal_archive", today=TODAY)
    except (InputError, SourceFileError) as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    tomllib.loads(draft.manifest_text())


def test_a_date_column_is_not_taken_for_phone_numbers(ws: Workspace) -> None:
    """01/03/2026 is eight digits that also make a valid Rome landline: a column of dates
    is dates, never a second phone column."""
    path = ws.root / "data" / "lists" / "date.csv"
    rows = [["Telefono", "Data consenso"]] + [[m, f"0{1 + i}/03/2026"]
                                               for i, m in enumerate(MOBILES)]
    _csv(rows, delimiter=";")(path)
    draft = suggest(ws, path, kind="internal_archive", today=TODAY)
    assert draft.mapping["phone"] == "Telefono"
    assert draft.mapping.get("consent_date") == "Data consenso"
    assert not any("Data consenso" in note and "phone" in note for note in draft.notes)
