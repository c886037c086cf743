"""Helpers for tests that publish on a real devnet."""

from __future__ import annotations

import os

from eth_account.signers.local import LocalAccount

from ledger_node.batch import Batch
from ledger_node.client import LedgerClient, TxResult
from ledger_node.devnet import Devnet
from ledger_node.identifiers import luhn_check_digit
from ledger_node.record import Kind, Record, pack_records
from ledger_node.signer import LocalSigner, sign_batch


def random_imei(prefix: str = "35") -> str:
    """A random 14-digit IMEI core."""
    body = prefix + "".join(str(b % 10) for b in os.urandom(14 - len(prefix)))
    luhn_check_digit(body)  # validates the shape
    return body


def make_records(n: int, *, kind: Kind = Kind.STOLEN, imeis: list[str] | None = None) -> bytes:
    """``n`` packed records of random IMEIs (or the given ones)."""
    ids = imeis if imeis is not None else [random_imei() for _ in range(n)]
    return pack_records(
        Record(identifier=i, kind=kind, reported_at=1_760_000_000 + n, case_commitment=os.urandom(4))
        for i in ids
    )


def signer_of(net: Devnet, country: str) -> LocalSigner:
    """The devnet signing key of a country."""
    return LocalSigner(net.account(country, "signer").key)


def publish_next(
    net: Devnet,
    client: LedgerClient,
    country: str,
    records: bytes,
    *,
    signer: LocalSigner | None = None,
    relayer: LocalAccount | None = None,
) -> tuple[Batch, bytes, TxResult]:
    """Build, sign and relay the next batch of ``country``."""
    head, seq = client.head_of(country)
    batch = Batch.build(country, seq + 1, head, records)
    sig = sign_batch(signer or signer_of(net, country), batch, client.chain_id, client.address)
    result = client.publish(
        sender=relayer or net.account(country, "relayer"), batch=batch, records=records, signature=sig
    )
    return batch, sig, result
