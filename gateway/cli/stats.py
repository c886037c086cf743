"""`crossblock stats`: effectiveness statistics of this gateway (ITU-T Res. 97)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from gateway.cli.common import ConfigOpt, CountryOpt, JsonOpt, clean_errors, console, gateway, print_json
from gateway.services.stats import stats as gateway_stats

_STATUSES = ("WHITELISTED", "GREYLISTED", "BLACKLISTED")


def _records_table(data: dict[str, Any]) -> Table:
    kinds = sorted({kind for per in data["records"].values() for kind in per})
    table = Table("country", *kinds, "total", title="ledger records applied here", title_justify="left")
    for cc, per in data["records"].items():
        table.add_row(cc, *(str(per.get(k, 0)) for k in kinds), str(sum(per.values())))
    return table


def _status_table(data: dict[str, Any]) -> Table:
    table = Table("origin", *_STATUSES, title="devices by current status", title_justify="left")
    table.add_row("all", *(str(data["statuses"][s]) for s in _STATUSES))
    for cc, per in data["statuses_by_origin"].items():
        table.add_row(cc, *(str(per[s]) for s in _STATUSES))
    return table


def _checks_table(data: dict[str, Any]) -> Table:
    checks = data["checks"]
    table = Table(
        "checks", *_STATUSES, title=f"status checks ({checks['total']} in all)", title_justify="left"
    )
    table.add_row("all", *(str(checks["by_status"][s]) for s in _STATUSES))
    table.add_row("domestic", *(str(checks["domestic"][s]) for s in _STATUSES))
    table.add_row("cross-border", *(str(checks["cross_border"][s]) for s in _STATUSES))
    for cc, per in checks["by_origin"].items():
        table.add_row(f"origin {cc}", *(str(per[s]) for s in _STATUSES))
    return table


@clean_errors
def stats(country: CountryOpt, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Show effectiveness statistics: records per country and kind, recoveries, devices per status,
    status checks and blocked attach attempts (domestic and cross-border), register and outbox.

    These are the figures ITU-T Resolution 97 asks for ("statistics on effectiveness"); the same as
    GET /v1/stats. Exit codes: 0, or 1 on error.
    """
    with gateway(country, config) as ctx, ctx.sessions() as session:
        data = gateway_stats(session, country=ctx.settings.country)
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]{data['country']}[/] gateway statistics")
    if data["records"]:
        console.print(_records_table(data))
        recoveries = ", ".join(f"{cc} {n}" for cc, n in data["recoveries"].items() if n)
        console.print(f"recoveries: {recoveries or 'none'}")
    else:
        console.print("no ledger record applied yet (run `crossblock sync`)")
    console.print(_status_table(data))
    console.print(_checks_table(data))
    blocked = data["blocked_attempts"]
    console.print(
        f"blocked attach attempts: {blocked['total']} "
        f"({blocked['domestic']} domestic, {blocked['cross_border']} cross-border)"
    )
    register = ", ".join(f"{kind} {n}" for kind, n in data["register"].items()) or "empty"
    console.print(f"national register: {register}; outbox waiting to be published: {data['outbox_depth']}")
