"""Helpers of the CLI tests: the real `crossblock` console script run against a devnet."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ledger_node.devnet import Devnet
from ledger_node.paths import REPO_ROOT

CROSSBLOCK = REPO_ROOT / ".venv" / "bin" / "crossblock"


def devnet_env(net: Devnet, **extra: str) -> dict[str, str]:
    """The environment that points the CLI at ``net`` (state directory and port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSBLOCK_")}
    env.update(CROSSBLOCK_DEVNET_DIR=str(net.root), CROSSBLOCK_DEVNET_PORT=str(net.port), COLUMNS="200")
    env.update(extra)
    return env


def crossblock(
    net: Devnet, *args: str, timeout: float = 120, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the installed `crossblock` console script in a subprocess; never raises on a non-zero exit."""
    return subprocess.run(
        [str(CROSSBLOCK), *args],
        env=devnet_env(net, **env),
        cwd=cwd or REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
