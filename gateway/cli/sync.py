"""`crossblock sync`: follow every country's log, verify each batch, apply it to this gateway.

The syncer computes Merkle roots of large catch-ups in worker processes started with ``spawn``,
which re-imports the program's main module: the `crossblock` console script and
``python -m gateway.cli`` both guard their entry with ``if __name__ == "__main__"``, and the
syncer is always closed (``with``) so its workers end with the command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine, select

from gateway.cli.common import (
    EXIT_QUARANTINED,
    ConfigOpt,
    CountryOpt,
    clean_errors,
    console,
    err_console,
    gateway,
    stop_on_signals,
)
from gateway.db.models import CountryLog, QuarantinedBatch
from gateway.services.syncer import Syncer, SyncReport


@dataclass(frozen=True)
class _Snapshot:
    """Per country: last applied seq, and quarantined seqs by state."""

    seqs: dict[str, int] = field(default_factory=dict)
    quarantine: dict[tuple[str, int], str] = field(default_factory=dict)

    @classmethod
    def read(cls, engine: Engine) -> _Snapshot:
        with engine.connect() as conn:
            seqs = {cc: int(seq) for cc, seq in conn.execute(select(CountryLog.country, CountryLog.last_seq))}
            quarantine = {
                (cc, int(seq)): str(state)
                for cc, seq, state in conn.execute(
                    select(QuarantinedBatch.country, QuarantinedBatch.seq, QuarantinedBatch.state)
                )
            }
        return cls(seqs, quarantine)


def _print_run(before: _Snapshot, after: _Snapshot, report: SyncReport) -> None:
    """Per-country table of what this run applied or quarantined, then a summary line."""
    countries = sorted(
        {cc for cc in after.seqs if after.seqs[cc] != before.seqs.get(cc, 0)}
        | {cc for cc, _ in after.quarantine.keys() - before.quarantine.keys()}
    )
    if report.rewound_to is not None:
        console.print(
            f"[yellow]chain reorganisation[/]: rewound to block {report.rewound_to} "
            f"({report.rewound_batches} batches undone, applied again below)"
        )
    if countries:
        table = Table("country", "batches applied", "seq", "quarantined", "held", title_justify="left")
        new_quarantine = after.quarantine.keys() - before.quarantine.keys()
        for cc in countries:
            old, new = before.seqs.get(cc, 0), after.seqs.get(cc, 0)
            rejected = sum(
                1 for key in new_quarantine if key[0] == cc and after.quarantine[key] == "rejected"
            )
            held = sum(1 for key in new_quarantine if key[0] == cc and after.quarantine[key] == "held")
            table.add_row(
                cc,
                str(max(new - old, 0)),
                f"{old + 1}..{new}" if new > old else str(new),
                f"[red]{rejected}[/]" if rejected else "0",
                f"[yellow]{held}[/]" if held else "0",
            )
        console.print(table)
    for reason in report.rejected:
        err_console.print(f"[bold red]quarantined:[/] {escape(reason)}", highlight=False, soft_wrap=True)
    if report.from_block > report.to_block and not report.rewound_to and not countries:
        console.print(f"up to date at block {report.to_block}")
        return
    console.print(
        f"blocks {report.from_block}..{report.to_block}: {report.batches} batches, {report.records} records "
        f"applied in {report.seconds:.2f}s ({report.records_per_second:,.0f} records/s), "
        f"{report.status_changes} status changes"
        + (f", {report.skipped} already applied" if report.skipped else "")
        + (f", [red]{report.quarantined} quarantined[/]" if report.quarantined else "")
        + (f", [yellow]{report.held} held[/]" if report.held else ""),
        highlight=False,
    )


def sync(
    country: CountryOpt,
    config: ConfigOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep following the chain until SIGINT/SIGTERM (Ctrl-C).")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.05, help="Seconds between polls of the node with --follow.")
    ] = 2.0,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            help="Processes verifying Merkle roots of big catch-ups (0: none).",
            show_default="CPUs - 1, at most 4",
        ),
    ] = None,
) -> None:
    """Apply every country's new batches from the ledger, each verified before it is applied.

    Every batch is checked (seq contiguity, head chain, records hash, Merkle root, signed by a key
    active for its country at that block) and applied with the sync cursor in one transaction per
    chunk of blocks. A batch that fails is quarantined with its reason and never applied; that
    country's later batches are held behind it. Prints, per country, the batches applied, quarantined
    and held, and the records/s.

    Without --follow it syncs up to the latest block and exits; with --follow it polls every
    --interval seconds until SIGINT or SIGTERM, stopping between chunks; node errors back off.

    Exit codes: 0 synced; 4 a batch was quarantined or held in this run (the rest was applied;
    see `crossblock audit verify`); 1 error (node unreachable, reorg deeper than the kept history).
    """
    quarantined = _run(country, config, follow=follow, interval=interval, workers=workers)
    if quarantined:
        raise typer.Exit(EXIT_QUARANTINED)


@clean_errors
def _run(country: str, config: ConfigOpt, *, follow: bool, interval: float, workers: int | None) -> int:
    """Sync; returns the number of batches quarantined or held by this run."""
    quarantined = 0
    with (
        gateway(country, config) as ctx,
        stop_on_signals(lambda name: err_console.print(f"{name}: stopping after the current chunk")) as stop,
        Syncer(settings=ctx.settings, engine=ctx.engine, client=ctx.client, verify_workers=workers) as syncer,
    ):
        before = _Snapshot.read(ctx.engine)
        if not follow:
            report = syncer.sync_once(stop=stop)
            _print_run(before, _Snapshot.read(ctx.engine), report)
            if stop.is_set():
                console.print(f"stopped at block {report.to_block}; run sync again to continue")
            return report.quarantined + report.held

        console.print(
            f"following the ledger for {ctx.settings.country} every {interval:g}s; Ctrl-C or SIGTERM stops"
        )
        last = [before]

        def on_report(report: SyncReport) -> None:
            nonlocal quarantined
            after = _Snapshot.read(ctx.engine)
            if report.batches or report.quarantined or report.held or report.rewound_to is not None:
                _print_run(last[0], after, report)
            last[0] = after
            quarantined += report.quarantined + report.held

        syncer.follow(interval=interval, stop=stop, on_report=on_report)
        console.print("stopped")
    return quarantined
