"""Shared fixtures: real workspaces in tmp folders, real files, a real DuckDB store."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result

from gatekeeper.cli import cli
from gatekeeper.config import Workspace
from gatekeeper.privacy.optouts import Journal

from .postgres import Postgres

REPO = Path(__file__).resolve().parent.parent

CONFIG = """
[controller]
name = "Connecto S.r.l."
vat = "IT08606060963"
address = "Piazza Eleonora Duse 2, 20122 Milano (MI)"
dpo_email = "dpo@connecto.example"
"""


SUPPLIER = """
id = "{id}"
name = "{name}"
vat = "IT01234567890"
eu_establishment = true

[due_diligence]
reviewed_on = {reviewed_on}
reviewed_by = "dpo"
privacy_notice = "data/suppliers/{id}-informativa.txt"
collection = ["double_opt_in"]
sector_choice = {sector_choice}
outcome = "{outcome}"
next_review = {next_review}
"""


class WorkspaceMaker:
    """Builds a workspace folder with manifests and list files, as a user would."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "sources").mkdir(parents=True)
        (root / "data" / "lists").mkdir(parents=True)
        (root / "gatekeeper.toml").write_text(CONFIG)

    def supplier(self, supplier_id: str = "acme", *, name: str = "Acme Lead S.r.l.",
                 reviewed_on: str = "2026-10-01", next_review: str = "2027-10-01",
                 outcome: str = "approved", sector_choice: bool = True) -> Path:
        """Write suppliers/<id>.toml (approved by default) and its privacy notice."""
        (self.root / "suppliers").mkdir(exist_ok=True)
        (self.root / "data" / "suppliers").mkdir(parents=True, exist_ok=True)
        (self.root / "data" / "suppliers" / f"{supplier_id}-informativa.txt").write_text(
            f"Informativa privacy di {name}\n")
        path = self.root / "suppliers" / f"{supplier_id}.toml"
        path.write_text(SUPPLIER.format(id=supplier_id, name=name, reviewed_on=reviewed_on,
                                        next_review=next_review, outcome=outcome,
                                        sector_choice=str(sector_choice).lower()))
        return path

    @property
    def ws(self) -> Workspace:
        return Workspace(self.root)

    def source(self, source_id: str, text: str, *, kind: str = "third_party",
               columns: str = 'phone = "Telefono"', extra: str = "", name: str | None = None,
               purposes: str = '["telemarketing"]', data: bytes | None = None,
               supplier: bool | str = True) -> Path:
        """Write sources/<id>.toml and its list file (text as UTF-8 unless data given).
        The supplier is suppliers/acme.toml (approved; written if missing), another
        supplier file's id, "inline" for a [supplier] table, or False for none."""
        file = self.root / "data" / "lists" / (name or f"{source_id}.csv")
        file.write_bytes(data if data is not None else textwrap.dedent(text).lstrip().encode())
        supplier_table = ""
        if supplier == "inline" and kind != "internal_archive":
            supplier_table = textwrap.dedent("""
                [supplier]
                name = "Acme Lead S.r.l."
                vat = "IT01234567890"
                """)
        elif supplier and kind != "internal_archive":
            supplier_id = "acme" if supplier is True else str(supplier)
            if not (self.root / "suppliers" / f"{supplier_id}.toml").exists():
                self.supplier(supplier_id)
            extra = f'supplier = "{supplier_id}"\n{extra}'
        manifest = textwrap.dedent(f"""
            id = "{source_id}"
            kind = "{kind}"
            file = "data/lists/{file.name}"
            received_on = 2026-11-02
            purposes = {purposes}
            {extra}
            """) + supplier_table + "\n[columns]\n" + textwrap.dedent(columns)
        path = self.root / "sources" / f"{source_id}.toml"
        path.write_text(manifest)
        return path


@pytest.fixture
def maker(tmp_path: Path) -> WorkspaceMaker:
    return WorkspaceMaker(tmp_path / "ws")


@pytest.fixture
def demo(tmp_path: Path) -> Workspace:
    """A copy of the repository's demo workspace (never the repo itself)."""
    return copy_demo(tmp_path / "demo")


