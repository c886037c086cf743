"""Micro-benchmarks of the pure-Python ledger_node core (codec, Merkle tree, hashing, signing).

``run()`` returns one row per measurement::

    {"name": ..., "value": float, "unit": ..., "target": str, "stat": "best of N"}

Every figure is the *best* (minimum-time) of several repetitions measured with
``time.perf_counter``: on a shared machine the minimum is the least noisy estimate of what the code
costs, and the targets are about the code, not the neighbours. ``python -m bench.core`` prints them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ledger_node.batch import ZERO_HASH, Batch, recover_signer
from ledger_node.hashing import keccak256
from ledger_node.identifiers import imei15, parse_imei
from ledger_node.merkle import MerkleTree, merkle_root_packed
from ledger_node.record import Kind, Record, decode_records, pack_records
from ledger_node.signer import LocalSigner, sign_batch

REPEATS = 7
_CHAIN_ID = 31337
_LEDGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
_TEST_KEY = bytes(31) + b"\x01"  # publicly known test key


def _records(count: int) -> bytes:
    return pack_records(
        Record(
            f"{35_000_000 + i // 1_000_000:08d}{i % 1_000_000:06d}",
            Kind(1 + i % 6),
            1_700_000_000 + i,
            b"\x00\x01\x02\x03",
        )
        for i in range(count)
    )


def _best(fn: Callable[[], object], repeats: int = REPEATS, inner: int = 1) -> float:
    """Best time in seconds of one call of ``fn`` over ``repeats`` rounds of ``inner`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def _row(name: str, value: float, unit: str, target: str, repeats: int = REPEATS) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "target": target,
        "stat": f"best of {repeats}",
    }


def run() -> list[dict[str, Any]]:
    """Measure and return the rows (takes a few seconds)."""
    rows = []

    data = _records(10_000)
    decode_records(data)  # warm up
    seconds = _best(lambda: decode_records(data))
    rows.append(_row("bulk decode (10,000-record batch)", 10_000 / seconds, "records/s", ">= 1,000,000"))

    records_1k = [data[i * 16 : (i + 1) * 16] for i in range(1_000)]

    def tree_and_proofs() -> None:
        MerkleTree.from_records(records_1k).proofs()

    seconds = _best(tree_and_proofs, repeats=15)
    rows.append(_row("merkle tree + all proofs (1,000 records)", seconds * 1e3, "ms", "<= 10", repeats=15))

    seconds = _best(lambda: merkle_root_packed(data))
    rows.append(_row("merkle root (10,000 records)", seconds * 1e3, "ms", "-"))

    seconds = _best(lambda: Batch.build("IN", 1, ZERO_HASH, data))
    rows.append(_row("Batch.build (10,000 records)", seconds * 1e3, "ms", "-"))

    preimage = bytes(64)
    seconds = _best(lambda: keccak256(preimage), inner=10_000)
    rows.append(_row("keccak256 (64 bytes)", seconds * 1e6, "µs/hash", "-"))

    imei = imei15("49015420323751")
    seconds = _best(lambda: parse_imei(imei), inner=10_000)
    rows.append(_row("parse_imei (15-digit IMEI)", seconds * 1e6, "µs/call", "-"))

    signer = LocalSigner(_TEST_KEY)
    batch = Batch.build("IN", 1, ZERO_HASH, data[:16_000])
    signature = sign_batch(signer, batch, _CHAIN_ID, _LEDGER)
    seconds = _best(lambda: sign_batch(signer, batch, _CHAIN_ID, _LEDGER))
    rows.append(_row("EIP-712 sign_batch (incl. self-check recovery)", seconds * 1e3, "ms", "-"))
    seconds = _best(lambda: recover_signer(batch, signature, _CHAIN_ID, _LEDGER))
    rows.append(_row("EIP-712 recover_signer", seconds * 1e3, "ms", "-"))
    return rows


def main() -> None:
    """Print the rows as a table."""
    for row in run():
        figure = f"{row['value']:>14,.3f} {row['unit']:<10}"
        print(f"{row['name']:<48} {figure} target {row['target']:<14} ({row['stat']})")


if __name__ == "__main__":
    main()
