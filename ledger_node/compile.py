"""Compile the CrossBlock contracts with py-solc-x through the npm solc wrapper.

The compiled artifacts (ABI, creation and runtime bytecode) are committed in
``ledger_node/artifacts/`` so that running a gateway needs no compiler. ``python -m
ledger_node.compile --check`` recompiles and fails unless the result is byte-for-byte identical;
``--write`` refreshes the committed files.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import solcx
from solcx.exceptions import SolcError

from ledger_node.errors import CompilationError
from ledger_node.paths import ARTIFACTS_DIR, CONTRACTS_DIR, NODE_MODULES, SOLC_WRAPPER

MAIN_SOURCE = "src/CrossBlockLedger.sol"
MAIN_CONTRACT = "CrossBlockLedger"
REMAPPINGS = {"@openzeppelin/": "node_modules/@openzeppelin/"}
# Must match contracts/foundry.toml so that forge and py-solc-x build the same code.
SETTINGS: dict[str, Any] = {
    "remappings": [f"{k}={v}" for k, v in REMAPPINGS.items()],
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "prague",
    "metadata": {"bytecodeHash": "ipfs"},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}
_IMPORT = re.compile(r'^\s*import\s+(?:[^"\';]*?\s+from\s+)?["\']([^"\']+)["\']\s*;', re.MULTILINE)


def _resolve(importer: str, target: str) -> str:
    """Source key of ``target`` imported from ``importer`` (keys are repo-relative, '/'-separated)."""
    for prefix, replacement in REMAPPINGS.items():
        if target.startswith(prefix):
            return replacement + target[len(prefix) :]
    if target.startswith("."):
        parts = importer.split("/")[:-1]
        for piece in target.split("/"):
            if piece == "..":
                parts.pop()
            elif piece != ".":
                parts.append(piece)
        return "/".join(parts)
    return target


def _disk_path(key: str) -> Path:
    if key.startswith("node_modules/"):
        return NODE_MODULES.parent / key
    return CONTRACTS_DIR / key


def collect_sources(entry: str = MAIN_SOURCE) -> dict[str, str]:
    """Read ``entry`` and everything it imports, keyed by a checkout-independent path."""
    sources: dict[str, str] = {}
    pending = [entry]
    while pending:
        key = pending.pop()
        if key in sources:
            continue
        path = _disk_path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CompilationError(f"cannot read Solidity source {key} ({path}): {exc}") from exc
        sources[key] = text
        pending.extend(_resolve(key, imp) for imp in _IMPORT.findall(text))
    return dict(sorted(sources.items()))


def compile_contracts() -> dict[str, Any]:
    """Compile and return ``{contract_name: {"abi", "bytecode", "deployedBytecode"}}`` for ``src/``."""
    if not SOLC_WRAPPER.exists():
        raise CompilationError(f"solc wrapper not found at {SOLC_WRAPPER}")
    sources = collect_sources()
    standard_input = {
        "language": "Solidity",
        "sources": {key: {"content": text} for key, text in sources.items()},
        "settings": SETTINGS,
    }
    try:
        output = solcx.compile_standard(standard_input, solc_binary=str(SOLC_WRAPPER))
    except (SolcError, OSError) as exc:
        raise CompilationError(f"solc failed: {exc}") from exc
    result: dict[str, Any] = {}
    for key, contracts in output["contracts"].items():
        if not key.startswith("src/"):
            continue
        for name, data in contracts.items():
            bytecode = data["evm"]["bytecode"]["object"]
            if name != MAIN_CONTRACT:
                continue  # libraries are internal, interfaces and abstract contracts have no code
            result[name] = {
                "contractName": name,
                "sourceName": key,
                "abi": data["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
            }
    if MAIN_CONTRACT not in result:
        raise CompilationError(f"{MAIN_CONTRACT} missing from compiler output")
    return result


def _artifact_text(artifact: dict[str, Any]) -> str:
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def write_artifacts(artifacts: dict[str, Any], directory: Path = ARTIFACTS_DIR) -> list[Path]:
    """Write one JSON file per deployable contract."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, artifact in artifacts.items():
        path = directory / f"{name}.json"
        path.write_text(_artifact_text(artifact), encoding="utf-8")
        written.append(path)
    return written


def check_artifacts(artifacts: dict[str, Any], directory: Path = ARTIFACTS_DIR) -> list[str]:
    """Names of contracts whose committed artifact differs from ``artifacts`` (empty: identical)."""
    stale = []
    for name, artifact in artifacts.items():
        path = directory / f"{name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != _artifact_text(artifact):
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="recompile and rewrite the committed artifacts")
    mode.add_argument("--check", action="store_true", help="recompile and fail if artifacts differ")
    args = parser.parse_args(argv)
    try:
        artifacts = compile_contracts()
    except CompilationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.write:
        for path in write_artifacts(artifacts):
            print(f"wrote {path}")
        return 0
    stale = check_artifacts(artifacts)
    if stale:
        print(f"stale artifacts: {', '.join(stale)} (run `make artifacts`)", file=sys.stderr)
        return 1
    print("artifacts up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
