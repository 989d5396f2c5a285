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


def _instant(value: str | None, what: str) -> Any:
    from .timeutil import parse_instant

    return parse_instant(value, what=what) if value else None


# --- RPO ---------------------------------------------------------------------------------

@cli.group()
def rpo() -> None:
    """Registro Pubblico delle Opposizioni: request files, answers, checks."""


@rpo.command("request")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="File to write, one national number per line, for upload to the RPO.")
@click.option("--as-of", "as_of", help="Which results count as still valid (default: now).")
@click.pass_context
def rpo_request(ctx: click.Context, out: str, as_of: str | None) -> None:
    """Write the numbers that have no valid RPO result yet."""
    from pathlib import Path

    from .registry import write_request
    from .store import Store
    from .timeutil import now_utc

    ws = _workspace(ctx)
    days = ws.config().policy.rpo_validity_days
    with Store(ws.store_path, read_only=True) as store:
        count = write_request(store, Path(out), _instant(as_of, "--as-of") or now_utc(), days)
    click.echo(f"{count:,} numbers to check written to {out}")


@rpo.command("import")
@click.option("--request", "request", required=True, type=click.Path(dir_okay=False),
              help="The file that was submitted to the RPO.")
@click.option("--response", "response", required=True, type=click.Path(dir_okay=False),
              help="The cleansed list the RPO sent back.")
@click.option("--checked-at", "checked_at",
              help="When the RPO checked (ISO 8601; default: the request file's time).")
@click.pass_context
def rpo_import(ctx: click.Context, request: str, response: str, checked_at: str | None) -> None:
    """Record the RPO's answer: numbers missing from the response are registered."""
    from pathlib import Path

    from .registry import import_exchange
    from .store import Store
    from .timeutil import iso

    ws = _workspace(ctx)
    with Store(ws.store_path) as store:
        result = import_exchange(store, Path(request), Path(response),
                                 _instant(checked_at, "--checked-at"))
    if result.already_imported:
        click.echo(f"already imported as {result.exchange_id}; nothing changed")
    click.echo(f"{result.numbers:,} numbers checked at {iso(result.checked_at)}: "
               f"{result.registered:,} registered, {result.numbers - result.registered:,} "
               f"not registered (exchange {result.exchange_id})")


# --- opt-outs ---------------------------------------------------------------------------

@cli.group()
def optout() -> None:
    """The opt-out register ("non chiamatemi più")."""


def _journal(ctx: click.Context) -> Any:
    from .optouts import Journal

    return Journal(_workspace(ctx).journal_path)


def _print_warnings(warnings: list[str]) -> None:
    for line in warnings:
        click.echo(f"warning: {line}", err=True)


@optout.command("add")
@click.argument("phone")
@click.option("--channel", required=True,
              type=click.Choice(["operator", "email", "letter", "web", "api"]))
@click.option("--by", "by", required=True, help="Who received the objection.")
@click.option("--scope", default="all", show_default=True,
              type=click.Choice(["all", "telemarketing", "survey"]))
@click.option("--note", default="", help="Free text (no other personal data, please).")
@click.option("--at", "at", help="When it was received (ISO 8601; default: now).")
@click.pass_context
def optout_add(ctx: click.Context, phone: str, channel: str, by: str, scope: str, note: str,
               at: str | None) -> None:
    """Record an objection; it is on disk when this command returns."""
    from .optouts import add_optout

    result = add_optout(_journal(ctx), phone=phone, channel=channel, by=by, scope=scope,
                        note=note, at=_instant(at, "--at"))
    _print_warnings(result.warnings)
    entry = result.entries[0]
    click.echo(f"opt-out recorded: {entry['phone']} scope={entry['scope']} at {entry['at']} "
               f"(ref {entry['seq']})")


@optout.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_context
def optout_import(ctx: click.Context, file: str) -> None:
    """Bulk objections from CSV: phone, channel, received_at, by, scope, note."""
    from pathlib import Path

    from .optouts import import_optouts

    result = import_optouts(_journal(ctx), Path(file))
    _print_warnings(result.warnings)
    click.echo(f"{len(result.entries):,} opt-outs recorded from {file}")


