"""LedgerClient: deploy, govern, manage signers, publish and read CrossBlock logs over JSON-RPC.

Speaks only standard Ethereum JSON-RPC, so it works the same against anvil and Besu. Transactions
are signed locally by an eth-account key (the *relayer*; the batch's EIP-712 signer is separate).
Before sending, every transaction is estimated: a contract rejection surfaces as the matching
:mod:`ledger_node.contract_errors` exception and nothing is sent, so nothing is stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception
from web3.types import TxParams, TxReceipt

from ledger_node.batch import Batch, country_bytes, to_abi_tuple
from ledger_node.contract_artifacts import ledger_abi, load_artifact
from ledger_node.contract_errors import decode_revert
from ledger_node.errors import (
    ContractRevertError,
    CrossBlockError,
    DeploymentError,
    NodeUnavailableError,
    TransactionFailedError,
)
from ledger_node.events import (
    BATCH_DISPUTED_TOPIC,
    BATCH_PUBLISHED_TOPIC,
    SIGNER_ADDED_TOPIC,
    SIGNER_REVOKED_TOPIC,
    BatchEvent,
    DisputeEvent,
    SignerEvent,
    decode_batch_published,
    decode_dispute,
    decode_signer_event,
)

T = TypeVar("T")


class MemberStatus(IntEnum):
    """Mirror of ``ICrossBlockConsortium.MemberStatus``."""

    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


class ProposalKind(IntEnum):
    """Mirror of ``ICrossBlockConsortium.ProposalKind``."""

    ADMIT = 0
    SUSPEND = 1
    REINSTATE = 2


@dataclass(frozen=True, slots=True)
class TxResult:
    """A mined, successful transaction."""

    tx_hash: bytes
    block_number: int
    gas_used: int


def _revert_data(exc: ContractLogicError) -> str | None:
    data = exc.data
    if isinstance(data, dict):
        return data.get("data")
    return data


class LedgerClient:
    """A handle on one deployed CrossBlockLedger contract."""

    def __init__(self, w3: Web3, address: str, *, receipt_timeout: float = 120.0) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=ledger_abi())
        self.receipt_timeout = receipt_timeout
        self._chain_id: int | None = None

    # ------------------------------------------------------------ construction
    @classmethod
    def connect(cls, rpc_url: str, address: str, *, timeout: float = 30.0) -> LedgerClient:
        """Connect to a node and check that the contract is deployed at ``address``."""
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        client = cls(w3, address)
        code = client._rpc(lambda: w3.eth.get_code(client.address))
        if not code:
            raise DeploymentError(f"no CrossBlock contract at {client.address} on {rpc_url}")
        return client

    @classmethod
    def deploy(
        cls,
        w3: Web3,
        *,
        deployer: LocalAccount,
        founding: Sequence[tuple[str, str]],
    ) -> LedgerClient:
        """Deploy the ledger with founding ``(country, admin address)`` members."""
        artifact = load_artifact()
        factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        countries = [country_bytes(cc) for cc, _ in founding]
        admins = [Web3.to_checksum_address(a) for _, a in founding]
        tx = factory.constructor(countries, admins).build_transaction({"from": deployer.address})
        tx.pop("to", None)
        client_w3 = w3
        _result, receipt = _send(client_w3, deployer, tx, timeout=120.0)
        address = receipt["contractAddress"]
        if address is None:
            raise DeploymentError("deployment receipt has no contract address")
        return cls(w3, address)

    # ----------------------------------------------------------------- basics
    @property
    def chain_id(self) -> int:
        """The chain id (cached)."""
        if self._chain_id is None:
            self._chain_id = int(self._rpc(lambda: self.w3.eth.chain_id))
        return self._chain_id

    def block_number(self) -> int:
        """Latest block number."""
        return int(self._rpc(lambda: self.w3.eth.block_number))

    def _rpc(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except ContractLogicError as exc:
            decoded = decode_revert(_revert_data(exc))
            if decoded is not None:
                raise decoded from exc
            raise TransactionFailedError(str(exc)) from exc
        except (OSError, Web3Exception) as exc:
            raise NodeUnavailableError(f"JSON-RPC call failed: {exc}") from exc
        except ValueError as exc:  # JSON-RPC error objects surface as ValueError in web3
            raise NodeUnavailableError(f"JSON-RPC error: {exc}") from exc

    def _transact(self, sender: LocalAccount, fn: Any) -> TxResult:
        tx: TxParams = fn.build_transaction({"from": sender.address, "gas": 0})
        tx.pop("gas", None)
        result, _ = _send(self.w3, sender, tx, timeout=self.receipt_timeout)
        return result

    # ------------------------------------------------------------- governance
    def propose(
        self, *, sender: LocalAccount, kind: ProposalKind, target: str, admin: str | None = None
    ) -> int:
        """Create a proposal (the proposer's country votes for it); returns its id."""
        admin_addr = Web3.to_checksum_address(admin) if admin else "0x" + "00" * 20
        fn = self.contract.functions.propose(int(kind), country_bytes(target), admin_addr)
        proposal_id = int(self._rpc(lambda: fn.call({"from": sender.address})))
        self._transact(sender, fn)
        return proposal_id

    def vote(self, *, sender: LocalAccount, proposal_id: int) -> TxResult:
        """Vote for a proposal as the admin of an active member."""
        return self._transact(sender, self.contract.functions.vote(proposal_id))

    def set_admin(self, *, sender: LocalAccount, country: str, new_admin: str) -> TxResult:
        """Rotate a country's admin key (sender: the current admin)."""
        fn = self.contract.functions.setAdmin(country_bytes(country), Web3.to_checksum_address(new_admin))
        return self._transact(sender, fn)

    def add_signer(self, *, sender: LocalAccount, country: str, signer: str) -> TxResult:
        """Add a signing key for ``country`` (sender: its admin)."""
        fn = self.contract.functions.addSigner(country_bytes(country), Web3.to_checksum_address(signer))
        return self._transact(sender, fn)

    def revoke_signer(self, *, sender: LocalAccount, country: str, signer: str) -> TxResult:
        """Revoke a signing key of ``country`` (sender: its admin)."""
        fn = self.contract.functions.revokeSigner(country_bytes(country), Web3.to_checksum_address(signer))
        return self._transact(sender, fn)

    # ---------------------------------------------------------------- publish
    def publish(self, *, sender: LocalAccount, batch: Batch, records: bytes, signature: bytes) -> TxResult:
        """Relay a signed batch. Raises the decoded contract error if it would be rejected."""
        fn = self.contract.functions.publishBatch(to_abi_tuple(batch), records, signature)
        return self._transact(sender, fn)

    def dispute(self, *, sender: LocalAccount, country: str, seq: int, records: bytes) -> TxResult:
        """Submit a fraud proof that a batch's signed Merkle root does not match its records."""
        fn = self.contract.functions.disputeBatch(country_bytes(country), seq, records)
        return self._transact(sender, fn)

    # ------------------------------------------------------------------ views
    def head_of(self, country: str, *, block: int | str = "latest") -> tuple[bytes, int]:
        """``(head, seq)`` of a country's log."""
        fn = self.contract.functions.headOf(country_bytes(country))
        head, seq = self._rpc(lambda: fn.call(block_identifier=block))  # type: ignore[arg-type]
        return bytes(head), int(seq)

    def batch_root(self, country: str, seq: int) -> bytes:
        """Stored Merkle root of a batch (32 zero bytes if unknown)."""
        fn = self.contract.functions.batchRoot(country_bytes(country), seq)
        return bytes(self._rpc(fn.call))

    def batch_records_hash(self, country: str, seq: int) -> bytes:
        """Stored recordsHash of a batch."""
        fn = self.contract.functions.batchRecordsHash(country_bytes(country), seq)
        return bytes(self._rpc(fn.call))

    def is_disputed(self, country: str, seq: int) -> bool:
        """Whether a batch was proven inconsistent on chain."""
        return bool(self._rpc(self.contract.functions.isDisputed(country_bytes(country), seq).call))

    def verify_record(
        self, *, country: str, seq: int, index: int, record: bytes, proof: Sequence[bytes]
    ) -> bool:
        """The contract's own Merkle inclusion check."""
        fn = self.contract.functions.verifyRecord(country_bytes(country), seq, index, record, list(proof))
        return bool(self._rpc(fn.call))

    def member_status(self, country: str) -> MemberStatus:
        """Membership status of a country."""
        return MemberStatus(self._rpc(self.contract.functions.memberStatus(country_bytes(country)).call))

    def member_admin(self, country: str) -> str:
        """Admin address of a country."""
        return str(self._rpc(self.contract.functions.memberAdmin(country_bytes(country)).call))

    def members(self) -> list[str]:
        """Every country ever admitted, in admission order."""
        raw = self._rpc(self.contract.functions.members().call)
        return [bytes(cc).decode("ascii") for cc in raw]

    def active_member_count(self) -> int:
        """Number of active members."""
        return int(self._rpc(self.contract.functions.activeMemberCount().call))

    def proposal(self, proposal_id: int) -> dict[str, Any]:
        """A proposal as a dict (kind, target, admin, votes, executed, createdAt)."""
        raw = self._rpc(self.contract.functions.proposal(proposal_id).call)
        kind, target, admin, votes, executed, created = raw
        return {
            "kind": ProposalKind(kind),
            "target": bytes(target).decode("ascii", errors="replace"),
            "admin": admin,
            "votes": int(votes),
            "executed": bool(executed),
            "createdAt": int(created),
        }

    def signer_info(self, country: str, signer: str) -> tuple[int, int]:
        """``(activeFrom, revokedAt)`` blocks of a signer (0 = unknown / not revoked)."""
        fn = self.contract.functions.signerInfo(country_bytes(country), Web3.to_checksum_address(signer))
        active_from, revoked_at = self._rpc(fn.call)
        return int(active_from), int(revoked_at)

    def is_active_signer(self, country: str, signer: str, block: int) -> bool:
        """Whether ``signer`` may sign for ``country`` at ``block``."""
        fn = self.contract.functions.isActiveSigner(
            country_bytes(country), Web3.to_checksum_address(signer), block
        )
        return bool(self._rpc(fn.call))

    def domain_separator(self) -> bytes:
        """The contract's EIP-712 domain separator."""
        return bytes(self._rpc(self.contract.functions.domainSeparator().call))

    # ------------------------------------------------------------------- logs
    def get_logs(self, *, from_block: int, to_block: int, topics: list[Any]) -> list[dict[str, Any]]:
        """Raw ``eth_getLogs`` for this contract (hex strings, no web3 formatting: fast)."""
        params = {
            "address": self.address,
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
            "topics": topics,
        }
        response = self._rpc(lambda: self.w3.provider.make_request("eth_getLogs", [params]))  # type: ignore[arg-type]
        if "error" in response:
            raise NodeUnavailableError(f"eth_getLogs failed: {response['error']}")
        logs: list[dict[str, Any]] = response["result"]
        return logs

    def iter_logs(
        self,
        *,
        from_block: int,
        to_block: int,
        topics: list[Any],
        chunk_size: int = 2_000,
        retries: int = 5,
        backoff: float = 0.5,
    ) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
        """Yield ``(chunk_from, chunk_to, logs)`` over a block range in chunks, retrying with backoff."""
        start = from_block
        while start <= to_block:
            end = min(start + chunk_size - 1, to_block)
            for attempt in range(retries + 1):
                try:
                    logs = self.get_logs(from_block=start, to_block=end, topics=topics)
                    break
                except NodeUnavailableError:
                    if attempt == retries:
                        raise
                    time.sleep(backoff * 2**attempt)
            yield start, end, logs
            start = end + 1

    def fetch_batches(
        self,
        *,
        from_block: int,
        to_block: int | None = None,
        country: str | None = None,
        chunk_size: int = 2_000,
    ) -> Iterator[BatchEvent]:
        """Every ``BatchPublished`` event in the range (optionally one country), in chain order."""
        last = self.block_number() if to_block is None else to_block
        topic_country = None if country is None else "0x" + country_bytes(country).hex().ljust(64, "0")
        topics: list[Any] = ["0x" + BATCH_PUBLISHED_TOPIC.hex(), topic_country]
        for _, _, logs in self.iter_logs(
            from_block=from_block, to_block=last, topics=topics, chunk_size=chunk_size
        ):
            for log in logs:
                yield decode_batch_published(log)

    def find_batch(self, *, country: str, seq: int, from_block: int = 0) -> BatchEvent | None:
        """The ``BatchPublished`` event of one batch (by its indexed country and seq), or None."""
        topics: list[Any] = [
            "0x" + BATCH_PUBLISHED_TOPIC.hex(),
            "0x" + country_bytes(country).hex().ljust(64, "0"),
            "0x" + seq.to_bytes(32, "big").hex(),
        ]
        logs = self.get_logs(from_block=from_block, to_block=self.block_number(), topics=topics)
        return decode_batch_published(logs[0]) if logs else None

    def fetch_signer_events(self, *, from_block: int, to_block: int | None = None) -> list[SignerEvent]:
        """Every ``SignerAdded``/``SignerRevoked`` event in the range, in chain order."""
        last = self.block_number() if to_block is None else to_block
        topics: list[Any] = [["0x" + SIGNER_ADDED_TOPIC.hex(), "0x" + SIGNER_REVOKED_TOPIC.hex()]]
        out: list[SignerEvent] = []
        for _, _, logs in self.iter_logs(
            from_block=from_block, to_block=last, topics=topics, chunk_size=50_000
        ):
            out.extend(decode_signer_event(log) for log in logs)
        return out

    def fetch_disputes(self, *, from_block: int, to_block: int | None = None) -> list[DisputeEvent]:
        """Every ``BatchDisputed`` event in the range."""
        last = self.block_number() if to_block is None else to_block
        topics: list[Any] = ["0x" + BATCH_DISPUTED_TOPIC.hex()]
        out: list[DisputeEvent] = []
        for _, _, logs in self.iter_logs(
            from_block=from_block, to_block=last, topics=topics, chunk_size=50_000
        ):
            out.extend(decode_dispute(log) for log in logs)
        return out


def _fees(w3: Web3) -> dict[str, int]:
    """EIP-1559 fees when the chain has a base fee, else a legacy gas price (Besu free-gas networks)."""
    block = w3.eth.get_block("latest")
    base = block.get("baseFeePerGas")
    if base is None:
        return {"gasPrice": int(w3.eth.gas_price)}
    tip = 1_000_000_000 if base > 0 else 0
    return {"maxFeePerGas": int(base) * 2 + tip, "maxPriorityFeePerGas": tip}


def _send(w3: Web3, sender: LocalAccount, tx: TxParams, *, timeout: float) -> tuple[TxResult, TxReceipt]:
    """Estimate (decoding any revert), sign, send and wait for a transaction."""
    try:
        tx = dict(tx)  # type: ignore[assignment]
        tx.pop("maxFeePerGas", None)
        tx.pop("maxPriorityFeePerGas", None)
        tx.pop("gasPrice", None)
        tx["from"] = sender.address
        try:
            estimate = w3.eth.estimate_gas(tx)
        except ContractLogicError as exc:
            decoded = decode_revert(_revert_data(exc))
            if decoded is not None:
                raise decoded from exc
            raise TransactionFailedError(f"transaction would revert: {exc}") from exc
        tx["gas"] = estimate + estimate // 5 + 10_000
        tx.update(_fees(w3))  # type: ignore[typeddict-item]
        tx["nonce"] = w3.eth.get_transaction_count(sender.address, "pending")
        tx["chainId"] = w3.eth.chain_id
        signed = sender.sign_transaction(tx)  # type: ignore[arg-type]
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)
    except CrossBlockError:
        raise
    except TimeExhausted as exc:
        raise TransactionFailedError(f"transaction not mined within {timeout:.0f}s: {exc}") from exc
    except (OSError, Web3Exception, ValueError) as exc:
        raise NodeUnavailableError(f"sending transaction failed: {exc}") from exc
    if receipt["status"] != 1:
        _raise_replayed_revert(w3, tx, receipt)
    result = TxResult(
        tx_hash=bytes(receipt["transactionHash"]),
        block_number=int(receipt["blockNumber"]),
        gas_used=int(receipt["gasUsed"]),
    )
    return result, receipt


def _raise_replayed_revert(w3: Web3, tx: TxParams, receipt: TxReceipt) -> None:
    """A mined transaction reverted (state changed since estimation): replay it to get the reason."""
    call = {k: v for k, v in tx.items() if k in ("from", "to", "data", "value")}
    try:
        w3.eth.call(call, block_identifier=receipt["blockNumber"] - 1)  # type: ignore[arg-type]
    except ContractLogicError as exc:
        decoded: ContractRevertError | None = decode_revert(_revert_data(exc))
        if decoded is not None:
            raise decoded from exc
    raise TransactionFailedError(f"transaction {receipt['transactionHash'].hex()} reverted")
