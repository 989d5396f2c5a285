"""Register adapters are implementations of one interface, registered by name, and the
jurisdiction's register says which it takes: the CLI, the console's jobs and the audit
dispatch through that table."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import inspect
from pathlib import Path

import polars as pl
import pytest

from gatekeeper.config import Workspace, parse_config
from gatekeeper.core.errors import ConfigError
from gatekeeper.jurisdictions import IT, JURISDICTIONS, Register
from gatekeeper.registers import record_checks
from gatekeeper.registers.adapters import (
    ADAPTERS,
    FileExchange,
    RegistryAdapter,
    WebService,
    for_check,
    for_files,
)
from gatekeeper.store import Store

from .conftest import gk

CONFIG = """
[controller]
name = "Energia Srl"
vat = "IT01234567890"
address = "Via Roma 1, Milano"
dpo_email = "dpo@example.it"
"""


def config_with(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gatekeeper.toml"
    path.write_text(CONFIG + text, encoding="utf-8")
    return path


def test_every_adapter_italys_register_takes_is_registered_and_whole() -> None:
    assert IT.register is not None and IT.register.name == "RPO"
    assert IT.register_validity_days == 15  # read by the dial-time path as before
    protocol = {name for name, _ in inspect.getmembers(RegistryAdapter, inspect.isfunction)
                if not name.startswith("_")}
    assert protocol == {"request", "record", "check", "rederive"}
    for name in IT.register.adapters:
        adapter = ADAPTERS[name]
        assert adapter.name == name
        for method in protocol:
            assert callable(getattr(adapter, method))
    assert isinstance(ADAPTERS["file"], FileExchange)
    assert isinstance(ADAPTERS["http"], WebService)


def test_an_unknown_adapter_names_the_accepted_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_with(tmp_path, '[registry]\nadapter = "fax"\n'))
    assert caught.value.key == "registry.adapter"
    assert "unknown adapter 'fax'; accepted: file, http" in str(caught.value)


def test_a_register_takes_only_its_adapters(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A throwaway country whose register is reached only through its web service: the
    file exchange is refused by name, and the web service is its default."""
    web_only = dataclasses.replace(
        IT, code="ZZ", registers=(Register("ZZR", 30, "a law", ("http",)),))
    monkeypatch.setitem(JURISDICTIONS, "ZZ", web_only)
    policy = '[policy]\njurisdiction = "ZZ"\n'
    with pytest.raises(ConfigError, match="the ZZR takes no adapter 'file'; accepted: http"):
        parse_config(config_with(tmp_path, policy + '[registry]\nadapter = "file"\n'))
    config = parse_config(config_with(tmp_path, policy))
    assert config.registry.adapter == "http"
    assert for_check(config, base_url=None).name == "http"
    assert for_files(config).name == "file"  # a list can still be carried by hand


def test_dispatch_follows_the_configuration(tmp_path: Path) -> None:
    files = parse_config(config_with(tmp_path, '[registry]\nadapter = "file"\n'))
    assert for_files(files).name == "file"
    assert for_check(files, base_url=None).name == "file"  # whose check says how to
    assert for_check(files, base_url="https://127.0.0.1:1").name == "http"
    web = parse_config(config_with(tmp_path, '[registry]\nadapter = "http"\n'))
    assert (for_check(web, base_url=None).name, for_files(web).name) == ("http", "file")


def test_check_with_the_file_exchange_says_what_to_do(demo: Workspace) -> None:
    result = gk(demo, "rpo", "check")
    assert result.exit_code == 2
    assert "[registry] adapter is 'file': exchange files with 'gatekeeper rpo request'" in (
        result.output)


def test_a_web_service_workspace_still_writes_a_request_file(demo: Workspace) -> None:
    config = demo.config_path
    config.write_text(config.read_text().replace('adapter = "file"', 'adapter = "http"'))
    assert gk(demo, "load").exit_code == 0
    result = gk(demo, "rpo", "request", "--out", "data/ask.txt", "--as-of", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert (demo.root / "data" / "ask.txt").read_text().strip()


def test_audit_refuses_an_exchange_no_adapter_can_derive_again(demo: Workspace) -> None:
    """An exchange recorded by an adapter this gatekeeper does not know proves nothing:
    audit verify says so instead of reading its files as another adapter's."""
    assert gk(demo, "load").exit_code == 0
    request, response = b"3331234567\n", b"3331234567\n"
    with Store(demo.store_path) as store:
        record_checks(store, pl.DataFrame(
            {"phone": ["+393331234567"], "registered": [False], "registered_at": [None]},
            schema_overrides={"registered_at": pl.Datetime("us")}),
            dt.datetime(2026, 11, 20, 9), "fax-1", "fax",
            {"request_sha256": hashlib.sha256(request).hexdigest(),
             "response_sha256": hashlib.sha256(response).hexdigest()},
            [(request, "rpo request", None), (response, "rpo response", None)])
    result = gk(demo, "audit", "verify")
    assert result.exit_code != 0
    assert "exchange fax-1" in result.output and "adapter 'fax'" in result.output, (
        result.output)
