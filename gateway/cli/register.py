"""`crossblock register import FILE`: turn a national register snapshot into ledger records."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from gateway.cli.common import (
    EXIT_BAD_ROWS,
    ConfigOpt,
    CountryOpt,
    clean_errors,
    console,
    err_console,
    gateway,
)
from gateway.services.importer import ImportReport, import_register

app = typer.Typer(help="The national register: import snapshots.", no_args_is_help=True)


class FileFormat(StrEnum):
    """Snapshot formats."""

    csv = "csv"
    ndjson = "ndjson"


class Missing(StrEnum):
    """What to do with active register entries a snapshot does not mention."""

    keep = "keep"
    recover = "recover"
    withdraw = "withdraw"


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="Snapshot file (.csv, .ndjson or .jsonl).", exists=True, dir_okay=False, readable=True
        ),
    ],
    country: CountryOpt,
    config: ConfigOpt = None,
    fmt: Annotated[
        FileFormat | None,
        typer.Option("--format", help="File format (default: from the extension).", show_default=False),
    ] = None,
    missing: Annotated[
        Missing,
        typer.Option(
            "--missing",
            help="Active entries of the register that the snapshot does not mention: keep them, or "
            "clear them with a RECOVERED or WITHDRAWN record.",
        ),
    ] = Missing.keep,
) -> None:
    """Import a national register snapshot: only the differences become records.

    Columns (a CSV header, or NDJSON object keys): imei, kind, reported_at, and optionally case_ref.
    imei in any IMEI form; kind STOLEN, LOST, DUPLICATED, INVALID, RECOVERED or WITHDRAWN;
    reported_at as Unix seconds, an ISO-8601 date or a datetime with timezone. Rows identical to the
    register change nothing, so importing the same file again is a no-op. Bad rows are listed with
    their line number and reason and never stop the import of the good ones.

    Exit codes: 0 every row was good; 3 some rows were bad (listed; the good rows were imported);
    1 the file cannot be imported at all; 2 bad option.
    """
    report = _run(country, config, file=file, fmt=fmt, missing=missing)
    _print_report(report)
    if report.bad_rows:
        raise typer.Exit(EXIT_BAD_ROWS)


@clean_errors
def _run(
    country: str, config: ConfigOpt, *, file: Path, fmt: FileFormat | None, missing: Missing
) -> ImportReport:
    with gateway(country, config) as ctx:
        columns = (
            TextColumn("importing {task.fields[name]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(
            *columns, console=err_console, transient=True, disable=not err_console.is_terminal
        ) as progress:
            task = progress.add_task("import", total=None, name=file.name)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=max(total, done))

            return import_register(
                ctx.sessions,
                country=ctx.settings.country,
                path=file,
                fmt=None if fmt is None else fmt.value,
                missing=missing.value,
                progress=on_progress,
            )


def _print_report(report: ImportReport) -> None:
    kinds = ", ".join(f"{kind} {n}" for kind, n in report.by_kind.items())
    console.print(
        f"{escape(report.path)} ({report.format}): {report.rows:,} rows in {report.seconds:.2f}s — "
        f"created {report.created:,}"
        + (f" ({kinds})" if kinds else "")
        + f", unchanged {report.unchanged:,}, "
        f"bad {len(report.bad_rows):,}"
        + (f"; {report.missing:,} records for entries missing from the snapshot" if report.missing else ""),
        highlight=False,
    )
    for bad in report.bad_rows:
        console.print(f"  line {bad.line}: {bad.reason}", highlight=False, markup=False)
    if report.created:
        console.print("run `crossblock publish` to put the new records on the ledger")
