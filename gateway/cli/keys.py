"""`crossblock keys create|list|revoke`: API keys of this gateway's HTTP API.

The key is printed once, at creation; only its SHA-256 hash (and a short prefix, to recognise it)
is stored. Roles: regulator, operator, auditor, admin (admin may call every endpoint).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from gateway.api.auth import ROLES, create_api_key, list_api_keys, revoke_api_key
from gateway.cli.common import ConfigOpt, CountryOpt, JsonOpt, clean_errors, console, gateway, print_json

app = typer.Typer(help="Create, list and revoke API keys of the HTTP API.", no_args_is_help=True)


def _check_role(value: str) -> str:
    if value not in ROLES:
        raise typer.BadParameter(f"expected one of {', '.join(ROLES)}")
    return value


RoleOpt = Annotated[
    str,
    typer.Option(
        "--role",
        "-r",
        help=f"Role of the key: {', '.join(ROLES)}.",
        callback=_check_role,
        show_default=False,
    ),
]


def _when(ts: int | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@app.command()
@clean_errors
def create(
    role: RoleOpt,
    country: CountryOpt,
    name: Annotated[str, typer.Option("--name", "-n", help="A label to recognise the key by.")] = "",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key with ROLE and print it (once: only its hash is stored).

    Send it as `Authorization: Bearer <key>`. Exit codes: 0, 1 on error, 2 on a bad role.
    """
    with gateway(country, config) as ctx, ctx.sessions.begin() as session:
        key, row = create_api_key(session, role=role, label=name)
        key_id, prefix = row.id, row.prefix
    if as_json:
        print_json({"id": key_id, "role": role, "name": name, "prefix": prefix, "key": key})
        return
    console.print(f"API key {key_id} ({role}{', ' + name if name else ''}) for gateway {country.upper()}:")
    console.print(key, highlight=False, soft_wrap=True)
    console.print("[dim]Shown once; only its hash is stored. Send it as 'Authorization: Bearer <key>'.[/]")


@app.command("list")
@clean_errors
def list_keys(country: CountryOpt, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List API keys (id, role, name, prefix, created, revoked); never the keys themselves."""
    with gateway(country, config) as ctx, ctx.sessions() as session:
        rows = [
            {
                "id": k.id,
                "role": k.role,
                "name": k.label,
                "prefix": k.prefix,
                "created_at": k.created_at,
                "revoked_at": k.revoked_at,
            }
            for k in list_api_keys(session)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "role", "name", "prefix", "created", "revoked")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["role"]),
            str(r["name"]),
            f"{r['prefix']}…",
            _when(r["created_at"]),  # type: ignore[arg-type]
            _when(r["revoked_at"]),  # type: ignore[arg-type]
        )
    console.print(table)


@app.command()
@clean_errors
def revoke(
    key_id: Annotated[int, typer.Argument(help="Id of the key (see `keys list`).", show_default=False)],
    country: CountryOpt,
    config: ConfigOpt = None,
) -> None:
    """Revoke an API key; running servers refuse it within their key-cache time (5 s by default)."""
    with gateway(country, config) as ctx, ctx.sessions.begin() as session:
        row = revoke_api_key(session, key_id=key_id)
        role = row.role
    console.print(f"API key {key_id} ({role}) revoked.")
