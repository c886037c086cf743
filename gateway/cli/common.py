"""Options shared by gateway commands, and the edge that turns errors into clean exits.

Exit codes of every `crossblock` command (the public contract scripts rely on):

* 0 — success;
* 1 — a domain error (bad settings, rejected report, node unreachable, ...), printed as one line;
* 2 — a usage error: unknown option, bad option value, an IMEI that does not parse;
* 3 — `register import`: some rows were bad (the good ones were imported);
* 4 — `sync`: a batch was quarantined in this run (failed verification, or held behind one that did);
* 5 — `audit verify`: the database and the chain differ.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from gateway.context import GatewayContext
from gateway.errors import GatewayError
from gateway.settings import load_settings
from ledger_node.errors import CrossBlockError, InvalidIdentifierError
from ledger_node.identifiers import parse_imei

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BAD_ROWS = 3
EXIT_QUARANTINED = 4
EXIT_AUDIT_FAILED = 5

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
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON on stdout instead of tables.")
]
RunJsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print each run as one line of JSON on stdout (NDJSON with --follow)."),
]


def _check_imei(value: str) -> str:
    try:
        parse_imei(value)
    except InvalidIdentifierError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


ImeiArg = Annotated[
    str,
    typer.Argument(
        metavar="IMEI",
        help="14 digits (core), 15 (check digit verified), 16 (IMEISV), imei-<15> or imeisv-<16>.",
        callback=_check_imei,
        show_default=False,
    ),
]


def configure_logging(verbosity: int) -> None:
    """Log records to stderr: warnings by default, ``-v`` info, ``-vv`` debug."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)


def context(country: str, config: Path | None) -> GatewayContext:
    """Build a gateway context from the common options."""
    return GatewayContext(load_settings(country=country, config=config))


@contextmanager
def gateway(country: str, config: Path | None) -> Iterator[GatewayContext]:
    """A gateway context whose database connections are closed when the command ends."""
    ctx = context(country, config)
    try:
        yield ctx
    finally:
        if "engine" in ctx.__dict__:  # only if it was built (cached_property)
            ctx.engine.dispose()


def clean_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn domain errors into a one-line message (never wrapped) and exit code 1 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (GatewayError, CrossBlockError) as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON to stdout (plain, no colours: for scripts)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def print_json_line(data: Any) -> None:
    """Write ``data`` as one line of JSON to stdout (NDJSON for commands that report repeatedly)."""
    sys.stdout.write(json.dumps(data, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def short_hex(value: str, size: int = 10) -> str:
    """``0x1234abcd…`` for tables (full values are in --json)."""
    return value if len(value) <= size + 3 else value[: size + 2] + "…"


def short_address(address: str) -> str:
    """``0x24aC…7086``: an address shortened for tables (full values are in --json)."""
    return address if len(address) <= 14 else f"{address[:6]}…{address[-4:]}"


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_WAKE = signal.SIGUSR1


@contextmanager
def stop_on_signals(on_stop: Callable[[str], None] | None = None) -> Iterator[threading.Event]:
    """An event set by the first SIGINT or SIGTERM, for loops that must stop cleanly between steps.

    The signals are blocked in this thread (and so in every thread and process started inside the
    block, which inherit the mask: the syncer's verification workers never see a terminal's Ctrl-C)
    and a helper thread waits for them with ``sigwait``. A second signal exits at once (code 130).
    """
    stop = threading.Event()
    watched = {*_STOP_SIGNALS, _WAKE}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, watched)

    def wait() -> None:
        while True:
            signum = signal.sigwait(watched)
            if signum == _WAKE:
                return
            if stop.is_set():
                err_console.print("interrupted again: exiting now")
                sys.stderr.flush()
                os._exit(130)
            stop.set()
            if on_stop is not None:
                on_stop(signal.Signals(signum).name)

    waiter = threading.Thread(target=wait, name="crossblock-signals", daemon=True)
    waiter.start()
    try:
        yield stop
    finally:
        if waiter.ident is not None and waiter.is_alive():
            signal.pthread_kill(waiter.ident, _WAKE)
            waiter.join(timeout=5)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
