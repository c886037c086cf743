"""Helpers of the CLI tests: the real `crossblock` console script, or the app in-process."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from gateway.cli.main import app
from gateway.db.engine import make_engine, session_factory
from gateway.db.models import OutboxRecord
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


def popen(net: Devnet, *args: str, **env: str) -> subprocess.Popen[str]:
    """Start the `crossblock` console script in the background (for --follow)."""
    return subprocess.Popen(
        [str(CROSSBLOCK), *args],
        env=devnet_env(net, **env),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def flat(text: str) -> str:
    """Output with rich's box drawing and line wrapping removed, for substring assertions."""
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text)).strip()


class Cli:
    """The `crossblock` app run in-process against a devnet (fast: no interpreter start-up)."""

    def __init__(self, net: Devnet | None = None) -> None:
        self.net = net
        self.runner = CliRunner()

    def __call__(self, *args: str, **env: str) -> Result:
        full: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CROSSBLOCK_")}
        if self.net is not None:
            full.update(CROSSBLOCK_DEVNET_DIR=str(self.net.root), CROSSBLOCK_DEVNET_PORT=str(self.net.port))
        full.update(env)
        return self.runner.invoke(app, list(args), env=full, catch_exceptions=False)

    def json(self, *args: str, expect: int = 0, **env: str) -> Any:
        """Run a command with --json and return the parsed output (exit code ``expect``)."""
        result = self(*args, "--json", **env)
        assert result.exit_code == expect, result.output
        return json.loads(result.stdout)


def outbox_size(database: Path) -> int:
    """Rows in a gateway's outbox (published or not)."""
    engine = make_engine(f"sqlite:///{database}")
    try:
        with session_factory(engine)() as session:
            return int(session.scalar(select(func.count()).select_from(OutboxRecord)) or 0)
    finally:
        engine.dispose()


class Follower:
    """A `crossblock ... --follow` subprocess whose output lines are collected by a reader thread."""

    def __init__(self, net: Devnet, *args: str, **env: str) -> None:
        self.proc = popen(net, *args, **env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        """Block until a stdout line contains ``text``; fails the test if the process ends first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    stderr = self.proc.stderr.read() if self.proc.stderr else ""
                    raise AssertionError(f"exited {self.proc.returncode} before {text!r}: {stderr}") from None
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} within {timeout}s; got {self.seen}")

    def stop(self, signum: int, timeout: float = 60.0) -> tuple[int, str, str]:
        """Send ``signum`` and wait: (exit code, the rest of stdout, stderr)."""
        self.proc.send_signal(signum)
        returncode = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        rest: list[str] = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        stderr = self.proc.stderr.read() if self.proc.stderr else ""
        return returncode, "".join(self.seen + rest), stderr

    def kill(self) -> None:
        """Make sure the process is gone (test teardown)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def write_config(net: Devnet, path: Path, data_dir: Path, **extra: Any) -> Path:
    """A TOML config for a gateway on ``net`` with a database of its own in ``data_dir``."""
    deployment = net.deployment()
    values: dict[str, Any] = {
        "rpc_url": net.rpc_url,
        "ledger_address": deployment.ledger,
        "deploy_block": deployment.deploy_block,
        "data_dir": str(data_dir),
        "honours": sorted(deployment.countries),
    }
    values.update(extra)
    path.write_text(tomli_w.dumps(values), encoding="utf-8")
    return path
