"""Every called country's register through `gatekeeper register ... --register NAME`:
Bloctel and the Lista Robinson exchange files in their national format, the Lista
Robinson answers with the numbers registered, TPS/CTPS come whole as a dated snapshot;
a number of another country in any of their files is refused at its line; `rpo` stays
Italy's spelling. Real workspaces, real files, the real CLI and store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import phonenumbers
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.config import Workspace
from gatekeeper.core.digest import sha256_file
from gatekeeper.jurisdictions import ES, FR, IT, UK, Jurisdiction
from gatekeeper.registers.numbers import numbers
from gatekeeper.store import Store
from gatekeeper.store import rpo as rpo_store

from .conftest import CONFIG, WorkspaceMaker, gk

POLICY = '\n[policy]\njurisdictions = ["IT", "FR", "ES", "UK"]\n'

IT_MOBILE, IT_FIXED = "+393331234567", "+390612345678"
FR_FIXED, FR_MOBILE = "+33142685300", "+33612345678"
ES_MOBILE, ES_FIXED = "+34612345678", "+34912345678"
UK_FIXED, UK_MOBILE = "+442079460000", "+447912345678"
EVERY = (IT_MOBILE, IT_FIXED, FR_FIXED, FR_MOBILE, ES_MOBILE, ES_FIXED, UK_FIXED, UK_MOBILE)


def workspace(maker: WorkspaceMaker, policy: str = POLICY) -> Workspace:
    """A workspace calling IT, FR, ES and the UK, with a public directory holding two
    numbers of each (bare Italian ones, the others in E.164), loaded."""
    (maker.root / "gatekeeper.toml").write_text(CONFIG + policy)
    rows = "\n".join([IT_MOBILE.removeprefix("+39"), IT_FIXED.removeprefix("+39"),
                      *EVERY[2:]])
    maker.source("directory", f"Telefono\n{rows}\n", kind="public_directory")
    ws = maker.ws
    ok(ws, "load")
    return ws


def ok(ws: Workspace, *args: str) -> str:
    result = gk(ws, *args)
    assert result.exit_code == 0, result.output
    return result.output


def refused(ws: Workspace, *args: str) -> str:
    result = gk(ws, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


def write(ws: Workspace, name: str, *lines: str) -> str:
    path = ws.root / "data" / "registers" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return str(path.relative_to(ws.root))


def checks(ws: Workspace) -> dict[str, tuple[bool, str, str]]:
    """phone -> (registered, register, answer) of every check the store holds."""
    with Store(ws.store_path, read_only=True) as store:
        exchanges = store.frame("SELECT exchange_id, register, answer FROM rpo_exchanges")
        rows = rpo_store.every_check(store).join(exchanges, on="exchange_id").select(
            "phone", "registered", "register", "answer").rows()
    return {phone: (registered, register, answer) for phone, registered, register, answer in rows}


def decided(ws: Workspace, campaign: str, as_of: str) -> dict[str, tuple[str, str | None]]:
    """phone -> (decision, reason) of a run at as_of."""
    result = gk(ws, "run", "--campaign", campaign, "--purpose", "telemarketing", "--as-of",
                as_of)
    assert result.exit_code in (0, 1), result.output
    frame = pl.read_parquet(ws.report_dir(campaign) / "decisions.parquet")
    return {r["phone"]: (r["decision"], r["reason"]) for r in frame.iter_rows(named=True)}


# --- requests ----------------------------------------------------------------------------

def test_a_request_holds_its_registers_country_alone_in_national_format(
        maker: WorkspaceMaker) -> None:
    ws = workspace(maker)
    ok(ws, "register", "request", "--register", "bloctel", "--out", "fr.txt",
       "--as-of", "2026-11-22")
    assert (ws.root / "fr.txt").read_text().split() == ["0142685300", "0612345678"]
    out = ok(ws, "register", "request", "--register", "robinson", "--out", "es.txt",
             "--as-of", "2026-11-22")
    # Spain has no trunk prefix: its numbers are written as dialled inside Spain.
    assert sorted((ws.root / "es.txt").read_text().split()) == ["612345678", "912345678"]
    assert ("next: upload es.txt to the Lista Robinson, then record its answer: gatekeeper "
            "register import --register robinson --request es.txt") in out
    ok(ws, "register", "request", "--register", "rpo", "--out", "it.txt")
    ok(ws, "rpo", "request", "--out", "it-rpo.txt")
    assert (ws.root / "it.txt").read_bytes() == (ws.root / "it-rpo.txt").read_bytes()
    assert sorted((ws.root / "it.txt").read_text().split()) == ["0612345678", "3331234567"]
    # The TPS is never asked: it comes whole.
    said = refused(ws, "register", "request", "--register", "tps", "--out", "uk.txt")
    assert "delivered whole" in said and "--snapshot FILE --as-of DATE" in said
    assert not (ws.root / "uk.txt").exists()


def test_a_register_of_a_country_not_called_says_to_add_it(maker: WorkspaceMaker) -> None:
    ws = workspace(maker, '\n[policy]\njurisdictions = ["IT", "ES"]\n')
    request = write(ws, "q.txt", "0142685300")
    said = refused(ws, "register", "import", "--register", "bloctel", "--request", request,
                   "--response", request, "--same-as-request")
    assert "register 'bloctel' is FR's" in said and "add it to [policy] jurisdictions" in said
    said = refused(ws, "register", "request", "--register", "fax", "--out", "x.txt")
    assert "unknown register 'fax'; accepted: rpo, robinson" in said


def test_only_a_register_with_a_web_service_is_checked_through_one(
        maker: WorkspaceMaker) -> None:
    ws = workspace(maker)
    said = refused(ws, "register", "check", "--register", "bloctel")
    assert "the Bloctel has no web service" in said and "adapters: file" in said
    assert "gatekeeper register request --register bloctel --out FILE" in said
    said = refused(ws, "register", "check", "--register", "tps")
    assert "--snapshot FILE --as-of DATE" in said
    # The RPO has one: the configured adapter (file) says how to reach it, as `rpo check`.
    assert "[registry] adapter is 'file'" in refused(ws, "register", "check",
                                                     "--register", "rpo")


# --- answers -----------------------------------------------------------------------------

def test_bloctel_answers_with_the_numbers_kept_and_robinson_with_the_registered(
        maker: WorkspaceMaker) -> None:
    ws = workspace(maker)
    fr_request = write(ws, "fr-q.txt", "0142685300", "0612345678")
    fr_answer = write(ws, "fr-r.txt", "01 42 68 53 00")  # kept: the mobile is registered
    out = ok(ws, "register", "import", "--register", "bloctel", "--request", fr_request,
             "--response", fr_answer, "--checked-at", "2026-07-20T10:00")
    assert "2 numbers checked at 20/07/2026 10:00: 1 registered, 1 not registered" in out
    es_request = write(ws, "es-q.txt", "612345678", "+34 912 345 678")
    # registered: the mobile; +34 699 999 999 was not asked, which such an answer may hold
    es_answer = write(ws, "es-r.txt", "612345678", "699999999")
    out = ok(ws, "register", "import", "--register", "robinson", "--request", es_request,
             "--response", es_answer, "--checked-at", "2026-11-20T10:00")
    assert "1 registered, 1 not registered" in out
    assert "1 number(s) in data/registers/es-r.txt were not asked: ignored" in out
    found = checks(ws)
    assert found[FR_FIXED] == (False, "bloctel", "kept")
    assert found[FR_MOBILE] == (True, "bloctel", "kept")
    assert found[ES_MOBILE] == (True, "robinson", "registered")
    assert found[ES_FIXED] == (False, "robinson", "registered")
    # --answer overrides the register's reading: the same file read as the numbers kept.
    ok(ws, "register", "import", "--register", "robinson", "--request", es_request,
       "--response", write(ws, "es-kept.txt", "612345678"), "--answer", "kept",
       "--checked-at", "2026-11-21T10:00")
    with Store(ws.store_path, read_only=True) as store:
        every = rpo_store.every_check(store)
        newest = every.filter(pl.col("checked_at") == pl.col("checked_at").max()).select(
            "phone", "registered").rows()
    assert sorted(newest) == [(ES_MOBILE, False), (ES_FIXED, True)]
    # A kept answer lists only numbers asked: one more is another request's answer.
    said = refused(ws, "register", "import", "--register", "bloctel", "--request", fr_request,
                   "--response", write(ws, "fr-other.txt", "0612345678", "0145454545"))
    assert "row 2" in said and "not in the request" in said
    # The exchanges prove their checks again, each read as its register's files.
    assert "problem" not in ok(ws, "audit", "verify")
    disclosed = json.loads(ok(ws, "disclose", FR_MOBILE, "--format", "json"))
    assert "Bloctel" in json.dumps(disclosed) and '"RPO"' not in json.dumps(disclosed)


def test_a_number_of_another_country_is_refused_at_its_line(maker: WorkspaceMaker) -> None:
    ws = workspace(maker)
    request = write(ws, "fr-q.txt", "0142685300", "0612345678")
    answer = write(ws, "fr-r.txt", "0142685300", "", "+44 7912 345678")
    said = refused(ws, "register", "import", "--register", "bloctel", "--request", request,
                   "--response", answer, "--checked-at", "2026-07-20T10:00")
    assert said.startswith(f"error: {answer}, row 3: 1 line(s) are numbers of another "
                           "country than FR (first: '+44 7912 345678', a number of GB)")
    assert "remove those lines" in said
    # In a request too, and in a snapshot.
    foreign = write(ws, "mixed.txt", "0142685300", "0034612345678")
    said = refused(ws, "register", "import", "--register", "bloctel", "--request", foreign,
                   "--response", request)
    assert f"{foreign}, row 2" in said and "a number of ES" in said
    snapshot = write(ws, "tps.txt", "07912345678", "+33 6 12 34 56 78")
    said = refused(ws, "register", "import", "--register", "tps", "--snapshot", snapshot,
                   "--as-of", "2026-11-20")
    assert f"{snapshot}, row 2" in said and "than UK" in said
    assert checks(ws) == {}  # nothing recorded


# --- the TPS as a dated snapshot --------------------------------------------------------

def test_a_tps_snapshot_decides_the_uk_numbers_for_28_days(maker: WorkspaceMaker) -> None:
    ws = workspace(maker)
    snapshot = write(ws, "tps-2026-11-20.txt", "07912345678", "01632960000", "+44 20 7946 0999")
    out = ok(ws, "register", "import", "--register", "tps", "--snapshot", snapshot,
             "--as-of", "2026-11-20")
    assert ("2 UK numbers of the lists checked against the TPS/CTPS as of 20/11/2026 00:00: "
            "1 registered, 1 not registered") in out
    assert "after each load import the snapshot again" in out
    found = checks(ws)
    assert {p: c for p, c in found.items() if p.startswith("+44")} == {
        UK_MOBILE: (True, "tps", "registered"), UK_FIXED: (False, "tps", "registered")}
    within = decided(ws, "uk", "2026-12-17T12:00")  # 27 days on
    assert within[UK_MOBILE] == ("suppressed", "REGISTERED")
    assert within[UK_FIXED] == ("dialable", None)
    after = decided(ws, "uk-late", "2026-12-19T12:00")  # 29 days on
    assert after[UK_MOBILE] == after[UK_FIXED] == ("suppressed", "REGISTER_NOT_CHECKED")
    # The same snapshot again is a repeat; audit re-derives it from the kept files.
    again = ok(ws, "register", "import", "--register", "tps", "--snapshot", snapshot,
               "--as-of", "2026-11-20")
    assert again.startswith("already imported")
    assert "problem" not in ok(ws, "audit", "verify")


def test_tps_and_ctps_in_two_files_give_each_number_one_check(maker: WorkspaceMaker) -> None:
    ws = workspace(maker)
    tps = write(ws, "tps.txt", "+447912345600")  # a mobile of nobody on our lists
    ctps = write(ws, "ctps.txt", "020 7946 0000")
    out = ok(ws, "register", "import", "--register", "tps", "--snapshot", tps,
             "--snapshot", ctps, "--as-of", "2026-11-20T09:00Z")
    assert "1 registered, 1 not registered" in out
    with Store(ws.store_path, read_only=True) as store:
        uk = rpo_store.every_check(store).filter(pl.col("phone").str.starts_with("+44")).sort(
            "phone").select("phone", "registered", "exchange_id").rows()
    assert [(p, r) for p, r, _ in uk] == [(UK_FIXED, True), (UK_MOBILE, False)]
    assert uk[0][2] != uk[1][2]  # the CTPS file proves the fixed line, the TPS the mobile
    assert decided(ws, "uk", "2026-11-25T12:00")[UK_FIXED] == ("suppressed", "REGISTERED")
    assert "problem" not in ok(ws, "audit", "verify")
    # Tampering with a stored snapshot check is found (its file rewritten, sha256 too).
    with Store(ws.store_path) as store:
        for exchange_id, file in store.con.execute(
                "SELECT exchange_id, checks_file FROM rpo_exchanges").fetchall():
            path = store.file_path(file)
            pl.read_parquet(path).with_columns(
                pl.when(pl.col("phone_key") == int(UK_FIXED[1:])).then(~pl.col("registered"))
                .otherwise(pl.col("registered")).alias("registered")).write_parquet(path)
            store.con.execute("UPDATE rpo_exchanges SET checks_sha256 = ? WHERE "
                              "exchange_id = ?", [sha256_file(path), exchange_id])
    assert "differ from the exchange files" in gk(ws, "audit", "verify").output


def test_a_snapshot_takes_only_its_own_options(maker: WorkspaceMaker) -> None:
    ws = workspace(maker)
    snapshot = write(ws, "tps.txt", "07912345678")
    said = refused(ws, "register", "import", "--register", "tps", "--request", snapshot,
                   "--response", snapshot)
    assert "--snapshot FILE --as-of DATE" in said and "--request, --response" in said
    said = gk(ws, "register", "import", "--register", "tps", "--snapshot", snapshot)
    assert said.exit_code == 2 and "--as-of is required with --snapshot" in said.output
    said = refused(ws, "register", "import", "--register", "bloctel", "--snapshot", snapshot,
                   "--as-of", "2026-07-20")
    assert "answers a request" in said and "--request FILE --response ANSWER_FILE" in said
    assert "in the future" in refused(ws, "register", "import", "--register", "tps",
                                      "--snapshot", snapshot, "--as-of", "2999-01-01")


# --- the line parser ---------------------------------------------------------------------

COUNTRIES = (IT, FR, ES, UK)
KINDS = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)


def _example(j: Jurisdiction, kind: int, tail: int) -> phonenumbers.PhoneNumber:
    number = phonenumbers.example_number_for_type(j.region, kind)
    assert number is not None
    digits = str(number.national_number)
    number.national_number = int(digits[:-3] + f"{tail:03d}")
    return number


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(COUNTRIES), st.sampled_from(KINDS), st.integers(0, 999),
       st.sampled_from(["national", "e164", "international", "00", "spaced"]),
       st.sampled_from(COUNTRIES))
def test_a_line_reads_as_its_number_in_any_writing(j: Jurisdiction, kind: int, tail: int,
                                                   style: str, register: Jurisdiction
                                                   ) -> None:
    """However a number of the register's country is written, the line is that number;
    a number of another country is never read as one of the register's, and says whose
    it is."""
    number = _example(j, kind, tail)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    text = {"national": j.national_one(e164), "e164": e164,
            "international": phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
            "00": "00" + e164[1:],
            "spaced": " ".join(j.national_one(e164)[i:i + 2]
                               for i in range(0, len(j.national_one(e164)), 2))}[style]
    lines = pl.DataFrame({"line": [1], "raw": [text]}, schema={"line": pl.UInt32,
                                                                 "raw": pl.String})
    read = numbers(lines, register).row(0, named=True)
    valid = phonenumbers.is_valid_number(number)
    if register is j:
        assert read["phone"] == e164 or (not valid and read["phone"] is None)
        assert read["region"] is None
    elif style in ("national", "spaced"):
        # A national writing is the register's country's by definition: never another
        # country's number (at most a number of its own, or none).
        assert read["phone"] is None or read["phone"].startswith(register.prefix)
    else:
        assert read["phone"] is None
        assert read["region"] == (j.region if valid else None)


def test_every_register_is_named_in_the_help() -> None:
    """`--register` lists every register a country module has (PRODUCT.md's names)."""
    from gatekeeper.cli import register_import

    help_text = next(p.help for p in register_import.params if p.name == "code") or ""
    for j in COUNTRIES:
        for r in j.registers:
            assert r.code in help_text


def test_a_store_of_before_the_countries_reads_its_exchanges_as_the_rpos(
        tmp_path: Path) -> None:
    """Schema 6 adds the register and the answer's reading; an older store's exchanges
    were all the RPO's, answered with the numbers kept, and audit reads them so."""
    path = tmp_path / "store" / "gatekeeper.duckdb"
    with Store(path) as store:  # a schema-5 store holding one exchange
        _back_to_schema_6(store)
        store.con.execute("ALTER TABLE rpo_exchanges DROP COLUMN answer")
        store.con.execute("ALTER TABLE rpo_exchanges DROP COLUMN register")
        store.con.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
        store.con.execute("INSERT INTO rpo_exchanges (exchange_id, adapter, checked_at, "
                          "imported_at) VALUES ('file-old', 'file', TIMESTAMP '2026-11-20 "
                          "09:00', TIMESTAMP '2026-11-20 09:05')")
    with Store(path) as store:
        assert store.schema_version() == 7
        assert store.frame("SELECT register, answer FROM rpo_exchanges").rows() == [
            ("rpo", "kept")]


def _back_to_schema_6(store: Store) -> None:
    """A store as schema 6 made it: checks as rows of a table, no status."""
    store.con.execute("ALTER TABLE rpo_exchanges DROP COLUMN checks_file")
    store.con.execute("ALTER TABLE rpo_exchanges DROP COLUMN checks_sha256")
    store.con.execute("DROP TABLE register_status")
    store.con.execute("""CREATE TABLE rpo_checks (
        phone VARCHAR NOT NULL, checked_at TIMESTAMP NOT NULL, registered BOOLEAN NOT NULL,
        registered_at TIMESTAMP, exchange_id VARCHAR NOT NULL)""")
    store.con.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")


def test_a_schema_6_stores_checks_move_into_files_and_the_status_is_kept(
        tmp_path: Path) -> None:
    """Schema 7: each exchange's checks leave the table for a file, the status is summed
    up from them, and every reader answers as before (status, disclosure, audit)."""
    path = tmp_path / "store" / "gatekeeper.duckdb"
    at = [dt.datetime(2026, 10, 1, 8), dt.datetime(2026, 11, 20, 9)]
    with Store(path) as store:
        _back_to_schema_6(store)
        for i, when in enumerate(at):
            store.con.execute("INSERT INTO rpo_exchanges (exchange_id, adapter, checked_at, "
                              "imported_at, numbers, registered) VALUES (?, 'file', ?, ?, 2, ?)",
                              [f"x{i}", when, when, i])
        store.con.execute("""INSERT INTO rpo_checks VALUES
            ('+393331234567', TIMESTAMP '2026-10-01 08:00', false, NULL, 'x0'),
            ('+390612345678', TIMESTAMP '2026-10-01 08:00', false, NULL, 'x0'),
            ('+393331234567', TIMESTAMP '2026-11-20 09:00', true, NULL, 'x1'),
            ('+390612345678', TIMESTAMP '2026-11-20 09:00', false, NULL, 'x1')""")
    with Store(path) as store:
        assert store.schema_version() == 7
        every = rpo_store.every_check(store)
        assert every.select("phone", "registered", "exchange_id").rows() == [
            ("+390612345678", False, "x0"), ("+393331234567", False, "x0"),
            ("+390612345678", False, "x1"), ("+393331234567", True, "x1")]
        late = dt.datetime(2026, 11, 22)
        status = rpo_store.check_summary(store, late).sort("phone_key")
        assert status["phone_key"].to_list() == [390612345678, 393331234567]
        assert status["newest_registered"].to_list() == [None, at[1]]
        assert status["newest_not_registered"].to_list() == [at[1], at[0]]
        assert status["first_registered_since"].to_list() == [None, at[1]]
        early = rpo_store.check_summary(store, dt.datetime(2026, 11, 1))  # from the files
        assert early["newest_registered"].null_count() == 2
        assert rpo_store.status_problems(store) == []
        assert len(rpo_store.checks_of(store, "+393331234567")) == 2
