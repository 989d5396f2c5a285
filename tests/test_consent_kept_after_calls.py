"""Germany keeps a consent that a call relied on as evidence for 5 years after that call
(UWG §7a): `purge` removes old list rows, never those; `disclose` still shows them."""

from __future__ import annotations

import datetime as dt

import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.dial.ledger import Ledger, conform
from gatekeeper.privacy.optouts import Journal

from .conftest import WorkspaceMaker, gk, stored_rows

CALLED_RECENTLY = "+4930111111"  # consent, called 4 years before the purge
NEVER_CALLED = "+4930222222"  # consent, never called
CALLED_LONG_AGO = "+4930333333"  # consent, last called 5 years and a day before the purge
NO_CONSENT = "+4930444444"  # called, but no consent: nothing relied on
ITALIAN = "+393331234567"  # consent, called: Italy keeps no such rule
PURGE_AT = dt.datetime(2033, 6, 1)


def _call(call_id: str, phone: str, at: dt.datetime) -> dict[str, object]:
    return {"agency": "callpro", "call_id": call_id, "phone": phone,
            "phone_key": int(phone.removeprefix("+")), "direction": "outbound",
            "started_at": at, "outcome": "answered", "recorded_at": at, "via": "test",
            "agent": "a7"}


def _workspace(maker: WorkspaceMaker) -> Workspace:
    config = maker.root / "gatekeeper.toml"
    config.write_text(config.read_text() + '\n[policy]\njurisdictions = ["IT", "DE"]\n')
    maker.source("archiv", f"""
        Telefono,Consenso,Data,Prova,Metodo,Testo
        {CALLED_RECENTLY},si,2026-01-10,P-1,web,T-1
        {NEVER_CALLED},si,2026-01-10,P-2,web,T-1
        {CALLED_LONG_AGO},si,2026-01-10,P-3,web,T-1
        {NO_CONSENT},no,,,,
        {ITALIAN},si,2026-01-10,P-5,web,T-1
        """, kind="internal_archive", columns="""
        phone = "Telefono"
        consent_marketing = "Consenso"
        consent_date = "Data"
        consent_proof = "Prova"
        consent_method = "Metodo"
        consent_text_id = "Testo"
        """)
    ws = maker.ws
    assert gk(ws, "load").exit_code == 0
    calls = conform(pl.DataFrame([
        _call("c1", CALLED_RECENTLY, PURGE_AT - dt.timedelta(days=4 * 365)),
        _call("c2", CALLED_LONG_AGO, PURGE_AT - dt.timedelta(days=5 * 366)),
        _call("c3", NO_CONSENT, PURGE_AT - dt.timedelta(days=30)),
        _call("c4", ITALIAN, PURGE_AT - dt.timedelta(days=30))]))
    Ledger(ws.ledger_dir).record(calls, Journal(ws.journal_path), source="test")
    return ws


def test_purge_keeps_the_german_consents_calls_relied_on(maker: WorkspaceMaker) -> None:
    ws = _workspace(maker)
    dry = gk(ws, "purge", "--as-of", "2033-06-01", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would remove 4 list rows" in dry.output and "kept 1" in dry.output
    done = gk(ws, "purge", "--as-of", "2033-06-01")
    assert done.exit_code == 0, done.output
    assert "removed rows of archiv version 1: 4 (kept 1: consents a call relied on" in (
        done.output)
    assert stored_rows(ws)["phone"].to_list() == [CALLED_RECENTLY]
    shown = gk(ws, "disclose", CALLED_RECENTLY, "--format", "json")
    assert shown.exit_code == 0, shown.output
    assert "P-1" in shown.output  # the consent's proof is still there to show
    gone = gk(ws, "disclose", NEVER_CALLED, "--format", "json")
    assert "P-2" not in gone.output
    verified = gk(ws, "audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_without_germany_called_nothing_is_held_back(maker: WorkspaceMaker) -> None:
    ws = _workspace(maker)
    config = maker.root / "gatekeeper.toml"
    config.write_text(config.read_text().replace('["IT", "DE"]', '["IT"]'))
    done = gk(ws, "purge", "--as-of", "2033-06-01")
    assert "removed 5 list rows" in done.output, done.output
    assert stored_rows(ws).height == 0


def test_the_countries_yes_and_no_are_read(maker: WorkspaceMaker) -> None:
    """A Romanian, French or German list writes da/nu, oui/non, ja/nein: read, not refused."""
    config = maker.root / "gatekeeper.toml"
    config.write_text(config.read_text() + '\n[policy]\njurisdictions = ["IT", "RO", "FR", '
                      '"DE"]\n')
    maker.source("words", """
        Telefono,Consenso,Stato
        +40721234567,da,activ
        +40721234568,nu,încetat
        +33612345678,oui,actif
        +33612345679,non,résilié
        +4915123456789,ja,aktiv
        +4915123456788,nein,beendet
        """, kind="internal_archive", columns="""
        phone = "Telefono"
        consent_marketing = "Consenso"
        contract_status = "Stato"
        """)
    assert gk(maker.ws, "load").exit_code == 0
    rows = stored_rows(maker.ws).sort("phone")
    # in number order: FR oui, FR non, RO da, RO nu, DE nein (…788), DE ja (…789)
    assert rows["consent_marketing"].to_list() == [True, False, True, False, False, True]
    assert rows["contract_status"].to_list() == ["active", "ceased", "active", "ceased",
                                                 "ceased", "active"]
