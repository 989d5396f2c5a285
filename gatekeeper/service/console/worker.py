"""The console's long work, run in a process of its own: `python -m` this module.

A load, a register exchange, a run or an erasure writes the store; the service holds the
same store open read-only for its checks, and DuckDB refuses a second, writable connection
to one file inside one process. In a process of its own the work takes the store's lock as
the CLI's would, a crash in it cannot take the service down, and a kill -9 of it leaves what
the CLI's kill would leave (each of these commands is all-or-nothing).

Each job calls the same library function as its CLI twin. The spec arrives as one JSON
object on stdin; stdout carries JSON lines only: {"progress": text} while it works, then
{"result": {...}} or {"error": text}.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gatekeeper.config import Workspace
from gatekeeper.core.errors import GatekeeperError
from gatekeeper.core.progress import Progress
from gatekeeper.core.timeutil import local_iso, now_utc, parse_instant


def _now(args: dict[str, Any]) -> dt.datetime:
    """The service's pinned clock when it has one (demos, tests), else the real time."""
    pinned: dt.datetime | None = args.get("now")
    return pinned or now_utc()


def _load(ws: Workspace, args: dict[str, Any], progress: Progress) -> Any:
    from gatekeeper.intake.load import load_sources

    return load_sources(ws, tuple(args.get("sources", ())), progress)


def _request(ws: Workspace, args: dict[str, Any], progress: Progress) -> Any:
    from gatekeeper.registers.adapters import for_files
    from gatekeeper.store import Store

    out = ws.root / args["out"]
    as_of = parse_instant(args["as_of"], args["zone"]) if args.get("as_of") else _now(args)
    progress("numeri da verificare")
    config = ws.config()
    with Store(ws.store_path, read_only=True) as store:
        count = for_files(config).request(store, out, as_of, config.policy.rpo_validity_days,
                                          config.jurisdiction)
    return {"numbers": count, "file": args["out"]}


def _import(ws: Workspace, args: dict[str, Any], progress: Progress) -> Any:
    from gatekeeper.registers.adapters import for_files
    from gatekeeper.store import Store

    checked_at = parse_instant(args["checked_at"], args["zone"]) if args.get("checked_at") else None
    config = ws.config()
    with Store(ws.store_path) as store:
        return for_files(config).record(store, ws.root / args["request"],
                                        ws.root / args["response"], config.jurisdiction,
                                        checked_at=checked_at, progress=progress,
                                        same_as_request=False)


def _check(ws: Workspace, args: dict[str, Any], progress: Progress) -> Any:
    from gatekeeper.registers.adapters import CheckOptions, configured

    return configured(ws.config()).check(
        ws, _now(args), CheckOptions(poll_timeout=float(args.get("wait", 600))),
        dry_run=False, progress=progress)


def _run(ws: Workspace, args: dict[str, Any], progress: Progress) -> Any:
    from gatekeeper.decide.run import run_campaign

    as_of = parse_instant(args["as_of"], args["zone"]) if args.get("as_of") else args.get("now")
    return run_campaign(ws, args["campaign"], args["purpose"], tuple(args.get("sources", ())),
                        as_of, progress=progress, sector=args.get("sector") or None)


def _erase(ws: Workspace, args: dict[str, Any], progress: Progress) -> Any:
    from gatekeeper.privacy.disclosure import erase

    return erase(ws, args["phone"], args["ref"], by=args.get("by") or "privacy officer",
                 progress=progress)


WORK: dict[str, Callable[[Workspace, dict[str, Any], Progress], Any]] = {
    "load": _load, "request": _request, "import": _import, "check": _check, "run": _run,
    "erase": _erase}


def plain(value: Any, zone: str) -> Any:
    """A library result as JSON data: dataclasses as objects, errors as their message,
    instants as ISO text in the jurisdiction's zone, paths relative text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [f.name for f in dataclasses.fields(value)]
        derived = [name for name, kind in vars(type(value)).items()
                   if isinstance(kind, property) and not name.startswith("_")]
        return {name: plain(getattr(value, name), zone) for name in fields + derived}
    if isinstance(value, dict):
        return {str(k): plain(v, zone) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, zone) for v in value]
    if isinstance(value, GatekeeperError):
        return str(value)
    if isinstance(value, dt.datetime):  # naive UTC: local time with its offset, as all JSON
        return local_iso(value, zone)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return value.as_posix()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _tell(message: str, done: int | None = None, total: int | None = None) -> None:
    _say({"progress": message, "done": done, "total": total})


def main() -> int:
    spec = json.loads(sys.stdin.read())
    ws = Workspace(Path(spec["home"]))
    args = dict(spec.get("args", {}))
    try:
        zone = args["zone"] = ws.config().jurisdiction.timezone_name
        args["now"] = parse_instant(spec["now"], zone) if spec.get("now") else None
        result = WORK[spec["kind"]](ws, args, _tell)
    except GatekeeperError as exc:
        _say({"error": str(exc)})
        return 2
    _say({"result": plain(result, zone)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
