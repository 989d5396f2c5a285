"""The `gatekeeper` command: thin click commands over the library.

Each command parses options, calls one library function, prints, and takes its exit
code from the result. Errors are turned into one message here, in one place.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from gatekeeper import __version__
from gatekeeper.config import Workspace
from gatekeeper.core.errors import GatekeeperError


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


def _zone(ctx: click.Context) -> str:
    """The zone instants are read and shown in: the configured jurisdiction's (a
    gatekeeper.toml that does not parse stops the command, as it would anyway)."""
    return _workspace(ctx).config().jurisdiction.timezone_name


def _emit_json(data: Any, zone: str) -> None:
    """JSON for tools; an instant (naive UTC as the library returns it) in local time with
    its offset, as every machine file writes it (timeutil.local_iso)."""
    import datetime as dt

    from gatekeeper.core.timeutil import local_iso

    def default(value: Any) -> Any:
        return local_iso(value, zone) if isinstance(value, dt.datetime) else str(value)

    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=default))


class TerminalProgress:
    """One status line on stderr, redrawn in place with the time elapsed, while a long
    command works: on a terminal only (pipes and CI stay quiet). A step with a count draws
    a bar. A ticker keeps it alive while a step waits (a slow registry, a big file), so
    nothing is ever silent."""

    def __init__(self) -> None:
        import threading
        import time

        self.enabled = sys.stderr.isatty()
        self.message = ""
        self.started = time.monotonic()
        self._clock = time.monotonic
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ticker = threading.Thread(target=self._tick, daemon=True)

    def __call__(self, message: str, done: int | None = None,
                 total: int | None = None) -> None:
        from gatekeeper.core.progress import bar

        self.message = f"{bar(done or 0, total)} {message}" if total else message
        self._draw()

    def _draw(self) -> None:
        if not self.enabled or not self.message:
            return
        with self._lock:
            line = f"  {self.message} ({self._clock() - self.started:.0f} s)"
            click.echo(f"\r{line[:200]:<80}", err=True, nl=False)

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self._draw()

    def __enter__(self) -> TerminalProgress | None:
        if not self.enabled:
            return None
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._stop.set()
            self._ticker.join()
            click.echo("\r" + " " * 80 + "\r", err=True, nl=False)


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
    from gatekeeper.intake.load import load_sources

    with TerminalProgress() as progress:
        report = load_sources(_workspace(ctx), source_ids, progress)
    if as_json:
        _emit_json({"loaded": [r.__dict__ for r in report.results],
                    "suppliers": report.suppliers,
                    "inline": [i.__dict__ | {"manifest": str(i.manifest)}
                               for i in report.inline],
                    "failed": [{"file": e.file, "row": e.row, "key": e.key,
                                "error": e.message} for e in report.failures],
                    "next_steps": report.next_steps}, _zone(ctx))
        ctx.exit(2 if report.failures else 0)
    for supplier_id in report.suppliers:
        click.echo(f"supplier {supplier_id} recorded (due diligence as in suppliers/"
                   f"{supplier_id}.toml)")
    for r in report.results:
        state = "unchanged, already loaded" if r.unchanged else "loaded"
        click.echo(f"{r.source_id} (version {r.version}, {state})")
        click.echo(f"  rows read      {r.rows_read:>10,}")
        click.echo(f"  rows rejected  {r.rows_rejected:>10,}")
        if r.rows_skipped:
            click.echo(f"  rows skipped   {r.rows_skipped:>10,}  (empty or total rows, not "
                       "list rows)")
        for row, why in r.rejects[:10]:
            click.echo(f"    {r.shown(row)}: {why}")
        if len(r.rejects) > 10:
            click.echo(f"    … {len(r.rejects) - 10} more: gatekeeper sources --rejects "
                       f"{r.source_id}")
        click.echo(f"  valid numbers  {r.valid:>10,}")
        for kind, count in r.by_type.items():
            click.echo(f"    {kind:<22}{count:>10,}")
    for fix in report.inline:
        click.echo(fix.listing())
    _print_warnings([fix.advice() for fix in report.inline])
    for failure in report.failures:  # after the good ones, so none is lost in the output
        click.echo(f"error: {failure}", err=True)
    _print_next_steps(report.next_steps)
    if report.failures:
        ctx.exit(2)


@cli.group(invoke_without_command=True)
@click.option("--rejects", "rejects_of", metavar="SOURCE_ID",
              help="List the rejected rows of one source.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def sources(ctx: click.Context, rejects_of: str | None, as_json: bool) -> None:
    """List loaded sources (newest version of each) or one source's rejects."""
    if ctx.invoked_subcommand:
        return
    from gatekeeper.intake.load import loaded_sources, source_rejects
    from gatekeeper.store import Store

    ws = _workspace(ctx)
    with Store(ws.store_path, read_only=True) as store:
        frame = source_rejects(store, rejects_of) if rejects_of else loaded_sources(store)
    zone = ws.config().jurisdiction.timezone_name
    if as_json:
        _emit_json(frame.to_dicts(), zone)
    elif frame.is_empty():
        click.echo("nothing loaded yet: run 'gatekeeper load'" if not rejects_of
                   else f"no rejected rows in {rejects_of}")
    else:
        import datetime as dt

        from gatekeeper.core.timeutil import local_words

        for record in frame.to_dicts():
            click.echo("  ".join(
                f"{k}={local_words(v, zone) if isinstance(v, dt.datetime) else v}"
                for k, v in record.items()))


@sources.command("suggest")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--kind", default="third_party", show_default=True,
              type=click.Choice(["internal_archive", "third_party", "public_directory"]),
              help="What the list is: your own customers or bought/public.")
@click.option("--id", "source_id", help="The source's id (default: from the file's name).")
@click.option("--supplier", help="The supplier's id (its file suppliers/<id>.toml).")
@click.option("--write", is_flag=True, help="Write sources/<id>.toml (never over one).")
@click.pass_context
def sources_suggest(ctx: click.Context, file: str, kind: str, source_id: str | None,
                    supplier: str | None, write: bool) -> None:
    """Draft a manifest for a list as sent: header row, columns, each guess explained."""
    from pathlib import Path

    from gatekeeper.intake.suggest import suggest, write_suggestion

    ws = _workspace(ctx)
    draft = suggest(ws, Path(file), kind=kind, source_id=source_id, supplier=supplier)
    click.echo(draft.manifest_text(), nl=False)
    if write:
        path = write_suggestion(ws, draft)
        click.echo(f"written {path.relative_to(ws.root).as_posix()}; next: gatekeeper load "
                   f"{draft.source_id}", err=True)
    elif draft.problems:
        click.echo(f"before loading: {draft.problems[0]}", err=True)


@cli.command()
@click.option("--name", prompt="Company name", help="The controller's company name.")
@click.option("--vat", prompt="VAT number", help="The controller's VAT number.")
@click.option("--address", prompt="Registered address", help="The controller's address.")
@click.option("--dpo-email", "dpo_email", prompt="DPO e-mail",
              help="The data protection officer's e-mail.")
@click.pass_context
def init(ctx: click.Context, name: str, vat: str, address: str, dpo_email: str) -> None:
    """Make a workspace here (or in --home): gatekeeper.toml and its folders."""
    from pathlib import Path

    from gatekeeper.intake.suggest import ControllerInfo, init_workspace

    chosen = ctx.obj.get("home") or os.environ.get("GATEKEEPER_HOME") or Path.cwd()
    root = Path(chosen).expanduser().resolve()
    made = init_workspace(root, ControllerInfo(name, vat, address, dpo_email))
    click.echo(f"workspace ready in {root}: " + ", ".join(
        p.relative_to(root).as_posix() + ("/" if p.is_dir() else "") for p in made))
    click.echo("next: copy a list into data/lists/, then gatekeeper sources suggest "
               "data/lists/FILE --write")


