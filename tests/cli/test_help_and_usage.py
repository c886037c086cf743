"""Every command has a working --help; bad input is a usage error (exit 2) naming the value."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from gateway.cli.common import EXIT_USAGE
from gateway.cli.main import app
from tests.cli.helpers import Cli, flat


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    if hasattr(group, "commands"):  # a group (typer vendors its own click)
        for name, command in group.commands.items():
            found += _commands(command, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def test_the_public_commands_exist() -> None:
    names = {" ".join(path) for path in COMMANDS}
    expected = {
        "devnet up", "devnet down", "devnet status", "register import", "report add", "report recover",
        "report withdraw", "publish", "sync", "check", "history", "audit verify", "stats",
    }  # fmt: skip
    assert expected <= names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "crossblock")
def test_help(path: tuple[str, ...]) -> None:
    result = Cli()(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout


@pytest.mark.parametrize("command", ["check", "history", "report add"])
@pytest.mark.parametrize(
    ("imei", "reason"),
    [
        ("490154203237519", "bad check digit 9, expected 8"),
        ("12345", "wrong length"),
        ("imei-49015420323751", "imei- needs 15 digits, got 14"),
        ("3520990017614X", "non-digit"),
    ],
)
def test_bad_imei_is_a_usage_error_naming_the_value(command: str, imei: str, reason: str) -> None:
    extra = ["--kind", "STOLEN"] if command == "report add" else []
    result = Cli()(*command.split(), imei, "--country", "IN", *extra)
    assert result.exit_code == EXIT_USAGE
    message = flat(result.stderr)
    assert f"invalid device identifier '{imei}'" in message
    assert reason in message


def test_unknown_kind_and_bad_date_are_usage_errors() -> None:
    cli = Cli()
    kind = cli("report", "add", "490154203237518", "-c", "IN", "--kind", "FOUND")
    assert kind.exit_code == EXIT_USAGE
    assert "'FOUND' is not one of" in flat(kind.stderr)
    when = cli("report", "add", "490154203237518", "-c", "IN", "-k", "LOST", "--reported-at", "2026-13-01")
    assert when.exit_code == EXIT_USAGE
    assert "cannot parse '2026-13-01'" in flat(when.stderr)


def test_country_is_required_and_read_from_the_environment(tmp_path: object) -> None:
    missing = Cli()("stats")
    assert missing.exit_code == EXIT_USAGE
    assert "--country" in flat(missing.stderr)
    # CROSSBLOCK_COUNTRY supplies it: the command then fails only for lack of a devnet (exit 1, one line)
    no_devnet = Cli()("stats", CROSSBLOCK_COUNTRY="IN", CROSSBLOCK_DEVNET_DIR=str(tmp_path))
    assert no_devnet.exit_code == 1
    assert no_devnet.stderr.startswith("error: ")
    assert "crossblock devnet up" in flat(no_devnet.stderr)
    assert "Traceback" not in no_devnet.output
