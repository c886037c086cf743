"""`crossblock publish`: sign and publish the national register's changes to this country's log."""

from __future__ import annotations

import threading
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from gateway.cli.common import (
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
from gateway.context import GatewayContext
from gateway.db.models import PublishedBatch
from gateway.services.publisher import Publisher, PublishReport
from ledger_node.errors import NodeUnavailableError

#: Longest pause between attempts while the node is unreachable in --follow mode.
MAX_BACKOFF = 30.0


class _StopRequestedError(Exception):
    """Raised from the progress callback to stop between two confirmed batches."""


class _Progress:
    """Keeps the running report of a publisher run; stops the run between batches once asked."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.report = PublishReport()

    def __call__(self, report: PublishReport) -> None:
        self.report = report
        if self.stop.is_set():
            raise _StopRequestedError


def _batch_rows(ctx: GatewayContext, report: PublishReport) -> list[dict[str, Any]]:
    """The batches a run settled: seq, records, transaction, block, and how (published, resubmitted...)."""
    if not report.confirmed_seqs:
        return []
    how = ["already on chain"] * report.reconciled + ["resubmitted"] * report.resubmitted
    with ctx.sessions() as session:
        stored = {
            b.seq: b
            for b in session.scalars(
                select(PublishedBatch).where(PublishedBatch.seq.in_(report.confirmed_seqs))
            )
        }
    rows = []
    for n, seq in enumerate(report.confirmed_seqs):
        batch = stored[seq]
        rows.append(
            {
                "seq": seq,
                "records": batch.count,
                "tx_hash": "0x" + batch.tx_hash.hex() if batch.tx_hash else None,
                "block_number": batch.block_number,
                "state": how[n] if n < len(how) else "published",
            }
        )
    return rows


def _show(ctx: GatewayContext, report: PublishReport, *, as_json: bool, stopped: bool = False) -> None:
    rows = _batch_rows(ctx, report)
    if as_json:
        print_json_line(
            {
                "country": ctx.settings.country,
                "batches": rows,
                "published": report.batches,
                "records": report.records,
                "reconciled": report.reconciled,
                "resubmitted": report.resubmitted,
                "pending_records": report.pending_records,
                "stopped": stopped,
            }
        )
        return
    if rows:
        table = Table(
            "seq",
            "records",
            "tx",
            "block",
            "state",
            title=f"{ctx.settings.country} batches",
            title_justify="left",
        )
        for row in rows:
            table.add_row(
                str(row["seq"]),
                str(row["records"]),
                row["tx_hash"] or "-",
                str(row["block_number"] or "-"),
                row["state"],
            )
        console.print(table)


def _summary(report: PublishReport) -> str:
    parts = [f"{report.batches} batches ({report.records} records) published"]
    if report.reconciled:
        parts.append(f"{report.reconciled} found already on chain")
    if report.resubmitted:
        parts.append(f"{report.resubmitted} resubmitted")
    if report.pending_records:
        parts.append(f"{report.pending_records} records waiting for the next batch")
    return ", ".join(parts)


def publish(
    country: CountryOpt,
    config: ConfigOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep publishing until SIGINT/SIGTERM (Ctrl-C).")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.05, help="Seconds between outbox polls with --follow.")
    ] = 1.0,
    as_json: RunJsonOpt = False,
) -> None:
    """Publish the register's changes (the outbox) to this country's log on the ledger, exactly once.

    Each run first reconciles with the chain (batches a crashed run left signed or submitted are
    confirmed if the chain holds them, resubmitted unchanged otherwise), then cuts the outbox into
    batches, signs each, stores it, submits it and waits for it to be mined. Safe to kill at any
    point and run again.

    Without --follow every pending record is published (a partial batch too) and the command exits.
    With --follow it polls every --interval seconds, cutting batches when full (batch_size) or old
    (batch_max_age), and stops cleanly between batches on SIGINT or SIGTERM; node errors are retried.

    Exit codes: 0 published (or nothing to publish), 1 error (e.g. the chain holds a batch this
    gateway did not sign).
    """
    _run(country, config, follow=follow, interval=interval, as_json=as_json)


@clean_errors
def _run(country: str, config: ConfigOpt, *, follow: bool, interval: float, as_json: bool) -> None:
    with gateway(country, config) as ctx:
        publisher = ctx.publisher()
        if follow:
            _follow(ctx, publisher, interval, as_json=as_json)
            return
        with stop_on_signals(_announce_stop) as stop:
            progress = _Progress(stop)
            try:
                report = publisher.publish_once(flush=True, progress=progress)
            except _StopRequestedError:
                report = progress.report
        _show(ctx, report, as_json=as_json, stopped=stop.is_set())
        if as_json:
            return
        if stop.is_set():
            console.print(f"stopped: {_summary(report)}; run publish again for the rest")
        else:
            console.print(_summary(report) if report.confirmed_seqs else "nothing to publish")


def _announce_stop(signal_name: str) -> None:
    err_console.print(f"{signal_name}: stopping after the current batch")


def _follow(ctx: GatewayContext, publisher: Publisher, interval: float, *, as_json: bool) -> None:
    total = PublishReport()
    out = err_console if as_json else console
    out.print(f"publishing {ctx.settings.country} every {interval:g}s; Ctrl-C or SIGTERM stops")
    with stop_on_signals(_announce_stop) as stop:
        delay = interval
        while not stop.is_set():
            progress = _Progress(stop)
            try:
                report = publisher.publish_once(flush=False, progress=progress)
            except _StopRequestedError:
                report = progress.report
            except NodeUnavailableError as exc:
                err_console.print(
                    f"[yellow]node unavailable[/]: {escape(str(exc))}; retrying in {delay:g}s",
                    highlight=False,
                )
                stop.wait(delay)
                delay = min(max(delay * 2, interval), MAX_BACKOFF)
                continue
            delay = interval
            if report.confirmed_seqs:
                _show(ctx, report, as_json=as_json)
            total.batches += report.batches
            total.records += report.records
            total.reconciled += report.reconciled
            total.resubmitted += report.resubmitted
            total.pending_records = report.pending_records
            stop.wait(interval)
    out.print(f"stopped: {_summary(total)}")
