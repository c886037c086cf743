"""Run the benchmarks: one table on screen, JSON results on disk.

``python -m bench.run`` runs every benchmark module; ``python -m bench.run core gas`` runs only those
named; ``--quick`` runs them with small sizes (a smoke run: the figures are not comparable with the
targets). Results go to ``bench/results/<UTC timestamp>.json`` and ``bench/results/latest.json``
together with a description of the machine (CPU, cores, RAM, Python, OS, git commit, load).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent
# Order: cheap and self-contained first, the devnet-heavy ones last.
MODULES = ("core", "gas", "importer", "status", "blocklist", "publish", "sync", "http")
QUICK: dict[str, dict[str, Any]] = {
    "core": {},
    "gas": {"sizes": (1, 100)},
    "importer": {"rows": 20_000},
    "status": {"records": 50_000, "lookups": 10_000},
    "blocklist": {"rows": 50_000},
    "publish": {"reports": 2_000},
    "sync": {"batches": 20},
    "http": {"records": 50_000, "duration": 3, "check_repeats": 3, "snapshot_repeats": 1},
}


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def _ram_bytes() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^MemTotal:\s*(\d+)\s*kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_bytes": _ram_bytes(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_at_start": _load(),
    }


def _met(row: dict[str, Any]) -> str:
    """Whether a row meets its target: "yes", "no", or "-" when it has none (or an unreadable one)."""
    target = str(row.get("target", "-"))
    match = re.match(r"\s*(>=|<=|≥|≤)\s*([\d,_.]+)", target)
    if match is None:
        return "-"
    bound = float(match.group(2).replace(",", "").replace("_", ""))
    value = float(row["value"])
    return "yes" if (value >= bound if match.group(1) in (">=", "≥") else value <= bound) else "no"


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its reaped children (worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def run_module(name: str, *, quick: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run one benchmark module; returns its rows (each marked with the module and met) and a summary.

    The summary holds the load average before and after and the CPU time the module used: on a shared
    machine, wall-clock figures taken under load are slower than the code is.
    """
    module = importlib.import_module(f"bench.{name}")
    kwargs = QUICK.get(name, {}) if quick else {}
    load_before = _load()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    error: str | None = None
    try:
        rows: list[dict[str, Any]] = module.run(**kwargs)
    except Exception:
        error = traceback.format_exc()
        rows = []
    cpu_after = _cpu_seconds()
    summary = {
        "module": name,
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(cpu_after[0] - cpu_before[0], 1),
        "children_cpu_seconds": round(cpu_after[1] - cpu_before[1], 1),
        "load_before": load_before,
        "load_after": _load(),
        "error": error,
        "kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
    }
    for row in rows:
        row.setdefault("stat", "single run")
        row["module"] = name
        row["met"] = _met(row)
    return rows, summary


def _fmt(value: float) -> str:
    if abs(value) >= 1_000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.3f}"


def render(rows: list[dict[str, Any]], summaries: list[dict[str, Any]], console: Console) -> None:
    """Print the results table (and any module that failed)."""
    table = Table(title="CrossBlock benchmarks")
    table.add_column("benchmark")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("target")
    table.add_column("met?", justify="center")
    for row in rows:
        met = {"yes": "[green]yes[/]", "no": "[red]no[/]"}.get(row["met"], "-")
        table.add_row(row["name"], _fmt(float(row["value"])), row["unit"], str(row["target"]), met)
    console.print(table)
    for summary in summaries:
        load = f"load {summary['load_before'][0]:.2f} → {summary['load_after'][0]:.2f}"
        cpu = f"CPU {summary['cpu_seconds']:.1f} s (+ {summary['children_cpu_seconds']:.1f} s in children)"
        line = f"{summary['module']}: {summary['seconds']:.1f} s wall, {cpu}, {load}"
        if summary["error"]:
            console.print(f"[red]{line}: FAILED[/]\n{summary['error']}")
        else:
            console.print(line)


def save(document: dict[str, Any], results_dir: Path = RESULTS_DIR) -> Path:
    """Write the timestamped results file and latest.json; returns the timestamped path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = results_dir / f"{stamp}.json"
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    (results_dir / "latest.json").write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m bench.run``; exit status 1 if a module failed."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "modules", nargs="*", metavar="MODULE", help=f"benchmarks to run (default: all of {MODULES})"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    selected = args.modules or list(MODULES)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    document: dict[str, Any] = {"machine": machine_info(), "quick": args.quick, "modules": [], "results": []}
    for name in selected:
        with console.status(f"running bench.{name}{' (quick)' if args.quick else ''}…"):
            rows, summary = run_module(name, quick=args.quick)
        document["modules"].append(summary)
        document["results"].extend(rows)
        state = "FAILED" if summary["error"] else f"{len(rows)} figures"
        console.print(f"bench.{name}: {state} in {summary['seconds']:.1f} s")
    document["machine"]["load_at_end"] = _load()
    render(document["results"], document["modules"], console)
    path = save(document)
    console.print(f"results written to {path.relative_to(REPO_ROOT)} and bench/results/latest.json")
    return 1 if any(s["error"] for s in document["modules"]) else 0


if __name__ == "__main__":
    sys.exit(main())
