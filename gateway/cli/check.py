"""`crossblock check IMEI` and `crossblock history IMEI`: an IMEI's status here, and its ledger records."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import typer
from rich.table import Table

from gateway.cli.common import (
    EXIT_AUDIT_FAILED,
    ConfigOpt,
    CountryOpt,
    ImeiArg,
    JsonOpt,
    clean_errors,
    console,
    err_console,
    gateway,
    print_json,
    short_address,
    short_hex,
)
from gateway.services.history import HistoryItem, device_history
from gateway.services.status import EntryExplanation, explain
from ledger_node.identifiers import imei15, parse_imei

_COLOURS = {"WHITELISTED": "green", "GREYLISTED": "yellow", "BLACKLISTED": "bold red"}


def iso(seconds: int) -> str:
    """Unix seconds as ISO-8601 UTC (``2026-03-01T10:00:00Z``)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _entries_table(title: str, entries: list[EntryExplanation], *, notes: bool) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("country", "kind", "reported at", "batch seq", "index", "signer", "block", "tx"):
        table.add_column(column, no_wrap=column != "tx")
    if notes:
        table.add_column("why it does not count")
    for e in entries:
        row = [e.country, e.kind, iso(e.reported_at), str(e.seq), str(e.index), short_address(e.signer)]
        row.append(str(e.block_number))
        row.append(short_hex(e.tx_hash, 16))
        if notes:
            row.append(e.note)
        table.add_row(*row)
    return table


@clean_errors
def check(imei: ImeiArg, country: CountryOpt, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Show an IMEI's effective status at this gateway and every record behind it.

    The status is the fold, under this gateway's import policy, of the latest record of every
    country: any active STOLEN/LOST/INVALID → BLACKLISTED, else DUPLICATED → GREYLISTED, else
    WHITELISTED. Each contributing record is listed with its country, kind, reported-at, batch seq,
    index in the batch and signer; records that do not count (country not honoured, cleared by
    RECOVERED/WITHDRAWN) are listed with the reason. Reads the local database: run `crossblock sync`
    first.

    Exit codes: 0 (whatever the status), 1 error, 2 the IMEI does not parse.
    """
    with gateway(country, config) as ctx, ctx.sessions() as session:
        result = explain(session, imei=imei, settings=ctx.settings)
    if as_json:
        data = dataclasses.asdict(result)
        data["imei15"] = imei15(result.imei)
        data["consistent"] = result.consistent
        for entry in (*data["contributing"], *data["other_entries"]):
            entry["reported_at_iso"] = iso(entry["reported_at"])
        print_json(data)
        return
    colour = _COLOURS[result.status]
    origins = f" (origin: {', '.join(result.origins)})" if result.origins else ""
    console.print(f"IMEI {imei15(result.imei)}: [{colour}]{result.status}[/]{origins}", highlight=False)
    if result.contributing:
        console.print(_entries_table("contributing records", result.contributing, notes=False))
    if result.other_entries:
        console.print(_entries_table("records that do not count here", result.other_entries, notes=True))
    if not result.contributing and not result.other_entries:
        console.print("no country has a record of this IMEI")
    if not result.consistent:
        err_console.print(
            f"[yellow]warning:[/] the stored status is {result.stored_status}; run `crossblock audit verify`"
        )


def _history_row(item: HistoryItem) -> list[str]:
    proof = "[green]✓[/]" if item.proof_valid else "[bold red]✗ FAILED[/]"
    return [
        item.country,
        item.kind,
        iso(item.reported_at),
        str(item.seq),
        str(item.index),
        short_hex(item.tx_hash, 16),
        str(item.block_number),
        short_address(item.signer),
        proof,
    ]


@clean_errors
def history(imei: ImeiArg, country: CountryOpt, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List every ledger record of an IMEI, in chain order, each with its Merkle proof checked.

    For each record: country, kind, reported-at, batch seq, index, transaction, block, signer, and
    whether its Merkle inclusion proof verifies against the batch's signed root (--json adds the
    proof itself, checkable on chain with the contract's verifyRecord).

    Exit codes: 0 every proof verified (or no records), 5 a proof failed (the database no longer
    holds what was published: run `crossblock audit verify`), 1 error, 2 the IMEI does not parse.
    """
    with gateway(country, config) as ctx, ctx.sessions() as session:
        items = device_history(session, imei=imei)
    failed = sum(not item.proof_valid for item in items)
    if as_json:
        rows = [dataclasses.asdict(item) | {"reported_at_iso": iso(item.reported_at)} for item in items]
        print_json(rows)
    elif not items:
        console.print(f"IMEI {imei}: no ledger record")
    else:
        table = Table(title=f"ledger history of IMEI {imei15(parse_imei(imei))}", title_justify="left")
        for column in ("country", "kind", "reported at", "seq", "index", "tx", "block", "signer", "proof"):
            table.add_column(column, no_wrap=column != "tx")
        for item in items:
            table.add_row(*_history_row(item))
        console.print(table)
    if failed:
        err_console.print(f"[bold red]{failed} Merkle proof(s) failed[/]: run `crossblock audit verify`")
        raise typer.Exit(EXIT_AUDIT_FAILED)
