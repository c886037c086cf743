"""Entry point of the `crossblock` command."""

from __future__ import annotations

import typer

from gateway.cli import devnet

app = typer.Typer(
    help="CrossBlock: cross-border stolen-device blocklists on a permissioned ledger.",
    no_args_is_help=True,
)
app.add_typer(devnet.app, name="devnet")
