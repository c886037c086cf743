"""Load the committed contract artifacts (ABI and bytecode)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from ledger_node.errors import CompilationError
from ledger_node.paths import ARTIFACTS_DIR


@cache
def load_artifact(name: str = "CrossBlockLedger") -> dict[str, Any]:
    """The artifact of contract ``name``: keys ``abi``, ``bytecode``, ``deployedBytecode``."""
    path = ARTIFACTS_DIR / f"{name}.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CompilationError(f"cannot load contract artifact {path}: {exc} (run `make artifacts`)") from exc
    return data


def ledger_abi() -> list[dict[str, Any]]:
    """ABI of the CrossBlockLedger contract."""
    abi: list[dict[str, Any]] = load_artifact()["abi"]
    return abi
