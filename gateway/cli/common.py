"""Options shared by gateway commands, and the edge that turns errors into clean exits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console

from gateway.context import GatewayContext
from gateway.errors import GatewayError
from gateway.settings import load_settings
from ledger_node.errors import CrossBlockError

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)

CountryOpt = Annotated[
    str,
    typer.Option(
        "--country",
        "-c",
        envvar="CROSSBLOCK_COUNTRY",
        help="ISO 3166-1 alpha-2 code of this gateway's country (on the devnet, all it needs).",
        show_default=False,
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="CROSSBLOCK_CONFIG",
        help="TOML settings file for a non-devnet gateway (keys as in gateway.settings).",
        exists=True,
        dir_okay=False,
    ),
]


def context(country: str, config: Path | None) -> GatewayContext:
    """Build a gateway context from the common options."""
    return GatewayContext(load_settings(country=country, config=config))


def clean_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn domain errors into a one-line message and exit code 1 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (GatewayError, CrossBlockError) as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper
