"""Gas per record of ``publishBatch`` on a fresh devnet (anvil, Prague rules).

``run()`` starts a devnet in a temporary directory on a free port and publishes, through
:meth:`ledger_node.client.LedgerClient.publish`, batches of 1, 100 and 1,000 records, and reports the
receipt's ``gasUsed`` (the whole transaction: intrinsic cost, calldata, execution) divided by the
number of records. Two record sets:

* **random IMEIs**: random 14-digit cores, the current time and a real case commitment; a few bytes
  happen to be zero (a ``00`` digit pair, a zero byte in the time or commitment), which calldata
  prices lower;
* **worst case, no zero bytes**: every record is a legitimate one (a valid IMEI core, a real
  ``reportedAt``, the commitment of a real case reference under a fresh salt) chosen so that none of
  its 16 bytes is zero: no ``00`` digit pair in the IMEI, a ``reportedAt`` without a zero byte, and a
  case reference drawn again while its commitment holds a zero byte. Every calldata byte of the
  records is then priced as non-zero.

A one-record batch is published first and not measured, so every measured batch updates existing
storage (the country's head and seq), as all batches after a country's first do. Each row is one
transaction (gas is deterministic: no repetition needed). ``python -m bench.gas`` prints the rows.
"""

from __future__ import annotations

import random
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ledger_node.batch import Batch
from ledger_node.devnet import Devnet
from ledger_node.record import Kind, Record, case_commitment, new_salt, pack_records
from ledger_node.signer import LocalSigner, sign_batch

SIZES = (1, 100, 1_000)
TARGET = 1_000
AIM = 700
_COUNTRY = "IN"
_NOW = 1_760_000_000
_KINDS = (Kind.STOLEN, Kind.STOLEN, Kind.LOST, Kind.DUPLICATED, Kind.INVALID, Kind.RECOVERED)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def random_record(rng: random.Random, n: int) -> Record:
    """A record of a random IMEI core with a real case commitment (may contain zero bytes)."""
    commitment = case_commitment(new_salt(), f"CASE/{n:07d}")
    return Record(
        f"{rng.randrange(10**14):014d}", rng.choice(_KINDS), _NOW - rng.randrange(86_400 * 365), commitment
    )


def _no_zero_byte(value: int) -> bool:
    return all(value >> shift & 0xFF for shift in (0, 8, 16, 24))


def worst_case_record(rng: random.Random, n: int) -> Record:
    """A legitimate record none of whose 16 bytes is zero (see the module docstring)."""
    # 7 BCD bytes, each a digit pair other than "00": a valid 14-digit IMEI core.
    core = "".join(f"{rng.randrange(1, 100):02d}" for _ in range(7))
    at = _NOW - rng.randrange(86_400 * 365)
    while not _no_zero_byte(at):
        at -= 1
    salt = new_salt()
    attempt = 0
    while True:
        commitment = case_commitment(salt, f"CASE/{n:07d}/{attempt}" if attempt else f"CASE/{n:07d}")
        if all(commitment):
            break
        attempt += 1
    record = Record(core, rng.choice(_KINDS), at, commitment)
    if 0 in record.pack():
        raise AssertionError(f"worst-case record has a zero byte: {record.pack().hex()}")
    return record


def measure(
    net: Devnet, *, sizes: Sequence[int], make: Callable[[random.Random, int], Record], seed: int
) -> list[tuple[int, int, int]]:
    """Publish one batch per size after the country's head; returns ``(size, gasUsed, zero bytes)``."""
    client = net.client()
    signer = LocalSigner(net.account(_COUNTRY, "signer").key)
    relayer = net.account(_COUNTRY, "relayer")
    rng = random.Random(seed)
    out = []
    for size in sizes:
        head, seq = client.head_of(_COUNTRY)
        records = pack_records(make(rng, n) for n in range(size))
        batch = Batch.build(_COUNTRY, seq + 1, head, records)
        signature = sign_batch(signer, batch, client.chain_id, client.address)
        result = client.publish(sender=relayer, batch=batch, records=records, signature=signature)
        out.append((size, result.gas_used, records.count(0)))
    return out


def run(*, sizes: Sequence[int] = SIZES) -> list[dict[str, Any]]:
    """Measure and return the rows (a fresh devnet; about half a minute)."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="crossblock-bench-", ignore_cleanup_errors=True) as tmp:
        net = Devnet(Path(tmp) / "devnet", port=_free_port())
        net.up()
        try:
            measure(net, sizes=[1], make=random_record, seed=1)  # the country's first batch: not measured
            for label, make in (
                ("random IMEIs", random_record),
                ("worst case, no zero bytes", worst_case_record),
            ):
                results = measure(net, sizes=sizes, make=make, seed=3)
                for size, gas, zeros in results:
                    target = f"<= {TARGET:,} (aim {AIM})" if size == max(SIZES) else "-"
                    name = f"publishBatch gas/record, {size:,}-record batch, {label} ({zeros} zero bytes)"
                    rows.append(
                        {"name": name, "value": gas / size, "unit": "gas/record", "target": target,
                         "stat": "one transaction"}
                    )  # fmt: skip
                if len(results) >= 2:
                    (small, gas_small, _), (large, gas_large, _) = results[-2], results[-1]
                    name = f"publishBatch marginal gas/record ({small:,} → {large:,}), {label}"
                    marginal = (gas_large - gas_small) / (large - small)
                    rows.append(
                        {"name": name, "value": marginal, "unit": "gas/record", "target": "-",
                         "stat": "difference of two transactions"}
                    )  # fmt: skip
        finally:
            net.down()
    return rows


if __name__ == "__main__":
    chosen = tuple(int(a) for a in sys.argv[1:]) or SIZES
    for row in run(sizes=chosen):
        print(f"{row['name']:<84} {row['value']:>10,.1f} {row['unit']:<10} target {row['target']}")
