"""`crossblock devnet up|down|status`."""

from __future__ import annotations

import typer
from rich.table import Table

from gateway.cli.common import clean_errors, console
from ledger_node.devnet import Devnet

app = typer.Typer(
    help="Run the local devnet: an anvil node with the CrossBlock contracts and IN, BR, KE, DE."
)


@app.command()
@clean_errors
def up() -> None:
    """Start anvil (state kept in .devnet/), deploy the ledger and register the devnet countries.

    Running it again is harmless; after `down`, `up` reloads the saved chain with every batch.
    """
    net = Devnet()
    deployment = net.up(progress=lambda msg: console.print(f"  {msg}"))
    console.print(f"[green]devnet up[/]: {deployment.rpc_url}, ledger {deployment.ledger}")


@app.command()
@clean_errors
def down() -> None:
    """Stop anvil; its state is written to .devnet/ and reloaded by the next `up`."""
    if Devnet().down():
        console.print("[green]devnet stopped[/] (state saved)")
    else:
        console.print("devnet was not running")


@app.command()
@clean_errors
def status() -> None:
    """Show whether the devnet runs, its block height, and every country's log head."""
    net = Devnet()
    running = net.pid() is not None and net.rpc_alive()
    console.print(f"node: {net.rpc_url} [{'green]running' if running else 'red]stopped'}[/]")
    if not net.deployment_file.exists():
        console.print("not deployed yet: run `crossblock devnet up`")
        return
    deployment = net.deployment()
    console.print(f"ledger: {deployment.ledger} (deployed in block {deployment.deploy_block})")
    if not running:
        return
    client = net.client()
    console.print(f"block: {client.block_number()}")
    table = Table("country", "status", "seq", "head", "signer")
    for cc, entry in deployment.countries.items():
        head, seq = client.head_of(cc)
        table.add_row(
            cc, client.member_status(cc).name.lower(), str(seq), "0x" + head.hex()[:16] + "…", entry["signer"]
        )
    console.print(table)
