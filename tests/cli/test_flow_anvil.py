"""The gateway commands end to end on a real anvil: report → publish → sync → check/history/audit.

`publish` and `sync` run as the installed console script (a subprocess, as operators and the crash
tests run them); the other commands run in-process through typer's CliRunner.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from gateway.cli.common import EXIT_AUDIT_FAILED, EXIT_ERROR, EXIT_QUARANTINED
from ledger_node.devnet import Devnet
from ledger_node.identifiers import imei15
from tests.cli.helpers import Cli, Follower, crossblock, flat, write_config
from tests.integration.rpc_proxy import rpc_proxy

pytestmark = pytest.mark.anvil


def new_imei() -> str:
    """A random valid 15-digit IMEI."""
    return imei15("35" + f"{int.from_bytes(os.urandom(8), 'big') % 10**12:012d}")


def report(cli: Cli, country: str, imei: str, kind: str) -> None:
    result = cli("report", "add", imei, "-c", country, "--kind", kind)
    assert result.exit_code == 0, result.output


def test_report_publish_sync_check_history_recover_audit(cli: Cli, cli_devnet: Devnet) -> None:
    net = cli_devnet
    client = net.client()
    stolen, cloned = new_imei(), new_imei()
    report(cli, "IN", stolen, "STOLEN")
    report(cli, "IN", cloned, "DUPLICATED")
    _, seq_before = client.head_of("IN")

    published = crossblock(net, "publish", "-c", "IN")
    assert published.returncode == 0, published.stderr
    _, seq = client.head_of("IN")
    assert seq == seq_before + 1
    assert "1 batches (2 records) published" in published.stdout
    assert f"│ {seq} " in published.stdout

    synced = crossblock(net, "sync", "--country", "BR")
    assert synced.returncode == 0, synced.stderr
    assert "│ IN " in synced.stdout
    assert "records/s" in synced.stdout

    status = cli.json("check", stolen, "-c", "BR")
    assert status["status"] == "BLACKLISTED"
    assert status["origins"] == ["IN"]
    [record] = status["contributing"]
    assert record["country"] == "IN"
    assert record["kind"] == "STOLEN"
    assert record["seq"] == seq
    assert record["index"] in (0, 1)
    assert record["signer"].lower() == net.deployment().countries["IN"]["signer"].lower()
    assert record["reported_at_iso"].endswith("Z")
    plain = cli("check", f"imei-{stolen}", "-c", "BR")
    assert plain.exit_code == 0
    assert f"IMEI {stolen}: BLACKLISTED (origin: IN)" in plain.stdout
    assert cli.json("check", cloned[:14], "-c", "BR")["status"] == "GREYLISTED"
    assert cli.json("check", f"IMEISV-{stolen[:14]}42", "-c", "BR")["status"] == "BLACKLISTED"

    # KE's policy does not honour IN: its records are applied but do not count
    assert cli("sync", "-c", "KE").exit_code == 0
    ke = cli.json("check", stolen, "-c", "KE")
    assert ke["status"] == "WHITELISTED"
    assert "not honoured" in ke["other_entries"][0]["note"]

    [entry] = cli.json("history", stolen, "-c", "BR")
    assert entry["proof_valid"] is True
    assert entry["seq"] == seq
    assert entry["tx_hash"].startswith("0x")
    assert entry["proof"]
    assert "│ ✓ " in cli("history", stolen, "-c", "BR").stdout

    # BR cannot clear IN's block: a clean error, nothing written
    refused = cli("report", "recover", stolen, "-c", "BR")
    assert refused.exit_code == EXIT_ERROR
    assert f"BR cannot clear IMEI {stolen[:14]}: it is blocked by IN" in flat(refused.stderr)
    assert cli.json("stats", "-c", "BR")["outbox_depth"] == 0

    # IN recovers it; after publish and sync BR says WHITELISTED
    assert cli("report", "recover", stolen, "-c", "IN").exit_code == 0
    run = cli.json("publish", "-c", "IN")
    assert (run["published"], run["records"]) == (1, 1)
    [batch] = run["batches"]
    assert batch["seq"] == seq + 1
    assert batch["state"] == "published"
    assert batch["tx_hash"].startswith("0x")
    applied = cli.json("sync", "-c", "BR")
    assert applied["countries"] == [
        {"country": "IN", "applied": 1, "from_seq": seq + 1, "to_seq": seq + 1, "quarantined": 0, "held": 0}
    ]
    assert applied["records"] == 1
    assert applied["quarantined"] == 0
    assert cli.json("check", stolen, "-c", "BR")["status"] == "WHITELISTED"
    assert [e["kind"] for e in cli.json("history", stolen, "-c", "BR")] == ["STOLEN", "RECOVERED"]

    audit = cli("audit", "verify", "-c", "BR")
    assert audit.exit_code == 0, audit.output
    assert "OK: the database matches the chain" in audit.stdout
    only_in = cli.json("audit", "verify", "-c", "BR", "--log", "in")
    assert only_in["ok"] is True
    assert only_in["country"] == "IN"
    assert only_in["batches_checked"] >= 2
    stats = cli.json("stats", "-c", "BR")
    assert stats["records"]["IN"]["RECOVERED"] >= 1


def test_publish_killed_at_each_failpoint_then_completes_exactly_once(cli: Cli, cli_devnet: Devnet) -> None:
    net = cli_devnet
    client = net.client()
    imeis = [new_imei() for _ in range(3)]
    for imei in imeis:
        report(cli, "IN", imei, "LOST")
    _, start = client.head_of("IN")

    signed = crossblock(net, "publish", "-c", "IN", CROSSBLOCK_FAILPOINT="publish-after-sign")
    assert signed.returncode == -signal.SIGKILL
    assert client.head_of("IN")[1] == start  # signed and stored, never sent

    submitted = crossblock(net, "publish", "-c", "IN", CROSSBLOCK_FAILPOINT="publish-after-submit")
    assert submitted.returncode == -signal.SIGKILL
    assert client.head_of("IN")[1] == start + 1  # the stored batch was resubmitted unchanged, not confirmed

    done = crossblock(net, "publish", "-c", "IN")
    assert done.returncode == 0, done.stderr
    assert "already on chain" in done.stdout
    assert client.head_of("IN")[1] == start + 1
    assert "nothing to publish" in crossblock(net, "publish", "-c", "IN").stdout

    crashed = crossblock(net, "sync", "-c", "BR", CROSSBLOCK_FAILPOINT="sync-mid-apply")
    assert crashed.returncode == -signal.SIGKILL
    assert cli("sync", "-c", "BR").exit_code == 0
    for imei in imeis:
        history = cli.json("history", imei, "-c", "BR")
        assert [(h["country"], h["seq"], h["kind"]) for h in history] == [("IN", start + 1, "LOST")]
    assert cli("sync", "-c", "IN").exit_code == 0
    audit = cli("audit", "verify", "-c", "IN")
    assert audit.exit_code == 0, audit.output


def test_publish_follow_stops_cleanly_on_sigterm(cli: Cli, cli_devnet: Devnet) -> None:
    net = cli_devnet
    client = net.client()
    follower = Follower(
        net, "publish", "-c", "IN", "--follow", "--interval", "0.2", CROSSBLOCK_BATCH_MAX_AGE="0.5"
    )
    try:
        follower.wait_for("publishing IN")
        _, start = client.head_of("IN")
        report(cli, "IN", new_imei(), "STOLEN")
        follower.wait_for(" published ", timeout=90)  # cut once batch_max_age has passed
        assert client.head_of("IN")[1] == start + 1
        code, out, err = follower.stop(signal.SIGTERM)
    finally:
        follower.kill()
    assert code == 0, err
    assert "SIGTERM: stopping" in err
    assert "stopped: 1 batches (1 records) published" in flat(out)


def test_sync_follow_stops_cleanly_on_sigint(cli: Cli, cli_devnet: Devnet) -> None:
    net = cli_devnet
    report(cli, "IN", new_imei(), "STOLEN")
    assert cli("publish", "-c", "IN").exit_code == 0
    follower = Follower(net, "sync", "-c", "DE", "--follow", "--interval", "0.2")
    try:
        follower.wait_for("following the ledger for DE")
        follower.wait_for("│ IN ")
        code, out, err = follower.stop(signal.SIGINT)
    finally:
        follower.kill()
    assert code == 0, err
    assert "SIGINT: stopping" in err
    assert out.rstrip().endswith("stopped")
    assert cli("audit", "verify", "-c", "DE").exit_code == 0


def test_tampered_batch_is_quarantined_exit_4_and_audit_fails_exit_5(
    cli: Cli, cli_devnet: Devnet, tmp_path: Path
) -> None:
    net = cli_devnet
    config = write_config(net, tmp_path / "ke.toml", tmp_path / "ke")
    report(cli, "IN", new_imei(), "STOLEN")
    report(cli, "IN", new_imei(), "STOLEN")
    assert cli("publish", "-c", "IN").exit_code == 0
    _, seq = net.client().head_of("IN")
    with rpc_proxy(net.rpc_url) as proxy:
        proxy.tamper_record("IN", seq, index=1, byte=3)
        lied_to = cli("sync", "-c", "KE", "--config", str(config), CROSSBLOCK_RPC_URL=proxy.url)
        again = cli.json("sync", "-c", "KE", "--config", str(config), expect=0, CROSSBLOCK_RPC_URL=proxy.url)
    assert lied_to.exit_code == EXIT_QUARANTINED, lied_to.output
    assert "quarantined:" in lied_to.stderr
    assert "1 quarantined" in flat(lied_to.stdout)
    assert again["quarantined"] == 0  # already quarantined: nothing new, nothing applied
    assert again["batches"] == 0

    audit = cli("audit", "verify", "-c", "KE", "--config", str(config))
    assert audit.exit_code == EXIT_AUDIT_FAILED, audit.output
    assert "FAILED" in audit.stdout
    assert f"IN#{seq}" in audit.stdout
    data = cli.json(
        "audit",
        "verify",
        "-c",
        "KE",
        "--config",
        str(config),
        expect=EXIT_AUDIT_FAILED,
        CROSSBLOCK_RPC_URL=net.rpc_url,
    )
    assert data["ok"] is False
    assert any(d["seq"] == seq and "quarantined" in d["message"] for d in data["discrepancies"])


def test_console_script_sync_with_spawned_verification_workers(
    cli: Cli, cli_devnet: Devnet, tmp_path: Path
) -> None:
    """A chunk of >= 20,000 records is verified in worker processes started with spawn, which
    re-import the console script: the command must finish, apply everything and exit cleanly."""
    net = cli_devnet
    snapshot = tmp_path / "big.csv"
    cores = {f"{int.from_bytes(os.urandom(8), 'big') % 10**14:014d}" for _ in range(20_500)}
    rows = [f"{imei15(core)},STOLEN,2026-01-01," for core in sorted(cores)[:20_000]]
    snapshot.write_text("imei,kind,reported_at,case_ref\n" + "\n".join(rows) + "\n", encoding="utf-8")
    imported = cli("register", "import", str(snapshot), "-c", "BR")
    assert imported.exit_code == 0, imported.output
    published = crossblock(net, "publish", "-c", "BR", CROSSBLOCK_BATCH_SIZE="10000")
    assert published.returncode == 0, published.stderr
    assert "(20000 records) published" in published.stdout

    config = write_config(net, tmp_path / "de.toml", tmp_path / "de")
    synced = crossblock(net, "sync", "-c", "DE", "--config", str(config), "--workers", "1", timeout=300)
    assert synced.returncode == 0, synced.stderr
    assert "Traceback" not in synced.stderr
    assert "│ BR " in synced.stdout
    audit = crossblock(net, "audit", "verify", "-c", "DE", "--config", str(config), "--log", "BR", "--json")
    assert audit.returncode == 0, audit.stdout
    assert json.loads(audit.stdout)["records_checked"] >= 20_000
