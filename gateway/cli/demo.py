"""`crossblock demo`: the story of CrossBlock, end to end, on the devnet, over HTTP.

It starts the devnet and one gateway per devnet country (``crossblock serve``, each with its own
database and port from devnet/countries.toml, publisher and syncer running), then: India's regulator
reports stolen phones; Brazil's operator asks the 3GPP N5g-eir endpoint and gets BLACKLISTED with
India as origin; Kenya, whose policy does not honour India's records, says WHITELISTED; India
recovers one phone and Brazil whitelists it; an auditor fetches the record's history and checks its
Merkle proof offline and against the contract. The gateways keep running afterwards; ``crossblock
demo --down`` (``make demo-down``) stops them and the devnet.

Running it again while the gateways run reuses them. Process ids, logs and the demo's API keys are
kept in ``.devnet/demo/`` (git-ignored).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.panel import Panel
from rich.table import Table

from gateway.api.auth import create_api_key
from gateway.cli.common import clean_errors, console
from gateway.context import GatewayContext
from gateway.errors import GatewayError
from gateway.settings import load_settings
from ledger_node.devnet import CountryConfig, Devnet, load_countries
from ledger_node.identifiers import imei15
from ledger_node.merkle import verify_record

ROLES = ("regulator", "operator", "auditor")
_READY_TIMEOUT = 90.0
_STEP_TIMEOUT = 60.0


class DemoError(GatewayError):
    """A step of the demo did not happen (a gateway did not start, a status never changed)."""


@dataclass
class Gateway:
    """One running devnet gateway, as the demo sees it."""

    country: CountryConfig
    keys: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.country.port}"

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.keys[role]}"}, timeout=30.0
        )


def _state_dir(net: Devnet) -> Path:
    path = net.root / "demo"
    (path / "logs").mkdir(parents=True, exist_ok=True)
    return path


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(predicate: Callable[[], Any], what: str, timeout: float = _STEP_TIMEOUT) -> Any:
    """Poll ``predicate`` until it returns something truthy; raise DemoError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)


def _create_keys(country: str) -> dict[str, str]:
    ctx = GatewayContext(load_settings(country=country))
    try:
        with ctx.sessions.begin() as session:
            return {role: create_api_key(session, role=role, label="demo")[0] for role in ROLES}
    finally:
        ctx.engine.dispose()


def _start_gateway(net: Devnet, country: CountryConfig, state: Path) -> Gateway:
    pid_file = state / f"{country.code}.pid"
    keys_file = state / f"{country.code}.keys.json"
    url = f"http://127.0.0.1:{country.port}"
    if _pid_alive(pid_file) and keys_file.exists() and _healthy(url):
        console.print(f"  {country.code} {country.name}: already running at {url}")
        return Gateway(country, json.loads(keys_file.read_text()))
    keys = _create_keys(country.code)
    keys_file.write_text(json.dumps(keys, indent=1))
    keys_file.chmod(0o600)
    env = {
        **os.environ,
        "CROSSBLOCK_DEVNET_DIR": str(net.root),
        "CROSSBLOCK_DEVNET_PORT": str(net.port),
        "CROSSBLOCK_BATCH_MAX_AGE": "1",
    }
    log = (state / "logs" / f"{country.code}.log").open("ab")
    command = [sys.executable, "-m", "gateway.cli", "serve", "--country", country.code]
    command += ["--port", str(country.port), "--interval", "0.5"]
    proc = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    pid_file.write_text(str(proc.pid))
    console.print(f"  {country.code} {country.name}: starting at {url} (log {log.name})")
    return Gateway(country, keys)


def _wait_ready(gateways: list[Gateway], state: Path) -> None:
    for gw in gateways:
        pid_file = state / f"{gw.country.code}.pid"

        def up(gw: Gateway = gw, pid_file: Path = pid_file) -> bool:
            if _pid_alive(pid_file) is None:
                log = state / "logs" / f"{gw.country.code}.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise DemoError(f"gateway {gw.country.code} exited; last log lines:\n{tail}")
            return _healthy(gw.url)

        _wait(up, f"gateway {gw.country.code} at {gw.url}", _READY_TIMEOUT)


def _random_imeis(n: int) -> list[str]:
    # 35 + a random TAC/serial: valid Luhn IMEIs, different on every run so the story repeats.
    return [imei15("35" + f"{secrets.randbelow(10**12):012d}") for _ in range(n)]


