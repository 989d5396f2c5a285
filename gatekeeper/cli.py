"""The `gatekeeper` command: thin click commands over the library.

Each command parses options, calls one library function, prints, and takes its exit
code from the result. Errors are turned into one message here, in one place.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from . import __version__
from .config import Workspace
from .errors import GatekeeperError


class GatekeeperGroup(click.Group):
    """Turns GatekeeperError into one clean line and its exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GatekeeperError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


def _workspace(ctx: click.Context) -> Workspace:
    return Workspace.locate(ctx.obj.get("home"))


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group(cls=GatekeeperGroup)
@click.option("--home", type=click.Path(file_okay=False), envvar="GATEKEEPER_HOME",
              help="Workspace folder (default: current folder).")
@click.version_option(__version__, prog_name="gatekeeper")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """Gatekeeper: who may be called for a campaign, and why."""
    os.umask(0o077)  # stores, journals and reports hold personal data: owner only
    ctx.ensure_object(dict)
    ctx.obj["home"] = home


@cli.command()
@click.argument("source_ids", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def load(ctx: click.Context, source_ids: tuple[str, ...], as_json: bool) -> None:
    """Validate and load source manifests (default: all in sources/)."""
    from .load import load_sources

    results = load_sources(_workspace(ctx), source_ids)
    if as_json:
        _emit_json([r.__dict__ for r in results])
        return
    for r in results:
        state = "unchanged, already loaded" if r.unchanged else "loaded"
        click.echo(f"{r.source_id} (version {r.version}, {state})")
        click.echo(f"  rows read      {r.rows_read:>10,}")
        click.echo(f"  rows rejected  {r.rows_rejected:>10,}")
        for row, why in r.rejects[:10]:
            click.echo(f"    row {row}: {why}")
        if len(r.rejects) > 10:
            click.echo(f"    … {len(r.rejects) - 10} more: gatekeeper sources --rejects "
                       f"{r.source_id}")
        click.echo(f"  valid numbers  {r.valid:>10,}")
        for kind, count in r.by_type.items():
            click.echo(f"    {kind:<22}{count:>10,}")


@cli.command()
@click.option("--rejects", "rejects_of", metavar="SOURCE_ID",
              help="List the rejected rows of one source.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def sources(ctx: click.Context, rejects_of: str | None, as_json: bool) -> None:
    """List loaded sources (newest version of each) or one source's rejects."""
    from .load import loaded_sources, source_rejects
    from .store import Store

    ws = _workspace(ctx)
    with Store(ws.store_path, read_only=True) as store:
        frame = source_rejects(store, rejects_of) if rejects_of else loaded_sources(store)
    if as_json:
        _emit_json(frame.to_dicts())
    elif frame.is_empty():
        click.echo("nothing loaded yet: run 'gatekeeper load'" if not rejects_of
                   else f"no rejected rows in {rejects_of}")
    else:
        for record in frame.to_dicts():
            click.echo("  ".join(f"{k}={v}" for k, v in record.items()))


def main() -> None:
    """Console entry point: no traceback reaches a user unless GATEKEEPER_DEBUG is set."""
    try:
        cli.main(prog_name="gatekeeper")
    except SystemExit:
        raise
    except Exception as exc:  # the last line of defence, by design
        if os.environ.get("GATEKEEPER_DEBUG"):
            raise
        click.echo(f"internal error ({type(exc).__name__}): {exc}\n"
                   "This is a bug in gatekeeper; rerun with GATEKEEPER_DEBUG=1 and report it.",
                   err=True)
        sys.exit(70)
