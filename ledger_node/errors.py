"""Exceptions of ledger_node: one root, meaningful subclasses.

Contract custom errors are decoded into :class:`ContractRevertError` subclasses (see
``ledger_node.contract_errors``), so callers can ``except SeqMismatchError`` instead of parsing strings.
"""

from __future__ import annotations

from typing import Any


class CrossBlockError(Exception):
    """Root of every error raised by ledger_node."""


class InvalidIdentifierError(CrossBlockError, ValueError):
    """A device identifier (IMEI, IMEISV, PEI) could not be parsed or failed its check digit."""

    def __init__(self, value: str, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"invalid device identifier {value!r}: {reason}")


class RecordFormatError(CrossBlockError, ValueError):
    """Bytes that are not a well-formed 16-byte record, or record fields out of range."""


class MerkleProofError(CrossBlockError):
    """A Merkle tree or proof could not be built or does not verify."""


class SignatureError(CrossBlockError):
    """An EIP-712 signature is malformed or does not come from the expected key."""


class KeystoreError(CrossBlockError):
    """An encrypted keystore could not be created, read or decrypted."""


class InvalidCountryError(CrossBlockError, ValueError):
    """A country code that is not two uppercase ASCII letters (ISO 3166-1 alpha-2)."""

    def __init__(self, value: object, reason: str = "expected two uppercase ASCII letters") -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"invalid country code {value!r}: {reason}")


class BatchFormatError(CrossBlockError, ValueError):
    """Batch header fields out of range for their ABI type, or a batch that cannot be built."""


class CompilationError(CrossBlockError):
    """The Solidity compiler failed or its output does not match the committed artifacts."""


class DeploymentError(CrossBlockError):
    """A deployment file is missing, unreadable, or points at a chain without the contract."""


class NodeUnavailableError(CrossBlockError):
    """The JSON-RPC node cannot be reached or keeps failing."""


class TransactionFailedError(CrossBlockError):
    """A transaction was mined but reverted without a decodable CrossBlock error."""


class ContractRevertError(CrossBlockError):
    """A CrossBlock contract custom error. ``name`` and ``args`` hold the decoded error."""

    error_name: str = ""

    def __init__(self, name: str, args: dict[str, Any]) -> None:
        self.name = name
        self.args_dict = args
        rendered = ", ".join(f"{k}={_render(v)}" for k, v in args.items())
        super().__init__(f"{name}({rendered})")


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        if len(value) == 2 and value.isascii() and value.isalpha():
            return value.decode()
        return "0x" + value.hex()
    return repr(value)
