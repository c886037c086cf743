"""Entry point of the `crossblock` command."""

from __future__ import annotations

import typer

app = typer.Typer(help="CrossBlock: cross-border stolen-device blocklists on a permissioned ledger.")
