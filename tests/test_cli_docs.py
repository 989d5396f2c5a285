"""Every command a user can type has help, and the README shows it."""

from __future__ import annotations

import click

from gatekeeper.cli import cli

from .conftest import REPO


def _commands(group: click.Group, prefix: str = "gatekeeper") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        found[path] = command
        if isinstance(command, click.Group):
            found |= _commands(command, path)
    return found


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = _commands(cli)
    assert len(commands) > 25
    for path, command in commands.items():
        assert (command.help or "").strip(), f"{path} has no help"
        for option in command.params:
            if isinstance(option, click.Option) and not option.hidden:
                assert option.help or option.is_flag or option.name in ("json",), (
                    f"{path} {option.opts[0]} has no help")
        assert path in readme, f"the README never shows '{path}'"
