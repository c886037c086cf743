"""HTTP benchmarks of a served gateway: device lookups, N5g-eir, batch check, blocklist snapshot.

``run()`` fills a fresh SQLite gateway database with ``records`` ledger records (default 1,060,000,
which list just over 1,000,000 IMEIs: the size of the snapshot target) with
:func:`bench.status.fill` (real ``apply_batch`` calls, so ``device_status`` and the per-country
entries behind the reasons are what a sync leaves), creates an operator API key, starts
``crossblock serve --no-background`` on a free loopback port (one uvicorn worker, a TOML config
pointing at that database; no ledger node is needed to answer lookups), and measures it from outside:

* ``GET /v1/devices/{imei}`` and ``GET /n5g-eir-eic/v1/equipment-status?pei=imei-…`` with ``wrk``
  (one thread, 10 s, ``--latency``; a Lua script so that each request asks for another IMEI: half of
  them listed, half unlisted, in random order; the operator's ``Authorization: Bearer`` key; any
  non-2xx answer fails the benchmark). Two runs per endpoint. The *throughput* run keeps 32
  connections busy: requests/s, and the server's CPU time per request (user + system time of the
  server process over the run, divided by the requests: the figure least disturbed by other work
  on the machine). The *latency* run uses 8 connections and gives wrk's p99. wrk is a closed loop:
  with C connections on one worker the mean latency is C / throughput (Little's law), so at 32
  connections a p99 of 5 ms at 5,000 req/s is impossible by construction (mean 6.4 ms); 8 connections
  leave room for the latency target at the throughput target (mean 1.6 ms at 5,000 req/s).
* ``POST /v1/devices/check`` of 10,000 IMEIs (half listed): the latency of one request measured by
  the client (httpx, keep-alive, body encoded beforehand, clock stopped at the answer's last byte,
  before it is parsed), best and median of ``check_repeats``.
* ``GET /v1/blocklist`` (CSV): the whole snapshot streamed and counted by the client, best of
  ``snapshot_repeats``.

The per-key rate limit of the check endpoints (``api_rate_limit``, 10,000 requests/s per key by
default) would cut a saturating run short; the benchmark's config raises it to 10^9 requests/s so
that the figures are about serving, not about the limiter (which still runs on every request).

Load generator: wrk from the Debian package (``make bench`` installs it when missing and root);
without it the benchmark fails with a message saying so. The machine's load average at the start
of each measurement is part of the row's name: server and wrk share the same cores as everything else.
``python -m bench.http`` prints the rows (``--records N`` for a quicker, smaller fill while iterating;
``--help`` lists the options).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.status import fill
from gateway.api.auth import create_api_key
from gateway.db.engine import make_engine, migrate, session_factory
from ledger_node.identifiers import imei15

RECORDS = 1_060_000  # ~5% re-report or recover a known IMEI: this lists just over 1,000,000 IMEIs
QUERIES = 100_000  # distinct request targets in the wrk script (half listed)
CHECK_SIZE = 10_000
DURATION = 10  # seconds per wrk run
THREADS = 1
CONNECTIONS = 32  # the throughput run: enough to keep one worker busy
LATENCY_CONNECTIONS = 8  # the latency run: see the module docstring
CHECK_REPEATS = 15
SNAPSHOT_REPEATS = 3
TARGET_RPS = 5_000
TARGET_P99_MS = 5.0
TARGET_CHECK_MS = 50.0
TARGET_SNAPSHOT_S = 5.0
COUNTRY = "IN"
HONOURS = ("IN", "BR", "KE", "DE")  # the countries bench.status.fill reports from
_STARTUP_TIMEOUT = 60.0

# One request string per target, built once per wrk thread; the threads start at different offsets.
_LUA = """\
local requests = {}
local n = 0
local i = 0
function init(args)
  for line in io.lines(args[1]) do
    n = n + 1
    requests[n] = wrk.format("GET", line)
  end
  i = (tonumber(wrk.thread:get("id")) * 7919) % n
end
function setup(thread)
  thread:set("id", tostring(_G.__ids or 0))
  _G.__ids = (_G.__ids or 0) + 1
end
function request()
  i = i + 1
  if i > n then i = 1 end
  return requests[i]
