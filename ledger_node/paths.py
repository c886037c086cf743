"""Where the project's files live, resolved from this package (works from a source checkout)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
ARTIFACTS_DIR = PACKAGE_DIR / "artifacts"
CONTRACTS_DIR = REPO_ROOT / "contracts"
NODE_MODULES = REPO_ROOT / "node_modules"
SOLC_WRAPPER = REPO_ROOT / "tools" / "solc-wrapper.cjs"
ANVIL_BIN = NODE_MODULES / ".bin" / "anvil"
