"""`crossblock demo` end to end, twice in a row, then `crossblock demo --down`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ledger_node.devnet import Devnet
from ledger_node.paths import REPO_ROOT
from tests.conftest import free_port

pytestmark = pytest.mark.anvil


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for _ in range(50):
        base = free_port()
        if base + count >= 65000:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                sockets.append(s)
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return base
    raise RuntimeError("no run of free ports")


def run_demo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "demo", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )


def test_demo_tells_the_story_twice_and_stops(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CROSSBLOCK_DEVNET_DIR": str(tmp_path / "devnet"),
        "CROSSBLOCK_DEVNET_PORT": str(free_port()),
        "CROSSBLOCK_DEMO_PORT_BASE": str(free_port_run(4)),
        "COLUMNS": "200",
    }
    try:
        first = run_demo(env)
        assert first.returncode == 0, first.stdout + first.stderr
        second = run_demo(env)
        assert second.returncode == 0, second.stdout + second.stderr
    finally:
        down = run_demo(env, "--down")

    for out in (first.stdout, second.stdout):
        assert "Blacklisted in Brazil, origin IN." in out
        assert '"status": "WHITELISTED"' in out  # Kenya's policy, then Brazil after the recovery
        assert "BR cannot clear IMEI" in out
        assert "offline valid, on chain (verifyRecord) valid" in out
    assert second.stdout.count(": already running at") == 4  # the gateways are reused
    assert down.returncode == 0, down.stderr
    assert down.stdout.count("stopped gateway") == 4
    net = Devnet(tmp_path / "devnet", port=int(env["CROSSBLOCK_DEVNET_PORT"]))
    assert net.pid() is None
    assert not list((tmp_path / "devnet" / "demo").glob("*.pid"))
