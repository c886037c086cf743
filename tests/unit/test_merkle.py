"""Merkle tree and proofs (OpenZeppelin MerkleProof semantics) and the keccak256 helper."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from eth_utils.crypto import keccak as reference_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_node.errors import MerkleProofError, RecordFormatError
from ledger_node.hashing import (
    EMPTY_KECCAK,
    _concat_of,
    _keccak256_public,
    _make_fast,
    _make_pysha3,
    _make_pysha3_concat,
    keccak256,
    keccak256_concat,
)
from ledger_node.merkle import (
    MerkleTree,
    hash_pair,
    leaf_hash,
    leaves_of,
    merkle_root,
    merkle_root_packed,
    process_proof,
    verify_proof,
    verify_record,
)

record_lists = st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=70)


def reference_root(records: list[bytes]) -> bytes:
    """Recursive restatement of docs/record-format.md, independent of the implementation."""
    level = [reference_keccak(i.to_bytes(4, "big") + r) for i, r in enumerate(records)]
    while len(level) > 1:
        paired = []
        for i in range(0, len(level), 2):
            if i + 1 < len(level):
                a, b = sorted((level[i], level[i + 1]))
                paired.append(reference_keccak(a + b))
            else:
                paired.append(level[i])
        level = paired
    return level[0]


@given(st.binary(max_size=300))
def test_keccak256_matches_reference(data: bytes) -> None:
    assert keccak256(data) == reference_keccak(data) == _keccak256_public(data)


@pytest.mark.parametrize("make", [_make_pysha3, _make_fast], ids=["safe-pysha3", "pycryptodome-raw"])
def test_every_keccak256_backend_matches_reference(make: Callable[[], Callable[[bytes], bytes]]) -> None:
    fn = make()
    for data in (b"", b"abc", bytes(range(256)) * 3, b"\xff" * 135, b"\x01" * 136, b"\x02" * 137):
        assert fn(data) == reference_keccak(data)


@pytest.mark.parametrize(
    "make",
    [_make_pysha3_concat, lambda: _concat_of(_make_fast())],
    ids=["safe-pysha3", "each-of-pycryptodome-raw"],
)
@given(preimages=st.lists(st.binary(max_size=200), max_size=20))
def test_keccak256_concat_is_every_digest_in_order(
    make: Callable[[], Callable[[list[bytes]], bytes]], preimages: list[bytes]
) -> None:
    expected = b"".join(reference_keccak(data) for data in preimages)
    assert make()(preimages) == keccak256_concat(iter(preimages)) == expected


def test_keccak256_known_values_and_threads() -> None:
    assert keccak256(b"") == EMPTY_KECCAK
    assert keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    errors: list[bytes] = []

    def work(seed: int) -> None:
        for i in range(500):
            data = bytes([seed]) * (i % 150)
            if keccak256(data) != reference_keccak(data):
                errors.append(data)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_leaf_and_pair_definitions() -> None:
    record = bytes(range(16))
    assert leaf_hash(7, record) == reference_keccak(b"\x00\x00\x00\x07" + record)
    a, b = keccak256(b"a"), keccak256(b"b")
    assert hash_pair(a, b) == hash_pair(b, a) == reference_keccak(min(a, b) + max(a, b))
    with pytest.raises(RecordFormatError, match="a record is 16 bytes, got 15"):
        leaf_hash(0, record[:15])
    with pytest.raises(MerkleProofError, match="uint32"):
        leaf_hash(2**32, record)


def test_one_record_root_is_its_leaf() -> None:
    record = bytes(16)
    tree = MerkleTree.from_records([record])
    assert tree.root == leaf_hash(0, record)
    assert tree.proof(0) == []
    assert tree.proofs() == [[]]
    assert verify_proof([], tree.root, leaf_hash(0, record))


def test_three_records_odd_node_carried_up() -> None:
    records = [bytes([i]) * 16 for i in range(3)]
    leaves = [leaf_hash(i, r) for i, r in enumerate(records)]
    node = hash_pair(leaves[0], leaves[1])
    tree = MerkleTree.from_records(records)
    assert tree.levels == ([*leaves], [node, leaves[2]], [hash_pair(node, leaves[2])])
    assert tree.proofs() == [[leaves[1], leaves[2]], [leaves[0], leaves[2]], [node]]


@settings(deadline=None)  # up to 70 records: slow examples on a loaded machine are not failures
@given(record_lists)
def test_every_proof_verifies(records: list[bytes]) -> None:
    tree = MerkleTree.from_records(records)
    packed = b"".join(records)
    assert tree.root == reference_root(records)
    assert merkle_root(records) == tree.root
    assert merkle_root_packed(packed) == tree.root
    assert MerkleTree.from_packed(packed) == tree
    assert tree.leaves == leaves_of(records)
    assert len(tree) == len(records)
    proofs = tree.proofs()
    assert len(proofs) == len(records)
    for index, record in enumerate(records):
        assert proofs[index] == tree.proof(index)
        assert verify_proof(proofs[index], tree.root, leaf_hash(index, record))
        assert verify_record(record, index, proofs[index], tree.root)
        assert process_proof(proofs[index], tree.leaves[index]) == tree.root


@settings(deadline=None)
@given(record_lists, st.data())
def test_tampering_is_detected(records: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree.from_records(records)
    index = data.draw(st.integers(0, len(records) - 1))
    proof = tree.proof(index)
    record = records[index]
    # a different record at the same index
    flip = data.draw(st.integers(0, 127))
    tampered = bytearray(record)
    tampered[flip // 8] ^= 1 << (flip % 8)
    assert not verify_record(bytes(tampered), index, proof, tree.root)
    # the same record claimed at another index (the index is bound into the leaf)
    other = data.draw(st.integers(0, 2**32 - 1).filter(lambda i: i != index))
    assert not verify_record(record, other, proof, tree.root)
    # a modified proof element
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[position] = keccak256(bad[position])
        assert not verify_record(record, index, bad, tree.root)
    # a wrong root
    assert not verify_record(record, index, proof, keccak256(tree.root))


def test_bad_inputs() -> None:
    with pytest.raises(MerkleProofError, match="at least one record"):
        MerkleTree.from_records([])
    with pytest.raises(MerkleProofError, match="at least one record"):
        merkle_root([])
    with pytest.raises(MerkleProofError, match="at least one record"):
        merkle_root_packed(b"")
    with pytest.raises(RecordFormatError, match="record 1: a record is 16 bytes, got 17"):
        MerkleTree.from_records([bytes(16), bytes(17)])
    with pytest.raises(RecordFormatError, match="multiple of 16, got 20"):
        MerkleTree.from_packed(bytes(20))
    tree = MerkleTree.from_records([bytes(16)] * 3)
    for index in (-1, 3):
        with pytest.raises(MerkleProofError, match=f"leaf index {index} out of range for 3 leaves"):
            tree.proof(index)
    with pytest.raises(MerkleProofError, match="proof element 1 must be 32 bytes, got 31"):
        verify_proof([bytes(32), bytes(31)], tree.root, tree.leaves[0])
    with pytest.raises(MerkleProofError, match="leaf must be 32 bytes"):
        verify_proof([], tree.root, bytes(16))