end
"""


class BenchError(RuntimeError):
    """The benchmark could not run (no wrk, server did not start, wrong answers)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise BenchError(
            "wrk not found: install the Debian package (`apt-get install -y wrk`, or `make bench` as root)"
        )
    return path


def _config(tmp: Path, database: Path) -> Path:
    honours = ", ".join(f'"{cc}"' for cc in HONOURS)
    text = (
        f'country = "{COUNTRY}"\n'
        'ledger_address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"\n'
        'rpc_url = "http://127.0.0.1:9"\n'  # never contacted: lookups need no node
        f'data_dir = "{tmp}"\n'
        f'database_url = "sqlite:///{database}"\n'
        f"honours = [{honours}]\n"
        "api_rate_limit = 1e9\n"  # see the module docstring
        "api_rate_burst = 1000000000\n"
    )
    path = tmp / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _queries(reported: list[str], count: int, seed: int) -> list[str]:
    """``count`` 14-digit cores in random order, half listed and half never reported."""
    rng = random.Random(seed)
    listed = set(reported)
    chosen = [rng.choice(reported) for _ in range(count // 2)]
    while len(chosen) < count:
        core = f"{rng.randrange(10**14):014d}"
        if core not in listed:
            chosen.append(core)
    rng.shuffle(chosen)
    return chosen


class Server:
    """``crossblock serve --no-background`` in a subprocess (its own session), stopped on exit."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._log_path = log
        command = [sys.executable, "-m", "gateway.cli", "serve", "--country", COUNTRY]
        command += ["--config", str(config), "--port", str(port), "--no-background", "--log-level", "warning"]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_up(self) -> None:
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the gateway exited ({self.proc.returncode}):\n{self._log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise BenchError(f"the gateway did not answer within {_STARTUP_TIMEOUT:.0f} s:\n{self._log()}")

    def _log(self) -> str:
        return self._log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise BenchError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, latency percentiles (ms) and error counts from ``wrk --latency`` output."""
    result: dict[str, float] = {}
    rps = re.search(r"^Requests/sec:\s*([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    if rps is None or total is None:
        raise BenchError(f"cannot read wrk output:\n{output}")
    result["rps"] = float(rps.group(1))
    result["requests"] = float(total.group(1))
    for pct, value in re.findall(r"^\s*(50|75|90|99)%\s+(\S+)\s*$", output, re.MULTILINE):
        result[f"p{pct}"] = _ms(value)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    result["non2xx"] = float(non2xx.group(1)) if non2xx else 0.0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    result["socket_errors"] = float(sum(int(g) for g in errors.groups())) if errors else 0.0
    return result


def wrk_run(
    url: str, paths_file: Path, script: Path, key: str, *, threads: int, connections: int, duration: int
) -> dict[str, float]:
    """One bounded wrk run against ``url`` (loopback), requests taken from ``paths_file``."""
    command = [_wrk(), f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    command += ["-H", f"Authorization: Bearer {key}", "-s", str(script), url, "--", str(paths_file)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=False)
    if out.returncode != 0:
        raise BenchError(f"wrk failed ({out.returncode}): {out.stderr}{out.stdout}")
    result = parse_wrk(out.stdout)
    if result["non2xx"] or result["socket_errors"]:
        raise BenchError(f"wrk saw errors (non-2xx or socket errors):\n{out.stdout}")
    if "p99" not in result:
        raise BenchError(f"no latency distribution in wrk output:\n{out.stdout}")
    return result


def _check_answers(http: httpx.Client, listed: set[str], queries: list[str]) -> None:
    """A sample of answers, checked before the load: unlisted IMEIs are WHITELISTED, listed ones
    mostly not, and the N5g-eir endpoint agrees with /v1/devices."""
    blocked = 0
    for core in queries[:100]:
        body = http.get(f"/v1/devices/{imei15(core)}").raise_for_status().json()
        if core not in listed and (body["status"] != "WHITELISTED" or body["origins"]):
            raise BenchError(f"unexpected answer for the unlisted {core}: {body}")
        blocked += body["status"] != "WHITELISTED"
        eir = http.get("/n5g-eir-eic/v1/equipment-status", params={"pei": "imei-" + imei15(core)})
        if eir.raise_for_status().json()["status"] != body["status"]:
            raise BenchError(f"N5g-eir and /v1/devices disagree on {core}")
    if blocked < 25:
        raise BenchError(f"only {blocked} of 100 sampled IMEIs (half listed) are listed")


def _time_check(http: httpx.Client, imeis: list[str], repeats: int) -> list[float]:
    """Milliseconds from sending the (pre-encoded) request to the last byte of the answer."""
    body = json.dumps({"imeis": imeis}).encode()
    headers = {"Content-Type": "application/json"}
    http.post("/v1/devices/check", content=body, headers=headers).raise_for_status()  # warm up
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = http.post("/v1/devices/check", content=body, headers=headers)
        timings.append((time.perf_counter() - started) * 1e3)
        answer = response.raise_for_status().json()
        if answer["checked"] != len(imeis):
            raise BenchError(f"check answered {answer['checked']} of {len(imeis)}")
    return timings


def _time_snapshot(http: httpx.Client) -> tuple[float, int, int]:
    started = time.perf_counter()
    size = lines = 0
    with http.stream("GET", "/v1/blocklist", params={"format": "csv"}) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            size += len(chunk)
            lines += chunk.count(b"\n")
    return time.perf_counter() - started, size, lines - 1  # minus the header line


def _row(name: str, value: float, unit: str, target: str, stat: str) -> dict[str, Any]:
    return {"name": name, "value": round(value, 3), "unit": unit, "target": target, "stat": stat}


@dataclass
class Prepared:
    """A filled gateway database with its config, operator key and request files."""

    config: Path
    key: str
    reported: list[str]
    queries: list[str]
    devices: Path
    eir: Path
    script: Path
    fill_seconds: float


def prepare(directory: Path, *, records: int) -> Prepared:
    """Fill ``directory/gateway.sqlite`` with ``records`` records; write the config and wrk files."""
    database = directory / "gateway.sqlite"
    engine = make_engine(f"sqlite:///{database}")
    try:
        migrate(engine)
        started = time.perf_counter()
        reported = fill(engine, records=records)
        fill_seconds = time.perf_counter() - started
        with session_factory(engine).begin() as session:
            key, _ = create_api_key(session, role="operator", label="bench")
    finally:
        engine.dispose()
    queries = _queries(reported, QUERIES, seed=13)
    devices = directory / "devices.txt"
    devices.write_text("".join(f"/v1/devices/{imei15(c)}\n" for c in queries), encoding="ascii")
    eir = directory / "eir.txt"
    eir.write_text(
        "".join(f"/n5g-eir-eic/v1/equipment-status?pei=imei-{imei15(c)}\n" for c in queries), encoding="ascii"
    )
    script = directory / "requests.lua"
    script.write_text(_LUA, encoding="utf-8")
    return Prepared(_config(directory, database), key, reported, queries, devices, eir, script, fill_seconds)


def _lookup_rows(
    server: Server,
    bench: Prepared,
    *,
    records: int,
    threads: int,
    connections: int,
    latency_connections: int,
    duration: int,
) -> list[dict[str, Any]]:
    """Per endpoint: a saturating run (throughput, CPU per request) and a latency run."""
    rows = []
    for label, paths in (
        ("GET /v1/devices/{imei}", bench.devices),
        ("GET N5g-eir equipment-status", bench.eir),
    ):
        wrk_run(
            server.url, paths, bench.script, bench.key, threads=threads, connections=connections, duration=2
        )
        runs = {}
        for kind, conns in (("throughput", connections), ("latency", latency_connections)):
            load = _load()
            cpu = server.cpu_seconds()
            result = wrk_run(
                server.url,
                paths,
                bench.script,
                bench.key,
                threads=threads,
                connections=conns,
                duration=duration,
            )
            result["cpu_us"] = (server.cpu_seconds() - cpu) / result["requests"] * 1e6
            result["load"] = load
            runs[kind] = result
        where = f"{records:,} records, 1 worker, wrk -t{threads} -c{{c}} -d{duration}s, load {{load:.1f}}"
        top, low = runs["throughput"], runs["latency"]
        name = f"{label} throughput ({where.format(c=connections, load=top['load'])})"
        stat = f"{top['requests']:,.0f} requests; p50 {top['p50']:.2f} ms, p99 {top['p99']:.2f} ms"
        rows.append(_row(name, top["rps"], "req/s", f">= {TARGET_RPS:,}", stat))
        name = f"{label} p99 latency ({where.format(c=latency_connections, load=low['load'])})"
        stat = f"wrk p99 at {low['rps']:,.0f} req/s; p50 {low['p50']:.2f} ms, p90 {low['p90']:.2f} ms"
        rows.append(_row(name, low["p99"], "ms", f"<= {TARGET_P99_MS:g}", stat))
        stat = f"server CPU time / requests (saturating run); {1e6 / top['cpu_us']:,.0f} req/s per busy core"
        rows.append(_row(f"{label} server CPU per request", top["cpu_us"], "µs", "-", stat))
    return rows


def _check_rows(http: httpx.Client, bench: Prepared, *, size: int, repeats: int) -> list[dict[str, Any]]:
    imeis = [imei15(c) for c in _queries(bench.reported, size, seed=17)]
    load = _load()
    timings = _time_check(http, imeis, repeats)
    what = f"POST /v1/devices/check of {size:,} IMEIs (load {load:.1f})"
    target = f"<= {TARGET_CHECK_MS:g}"
    return [
        _row(f"{what}, best", min(timings), "ms", target, f"best of {repeats}"),
        _row(f"{what}, median", statistics.median(timings), "ms", target, f"median of {repeats}"),
    ]


def _snapshot_rows(http: httpx.Client, *, repeats: int) -> list[dict[str, Any]]:
    _time_snapshot(http)  # warm the page cache
    load = _load()
    best, size, lines = min(_time_snapshot(http) for _ in range(repeats))
    what = f"GET /v1/blocklist CSV streamed ({lines:,} rows, {size / 1e6:,.0f} MB, load {load:.1f})"
    return [_row(what, best, "s", f"<= {TARGET_SNAPSHOT_S:g}", f"best of {repeats}")]


def run(
    *,
    records: int = RECORDS,
    duration: int = DURATION,
    threads: int = THREADS,
    connections: int = CONNECTIONS,
    latency_connections: int = LATENCY_CONNECTIONS,
    check_size: int = CHECK_SIZE,
    check_repeats: int = CHECK_REPEATS,
    snapshot_repeats: int = SNAPSHOT_REPEATS,
) -> list[dict[str, Any]]:
    """Fill, serve, measure; returns the rows (5 to 15 minutes on 2 cores, most of it the fill)."""
    _wrk()  # fail before the fill when the load generator is missing
    with tempfile.TemporaryDirectory(prefix="crossblock-bench-http-", ignore_cleanup_errors=True) as name:
        bench = prepare(Path(name), records=records)
        rate = records / bench.fill_seconds
        rows = [_row(f"http bench: fill {records:,} records", rate, "rec/s", "-", "single run")]
        with Server(bench.config, _free_port(), Path(name) / "server.log") as server:
            server.wait_up()
            headers = {"Authorization": f"Bearer {bench.key}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=60.0) as http:
                _check_answers(http, set(bench.reported), bench.queries)
                rows += _lookup_rows(
                    server,
                    bench,
                    records=records,
                    threads=threads,
                    connections=connections,
                    latency_connections=latency_connections,
                    duration=duration,
                )
                rows += _check_rows(http, bench, size=check_size, repeats=check_repeats)
                rows += _snapshot_rows(http, repeats=snapshot_repeats)
    return rows


def _arguments() -> dict[str, int]:
    parser = argparse.ArgumentParser(
        description="HTTP benchmarks of a served gateway (see the module docstring)."
    )
    parser.add_argument(
        "--records", type=int, default=RECORDS, help="ledger records to fill (smaller: quicker)"
    )
    parser.add_argument("--duration", type=int, default=DURATION, help="seconds per wrk run")
    parser.add_argument("--check-repeats", type=int, default=CHECK_REPEATS)
    parser.add_argument("--snapshot-repeats", type=int, default=SNAPSHOT_REPEATS)
    return dict(vars(parser.parse_args()))


if __name__ == "__main__":
    for row in run(**_arguments()):
        figure = f"{row['value']:>12,.3f} {row['unit']:<6}"
        print(f"{row['name']:<96} {figure} target {row['target']:<10} ({row['stat']})")
