"""Entry point of the `crossblock` command."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli import audit, check, demo, devnet, keys, publish, register, report, serve, stats, sync
from gateway.cli.common import configure_logging

app = typer.Typer(
    help="CrossBlock: cross-border stolen-device blocklists on a permissioned ledger.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@app.callback()
def _options(
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="More log output on stderr (-v info, -vv debug)."),
    ] = 0,
) -> None:
    configure_logging(verbose)


app.add_typer(devnet.app, name="devnet")
app.add_typer(register.app, name="register")
app.add_typer(report.app, name="report")
app.command()(publish.publish)
app.command()(sync.sync)
app.command()(check.check)
app.command()(check.history)
app.add_typer(audit.app, name="audit")
app.command()(stats.stats)
app.add_typer(keys.app, name="keys")
app.command()(serve.serve)
app.command()(demo.demo)