def _eir_status(gw: Gateway, imei: str) -> dict[str, Any]:
    with gw.client("operator") as http:
        response = http.get("/n5g-eir-eic/v1/equipment-status", params={"pei": f"imei-{imei}"})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _show(title: str, body: object) -> None:
    console.print(Panel(json.dumps(body, indent=2), title=title, title_align="left", expand=False))


def _story(gws: dict[str, Gateway], net: Devnet) -> None:
    india, brazil, kenya = gws["IN"], gws["BR"], gws["KE"]
    imeis = _random_imeis(5)

    console.rule("[bold]1. India's regulator reports five stolen phones")
    with india.client("regulator") as http:
        items = [
            {"imei": i, "kind": "STOLEN", "case_ref": f"IN-DL-2026-{n:04d}"} for n, i in enumerate(imeis)
        ]
        response = http.post("/v1/reports", json=items)
        response.raise_for_status()
    table = Table("IMEI", "kind", "accepted")
    for item in response.json()["results"]:
        table.add_row(item["imei"], item["kind"] or "-", "yes" if item["ok"] else item["error"]["detail"])
    console.print(table)
    console.print("The case references stay in India: only a salted commitment goes on the ledger.")

    def confirmed() -> dict[str, Any] | None:
        with india.client("regulator") as http:
            batches = http.get("/v1/batches").json()["batches"]
        done = [b for b in batches if b["state"] == "confirmed"]
        return done[0] if done and batches[0]["state"] == "confirmed" and not _pending(india) else None

    batch = _wait(confirmed, "India's batch to be confirmed on the ledger")
    console.print(
        f"India's gateway signed batch [bold]#{batch['seq']}[/] ({batch['count']} records, signer "
        f"{batch['signer']}) and the ledger confirmed it in block {batch['block_number']}."
    )

    console.rule("[bold]2. Brazil's operator asks the N5g-eir endpoint about one of them")
    target = imeis[0]
    _wait(
        lambda: _eir_status(brazil, target)["status"] == "BLACKLISTED",
        "Brazil's gateway to sync India's batch",
    )
    console.print(f"GET {brazil.url}/n5g-eir-eic/v1/equipment-status?pei=imei-{target}")
    _show("Brazil · 3GPP TS 29.511 answer", _eir_status(brazil, target))
    with brazil.client("operator") as http:
        device = http.get(f"/v1/devices/{target}").json()
    _show("Brazil · GET /v1/devices/{imei}", device)
    console.print(f"Blacklisted in Brazil, origin [bold]{', '.join(device['origins'])}[/].")

    console.rule("[bold]3. Kenya's policy does not honour India's records")

    def kenya_entries() -> list[dict[str, Any]] | None:
        with kenya.client("operator") as http:
            body = http.get(f"/v1/devices/{target}", params={"explain": "true"}).json()
        return [e for e in body.get("entries") or [] if e["country"] == "IN"] or None

    entries = _wait(kenya_entries, "Kenya's gateway to sync India's batch")
    _show("Kenya · 3GPP TS 29.511 answer", _eir_status(kenya, target))
    console.print(
        f"Kenya holds India's record (batch #{entries[0]['seq']}, {entries[0]['kind']}) but it contributes "
        f"{entries[0]['contributes']}: {entries[0]['note']}."
    )

    console.rule("[bold]4. India recovers the phone; Brazil whitelists it")
    with india.client("regulator") as http:
        response = http.post(f"/v1/reports/{target}/recovery", json={})
        response.raise_for_status()
    console.print(f"POST {india.url}/v1/reports/{target}/recovery → {response.json()['kind']}")
    _wait(lambda: _eir_status(brazil, target)["status"] == "WHITELISTED", "Brazil to apply India's recovery")
    _show("Brazil · 3GPP TS 29.511 answer after the recovery", _eir_status(brazil, target))
    with brazil.client("regulator") as http:
        refused = http.post(f"/v1/reports/{imeis[1]}/recovery", json={})
    console.print(
        f"Brazil trying to clear India's block on {imeis[1]}: HTTP {refused.status_code} — "
        f"{refused.json().get('detail', '')}"
    )

    console.rule("[bold]5. An auditor checks the record's provenance")
    with brazil.client("auditor") as http:
        history = http.get(f"/v1/devices/{target}/history").json()
    records = history["records"] if isinstance(history, dict) else history
    _audit_table(records)
    stolen = next(r for r in records if r["kind"] == "STOLEN")
    record = bytes.fromhex(stolen["record"].removeprefix("0x"))
    proof = [bytes.fromhex(p.removeprefix("0x")) for p in stolen["proof"]]
    root = bytes.fromhex(stolen["merkle_root"].removeprefix("0x"))
    offline = verify_record(record, stolen["index"], proof, root)
    client = net.client()
    on_chain = client.verify_record(
        country=stolen["country"], seq=stolen["seq"], index=stolen["index"], record=record, proof=proof
    )
    console.print(
        f"Merkle proof of {stolen['country']} batch #{stolen['seq']} record {stolen['index']}: "
        f"offline {'[green]valid' if offline else '[red]INVALID'}[/], "
        f"on chain (verifyRecord) {'[green]valid' if on_chain else '[red]INVALID'}[/]."
    )
    if not (offline and on_chain):
        raise DemoError("the Merkle proof did not verify")


