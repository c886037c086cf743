"""`crossblock sync`: follow every country's log, verify each batch, apply it to this gateway.

The syncer computes Merkle roots of large catch-ups in worker processes started with ``spawn``,
which re-imports the program's main module: the `crossblock` console script and
``python -m gateway.cli`` both guard their entry with ``if __name__ == "__main__"``, and the
syncer is always closed (``with``) so its workers end with the command.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine, select

from gateway.cli.common import (
    EXIT_QUARANTINED,
    ConfigOpt,
    CountryOpt,
    RunJsonOpt,
    clean_errors,
    console,
    err_console,
    gateway,
    print_json_line,
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


def _countries(before: _Snapshot, after: _Snapshot) -> list[dict[str, Any]]:
    """Per country touched by a run: batches applied (seq range), quarantined and held."""
    new_quarantine = after.quarantine.keys() - before.quarantine.keys()
    touched = {cc for cc in after.seqs if after.seqs[cc] != before.seqs.get(cc, 0)}
    touched |= {cc for cc, _ in new_quarantine}
    rows = []
    for cc in sorted(touched):
        old, new = before.seqs.get(cc, 0), after.seqs.get(cc, 0)
        states = [after.quarantine[key] for key in new_quarantine if key[0] == cc]
        rows.append(
            {
                "country": cc,
                "applied": max(new - old, 0),
                "from_seq": old + 1 if new > old else None,
                "to_seq": new,
                "quarantined": states.count("rejected"),
                "held": states.count("held"),
            }
        )
    return rows


def _as_json(countries: list[dict[str, Any]], report: SyncReport, *, stopped: bool) -> dict[str, Any]:
    data = dataclasses.asdict(report)
    data["records_per_second"] = round(report.records_per_second, 1)
    data["countries"] = countries
    data["stopped"] = stopped
    return data


def _print_run(countries: list[dict[str, Any]], report: SyncReport) -> None:
    """Per-country table of what this run applied or quarantined, then a summary line."""
    if report.rewound_to is not None:
        console.print(
            f"[yellow]chain reorganisation[/]: rewound to block {report.rewound_to} "
            f"({report.rewound_batches} batches undone, applied again below)"
        )
    if countries:
        table = Table("country", "batches applied", "seq", "quarantined", "held", title_justify="left")
        for row in countries:
            seqs = f"{row['from_seq']}..{row['to_seq']}" if row["applied"] else str(row["to_seq"])
            table.add_row(
                row["country"],
                str(row["applied"]),
                seqs,
                f"[red]{row['quarantined']}[/]" if row["quarantined"] else "0",
                f"[yellow]{row['held']}[/]" if row["held"] else "0",
            )
        console.print(table)
    for reason in report.rejected:
        err_console.print(f"[bold red]quarantined:[/] {escape(reason)}", highlight=False, soft_wrap=True)
    if report.from_block > report.to_block and report.rewound_to is None and not countries:
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
    as_json: RunJsonOpt = False,
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
    quarantined = _run(country, config, follow=follow, interval=interval, workers=workers, as_json=as_json)
    if quarantined:
        raise typer.Exit(EXIT_QUARANTINED)


@clean_errors
def _run(
    country: str, config: ConfigOpt, *, follow: bool, interval: float, workers: int | None, as_json: bool
) -> int:
    """Sync; returns the number of batches quarantined or held by this run."""
    quarantined = 0

    def show(before: _Snapshot, after: _Snapshot, report: SyncReport, *, stopped: bool = False) -> None:
        countries = _countries(before, after)
        if as_json:
            print_json_line(_as_json(countries, report, stopped=stopped))
        else:
            _print_run(countries, report)

    with (
        gateway(country, config) as ctx,
        stop_on_signals(lambda name: err_console.print(f"{name}: stopping after the current chunk")) as stop,
        Syncer(settings=ctx.settings, engine=ctx.engine, client=ctx.client, verify_workers=workers) as syncer,
    ):
        before = _Snapshot.read(ctx.engine)
        if not follow:
            report = syncer.sync_once(stop=stop)
            show(before, _Snapshot.read(ctx.engine), report, stopped=stop.is_set())
            if stop.is_set() and not as_json:
                console.print(f"stopped at block {report.to_block}; run sync again to continue")
            return report.quarantined + report.held

        (err_console if as_json else console).print(
            f"following the ledger for {ctx.settings.country} every {interval:g}s; Ctrl-C or SIGTERM stops"
        )
        last = [before]

        def on_report(report: SyncReport) -> None:
            nonlocal quarantined
            after = _Snapshot.read(ctx.engine)
            if report.batches or report.quarantined or report.held or report.rewound_to is not None:
                show(last[0], after, report)
            last[0] = after
            quarantined += report.quarantined + report.held

        syncer.follow(interval=interval, stop=stop, on_report=on_report)
        (err_console if as_json else console).print("stopped")
    return quarantined
