"""`crossblock report add|recover|withdraw`: a regulator's changes to the national register."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer

from gateway.cli.common import ConfigOpt, CountryOpt, ImeiArg, clean_errors, console, gateway
from gateway.errors import ReportRejectedError
from gateway.services.importer import parse_reported_at
from gateway.services.reports import ReportResult, add_report, in_transaction, recover, withdraw
from ledger_node.identifiers import imei15

app = typer.Typer(
    help="Report, recover or withdraw an IMEI in this country's national register.\n\n"
    "Each change is written with its outbox record in one transaction; `crossblock publish` puts it "
    "on the ledger.",
    no_args_is_help=True,
)


class ReportKind(StrEnum):
    """Record kinds; RECOVERED and WITHDRAWN are the same as `report recover` / `report withdraw`."""

    STOLEN = "STOLEN"
    LOST = "LOST"
    DUPLICATED = "DUPLICATED"
    INVALID = "INVALID"
    RECOVERED = "RECOVERED"
    WITHDRAWN = "WITHDRAWN"


def _when(value: str) -> int:
    try:
        return parse_reported_at(value)
    except ReportRejectedError as exc:
        raise typer.BadParameter(str(exc).removeprefix("reported_at: ")) from None


ReportedAtOpt = Annotated[
    int | None,
    typer.Option(
        "--reported-at",
        metavar="WHEN",
        parser=_when,
        help="When it was reported nationally: Unix seconds, an ISO-8601 date (UTC) or a datetime with "
        "timezone (2026-03-01T10:00:00Z). Default: now.",
        show_default=False,
    ),
]


def _show(country: str, result: ReportResult, verb: str) -> None:
    shown = imei15(result.imei)
    at = datetime.fromtimestamp(result.reported_at, UTC).isoformat().replace("+00:00", "Z")
    if not result.changed:
        console.print(f"{country}: IMEI {shown} is already {result.kind.name} in the register: nothing to do")
        return
    previous = f" (was {result.previous_kind.name})" if result.previous_kind is not None else ""
    console.print(
        f"{country}: IMEI {shown} {verb} {result.kind.name}{previous}, reported at {at}; "
        "queued for `crossblock publish`",
        highlight=False,
    )


@app.command()
@clean_errors
def add(
    imei: ImeiArg,
    country: CountryOpt,
    kind: Annotated[
        ReportKind, typer.Option("--kind", "-k", case_sensitive=False, help="What happened to the device.")
    ],
    config: ConfigOpt = None,
    reported_at: ReportedAtOpt = None,
    case_ref: Annotated[
        str,
        typer.Option(
            "--case-ref",
            help="National case reference (police report number...). Only a salted commitment is "
            "published; the salt stays in this gateway.",
        ),
    ] = "",
) -> None:
    """Report an IMEI STOLEN, LOST, DUPLICATED or INVALID (or RECOVERED / WITHDRAWN, see below).

    Repeating an identical report is a no-op; a different kind updates this country's entry (e.g.
    LOST → STOLEN). --kind RECOVERED and WITHDRAWN clear this country's own entry, exactly like
    `report recover` and `report withdraw` (--case-ref is then ignored): another country's block can
    never be cleared. Exit codes: 0 done (or nothing to do), 1 rejected, 2 bad IMEI or option.
    """
    with gateway(country, config) as ctx:
        cc = ctx.settings.country
        if kind is ReportKind.RECOVERED:
            result = in_transaction(ctx.sessions, recover, country=cc, imei=imei, reported_at=reported_at)
        elif kind is ReportKind.WITHDRAWN:
            result = in_transaction(ctx.sessions, withdraw, country=cc, imei=imei, reported_at=reported_at)
        else:
            result = in_transaction(
                ctx.sessions,
                add_report,
                country=cc,
                imei=imei,
                kind=kind.value,
                reported_at=reported_at,
                case_ref=case_ref,
            )
        _show(cc, result, "marked" if kind in (ReportKind.RECOVERED, ReportKind.WITHDRAWN) else "reported")


@app.command("recover")
@clean_errors
def recover_cmd(
    imei: ImeiArg, country: CountryOpt, config: ConfigOpt = None, reported_at: ReportedAtOpt = None
) -> None:
    """Clear this country's own block of an IMEI (RECOVERED: the device was found).

    Only the country that blocked an IMEI can clear its block: clearing another country's block is
    refused and nothing changes. Exit codes: 0 done, 1 refused (not blocked here, or blocked only
    by other countries), 2 bad IMEI or option.
    """
    with gateway(country, config) as ctx:
        result = in_transaction(
            ctx.sessions, recover, country=ctx.settings.country, imei=imei, reported_at=reported_at
        )
        _show(ctx.settings.country, result, "marked")


@app.command("withdraw")
@clean_errors
def withdraw_cmd(
    imei: ImeiArg, country: CountryOpt, config: ConfigOpt = None, reported_at: ReportedAtOpt = None
) -> None:
    """Withdraw this country's erroneous entry for an IMEI (WITHDRAWN: the report was a mistake).

    Same rules as recover: only this country's own entry can be withdrawn. Exit codes: 0 done,
    1 refused, 2 bad IMEI or option.
    """
    with gateway(country, config) as ctx:
        result = in_transaction(
            ctx.sessions, withdraw, country=ctx.settings.country, imei=imei, reported_at=reported_at
        )
        _show(ctx.settings.country, result, "marked")
