"""Merkle tree over a batch's records, compatible with OpenZeppelin ``MerkleProof``.

Per docs/record-format.md ("Merkle tree"):

    leaf_i        = keccak256(uint32_be(i) || record_i)          (20-byte preimage)
    hashPair(a,b) = keccak256(min(a,b) || max(a,b))              (commutative)

Levels pair nodes (0,1), (2,3), ...; an odd last node is carried up unchanged. A one-record tree's
root is its leaf. A proof lists sibling hashes bottom-up, skipping levels without a sibling, and
verifies by folding ``hashPair`` from the leaf (``MerkleProof.processProof``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger_node.errors import MerkleProofError, RecordFormatError
from ledger_node.hashing import keccak256

__all__ = [
    "HASH_SIZE",
    "MerkleTree",
    "hash_pair",
    "leaf_hash",
    "leaves_of",
    "merkle_root",
    "merkle_root_packed",
    "process_proof",
    "verify_proof",
    "verify_record",
]

HASH_SIZE = 32
_RECORD_SIZE = 16  # ledger_node.record.RECORD_SIZE; kept local so this module stays import-light
_UINT32_MAX = 2**32 - 1


def leaf_hash(index: int, record: bytes) -> bytes:
    """``keccak256(uint32_be(index) || record)`` for a 16-byte record at position ``index``."""
    if len(record) != _RECORD_SIZE:
        raise RecordFormatError(f"a record is {_RECORD_SIZE} bytes, got {len(record)}")
    if not 0 <= index <= _UINT32_MAX:
        raise MerkleProofError(f"leaf index must be a uint32, got {index}")
    return keccak256(index.to_bytes(4, "big") + bytes(record))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """Commutative ``keccak256(min(a,b) || max(a,b))`` (OpenZeppelin ``Hashes.commutativeKeccak256``)."""
    return keccak256(a + b if a < b else b + a)


def leaves_of(records: Sequence[bytes]) -> list[bytes]:
    """Leaf hashes of a list of 16-byte records, in record order."""
    h = keccak256
    leaves = []
    for index, record in enumerate(records):
        if len(record) != _RECORD_SIZE:
            raise RecordFormatError(f"record {index}: a record is {_RECORD_SIZE} bytes, got {len(record)}")
        leaves.append(h(index.to_bytes(4, "big") + record))
    return leaves


def _packed_leaves(data: bytes) -> list[bytes]:
    if len(data) % _RECORD_SIZE:
        raise RecordFormatError(f"records length must be a multiple of {_RECORD_SIZE}, got {len(data)}")
    h = keccak256
    return [
        h(index.to_bytes(4, "big") + data[offset : offset + _RECORD_SIZE])
        for index, offset in enumerate(range(0, len(data), _RECORD_SIZE))
    ]


def _next_level(level: list[bytes]) -> list[bytes]:
    h = keccak256
    nxt = [
        h(a + b if a < b else b + a) for a, b in zip(level[0::2], level[1::2], strict=False)
    ]  # zip stops at the shorter list: an odd last node is not paired...
    if len(level) & 1:
        nxt.append(level[-1])  # ...but carried up unchanged
    return nxt


def _root_of_leaves(level: list[bytes]) -> bytes:
    if not level:
        raise MerkleProofError("a Merkle tree needs at least one record")
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def merkle_root(records: Sequence[bytes]) -> bytes:
    """Root over a list of 16-byte records without keeping the tree (fast path)."""
    return _root_of_leaves(leaves_of(records))


def merkle_root_packed(data: bytes) -> bytes:
    """Root over packed records (``16 * count`` bytes), as the contract's ``disputeBatch`` computes it."""
    return _root_of_leaves(_packed_leaves(bytes(data)))


@dataclass(frozen=True, slots=True)
class MerkleTree:
    """All levels of the tree: ``levels[0]`` are the leaves, ``levels[-1] == [root]``."""

    levels: tuple[list[bytes], ...]

    @classmethod
    def from_leaves(cls, leaves: Sequence[bytes]) -> MerkleTree:
        """Build from already computed leaf hashes."""
        level = list(leaves)
        if not level:
            raise MerkleProofError("a Merkle tree needs at least one record")
        levels = [level]
        while len(level) > 1:
            level = _next_level(level)
            levels.append(level)
        return cls(tuple(levels))

    @classmethod
    def from_records(cls, records: Sequence[bytes]) -> MerkleTree:
        """Build from a list of 16-byte records."""
        return cls.from_leaves(leaves_of(records))

    @classmethod
    def from_packed(cls, data: bytes) -> MerkleTree:
        """Build from packed records (``16 * count`` bytes)."""
        return cls.from_leaves(_packed_leaves(bytes(data)))

    @property
    def root(self) -> bytes:
        """The 32-byte root."""
        return self.levels[-1][0]

    @property
    def leaves(self) -> list[bytes]:
        """The leaf hashes, in record order."""
        return self.levels[0]

    def __len__(self) -> int:
        return len(self.levels[0])

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from leaf ``index`` up to (excluding) the root."""
        if not 0 <= index < len(self.levels[0]):
            raise MerkleProofError(f"leaf index {index} out of range for {len(self.levels[0])} leaves")
        path = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index >>= 1
        return path

    def proofs(self) -> list[list[bytes]]:
        """Proofs of every leaf, in leaf order (one pass per level, no per-leaf range checks)."""
        count = len(self.levels[0])
        paths: list[list[bytes]] = [[] for _ in range(count)]
        for depth, level in enumerate(self.levels[:-1]):
            size = len(level)
            for index in range(count):
                sibling = (index >> depth) ^ 1
                if sibling < size:
                    paths[index].append(level[sibling])
        return paths


def process_proof(proof: Sequence[bytes], leaf: bytes) -> bytes:
    """Fold ``hash_pair`` over ``proof`` starting from ``leaf`` (OpenZeppelin ``processProof``).

    Raises:
        MerkleProofError: ``leaf`` or a proof element is not 32 bytes.
    """
    if len(leaf) != HASH_SIZE:
        raise MerkleProofError(f"leaf must be {HASH_SIZE} bytes, got {len(leaf)}")
    h = keccak256
    computed = bytes(leaf)
    for position, node in enumerate(proof):
        if len(node) != HASH_SIZE:
            raise MerkleProofError(f"proof element {position} must be {HASH_SIZE} bytes, got {len(node)}")
        node = bytes(node)
        computed = h(computed + node if computed < node else node + computed)
    return computed


def verify_proof(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    """True when ``proof`` proves ``leaf`` under ``root`` (OpenZeppelin ``MerkleProof.verify``).

    Raises:
        MerkleProofError: malformed input (an element that is not 32 bytes), as opposed to a
            well-formed proof that simply does not verify (``False``).
    """
    return process_proof(proof, leaf) == bytes(root)


def verify_record(record: bytes, index: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True when the 16-byte ``record`` at position ``index`` is proven under ``root``."""
    return verify_proof(proof, root, leaf_hash(index, record))
