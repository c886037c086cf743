"""Transaction-sending accounts (relayers, admins) loaded from encrypted keystores."""

from __future__ import annotations

import json
import os

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger_node.errors import KeystoreError


def load_account(path: str | os.PathLike[str], password: str) -> LocalAccount:
    """Decrypt an eth-account keystore into an account that signs transactions."""
    try:
        with open(path, encoding="utf-8") as fh:
            keystore = json.load(fh)
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc}") from exc
    try:
        key = Account.decrypt(keystore, password)
    except ValueError as exc:
        raise KeystoreError(f"cannot decrypt keystore {path}: wrong password or corrupt file") from exc
    account: LocalAccount = Account.from_key(key)
    return account