@optout.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def optout_list(ctx: click.Context, as_json: bool) -> None:
    """Every opt-out and withdrawal, oldest first."""
    state = _journal(ctx).read()
    events = state.events.drop("recorded_at").with_columns(
        pl_iso("at")).to_dicts()
    if as_json:
        _emit_json(events)
        return
    for e in events:
        what = "withdrawn" if e["type"] == "withdraw" else f"opt-out scope={e['scope']}"
        click.echo(f"{e['seq']:>6}  {e['at']}  {e['phone']}  {what}  "
                   f"channel={e['channel'] or '-'}  by={e['recorded_by']}")
    if not events:
        click.echo("no opt-outs recorded")


def pl_iso(name: str) -> Any:
    import polars as pl

    return pl.col(name).dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@optout.command("withdraw")
@click.argument("phone")
@click.option("--evidence", required=True,
              help="The person's own request that lifts the opt-out (reference).")
@click.option("--by", "by", required=True, help="The privacy officer recording it.")
@click.pass_context
def optout_withdraw(ctx: click.Context, phone: str, evidence: str, by: str) -> None:
    """Privacy officer only: lift earlier opt-outs on the person's own request."""
    from .optouts import withdraw_optout

    result = withdraw_optout(_journal(ctx), phone, evidence, by)
    _print_warnings(result.warnings)
    click.echo(f"opt-outs of {result.entries[0]['phone']} withdrawn "
               f"(ref {result.entries[0]['seq']})")


@cli.group()
def audit() -> None:
    """Evidence checks."""


@audit.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Verify the opt-out journal's hash chain; exit 1 if anything was altered."""
    count, problems = _journal(ctx).verify()
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    click.echo(f"{count:,} journal entries, {'chain intact' if not problems else 'NOT intact'}")
    ctx.exit(1 if problems else 0)


# --- run and check ------------------------------------------------------------------------

@cli.command()
@click.option("--campaign", required=True, help="Names the folder reports/<campaign>/.")
@click.option("--purpose", required=True, type=click.Choice(["telemarketing", "survey"]))
@click.option("--source", "sources_", multiple=True, help="Only these sources (repeatable).")
@click.option("--as-of", "as_of", help="Decide as at this time (ISO 8601; default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def run(ctx: click.Context, campaign: str, purpose: str, sources_: tuple[str, ...],
        as_of: str | None, as_json: bool) -> None:
    """Decide every row and write reports/<campaign>/."""
    from .run import run_campaign

    result = run_campaign(_workspace(ctx), campaign, purpose, sources_,
                          _instant(as_of, "--as-of"))
    _print_warnings(result.warnings)
    if as_json:
        _emit_json(result.summary)
        return
    s = result.summary
    click.echo(f"campaign {campaign} ({purpose}) as of {s['as_of']}, run {result.run_id}")
    click.echo(f"  rows {s['rows']:,}   valid {s['valid']:,}   dialable numbers "
               f"{s['dialable']:,}")
    for reason, count in s["suppressed"].items():
        click.echo(f"  suppressed {reason:<22}{count:>10,}")
    if s["valid_until"]:
        click.echo(f"  dial before {s['valid_until']} (RPO checks expire)")
    click.echo(f"  written to {result.report_dir}")


@cli.command()
@click.argument("phone")
@click.option("--purpose", required=True, type=click.Choice(["telemarketing", "survey"]))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def check(ctx: click.Context, phone: str, purpose: str, as_json: bool) -> None:
    """May this number be dialed now? Exit 0 yes, 1 no."""
    from dataclasses import asdict

    from .run import check_number

    answer = check_number(_workspace(ctx), phone, purpose)
    if as_json:
        _emit_json(asdict(answer))
    elif answer.dialable:
        click.echo(f"DIALABLE {answer.phone}: {answer.basis} — {answer.basis_text}; "
                   f"valid until {answer.valid_until}")
    else:
        click.echo(f"NOT DIALABLE {answer.phone or phone}: {answer.reason}")
        for row in answer.rows:
            click.echo(f"  {row['source_id']} row {row['row']}: "
                       f"{row['reason'] or row['basis']}")
    ctx.exit(0 if answer.dialable else 1)


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


if __name__ == "__main__":
    main()