@cli.command()
@click.option("--as-of", "as_of", help="Status on this day (YYYY-MM-DD; default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def suppliers(ctx: click.Context, as_of: str | None, as_json: bool) -> None:
    """List suppliers (suppliers/*.toml) with their due-diligence status and next review;
    lists still naming a supplier inline get the supplier file to write."""
    from gatekeeper.core.timeutil import local_date, now_utc
    from gatekeeper.suppliers import listing

    ws = _workspace(ctx)
    frame, errors, inline = listing(ws, _day_option(as_of, "--as-of")
                                    or local_date(now_utc(), _zone(ctx)))
    if as_json:
        _emit_json({"suppliers": frame.to_dicts(),
                    "inline": [i.__dict__ | {"manifest": str(i.manifest)} for i in inline],
                    "errors": [str(e) for e in errors]}, ws.config().jurisdiction.timezone_name)
    else:
        for r in frame.to_dicts() if "status" in frame.columns else []:
            review = (f"reviewed {r['reviewed_on']} by {r['reviewed_by']}, next review "
                      f"{r['next_review']} ({r['days_to_review']} days)"
                      if r["next_review"] else "no due diligence recorded")
            click.echo(f"{r['supplier_id']:<16} {r['status']:<15} {r['name']} ({r['vat']}); "
                       f"{review}; lists: {', '.join(r['sources']) or '-'}"
                       + ("" if r["loaded"] else "; not loaded as it is now: run "
                          "'gatekeeper load'"))
        if frame.is_empty() and not inline:
            click.echo("no suppliers yet: add suppliers/<id>.toml (see README)")
        for i in inline:
            click.echo(i.listing())
    for error in errors:
        click.echo(f"error: {error}", err=True)
    ctx.exit(2 if errors else 0)


def _instant(value: str | None, what: str) -> Any:
    """An option's instant; without an offset, local time of the workspace's jurisdiction."""
    from gatekeeper.core.timeutil import parse_instant

    return (parse_instant(value, _zone(click.get_current_context()), what=what) if value
            else None)


@cli.command()
@click.option("--jurisdiction", metavar="CODE",
              help="Whose rules: a code of gatekeeper/jurisdictions/ (default: the "
                   "workspace's [policy] jurisdiction, IT outside a workspace).")
@click.option("--format", "fmt", default="md", show_default=True,
              type=click.Choice(["md", "json"]), help="A Markdown table or JSON rows.")
@click.option("--at", "at", help="Only the version in force at this instant (ISO 8601, the "
              "country's local time if no offset); default: every version with its dates.")
@click.pass_context
def rules(ctx: click.Context, jurisdiction: str | None, fmt: str, at: str | None) -> None:
    """The decision table in the order it is applied: step, code, what must hold, the law
    and the words people see (docs/rules.md is this output)."""
    from gatekeeper.core.errors import ConfigError
    from gatekeeper.decide.policy.describe import table_json, table_markdown
    from gatekeeper.jurisdictions import UNSAID
    from gatekeeper.jurisdictions import jurisdiction as named

    if jurisdiction is None:
        try:
            found = _workspace(ctx)
        except ConfigError:  # no workspace here: reading the law needs none
            jurisdiction = UNSAID
        else:  # a workspace whose gatekeeper.toml is wrong says so, as everywhere
            jurisdiction = found.config().policy.jurisdiction
    from gatekeeper.core.timeutil import local_date

    country = named(jurisdiction)
    day = None
    if at is not None:
        from gatekeeper.core.timeutil import parse_instant

        instant = parse_instant(at, country.timezone_name, what="--at")
        day = local_date(instant, country.timezone_name)
    table = country.table
    click.echo(table_markdown(table, day) if fmt == "md" else table_json(table, day), nl=False)


# --- RPO ---------------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def _web_check_options(command: F) -> F:
    """The options of a register's web round trip (`rpo check`, `register check`)."""
    options = [
        click.option("--as-of", "as_of",
                     help="Which results count as still valid (default: now)."),
        click.option("--dry-run", is_flag=True,
                     help="Only say how many numbers would be bought."),
        click.option("--base-url", help="Registry web service (default: [registry] base_url)."),
        click.option("--tls-dir", type=click.Path(file_okay=False),
                     help="Folder with ca.pem, client.pem, client.key (e.g. the emulator's)."),
        click.option("--batch-size", type=int, help="Numbers per job (default: [registry])."),
        click.option("--poll-timeout", type=float, default=600.0, show_default=True,
                     help="Seconds to wait for jobs; unfinished ones are fetched by the next "
                          "check.")]
    for option in reversed(options):
        command = option(command)
    return command


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
    _register_request(ctx, "rpo", out, as_of)


@rpo.command("import")
@click.option("--request", "request", required=True, type=click.Path(dir_okay=False),
              help="The file that was submitted to the RPO.")
@click.option("--response", "response", required=True, type=click.Path(dir_okay=False),
              help="The cleansed list the RPO sent back.")
@click.option("--checked-at", "checked_at",
              help="When the RPO checked (ISO 8601; default: the request file's time).")
@click.option("--same-as-request", is_flag=True,
              help="The register's answer really is the request unchanged (none of its "
              "numbers registered); without it such a file is refused as a mistake.")
@click.pass_context
def rpo_import(ctx: click.Context, request: str, response: str, checked_at: str | None,
               same_as_request: bool) -> None:
    """Record the RPO's answer: numbers missing from the response are registered."""
    _register_import(ctx, "rpo", request, response, checked_at, same_as_request, None)


@rpo.command("check")
@_web_check_options
@click.pass_context
def rpo_check(ctx: click.Context, as_of: str | None, dry_run: bool, base_url: str | None,
              tls_dir: str | None, batch_size: int | None, poll_timeout: float) -> None:
    """The RPO round trip through the web service: only numbers without a valid result."""
    _register_check(ctx, "rpo", as_of, dry_run, base_url, tls_dir, batch_size, poll_timeout)


@rpo.command("emulator")
@click.option("--registry", "registry_file", required=True, type=click.Path(dir_okay=False),
              help="Registered national numbers, one per line.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8443, show_default=True, type=int, help="Port to listen on.")
@click.option("--tls-dir", default="data/rpo/tls", show_default=True,
              type=click.Path(file_okay=False),
              help="Certificates (made on first use): ca.pem, server.*, client.*.")
@click.option("--checked-at", "checked_at", help="Answer with this check time (demos).")
@click.option("--job-seconds", default=0.5, show_default=True, type=float,
              help="How long a job stays pending.")
@click.option("--token", help="Also require this bearer token.")
@click.option("--fail-rate", default=0.0, type=float, help="Share of requests answered 500.")
@click.option("--http-429", "http_429", default=0.0, type=float,
              help="Share of requests answered 429 with Retry-After.")
@click.option("--retry-after", default=1, show_default=True, type=int,
              help="Seconds a 429 answer asks the client to wait.")
@click.option("--drop-rate", default=0.0, type=float,
              help="Share of requests carried out whose answer is cut off.")
@click.option("--slow", default=0.0, type=float, help="Seconds added to every answer.")
@click.option("--pending-forever", is_flag=True, help="Jobs never finish.")
@click.option("--seed", type=int, help="Make the injected faults repeatable.")
@click.pass_context
def rpo_emulator(ctx: click.Context, registry_file: str, host: str, port: int, tls_dir: str,
                 checked_at: str | None, job_seconds: float, token: str | None,
                 fail_rate: float, http_429: float, retry_after: int, drop_rate: float,
                 slow: float, pending_forever: bool, seed: int | None) -> None:
    """A local RPO web service (mutual TLS) for tests and demos."""
    from pathlib import Path

    from gatekeeper.registers.emulator import Faults, ensure_tls, run_emulator

    tls = Path(tls_dir)
    paths = ensure_tls(tls)
    click.echo(f"RPO emulator on https://{host}:{port} — client certificate {paths['client.pem']}"
               f", key {paths['client.key']}, CA {paths['ca.pem']}", err=True)
    run_emulator(Path(registry_file), tls, host, port,
                 Faults(fail_rate, http_429, drop_rate, slow, pending_forever, retry_after,
                        seed), job_seconds, _instant(checked_at, "--checked-at"), token)


# --- every country's register: `register ... --register NAME` (`rpo` is Italy's spelling) --

def _register_of(config: Any, code: str) -> Any:
    """(country, register) of `--register NAME`, among the countries called."""
    from gatekeeper.jurisdictions import register_named

    return register_named(code, config.jurisdictions)


def _spelled(register: Any, verb: str) -> str:
    """The command a person types for this register ("gatekeeper rpo import" for Italy's,
    as it always was)."""
    if register.code == "rpo":
        return f"gatekeeper rpo {verb}"
    return f"gatekeeper register {verb} --register {register.code}"


def _snapshot_usage(register: Any) -> str:
    return (f"the {register.name} is delivered whole, as a licensed file: import it as a "
            f"dated snapshot: {_spelled(register, 'import')} --snapshot FILE --as-of DATE")


def _files_adapter(config: Any, j: Any, register: Any) -> Any:
    """The file exchange of this register: the configured adapter for the workspace's own
    register (as `rpo` always did), the register's file exchange for the others."""
    from gatekeeper.core.errors import ConfigError
    from gatekeeper.registers.adapters import ADAPTERS, FileExchange, for_files

    if register == config.jurisdiction.register:
        return for_files(config)
    if FileExchange.name not in register.adapters:
        raise ConfigError(f"the {register.name} takes no file exchange; its adapters: "
                          f"{', '.join(register.adapters)}", key="register")
    return ADAPTERS[FileExchange.name]


def _register_request(ctx: click.Context, code: str, out: str, as_of: str | None) -> None:
    from pathlib import Path

    from gatekeeper.core.errors import InputError
    from gatekeeper.core.timeutil import now_utc, parse_instant
    from gatekeeper.next_steps import run_command
    from gatekeeper.store import Store

    ws = _workspace(ctx)
    config = ws.config()
    j, register = _register_of(config, code)
    if register.delivery == "snapshot":
        raise InputError(f"nothing to request: {_snapshot_usage(register)}")
    when = parse_instant(as_of, j.timezone_name, what="--as-of") if as_of else now_utc()
    with Store(ws.store_path, read_only=True) as store:
        count = _files_adapter(config, j, register).request(
            store, Path(out), when, config.policy.register_days(register), j)
    click.echo(f"{count:,} numbers to check written to {out}")
    _print_next_steps([f"upload {out} to the {register.name}, then record its answer: "
                       f"{_spelled(register, 'import')} --request {out} --response "
                       "ANSWER_FILE"] if count else
                      [f"every number has a valid answer: {run_command()}"])


def _register_import(ctx: click.Context, code: str, request: str, response: str,
                     checked_at: str | None, same_as_request: bool, answer: str | None
                     ) -> None:
    from pathlib import Path

    from gatekeeper.core.timeutil import local_words, parse_instant
    from gatekeeper.store import Store

    ws = _workspace(ctx)
    config = ws.config()
    j, register = _register_of(config, code)
    zone = j.timezone_name
    when = parse_instant(checked_at, zone, what="--checked-at") if checked_at else None
    with Store(ws.store_path) as store, TerminalProgress() as progress:
        result = _files_adapter(config, j, register).record(
            store, Path(request), Path(response), j, checked_at=when, progress=progress,
            same_as_request=same_as_request, register=register, answer=answer)
    reads = answer or register.answer
    if result.already_imported:
        click.echo(f"already imported as {result.exchange_id}; nothing changed")
    elif not checked_at:
        click.echo(f"warning: no --checked-at: the check time is taken from {request}'s "
                   f"modification time ({local_words(result.checked_at, zone)}); if the file "
                   "was copied since, import again with --checked-at", err=True)
    click.echo(f"{result.numbers:,} numbers checked at {local_words(result.checked_at, zone)}: "
               f"{result.registered:,} registered, {result.numbers - result.registered:,} "
               f"not registered (exchange {result.exchange_id})")
    if result.ignored:
        click.echo(f"{result.ignored:,} number(s) in {response} were not asked: ignored (an "
                   "answer of the numbers registered says nothing of numbers not asked)")
    _stale_warning(register, result.checked_at, config.policy.register_days(register))
    if reads == "kept" and result.numbers > 1 and result.registered == result.numbers:
        click.echo(f"warning: {response} lists none of the {result.numbers:,} numbers asked, so "
                   "every one is recorded as registered and none will be dialled; if the "
                   f"{register.name} answered otherwise this is the wrong file: import the "
                   "right one with a later --checked-at", err=True)
    if reads == "registered" and result.numbers > 1 and result.registered == 0:
        click.echo(f"warning: {response} lists none of the {result.numbers:,} numbers asked, so "
                   "every one is recorded as not registered and may be dialled; if the "
                   f"{register.name} answered otherwise this is the wrong file: import the "
                   "right one with a later --checked-at", err=True)
    _print_next_steps(result.next_steps)


def _stale_warning(register: Any, checked_at: Any, days: int) -> None:
    """An answer already past its validity protects nothing a run as of now decides."""
    import datetime as dt

    from gatekeeper.core.timeutil import now_utc

    if checked_at + dt.timedelta(days=days) > now_utc():
        return
    code = "RPO_NOT_CHECKED" if register.code == "rpo" else "REGISTER_NOT_CHECKED"
    again = (_spelled(register, "import") + " --snapshot FILE --as-of DATE"
             if register.delivery == "snapshot" else _spelled(register, "request"))
    click.echo(f"warning: this answer was checked more than {days} days ago, so it is no "
               f"longer valid: a run as of now finds its numbers {code}; ask the "
               f"register again ({again}) or run with an earlier --as-of", err=True)


def _register_snapshot(ctx: click.Context, code: str, snapshots: tuple[str, ...],
                       as_of: str | None) -> None:
    from pathlib import Path

    from gatekeeper.core.timeutil import local_words, parse_instant
    from gatekeeper.next_steps import run_command
    from gatekeeper.registers import import_snapshot
    from gatekeeper.store import Store

    ws = _workspace(ctx)
    config = ws.config()
    j, register = _register_of(config, code)
    if not as_of:
        raise click.UsageError(f"--as-of is required with --snapshot: the day the "
                               f"{register.name} file is of (e.g. 2026-11-20)")
    when = parse_instant(as_of, j.timezone_name, what="--as-of")
    with Store(ws.store_path) as store, TerminalProgress() as progress:
        results = import_snapshot(store, [Path(s) for s in snapshots], when, j, register,
                                  progress=progress)
    if all(r.already_imported for r in results):
        click.echo("already imported as " + ", ".join(r.exchange_id for r in results)
                   + "; nothing changed")
    numbers = sum(r.numbers for r in results)
    registered = sum(r.registered for r in results)
    click.echo(f"{numbers:,} {j.code} numbers of the lists checked against the "
               f"{register.name} as of {local_words(when, j.timezone_name)}: "
               f"{registered:,} registered, {numbers - registered:,} not registered "
               f"(exchange {', '.join(r.exchange_id for r in results)})")
    _stale_warning(register, when, config.policy.register_days(register))
    files = " ".join(f"--snapshot {s}" for s in snapshots)
    _print_next_steps(
        [f"numbers loaded after this import have no {register.name} answer: after each "
         f"load import the snapshot again ({_spelled(register, 'import')} {files} --as-of "
         f"{as_of}); a newer snapshot or a delta is imported the same way, at its own date",
         f"decide the campaign with these answers: {run_command()}"])


def _register_check(ctx: click.Context, code: str, as_of: str | None, dry_run: bool,
                    base_url: str | None, tls_dir: str | None, batch_size: int | None,
                    poll_timeout: float) -> None:
    from pathlib import Path

    from gatekeeper.core.errors import ConfigError
    from gatekeeper.core.timeutil import now_utc, parse_instant
    from gatekeeper.registers.adapters import ADAPTERS, CheckOptions, for_check

    ws = _workspace(ctx)
    config = ws.config()
    j, register = _register_of(config, code)
    if not any(ADAPTERS[a].automatic for a in register.adapters if a in ADAPTERS):
        how = (_snapshot_usage(register) if register.delivery == "snapshot" else
               f"exchange files: {_spelled(register, 'request')} --out FILE, then "
               f"{_spelled(register, 'import')} --request FILE --response ANSWER_FILE")
        raise ConfigError(f"the {register.name} has no web service to check through (its "
                          f"adapters: {', '.join(register.adapters)}); {how}",
                          key="register")
    options = CheckOptions(base_url=base_url, tls_dir=Path(tls_dir) if tls_dir else None,
                           batch_size=batch_size, poll_timeout=poll_timeout, jurisdiction=j)
    adapter = for_check(config, base_url=base_url)
    when = parse_instant(as_of, j.timezone_name, what="--as-of") if as_of else now_utc()
    with TerminalProgress() as progress:
        report = adapter.check(ws, when, options, dry_run=dry_run, progress=progress)
    price = report.price_per_number
    if dry_run:
        click.echo(f"would submit {report.to_submit:,} of {report.candidates:,} numbers "
                   f"(cost {report.cost:,.2f} at {price:g} per number); "
                   f"{report.saved:,} already have a valid result or a job")
        if report.resumed_jobs:
            click.echo(f"{report.resumed_jobs} unfinished job(s) would be resumed")
        _print_next_steps(report.next_steps)
        return
    click.echo(f"submitted {report.submitted:,} numbers in {report.batches} new job(s)"
               + (f", resumed {report.resumed_jobs} job(s)" if report.resumed_jobs else "")
               + (f", {report.retries} retries" if report.retries else ""))
    click.echo(f"recorded {report.recorded_numbers:,} results: {report.registered:,} "
               f"registered ({len(report.exchanges)} exchange(s))")
    click.echo(f"saved: {report.saved:,} numbers not bought again "
               f"({report.saved * price:,.2f} at {price:g} per number)")
    if report.pending_jobs:
        click.echo(f"{report.pending_jobs} job(s) still pending at the registry; run "
                   f"'{_spelled(register, 'check')}' again later to fetch them (nothing is "
                   "bought twice)", err=True)
    _print_next_steps(report.next_steps)
    if report.pending_jobs:
        ctx.exit(1)


REGISTER_OPTION = click.option(
    "--register", "code", required=True, metavar="NAME",
    help="The register: rpo (IT), bloctel (FR), robinson (ES), tps (UK); its country must "
         "be in [policy] jurisdictions.")


@cli.group()
def register() -> None:
    """Every called country's do-not-call register: request files, answers, snapshots."""


@register.command("request")
@REGISTER_OPTION
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="File to write, one national number per line, for upload to the register.")
@click.option("--as-of", "as_of", help="Which results count as still valid (default: now).")
@click.pass_context
def register_request(ctx: click.Context, code: str, out: str, as_of: str | None) -> None:
    """Write the register's country's numbers that have no valid answer yet."""
    _register_request(ctx, code, out, as_of)


@register.command("import")
@REGISTER_OPTION
@click.option("--request", "request", type=click.Path(dir_okay=False),
              help="The file that was submitted to the register.")
@click.option("--response", "response", type=click.Path(dir_okay=False),
              help="The file the register sent back.")
@click.option("--checked-at", "checked_at",
              help="When the register checked (ISO 8601; default: the request file's time).")
@click.option("--same-as-request", is_flag=True,
              help="The register's answer really is the request unchanged; without it such "
              "a file is refused as a mistake (answers of the numbers kept).")
@click.option("--answer", type=click.Choice(["kept", "registered"]),
              help="What the answer file lists: the numbers kept (not registered) or the "
              "numbers registered (default: the register's own: kept for rpo and bloctel, "
              "registered for robinson).")
@click.option("--snapshot", "snapshots", multiple=True, type=click.Path(dir_okay=False),
              help="A register delivered whole (tps): its file as of --as-of; give TPS and "
              "CTPS as one file or two (--snapshot twice).")
@click.option("--as-of", "as_of",
              help="The day (or instant) a --snapshot is of; a date is 00:00 local time.")
@click.pass_context
def register_import(ctx: click.Context, code: str, request: str | None,
                    response: str | None, checked_at: str | None, same_as_request: bool,
                    answer: str | None, snapshots: tuple[str, ...], as_of: str | None) -> None:
    """Record a register's answer to a request, or a snapshot of a register delivered
    whole."""
    from gatekeeper.core.errors import InputError

    _, register_ = _register_of(_workspace(ctx).config(), code)
    exchange_options = [name for name, given in (
        ("--request", request), ("--response", response), ("--checked-at", checked_at),
        ("--same-as-request", same_as_request), ("--answer", answer)) if given]
    if register_.delivery == "snapshot":
        if exchange_options or not snapshots:
            given = f" ({', '.join(exchange_options)} is for registers that answer a request)"
            raise InputError(_snapshot_usage(register_) + (given if exchange_options else ""))
        _register_snapshot(ctx, code, snapshots, as_of)
        return
    if snapshots or as_of:
        raise InputError(f"the {register_.name} answers a request, it is not delivered "
                         f"whole: {_spelled(register_, 'import')} --request FILE --response "
                         "ANSWER_FILE [--checked-at T]")
    if not request or not response:
        raise InputError(f"give both files of the exchange with the {register_.name}: "
                         f"{_spelled(register_, 'import')} --request FILE --response "
                         "ANSWER_FILE")
    _register_import(ctx, code, request, response, checked_at, same_as_request, answer)


@register.command("check")
@REGISTER_OPTION
@_web_check_options
@click.pass_context
def register_check(ctx: click.Context, code: str, as_of: str | None, dry_run: bool,
                   base_url: str | None, tls_dir: str | None, batch_size: int | None,
                   poll_timeout: float) -> None:
    """The register's round trip through its web service (only the RPO has one)."""
    _register_check(ctx, code, as_of, dry_run, base_url, tls_dir, batch_size, poll_timeout)


# --- opt-outs ---------------------------------------------------------------------------

@cli.group()
def optout() -> None:
    """The opt-out register ("non chiamatemi più")."""


def _journal(ctx: click.Context) -> Any:
    from gatekeeper.privacy.optouts import open_journal

    return open_journal(_workspace(ctx))


def _print_next_steps(steps: list[str]) -> None:
    """What to do next, naming the command (next_steps.py): on stdout, last, where a
    person reading the output looks for it."""
    for step in steps:
        click.echo(f"next: {step}")


def _print_warnings(warnings: list[str]) -> None:
    for line in warnings:
        click.echo(f"warning: {line}", err=True)


@optout.command("add")
@click.argument("phone")
@click.option("--channel", required=True,
              type=click.Choice(["operator", "email", "letter", "web", "api"]),
              help="How the objection arrived.")
@click.option("--by", "by", required=True, help="Who received the objection.")
@click.option("--scope", default="all", show_default=True,
              type=click.Choice(["all", "telemarketing", "survey"]),
              help="Which calls the person objects to.")
@click.option("--note", default="", help="Free text (no other personal data, please).")
@click.option("--at", "at", help="When it was received (ISO 8601; default: now).")
@click.pass_context
def optout_add(ctx: click.Context, phone: str, channel: str, by: str, scope: str, note: str,
               at: str | None) -> None:
    """Record an objection; it is on disk when this command returns."""
    from gatekeeper.core.timeutil import local_words
    from gatekeeper.privacy.optouts import add_optout

    result = add_optout(_journal(ctx), _workspace(ctx).config().jurisdiction, phone=phone,
                        channel=channel, by=by, scope=scope,
                        note=note, at=_instant(at, "--at"))
    _print_warnings(result.warnings)
    entry = result.entries[0]
    click.echo(f"opt-out recorded: {entry['phone']} scope={entry['scope']} at "
               f"{local_words(entry['at'], _zone(ctx))} "
               f"(ref {entry['seq']}; receipt: journal position {result.position}, hash "
               f"{result.hash})")


@optout.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_context
def optout_import(ctx: click.Context, file: str) -> None:
    """Bulk objections from CSV: phone, channel, received_at, by, scope, note."""
    from pathlib import Path

    from gatekeeper.privacy.optouts import import_optouts

    result = import_optouts(_journal(ctx), Path(file), _workspace(ctx).config().jurisdiction)
    _print_warnings(result.warnings)
    click.echo(f"{len(result.entries):,} opt-outs recorded from {file}")


@optout.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def optout_list(ctx: click.Context, as_json: bool) -> None:
    """Every opt-out and withdrawal, oldest first."""
    state = _journal(ctx).read()
    _print_warnings(state.warnings())
    for bad in state.damaged:
        click.echo(f"warning: {bad.describe()}; no number is decided until the privacy "
                   "officer runs 'gatekeeper optout repair'", err=True)
    from gatekeeper.core.timeutil import local_iso_expr, local_words

    zone = _zone(ctx)
    if as_json:
        _emit_json(state.events.drop("recorded_at").with_columns(local_iso_expr("at", zone))
                   .to_dicts(), zone)
        return
    events = state.events.to_dicts()
    for e in events:  # a person reads local time (a letter dated 13/08 is not 12/08 22:00Z)
        what = "withdrawn" if e["type"] == "withdraw" else f"opt-out scope={e['scope']}"
        click.echo(f"{e['seq']:>6}  {local_words(e['at'], zone)}  {e['phone']}  {what}  "
                   f"channel={e['channel'] or '-'}  by={e['recorded_by']}")
    if not events:
        click.echo("no opt-outs recorded")


@optout.command("withdraw")
@click.argument("phone")
@click.option("--evidence", required=True,
              help="The person's own request that lifts the opt-out (reference).")
@click.option("--by", "by", required=True, help="The privacy officer recording it.")
@click.pass_context
def optout_withdraw(ctx: click.Context, phone: str, evidence: str, by: str) -> None:
    """Privacy officer only: lift earlier opt-outs on the person's own request."""
    from gatekeeper.privacy.optouts import withdraw_optout

    result = withdraw_optout(_journal(ctx), phone, evidence, by,
                             _workspace(ctx).config().jurisdiction)
    _print_warnings(result.warnings)
    click.echo(f"opt-outs of {result.entries[0]['phone']} withdrawn "
               f"(ref {result.entries[0]['seq']})")


@optout.command("repair")
@click.option("--by", "by", required=True, help="The privacy officer acknowledging it.")
@click.option("--reason", required=True, help="What happened and what was checked.")
@click.pass_context
def optout_repair(ctx: click.Context, by: str, reason: str) -> None:
    """Privacy officer only: acknowledge damaged journal lines so decisions resume.

    Each damaged line stays in the journal as evidence; a repair event names it and its
    sha256. An opt-out it held is lost: record it again with 'optout add'."""
    from gatekeeper.privacy.optouts import repair_journal

    damaged, result = repair_journal(_journal(ctx), by, reason)
    if result is None:
        click.echo("no damaged line: nothing to repair")
        return
    _print_warnings(result.warnings)
    for bad in damaged:
        click.echo(f"acknowledged: {bad.describe()}; kept in the journal as evidence")
    click.echo("if a damaged line held an objection, record it again with "
               "'gatekeeper optout add' (check the agents' receipts or a backup)")


@cli.group()
def audit() -> None:
    """Evidence checks, and consent audits of the suppliers' lists."""


@audit.command("verify")
@click.option("--anchor", help="A digest from 'audit anchor': prove nothing recorded before "
              "it was rewritten since.")
@click.pass_context
def audit_verify(ctx: click.Context, anchor: str | None) -> None:
    """Verify the evidence: the opt-out journal's chain and every checkpoint, each RPO
    check against its exchange files, rows, lists and reports against their sha256; exit
    1 naming what changed."""
    import contextlib
    import re

    from gatekeeper.core.errors import InputError, StoreBusy
    from gatekeeper.core.timeutil import now_utc
    from gatekeeper.evidence.audit import verify
    from gatekeeper.privacy.optouts import open_journal
    from gatekeeper.store import Store
    from gatekeeper.store import evidence as evidence_store

    ws = _workspace(ctx)
    digest = anchor.strip().lower() if anchor else None
    if digest is not None and not re.fullmatch(r"[0-9a-f]{64}", digest):
        # A mistyped digest is the user's input, not a sign that evidence was rewritten.
        raise InputError(f"--anchor '{anchor[:80] if anchor else ''}' is not a digest: give "
                         "the 64 hexadecimal characters 'gatekeeper audit anchor' printed")
    report = verify(ws, digest)
    _print_warnings(report.notes)
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    if report.intact:  # a verified head is a checkpoint too (skipped if a run holds the store)
        position, head = open_journal(ws).head()
        with contextlib.suppress(StoreBusy), Store(ws.store_path, wait=0) as store:
            evidence_store.note_journal_head(store, position, head, "audit verify",
                                             now_utc())
    click.echo(f"{report.journal_entries:,} journal entries, {report.exchanges:,} RPO "
               f"exchanges ({report.checks:,} checks derived again from their files), "
               f"{report.versions:,} source versions, {report.runs:,} runs"
               + (f", compared with the {report.anchor}" if report.anchor else "") + ": "
               + ("evidence intact" if report.intact else
                  f"NOT intact ({len(report.problems)} problem(s))"))
    ctx.exit(0 if report.intact else 1)


@audit.command("anchor")
@click.pass_context
def audit_anchor(ctx: click.Context) -> None:
    """One digest of the whole evidence state, to keep outside the workspace (send it to
    the DPO by PEC); 'audit verify --anchor DIGEST' proves nothing was rewritten since."""
    from gatekeeper.evidence.audit import make_anchor

    digest, report = make_anchor(_workspace(ctx))
    if not digest:
        for problem in report.problems:
            click.echo(f"problem: {problem}", err=True)
        click.echo("no anchor made: the evidence is not intact (see 'gatekeeper audit "
                   "verify')", err=True)
        ctx.exit(1)
    click.echo(digest)
    click.echo("keep this digest outside the workspace (e.g. send it to the DPO by PEC); "
               f"check later with: gatekeeper audit verify --anchor {digest}", err=True)


@audit.command("sample")
@click.argument("source_id")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The proof request to send the supplier (CSV: row, phone, consent_date, "
              "consent_proof).")
@click.option("--size", type=int, help="Rows to ask for (default: the least that can prove "
              "the rate, Clopper-Pearson; 149 at 95 % and 2 %).")
@click.option("--confidence", default=0.95, show_default=True, type=float,
              help="Confidence of the verdict.")
@click.option("--max-rate", "max_rate", default=0.02, show_default=True, type=float,
              help="Highest failure rate the list may have.")
@click.option("--seed", type=int, help="Draw these rows again (default: a new seed, printed).")
@click.option("--at", "at", help="When the request is sent (ISO 8601; default: now).")
@click.pass_context
def audit_sample(ctx: click.Context, source_id: str, out: str, size: int | None,
                 confidence: float, max_rate: float, seed: int | None, at: str | None) -> None:
    """Draw a reproducible random sample of a bought list's rows and write the proof
    request for its supplier; the supplier answers by [policy] audit_answer_days."""
    from pathlib import Path

    from gatekeeper.suppliers.consent_audits import sample

    r = sample(_workspace(ctx), source_id, Path(out), size=size, confidence=confidence,
               max_rate=max_rate, seed=seed, at=_instant(at, "--at"))
    _print_warnings(r.warnings)
    click.echo(f"audit {r.audit_id}: {r.size:,} of {r.population:,} rows of {r.source_id} "
               f"(version {r.source_version}), seed {r.seed}; proof request written to "
               f"{out}; the supplier's answer is due by {r.due_on}")


@audit.command("answer")
@click.argument("audit_id")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--at", "at", help="When the reply arrived (ISO 8601; default: now).")
@click.pass_context
def audit_answer(ctx: click.Context, audit_id: str, file: str, at: str | None) -> None:
    """Record the supplier's reply (CSV: row or phone, result ok|missing|mismatch,
    document, sha256). Exit 0 while the audit passes or is open, 1 once it fails."""
    from pathlib import Path

    from gatekeeper.suppliers.consent_audits import answer

    r = answer(_workspace(ctx), audit_id, Path(file), _instant(at, "--at"))
    st = r.status
    click.echo(f"audit {audit_id}: {r.recorded:,} answer(s) recorded"
               + (f", {r.already:,} already recorded" if r.already else ""))
    if r.late:
        click.echo(f"warning: {r.late:,} answer(s) arrived after the audit was due "
                   f"({st['due_on']}): they count as failures", err=True)
    click.echo(_audit_line(st))
    ctx.exit(1 if st["verdict"] == "failed" else 0)


def _audit_line(a: dict[str, Any]) -> str:
    bound = "" if a["bound"] is None else f", upper bound {a['bound']:.2%}"
    limit = "" if a["max_rate"] is None else f" (max {a['max_rate']:.2%})"
    what = (f"request {a['request_ref']}" if a["kind"] == "request"
            else f"sample of {a['population']:,}, seed {a['seed']}")
    overdue = ", overdue" if a["overdue"] else ""
    return (f"{a['audit_id']:<5} {a['kind']:<8} {a['source_id']} v{a['source_version']} "
            f"supplier {a['supplier_id'] or '-'} ({what}); due {a['due_on']}; "
            f"k={a['k']} of n={a['n']} ({a['answered']} answered{overdue})"
            f"{bound}{limit}: {a['verdict'].upper()}")


@audit.command("list")
@click.option("--as-of", "as_of", help="Verdicts as things stood then (ISO 8601; default: "
              "now).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def audit_list(ctx: click.Context, as_of: str | None, as_json: bool) -> None:
    """Every consent audit and proof request: k failures of n rows, the one-sided upper
    bound of the failure rate, the verdict and the due date."""
    from gatekeeper.core.timeutil import now_utc
    from gatekeeper.store import Store
    from gatekeeper.suppliers.consent_audits import statuses

    ws = _workspace(ctx)
    with Store(ws.store_path, read_only=True) as store:
        frame = statuses(store, _instant(as_of, "--as-of") or now_utc(), _zone(ctx))
    if as_json:
        _emit_json(frame.to_dicts(), ws.config().jurisdiction.timezone_name)
        return
    for a in sorted(frame.to_dicts(), key=lambda a: int(a["audit_id"][1:])):
        click.echo(_audit_line(a))
    if frame.is_empty():
        click.echo("no audits yet: gatekeeper audit sample SOURCE --out FILE")


# --- run and check ------------------------------------------------------------------------

@cli.command()
@click.option("--campaign", required=True, help="The campaign's name, any text (e.g. "
              "'Dicembre Energia 2026'); its files go to reports/<slug of it>/.")
@click.option("--purpose", required=True, type=click.Choice(["telemarketing", "survey"]),
              help="What the calls are for.")
@click.option("--source", "sources_", multiple=True, help="Only these sources (repeatable).")
@click.option("--as-of", "as_of", help="Decide as at this time (ISO 8601; default: now).")
@click.option("--sector", help="The campaign's sector, e.g. energia (default: [policy] sector); "
              "consents naming other sectors do not cover it.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def run(ctx: click.Context, campaign: str, purpose: str, sources_: tuple[str, ...],
        as_of: str | None, sector: str | None, as_json: bool) -> None:
    """Decide every row and write reports/<campaign's slug>/."""
    from gatekeeper.decide.run import run_campaign

    with TerminalProgress() as progress:
        result = run_campaign(_workspace(ctx), campaign, purpose, sources_,
                              _instant(as_of, "--as-of"), progress=progress, sector=sector)
    _print_warnings(result.warnings)
    if as_json:
        _emit_json({**result.summary, "next_steps": result.next_steps}, _zone(ctx))
        return
    from gatekeeper.core.timeutil import local_words

    s, zone = result.summary, _zone(ctx)  # a person reads the summary's instants locally
    click.echo(f"campaign {result.campaign} ({purpose}) as of {local_words(s['as_of'], zone)}, "
               f"run {result.run_id}")
    click.echo(f"  rows {s['rows']:,}   valid {s['valid']:,}   dialable numbers "
               f"{s['dialable']:,}")
    for reason, count in s["suppressed"].items():
        click.echo(f"  suppressed {reason:<22}{count:>10,}")
    if s["valid_until"]:
        # Italy alone: its register's words, as ever; several countries: any register's
        # answers, or a country's rules, may be what ends the list.
        why = ("RPO checks expire" if len(_workspace(ctx).config().jurisdictions) == 1 else
               "register checks expire, or a country's rules change")
        click.echo(f"  dial before {local_words(s['valid_until'], zone)} ({why})")
    click.echo(f"  written to {result.report_dir}")
    _print_next_steps(result.next_steps)


@cli.command()
@click.argument("phone")
@click.option("--purpose", required=True, type=click.Choice(["telemarketing", "survey"]),
              help="What the calls are for.")
@click.option("--campaign", help="Answer from this campaign's latest run (default: the "
              "purpose's).")
@click.option("--at", "at", help="As things stood at this instant (ISO 8601; default: now).")
@click.option("--agency", help="The call centre that would call (agencies/<id>.toml).")
@click.option("--caller-id", "caller_id", help="The number the call would show.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def check(ctx: click.Context, phone: str, purpose: str, campaign: str | None, at: str | None,
          agency: str | None, caller_id: str | None, as_json: bool) -> None:
    """May this number be dialed now (or at --at)? Exit 0 yes, 1 no."""
    from gatekeeper.core.timeutil import local_words
    from gatekeeper.dial.check import check_number

    zone = _zone(ctx)
    jurisdiction = _workspace(ctx).config().jurisdiction
    words, table = jurisdiction.time_words, jurisdiction.table
    result = check_number(_workspace(ctx), phone, purpose, campaign=campaign,
                          at=_instant(at, "--at"), agency=agency, caller_id=caller_id)
    answer = result.answer
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        _emit_json({**answer.as_json(zone), "purpose": purpose, "rows": result.rows}, zone)
    elif answer.dialable:
        until = (f"{local_words(answer.valid_until, zone)} {words}" if answer.valid_until
                 else "no register limit")  # as next_allowed_at is said: a person reads it
        click.echo(f"DIALABLE {answer.phone}: {answer.basis} — {answer.basis_text}; "
                   f"valid until {until}")
    else:
        when = (f"; may be called from {local_words(answer.next_allowed_at, zone)} {words}"
                if answer.next_allowed_at else "")
        click.echo(f"NOT DIALABLE {answer.phone or phone}: {answer.reason_text} "
                   f"({answer.reason}){when}")
    for row in result.rows if not as_json else ():
        code = row["reason"] or row["basis"]
        click.echo(f"  {row['source_id']} row {row['row']}: {table.words(code) or code} "
                   f"({code})")
    if answer.run and not as_json:
        click.echo(f"  (run {answer.run.run_id} of campaign {answer.run.campaign}, as of "
                   f"{local_words(answer.run.as_of, zone)} {words})")
    ctx.exit(0 if answer.dialable else 1)


# --- privacy officer: disclosure, erasure, requests, retention ----------------------------

def _day_option(value: str | None, what: str) -> Any:
    import datetime as dt

    from gatekeeper.core.errors import InputError

    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{what} '{value}' is not a date; use YYYY-MM-DD") from None


@cli.command()
@click.argument("phone")
@click.option("--format", "fmt", default="text", show_default=True,
              type=click.Choice(["text", "json", "html", "pdf", "preview"]),
              help="The reply letter as text, HTML or PDF (PDF needs --out), the data as "
              "JSON, or the DPO's preview page (warnings, letter, internal details; logs "
              "nothing, even with --ref).")
@click.option("--lang", default="it", show_default=True, type=click.Choice(["it", "en"]),
              help="Language of the letter (text, html, pdf, preview).")
@click.option("--ref", help="The person's request reference: logs the request as answered.")
@click.option("--received", help="When the request arrived (YYYY-MM-DD; default: today).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write to a file, not stdout.")
@click.pass_context
def disclose(ctx: click.Context, phone: str, fmt: str, lang: str, ref: str | None,
             received: str | None, out: str | None) -> None:
    """Everything held about a number and where it came from; exit 3 when nothing is held.

    Warnings for the privacy officer (the number held under several names, a damaged
    opt-out journal line) are printed on stderr: read them before sending the letter."""
    from pathlib import Path

    from gatekeeper.core.errors import InputError
    from gatekeeper.core.outfile import output_path
    from gatekeeper.privacy.disclosure import disclose as collect
    from gatekeeper.privacy.disclosure.letter import letter_bytes
    from gatekeeper.privacy.disclosure.preview import preview_letter

    ws = _workspace(ctx)
    if fmt == "pdf" and not out:
        raise InputError("--format pdf writes a file: add --out FILE (e.g. --out lettera.pdf)")
    target = output_path(Path(out)) if out else None  # before --ref logs the answer
    if fmt == "preview":
        preview = preview_letter(ws, phone, lang=lang, ref=ref)
        data, body = preview.data, preview.page().encode("utf-8")
    else:
        data = collect(ws, phone, ref=ref, received_on=_day_option(received, "--received"))
        body = ((json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
                if fmt == "json" else letter_bytes(data, ws.config().controller, fmt, lang, ref))
    for warning in data["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    if target:
        try:
            target.write_bytes(body)
        except OSError as exc:
            raise InputError(f"cannot be written ({exc.strerror}); choose another --out",
                             file=target) from None
        click.echo(f"written to {out}", err=True)
    else:
        click.echo(body.decode("utf-8"), nl=False)
    if not data["held"]:
        click.echo(f"nothing is held about {data['phone']}", err=True)
        ctx.exit(3)


@cli.command()
@click.argument("phone")
@click.option("--ref", required=True, help="The reference of the person's erasure request.")
@click.option("--by", "by", default="privacy officer", show_default=True,
              help="Who carries out the erasure.")
@click.option("--received", help="When the request arrived (YYYY-MM-DD; default: today).")
@click.option("--dry-run", is_flag=True,
              help="List every file and row the erasure would rewrite or remove, and every "
              "copy it would keep and why; change nothing.")
@click.pass_context
def erase(ctx: click.Context, phone: str, ref: str, by: str, received: str | None,
          dry_run: bool) -> None:
    """Delete a person's data; keep a suppression entry so the number is never dialed."""
    from gatekeeper.core.timeutil import local_words
    from gatekeeper.privacy.disclosure import erase as do_erase
    from gatekeeper.privacy.disclosure import erase_plan

    def show(copies: list[Any], verbs: dict[str, str]) -> None:
        for copy in copies:
            why = f" ({copy.why})" if copy.why else ""
            detail = f": {copy.detail}" if copy.detail else ""
            click.echo(f"  {verbs[copy.action]:<6} {copy.where}{why}{detail}")

    if dry_run:
        plan = erase_plan(_workspace(ctx), phone, ref)
        already = (f" (already erased at {local_words(plan.already_erased, _zone(ctx))}; it "
                   "would check again)"
                   if plan.already_erased else "")
        click.echo(f"erasing {plan.phone} under request {ref} would{already}:")
        show(plan.copies, {"erased": "erase", "kept": "keep"})
        click.echo("nothing was changed (--dry-run)")
        return
    with TerminalProgress() as progress:
        r = do_erase(_workspace(ctx), phone, ref, by=by,
                     received_on=_day_option(received, "--received"), progress=progress)
    click.echo(f"{r.phone} erased under request {r.request_ref} at "
               f"{local_words(r.erased_at, _zone(ctx))}"
               + (" (already erased; checked again)" if r.already else ""))
    click.echo(f"  source rows blanked {r.rows:,}, rejects removed {r.rejects:,}, "
               f"campaign entries removed {r.campaigns:,}")
    show(r.copies, {"erased": "erased", "kept": "kept"})


@cli.group(invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Include answered requests.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def requests(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """Data-subject requests: open and overdue ones (30 days, extendable by 60)."""
    if ctx.invoked_subcommand:
        return
    from gatekeeper.core.timeutil import local_date, now_utc
    from gatekeeper.privacy.requests import list_requests
    from gatekeeper.store import Store

    ws = _workspace(ctx)
    with Store(ws.store_path, read_only=True) as store:
        frame = list_requests(store, local_date(now_utc(), _zone(ctx)),
                              include_answered=show_all)
    if as_json:
        _emit_json(frame.to_dicts(), ws.config().jurisdiction.timezone_name)
        return
    if frame.is_empty():
        click.echo("no open requests" if not show_all else "no requests logged")
    for r in frame.to_dicts():
        click.echo(f"{r['status'].upper():<9} {r['request_ref']}  {r['kind']:<8} "
                   f"{r['phone'] or '-'}  received {r['received_on']}  due {r['due_on']}"
                   + (f" (extended: {r['extension_reason']})" if r["extension_reason"] else ""))


@requests.command("add")
@click.argument("ref")
@click.option("--kind", required=True,
              type=click.Choice(["access", "erasure", "complaint"]),
              help="What the person asks for (or complains about).")
@click.option("--phone", required=True, help="The number the request is about.")
@click.option("--received", help="When it arrived (YYYY-MM-DD; default: today).")
@click.pass_context
def requests_add(ctx: click.Context, ref: str, kind: str, phone: str,
                 received: str | None) -> None:
    """Log a request as it arrives; its deadline starts then. A number from a bought list
    also opens a proof request to its supplier (see 'audit list')."""
    from gatekeeper.intake.normalise import phone_of
    from gatekeeper.privacy.requests import log_request
    from gatekeeper.store import Store

    ws = _workspace(ctx)
    with Store(ws.store_path) as store:
        due, proofs = log_request(store, ref, kind, phone_of(phone, ws.config().jurisdiction),
                                  _day_option(received, "--received"), _zone(ctx),
                                  audit_days=ws.config().policy.audit_answer_days)
    click.echo(f"request {ref} logged; answer due by {due}")
    for p in proofs.to_dicts():
        click.echo(f"  proof of consent asked of the supplier of {p['source_id']} (audit "
                   f"{p['audit_id']}, due by {p['due_on']}): see 'gatekeeper audit list'")


@requests.command("extend")
@click.argument("ref")
@click.option("--reason", required=True, help="Why it needs more time (told to the person).")
@click.pass_context
def requests_extend(ctx: click.Context, ref: str, reason: str) -> None:
    """Extend a request's deadline by 60 days (GDPR art. 12(3))."""
    from gatekeeper.privacy.requests import extend_request
    from gatekeeper.store import Store

    ws = _workspace(ctx)
    with Store(ws.store_path) as store:
        due = extend_request(store, ref, reason)
    click.echo(f"request {ref} now due by {due}; tell the person why: {reason}")


@cli.command()
@click.option("--as-of", "as_of", help="Apply retention as at this time (default: now).")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@click.pass_context
def purge(ctx: click.Context, as_of: str | None, dry_run: bool) -> None:
    """Apply [retention]: old list rows and expired evidence go; opt-outs never do."""
    from gatekeeper.core.timeutil import local_words, now_utc
    from gatekeeper.dial.ledger import open_ledger
    from gatekeeper.privacy.retention import purge as do_purge
    from gatekeeper.store import Store

    ws = _workspace(ctx)
    zone = ws.config().jurisdiction.timezone_name
    with Store(ws.store_path) as store:
        plan = do_purge(store, ws.config(), _instant(as_of, "--as-of") or now_utc(),
                        dry_run=dry_run, ledger=open_ledger(ws))
    verb = "would remove" if dry_run else "removed"
    click.echo(f"retention as of {local_words(plan.as_of, zone)}: list rows loaded before "
               f"{local_words(plan.rows_cutoff, zone)} and unused since; evidence before "
               f"{local_words(plan.evidence_cutoff, zone)}")
    for v in plan.source_versions:
        kept = plan.kept_as_evidence.get((str(v["source_id"]), int(str(v["version"]))), 0)
        click.echo(f"  {verb} rows of {v['source_id']} version {v['version']}: "
                   f"{int(str(v['rows'])) - kept:,}" + (
                       f" (kept {kept:,}: consents a call relied on, kept as evidence after "
                       "the call, UWG §7a)" if kept else ""))
    click.echo(f"  {verb} {plan.rows:,} list rows, {plan.rejects:,} rejects, "
               f"{plan.rpo_checks:,} RPO checks in {plan.rpo_exchanges:,} exchanges, "
               f"{plan.runs:,} run records, {plan.calls:,} calls (before "
               f"{local_words(plan.calls_cutoff, zone)})")
    click.echo("  kept: every opt-out and every erasure suppression entry")


@cli.command("agencies")
@click.option("--json", "as_json", is_flag=True, help="Print the agencies as JSON.")
@click.pass_context
def agencies_cmd(ctx: click.Context, as_json: bool) -> None:
    """The call centres that dial for the controller (agencies/*.toml), checked."""
    from gatekeeper.dial.agencies import discover_agencies

    ws = _workspace(ctx)
    found, errors = discover_agencies(ws.root / "agencies", ws.config().jurisdiction)
    rows = [{"id": a.id, "name": a.name, "vat": a.vat, "authorised_from": str(
        a.authorised_from), "authorised_to": str(a.authorised_to or ""),
        "caller_ids": list(a.caller_ids), "campaigns": list(a.campaigns) or ["(all)"]}
        for a in found.values()]
    if as_json:
        _emit_json(rows, _zone(ctx))
    for row in rows if not as_json else ():
        until = (f"to {row['authorised_to']}" if row["authorised_to"]
                 else "(open-ended)")
        click.echo(f"{row['id']:<16} {row['name']}  authorised from {row['authorised_from']} "
                   f"{until}; caller ids {', '.join(row['caller_ids'])}; campaigns "
                   f"{', '.join(row['campaigns'])}")
    if not found and not errors:
        click.echo("no agencies yet: add agencies/<id>.toml (see README)")
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors:
        ctx.exit(2)


@cli.group()
def calls() -> None:
    """The contact ledger: every call attempt and its outcome."""


@calls.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--agency", required=True, help="Whose export it is (agencies/<id>.toml: its "
              "[calls] columns and outcome codes).")
@click.pass_context
def calls_import(ctx: click.Context, file: str, agency: str) -> None:
    """Record a dialer's call records (CSV or xlsx); all or nothing; the same file twice
    records nothing new.

    A row that cannot be read or cannot be a call (a ragged row, an empty number or
    outcome, a date before 2000, an unmapped code) refuses the whole file with its line,
    field and fix; rows that are no call to a person are skipped only by a [calls] skip
    rule, and counted. Rows sharing a call id are legs of one call. Ready manifests for
    VICIdial, Asterisk and Twilio: docs/dialers.md."""
    from pathlib import Path

    from gatekeeper.dial.calls import import_calls

    result = import_calls(_workspace(ctx), Path(file), agency)
    if result.same_file:
        click.echo(f"{file} was imported before; nothing new recorded")
        return
    click.echo(f"{result.stored:,} calls recorded from {file} ({result.agency})"
               + (f", {result.repeated:,} already recorded" if result.repeated else "")
               + (f", {result.optouts:,} objections recorded" if result.optouts else "")
               + (f"; {result.rows:,} rows read" if result.legs or result.skipped else ""))
    if result.legs:
        click.echo(f"  {result.legs:,} rows were further legs of a call (a transfer): each "
                   "call stored once, with its last leg's outcome")
    for rule, count in result.skipped.items():  # never silently dropped
        click.echo(f"  {count:,} rows skipped: {rule}")


@calls.command("list")
@click.argument("phone")
@click.option("--json", "as_json", is_flag=True, help="Print the calls as JSON.")
@click.pass_context
def calls_list(ctx: click.Context, phone: str, as_json: bool) -> None:
    """Every call made to (or from) a number, oldest first, in local time."""
    from gatekeeper.core.timeutil import local_words
    from gatekeeper.dial.calls import calls_of

    zone = _zone(ctx)
    calls_made = calls_of(_workspace(ctx), phone)
    if as_json:  # started_at and recorded_at in local time with their offset
        _emit_json([{k: v for k, v in c.items() if k != "started_at_utc"}
                    for c in calls_made], zone)
        return
    for c in calls_made:
        click.echo(f"{local_words(c['started_at_utc'], zone)}  {c['direction']:<8} "
                   f"{c['agency']:<12} "
                   f"{c['outcome']:<12} campaign={c['campaign'] or '-'} "
                   f"shown={c['caller_id'] or '-'} agent={c['agent'] or '-'} "
                   f"id={c['call_id']}")
    if not calls_made:
        click.echo("no calls recorded for this number")


@cli.group()
def contracts() -> None:
    """Contracts signed by phone, traced to the calls they came from."""


@contracts.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--name", required=True, help="Names the report: reports/contracts/NAME/.")
@click.option("--map", "map_file", type=click.Path(dir_okay=False),
              help="TOML with [columns] (contract_id, phone, signed_at, agency, agent, "
              "campaign = the file's column names), when the file uses its own.")
@click.pass_context
def contracts_verify(ctx: click.Context, file: str, name: str, map_file: str | None) -> None:
    """Trace every contract to a lawful call (exit 0), or say which cannot be (exit 1)."""
    from pathlib import Path

    from gatekeeper.dial.contracts import verify_contracts
    from gatekeeper.dial.contracts.report import STATUS_TEXT

    result = verify_contracts(_workspace(ctx), Path(file), name,
                              Path(map_file) if map_file else None)
    summary = result.summary
    click.echo(f"{summary['contracts']:,} contracts in {file}")
    for status, count in summary["by_status"].items():
        if count:
            click.echo(f"  {status:<18} {count:>7,}  {STATUS_TEXT[status]}")
    for reason, count in summary["unlawful_by_reason"].items():
        click.echo(f"    UNLAWFUL_CONTACT because {reason}: {count:,}")
    click.echo(f"  written to {result.folder} (contracts.csv, summary.json, contracts.html)")
    ctx.exit(0 if result.all_lawful else 1)


@cli.group()
def shared() -> None:
    """The shared PostgreSQL store of several service instances ([shared] url)."""


@shared.command("init")
@click.pass_context
def shared_init(ctx: click.Context) -> None:
    """Create the shared store's tables (or bring them up to date); safe to run again."""
    from gatekeeper.shared.admin import init

    result = init(_workspace(ctx))
    if result.before == result.after:
        click.echo(f"{result.url}: up to date (schema version {result.after})")
    else:
        click.echo(f"{result.url}: schema version {result.before} -> {result.after}")
    _print_next_steps(["gatekeeper shared migrate --from-files   (move this workspace's "
                       "opt-out journal into it)", "gatekeeper serve   (on each instance)"])


@shared.command("migrate")
@click.option("--from-files", "from_files", is_flag=True, required=True,
              help="Move data/optouts.jsonl (and receipts) and data/ledger/ into the shared "
              "store.")
@click.pass_context
def shared_migrate(ctx: click.Context, from_files: bool) -> None:
    """Move this workspace's opt-out journal and contact ledger into the shared store, the
    journal's chain verified before and after, the ledger compared after; the files are
    then renamed *.moved-to-shared (kept as evidence)."""
    from gatekeeper.shared.admin import migrate_from_files

    result = migrate_from_files(_workspace(ctx))
    if result.calls is not None:
        click.echo(f"{result.url}: contact ledger moved ({result.calls} calls), segments "
                   "and calls compared after")
    if not result.position and not result.already:
        click.echo(f"{result.url}: no opt-out journal in data/ to move")
        return
    click.echo(f"{result.url}: {result.entries} journal entries "
               f"({'already there' if result.already else 'moved'}), chain verified before "
               f"and after; head {result.head[:16]}… at byte {result.position}; "
               f"{result.receipts} receipts")
    for path in result.moved_aside:
        click.echo(f"set aside (kept as evidence, no longer read): {path.name}")


@cli.command("backup")
@click.argument("dest", type=click.Path(dir_okay=False))
@click.pass_context
def backup_cmd(ctx: click.Context, dest: str) -> None:
    """A consistent copy of the whole workspace state (store, lists, journal, reports) in
    one .tar (or .tar.gz) file; opt-outs go on being recorded meanwhile."""
    from pathlib import Path

    from gatekeeper.evidence.backup import backup

    result = backup(_workspace(ctx), Path(dest))
    click.echo(f"backup written to {result.path}: {result.files:,} files, "
               f"{result.bytes / 1e6:,.1f} MB, opt-out journal up to byte "
               f"{result.journal_position:,} (hash {result.journal_hash[:16]}…)")
    for warning in result.warnings:  # e.g. a listed segment missing: the ledger is damaged
        click.echo(f"warning: {warning}", err=True)


@cli.command("restore")
@click.argument("backup_file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Restore over an existing workspace (opt-outs "
              "recorded since the backup are kept; erasures since are done again).")
@click.pass_context
def restore_cmd(ctx: click.Context, backup_file: str, force: bool) -> None:
    """Recreate a workspace from a backup, in --home (or the current folder)."""
    import os
    from pathlib import Path

    from gatekeeper.evidence.backup import restore

    target = Path(ctx.obj.get("home") or os.environ.get("GATEKEEPER_HOME") or Path.cwd())
    result = restore(target.expanduser().resolve(), Path(backup_file), force=force)
    click.echo(f"restored {result.files:,} files into {target}; opt-out journal: "
               f"{result.journal}")
    if result.set_aside:
        click.echo(f"warning: the journal that was here is kept as {result.set_aside}: record "
                   "again any objection in it that the backup lacks", err=True)
    for ref in result.erasures_redone:
        click.echo(f"  erasure {ref}, made after the backup, done again")


# --- the service ------------------------------------------------------------------------

@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8787, show_default=True, type=int, help="Port to listen on.")
@click.option("--as-of", "as_of", help="Answer checks as at this instant (demos and tests; "
              "default: the real time). Opt-outs always count from when they arrive.")
@click.option("--header-timeout", default=10.0, show_default=True,
              type=click.FloatRange(min=0.1), help="Seconds a client has to send a "
              "request's headers; then the connection is closed (408).")
@click.option("--body-timeout", default=30.0, show_default=True,
              type=click.FloatRange(min=0.1), help="Seconds a client has to send a "
              "request's body once its headers are in; then it is answered 408.")
@click.option("--upload-limit-mb", default=200, show_default=True,
              type=click.IntRange(min=1), help="Largest file the console accepts (a list, a "
              "register answer); larger uploads are answered 413.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, as_of: str | None, header_timeout: float,
          body_timeout: float, upload_limit_mb: int) -> None:
    """HTTP service for agents and dialers (opt-outs, check, disclosure), page at /, and
    the console for people at /console."""
    from gatekeeper.service import serve as run_service

    ws = _workspace(ctx)
    ws.config()  # a broken gatekeeper.toml stops here, not at the first request
    click.echo(f"gatekeeper service on http://{host}:{port}/ (workspace {ws.root}); "
               f"console at http://{host}:{port}/console", err=True)
    run_service(ws, host, port, _instant(as_of, "--as-of"), header_timeout=header_timeout,
                body_timeout=body_timeout, upload_limit=upload_limit_mb * 1024 * 1024)


@cli.group()
def token() -> None:
    """Service tokens (roles: agent, dialer, privacy, manager)."""


def _tokens(ctx: click.Context) -> Any:
    from gatekeeper.service.tokens import open_tokens

    return open_tokens(_workspace(ctx))


@token.command("add")
@click.argument("name")
@click.option("--role", required=True,
              type=click.Choice(["agent", "dialer", "privacy", "manager"]),
              help="agent: opt-outs, checks and calls; dialer: checks and its agency's "
              "calls; privacy: everything; manager: the console's lists, register and "
              "campaigns.")
@click.option("--agency", help="The agency (agencies/<ID>.toml) whose calls the token "
              "reports: required for a dialer, optional for an agent.")
@click.pass_context
def token_add(ctx: click.Context, name: str, role: str, agency: str | None) -> None:
    """Make a token; it is printed once, alone on stdout (only its hash is kept)."""
    if agency:
        _known_agency(ctx, agency)
    click.echo(_tokens(ctx).add(name, role, agency))
    bound = f", agency {agency}" if agency else ""
    click.echo(f"token for {name} ({role}{bound}) made; store it now, it cannot be shown "
               "again", err=True)


def _known_agency(ctx: click.Context, agency: str) -> None:
    """A token is bound only to an agency with a valid manifest: a typo would make a token
    whose every call is refused, or evidence filed under an agency nobody authorised."""
    import difflib
    from pathlib import Path

    from gatekeeper.core.errors import InputError
    from gatekeeper.dial.agencies import discover_agencies

    ws = _workspace(ctx)
    found, errors = discover_agencies(ws.root / "agencies", ws.config().jurisdiction)
    if agency in found:
        return
    for error in errors:
        if error.file and Path(error.file).stem == agency:
            raise InputError(f"{error}; fix the agency's manifest first")
    close = difflib.get_close_matches(agency, list(found), n=1)
    hint = (f"did you mean '{close[0]}'? " if close else "") + (
        f"known: {', '.join(sorted(found))}" if found else "add agencies/<ID>.toml first")
    raise InputError(f"no agency '{agency}' in agencies/; {hint}")


@token.command("revoke")
@click.argument("name")
@click.pass_context
def token_revoke(ctx: click.Context, name: str) -> None:
    """Revoke a name's active token; the service refuses it at once."""
    count = _tokens(ctx).revoke(name)
    click.echo(f"{count} token(s) of {name} revoked")


@token.command("list")
@click.pass_context
def token_list(ctx: click.Context) -> None:
    """Names, roles and dates of tokens (never the tokens)."""
    from gatekeeper.core.timeutil import local_words

    entries = _tokens(ctx).listing()
    zone = _zone(ctx) if entries else "UTC"  # no instant to show: no workspace needed
    for t in entries:  # the token file's UTC instants, as a person reads them
        state = (f"revoked {local_words(t['revoked_at'], zone)}" if t.get("revoked_at")
                 else "active")
        agency = f"agency {t['agency']}" if t.get("agency") else (
            "NO AGENCY: re-make with --agency" if t["role"] == "dialer" else "")
        click.echo(f"{t['name']:<20} {t['role']:<8} created "
                   f"{local_words(t['created_at'], zone)}  {state}"
                   + (f"  {agency}" if agency else ""))
    if not entries:
        click.echo("no tokens yet: gatekeeper token add NAME --role "
                   "agent|dialer|privacy|manager [--agency ID]")


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