def _pending(gw: Gateway) -> int:
    with gw.client("regulator") as http:
        return int(http.get("/v1/batches").json()["unbatched_records"])


def _audit_table(records: list[dict[str, Any]]) -> None:
    table = Table("country", "kind", "batch", "index", "block", "tx", "signer")
    for r in records:
        table.add_row(
            r["country"],
            r["kind"],
            f"#{r['seq']}",
            str(r["index"]),
            str(r["block_number"]),
            r["tx_hash"][:18] + "…",
            r["signer"][:12] + "…",
        )
    console.print(table)


def _down(net: Devnet) -> None:
    state = _state_dir(net)
    for pid_file in sorted(state.glob("*.pid")):
        pid = _pid_alive(pid_file)
        if pid is not None:
            os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while _pid_alive(pid_file) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _pid_alive(pid_file):
                os.killpg(pid, signal.SIGKILL)
            console.print(f"stopped gateway {pid_file.stem}")
        pid_file.unlink(missing_ok=True)
    if net.down():
        console.print(f"[green]devnet stopped[/] (state saved in {net.root})")


@clean_errors
def demo(
    down: Annotated[
        bool, typer.Option("--down", help="Stop the demo's gateways and the devnet instead.")
    ] = False,
    port_base: Annotated[
        int | None,
        typer.Option(
            "--port-base",
            envvar="CROSSBLOCK_DEMO_PORT_BASE",
            min=1024,
            max=65000,
            help="Serve the gateways on PORT_BASE, PORT_BASE+1, … (default: devnet/countries.toml).",
        ),
    ] = None,
) -> None:
    """Run the CrossBlock story on the devnet: report, sync, block, recover, audit — over HTTP.

    Starts the devnet and one gateway per devnet country (ports from devnet/countries.toml), which
    keep running afterwards; `crossblock demo --down` (or `make demo-down`) stops everything.
    """
    net = Devnet()
    if down:
        _down(net)
        return
    console.rule("[bold]CrossBlock demo")
    console.print("Starting the devnet (anvil, the ledger contracts, IN BR KE DE registered)…")
    net.up(progress=lambda msg: console.print(f"  {msg}"))
    state = _state_dir(net)
    countries = load_countries()
    if port_base is not None:
        countries = [replace(c, port=port_base + n) for n, c in enumerate(countries)]
    console.print("Starting one gateway per country (own database, own port, publisher and syncer running)…")
    gateways = [_start_gateway(net, c, state) for c in countries]
    _wait_ready(gateways, state)
    try:
        _story({gw.country.code: gw for gw in gateways}, net)
    except httpx.HTTPStatusError as exc:
        raise DemoError(
            f"{exc.request.method} {exc.request.url} answered {exc.response.status_code}: {exc.response.text}"
        ) from exc
    except httpx.HTTPError as exc:
        raise DemoError(f"HTTP request failed: {exc}") from exc

    console.rule("[bold]The gateways keep running")
    table = Table("country", "API docs", "keys (regulator, operator, auditor)")
    for gw in gateways:
        table.add_row(
            f"{gw.country.code} {gw.country.name}",
            f"{gw.url}/docs",
            str(state / f"{gw.country.code}.keys.json"),
        )
    console.print(table)
    console.print(
        "Try:  crossblock check <IMEI> --country BR    ·    Stop everything:  [bold]make demo-down[/]"
    )
