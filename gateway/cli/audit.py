"""`crossblock audit verify`: re-verify the ledger from the chain and compare this gateway's database.

Option naming: ``--country`` is, as in every gateway command, the country of the gateway whose
database is audited (CROSSBLOCK_COUNTRY). The optional ``--log CC`` restricts the audit to one
country's log on the ledger (``audit verify [--country CC]`` of the design, read as "as CC's
gateway").
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gateway.cli.common import (
    EXIT_AUDIT_FAILED,
    ConfigOpt,
    CountryOpt,
    JsonOpt,
    clean_errors,
    console,
    err_console,
    gateway,
    print_json,
)
from gateway.services.audit import AuditReport, audit_verify

app = typer.Typer(help="Audit this gateway against the ledger.", no_args_is_help=True)


def _log_country(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise typer.BadParameter(f"expected an ISO 3166-1 alpha-2 code, got {value!r}")
    return code


@app.command()
def verify(
    country: CountryOpt,
    config: ConfigOpt = None,
    log: Annotated[
        str | None,
        typer.Option(
            "--log",
            metavar="CC",
            callback=_log_country,
            help="Audit only this country's log (default: every country's). --country stays the "
            "gateway whose database is audited.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-read the whole ledger from the chain, re-verify it and compare this gateway's database.

    Trusts neither the database nor the syncer: every batch is verified again (seq, head chain,
    records hash, Merkle root, signer active at its block) and compared byte for byte with the
    applied batches and records, each country's head, the signer keys, this country's own published
    batches, and (for a full audit) the derived latest-entry and status tables. Prints a readable
    report listing every discrepancy.

    --country names the gateway whose database is audited, as in every command; --log CC narrows
    the audit to CC's log on the ledger (e.g. `crossblock audit verify -c BR --log IN`: does BR's
    copy of India's log match the chain?).

    Exit codes: 0 the database matches the chain; 5 discrepancies found (listed); 1 error.
    """
    report = _run(country, config, log=log, quiet=as_json)
    if as_json:
        data = dataclasses.asdict(report)
        data["ok"] = report.ok
        data["discrepancies"] = [dict(dataclasses.asdict(d), text=str(d)) for d in report.discrepancies]
        print_json(data)
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(EXIT_AUDIT_FAILED)


@clean_errors
def _run(country: str, config: ConfigOpt, *, log: str | None, quiet: bool) -> AuditReport:
    with gateway(country, config) as ctx:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(
            *columns, console=err_console, transient=True, disable=quiet or not err_console.is_terminal
        ) as progress:
            task = progress.add_task("auditing", total=None)

            def on_progress(report: AuditReport) -> None:
                progress.update(
                    task,
                    description=f"auditing: {report.batches_checked} batches, "
                    f"{report.records_checked:,} records re-verified",
                )

            return audit_verify(
                settings=ctx.settings, engine=ctx.engine, client=ctx.client, country=log, progress=on_progress
            )


def _print_report(report: AuditReport) -> None:
    scope = f"{report.country}'s log" if report.country else "every country's log"
    console.print(
        f"audited {scope}, blocks {report.from_block}..{report.to_block}: {report.batches_checked} batches, "
        f"{report.records_checked:,} records re-verified from the chain in {report.seconds:.2f}s",
        highlight=False,
    )
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)
    if report.ok:
        console.print("[bold green]OK[/]: the database matches the chain")
        return
    console.print(f"[bold red]FAILED[/]: {len(report.discrepancies)} discrepancies")
    for line in report.lines():
        console.print(f"  - {line}", highlight=False, markup=False)
