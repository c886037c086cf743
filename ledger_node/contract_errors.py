"""Contract custom errors decoded into Python exceptions.

Every ``CrossBlock…`` custom error of the contracts has a subclass of :class:`ContractRevertError`
here; :func:`decode_revert` turns raw revert data (selector + ABI-encoded arguments) into one.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from eth_abi.abi import decode
from eth_utils.crypto import keccak

from ledger_node.contract_artifacts import ledger_abi
from ledger_node.errors import ContractRevertError


# ---- consortium / governance
class NotAdminError(ContractRevertError):
    """The caller is not the admin key of that country."""


class NotActiveMemberError(ContractRevertError):
    """The country is not an active member (unknown or suspended)."""


class AlreadyMemberError(ContractRevertError):
    """The country is already a member."""


class UnknownMemberError(ContractRevertError):
    """The country is not a member."""


class InvalidCountryError(ContractRevertError):
    """A country code that is not two upper-case ASCII letters."""


class ZeroAddressError(ContractRevertError):
    """The zero address was given where a key is needed."""


class AdminInUseError(ContractRevertError):
    """The address already administers a country."""


class FoundingMismatchError(ContractRevertError):
    """Founding countries and admins differ in number."""


class UnknownProposalError(ContractRevertError):
    """No proposal with that id."""


class ProposalExecutedError(ContractRevertError):
    """The proposal was already carried out."""


class AlreadyVotedError(ContractRevertError):
    """That country already voted for the proposal."""


class ProposalInvalidError(ContractRevertError):
    """The proposal does not apply to the target's current status."""


class SignerAlreadyAddedError(ContractRevertError):
    """The signer was already added for that country."""


class SignerUnknownError(ContractRevertError):
    """The signer was never added for that country."""


class SignerAlreadyRevokedError(ContractRevertError):
    """The signer was already revoked."""


# ---- ledger
class SeqMismatchError(ContractRevertError):
    """The batch's seq is not the country's last seq + 1."""


class HeadMismatchError(ContractRevertError):
    """The batch's prevHead is not the country's current head."""


class EmptyBatchError(ContractRevertError):
    """A batch with no records."""


class BatchTooLargeError(ContractRevertError):
    """More records than the contract accepts in one batch."""


class RecordsLengthMismatchError(ContractRevertError):
    """The records bytes are not 16 x count long."""


class RecordsHashMismatchError(ContractRevertError):
    """keccak256(records) differs from the signed recordsHash."""


class MalformedRecordError(ContractRevertError):
    """A record has an unknown identifier type or kind."""


class InvalidSignatureError(ContractRevertError):
    """The signature is malformed or cannot be recovered."""


class SignerNotActiveError(ContractRevertError):
    """The recovered signer is not an active signing key of the country at that block."""


class UnknownBatchError(ContractRevertError):
    """No such batch."""


class RootNotDisputableError(ContractRevertError):
    """The batch's Merkle root matches its records: nothing to dispute."""


_BY_NAME: dict[str, type[ContractRevertError]] = {
    "CrossBlock" + cls.__name__.removesuffix("Error"): cls for cls in ContractRevertError.__subclasses__()
}


@cache
def _selectors() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for item in ledger_abi():
        if item.get("type") != "error":
            continue
        types = [_abi_type(i) for i in item["inputs"]]
        names = [i["name"] or f"arg{n}" for n, i in enumerate(item["inputs"])]
        signature = f"{item['name']}({','.join(types)})"
        table[keccak(text=signature)[:4]] = (item["name"], types, names)
    return table


def _abi_type(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return str(param["type"])


def error_class(name: str) -> type[ContractRevertError]:
    """The exception class for a contract error name (``CrossBlockSeqMismatch`` → SeqMismatchError)."""
    return _BY_NAME.get(name, ContractRevertError)


def decode_revert(data: bytes | str | None) -> ContractRevertError | None:
    """Decode revert data into its exception, or None if it is not a known CrossBlock error."""
    if data is None:
        return None
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
    entry = _selectors().get(raw[:4])
    if entry is None:
        return None
    name, types, names = entry
    values = decode(types, raw[4:])
    return error_class(name)(name, dict(zip(names, values, strict=True)))