def copy_demo(root: Path) -> Workspace:
    """The repository's demo workspace copied to root, as a user would set it up."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "gatekeeper.toml", root)
    shutil.copytree(REPO / "sources", root / "sources")
    shutil.copytree(REPO / "agencies", root / "agencies")
    shutil.copytree(REPO / "suppliers", root / "suppliers")
    (root / "data").mkdir()
    for part in ("lists", "rpo", "calls", "contracts", "suppliers", "audits"):
        shutil.copytree(REPO / "data" / part, root / "data" / part)
    shutil.copy(REPO / "data" / "optouts-demo.csv", root / "data")
    return Workspace(root)


AS_OF = "2026-11-22T12:00"  # the demo runs' instant (a Sunday, 13:00 in Rome)
# "May I dial now?" is asked on a weekday inside the calling hours (Monday 11:00 in Rome):
# on a Sunday nobody may be called, whatever the lists say.
DIAL_AT = "2026-11-23T10:00"


def stored_rows(ws: Workspace) -> pl.DataFrame:
    """Every list row the store holds, every version (its Parquet files, read as they are)."""
    from gatekeeper.store import Store
    from gatekeeper.store.sources import ROW_SCHEMA, all_versions, conform

    with Store(ws.store_path, read_only=True) as store:
        files = all_versions(store)["rows_file"].drop_nulls().to_list()
        parts = [conform(pl.read_parquet(store.file_path(f))) for f in files]
    return pl.concat(parts) if parts else pl.DataFrame(schema=ROW_SCHEMA)


def gk(ws: Workspace, *args: str) -> Result:
    """Run the real CLI in-process against a workspace, from inside it (as a user would:
    relative paths on the command line are the workspace's)."""
    with contextlib.chdir(ws.root):
        return CliRunner().invoke(cli, ["--home", str(ws.root), *args])


@pytest.fixture
def scrubbed(demo: Workspace) -> Workspace:
    """The demo after the README's main job: load, RPO import, opt-outs, run."""
    assert gk(demo, "load").exit_code == 0
    imported = gk(demo, "rpo", "import", "--request", "data/rpo/2026-11-20-request.txt",
                  "--response", "data/rpo/2026-11-20-response.txt", "--checked-at",
                  "2026-11-20T10:00")
    assert imported.exit_code == 0, imported.output
    assert gk(demo, "optout", "import", "data/optouts-demo.csv").exit_code == 0
    ran = gk(demo, "run", "--campaign", "demo", "--purpose", "telemarketing", "--as-of", AS_OF)
    assert ran.exit_code == 0, ran.output
    return demo


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL server for the session (tests/postgres.py), on a unix socket."""
    server = Postgres(Path(tempfile.mkdtemp(prefix="gk-pg-")))
    yield server
    server.close()


@pytest.fixture
def shared_url(postgres: Postgres) -> str:
    """A new empty database of that server, for one test."""
    return postgres.database()


def use_shared(ws: Workspace, url: str) -> Workspace:
    """Point a workspace at a shared store, create its tables and move its journal in, as
    the README's two-instance set-up says."""
    with ws.config_path.open("a") as config:
        config.write(f'\n[shared]\nurl = "{url}"\n')
    for args in (("shared", "init"), ("shared", "migrate", "--from-files")):
        done = gk(ws, *args)
        assert done.exit_code == 0, done.output
    return ws


@pytest.fixture(params=["files", "postgresql"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Journal:
    """An empty opt-out journal: data/optouts.jsonl, or the shared store's rows (every
    test taking it passes on both)."""
    if request.param == "files":
        return Journal(tmp_path / "optouts.jsonl")
    from gatekeeper.shared import shared_store
    from gatekeeper.shared.journal import SharedJournal
    from gatekeeper.shared.schema import migrate

    store = shared_store(request.getfixturevalue("shared_url"))
    with store.connection() as conn:
        migrate(conn)
    return SharedJournal(store, tmp_path / "optouts.jsonl")


@pytest.fixture(params=["files", "postgresql"])
def scrubbed_anywhere(request: pytest.FixtureRequest, scrubbed: Workspace) -> Workspace:
    """The scrubbed demo with its journal, ledger and tokens in data/, or moved into a
    shared PostgreSQL store (tests taking it pass on both)."""
    if request.param == "files":
        return scrubbed
    return use_shared(scrubbed, request.getfixturevalue("shared_url"))


@pytest.fixture(params=["files", "postgresql"])
def demo_anywhere(request: pytest.FixtureRequest, demo: Workspace) -> Workspace:
    """The demo workspace, its register, ledger and tokens in data/ or in a shared
    PostgreSQL store."""
    if request.param == "files":
        return demo
    return use_shared(demo, request.getfixturevalue("shared_url"))
