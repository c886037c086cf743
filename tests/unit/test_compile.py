"""The committed contract artifacts are exactly what the pinned compiler makes of contracts/src."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger_node.compile import MAIN_CONTRACT, check_artifacts, compile_contracts
from ledger_node.contract_artifacts import load_artifact


@pytest.fixture(scope="module")
def artifacts() -> dict[str, Any]:
    """One compilation of contracts/src through py-solc-x and the npm solc wrapper."""
    return compile_contracts()


def test_compile_contracts_reproduces_committed_artifacts_byte_for_byte(artifacts: dict[str, Any]) -> None:
    assert set(artifacts) == {MAIN_CONTRACT}
    assert check_artifacts(artifacts) == []


def test_check_artifacts_reports_changed_bytecode(artifacts: dict[str, Any], tmp_path: Path) -> None:
    changed = json.loads(json.dumps(artifacts[MAIN_CONTRACT]))
    changed["bytecode"] = changed["bytecode"][:-2] + ("00" if changed["bytecode"][-2:] != "00" else "01")
    (tmp_path / f"{MAIN_CONTRACT}.json").write_text(json.dumps(changed, indent=1, sort_keys=True) + "\n")

    assert check_artifacts(artifacts, tmp_path) == [MAIN_CONTRACT]


def test_check_artifacts_reports_missing_artifact(artifacts: dict[str, Any], tmp_path: Path) -> None:
    assert check_artifacts(artifacts, tmp_path) == [MAIN_CONTRACT]


def test_load_artifact_is_the_compiled_contract(artifacts: dict[str, Any]) -> None:
    committed = load_artifact(MAIN_CONTRACT)

    assert committed["bytecode"] == artifacts[MAIN_CONTRACT]["bytecode"]
    assert committed["abi"] == artifacts[MAIN_CONTRACT]["abi"]
