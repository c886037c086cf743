"""Shared test vectors: ``python -m ledger_node.vectors --write | --check``.

Writes (or checks unchanged) ``vectors/records.json``, ``vectors/merkle.json`` and
``vectors/eip712.json``, read by both pytest and the forge tests, plus the "Worked example" section
at the end of ``docs/record-format.md``. Everything is deterministic: fixed salts, fixed inputs and a
fixed, publicly known TEST private key (``0x00..01``). Never use that key for anything real.

JSON is kept simple for forge's ``vm.parseJson*``: ``0x`` hex strings for bytes, JSON numbers for
integers (all below 2**53), arrays of hex strings for proofs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ledger_node.batch import (
    BATCH_TYPE,
    BATCH_TYPEHASH,
    DOMAIN_NAME,
    DOMAIN_TYPEHASH,
    DOMAIN_VERSION,
    ZERO_HASH,
    Batch,
    digest,
    domain_separator,
    struct_hash,
)
from ledger_node.hashing import keccak256
from ledger_node.identifiers import parse_imei
from ledger_node.merkle import MerkleTree
from ledger_node.record import UINT32_MAX, IdType, Kind, Record, case_commitment, pack_records
from ledger_node.signer import LocalSigner, sign_batch

__all__ = ["TEST_CHAIN_ID", "TEST_PRIVATE_KEY", "TEST_SALT", "TEST_VERIFYING_CONTRACT", "build", "main"]

#: Publicly known TEST key (scalar 1). Its address is 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf.
TEST_PRIVATE_KEY = "0x" + "00" * 31 + "01"
TEST_CHAIN_ID = 31337
#: The address anvil gives the first contract deployed by its account #0 (nonce 0).
TEST_VERIFYING_CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
#: Fixed test salt 0x000102..1f (a real salt comes from ``record.new_salt()``).
TEST_SALT = bytes(range(32))
TEST_COUNTRY = "IN"

_WARNING = "TEST VECTORS ONLY: the private key is the publicly known scalar 1. Never use it for real."
_ROOT = Path(__file__).resolve().parent.parent
_DOC_HEADING = "## Worked example"
_DOC_INTRO = (
    "See `vectors/records.json`, `vectors/merkle.json` and `vectors/eip712.json`; a worked example is\n"
    "generated from them in the section below by `python -m ledger_node.vectors --write`."
)

# (name, input as a regulator would send it, id type, kind, reportedAt, caseRef)
_RECORD_CASES: tuple[tuple[str, str, IdType, Kind, int, str], ...] = (
    ("stolen-imei15", "490154203237518", IdType.IMEI, Kind.STOLEN, 1_700_000_000, "IN-DL-2023-000001"),
    ("lost-imeisv16", "3520990017614823", IdType.IMEI, Kind.LOST, 1_704_067_200, "IN-MH-2024-000042"),
    (
        "recovered-pei",
        "imei-352099001761481",
        IdType.IMEI,
        Kind.RECOVERED,
        1_704_153_600,
        "IN-MH-2024-000042",
    ),
    ("duplicated-peisv", "IMEISV-4901542032375101", IdType.IMEI, Kind.DUPLICATED, 1_710_000_000, "IN-KA-7"),
    ("invalid-core14", "86000000000000", IdType.IMEI, Kind.INVALID, 1_720_000_000, "IN-TN-2024-31337"),
    ("withdrawn", "49015420323751", IdType.IMEI, Kind.WITHDRAWN, 1_725_000_000, "IN-DL-2023-000001"),
    ("time-zero", "35000000000001", IdType.IMEI, Kind.STOLEN, 0, "edge-min"),
    ("time-max", "99999999999999", IdType.IMEI, Kind.LOST, UINT32_MAX, "edge-max"),
    ("meid-stolen", "A0000000002329", IdType.MEID, Kind.STOLEN, 1_730_000_000, "IN-MEID-1"),
)

# Records the contract must reject with CrossBlockMalformedRecord(index, typeKind).
_MALFORMED_TYPE_KINDS: tuple[tuple[str, int], ...] = (
    ("zero", 0x00),
    ("type-0", 0x01),
    ("type-3", 0x31),
    ("kind-0", 0x10),
    ("kind-7", 0x17),
    ("kind-15", 0x1F),
    ("meid-kind-0", 0x20),
    ("all-ones", 0xFF),
)

_MERKLE_SIZES = (1, 2, 3, 5, 8)


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _identifier(value: str, id_type: IdType) -> str:
    return parse_imei(value) if id_type is IdType.IMEI else value.lower()


def _record_cases() -> list[tuple[str, str, str, Record]]:
    cases = []
    for name, value, id_type, kind, reported_at, case_ref in _RECORD_CASES:
        record = Record(
            _identifier(value, id_type), kind, reported_at, case_commitment(TEST_SALT, case_ref), id_type
        )
        cases.append((name, value, case_ref, record))
    return cases


def build_records() -> dict[str, Any]:
    """``records.json``: record fields -> packed 16 bytes, plus malformed records."""
    cases = []
    for name, value, case_ref, record in _record_cases():
        cases.append(
            {
                "name": name,
                "input": value,
                "identifier": record.identifier,
                "idType": int(record.id_type),
                "kind": int(record.kind),
                "kindName": record.kind.name,
                "typeKind": record.type_kind,
                "reportedAt": record.reported_at,
                "caseRef": case_ref,
                "caseCommitment": _hex(record.case_commitment),
                "packed": _hex(record.pack()),
            }
        )
    valid = _record_cases()[0][3].pack()
    malformed = [
        {"name": name, "typeKind": type_kind, "packed": _hex(bytes([type_kind]) + valid[1:])}
        for name, type_kind in _MALFORMED_TYPE_KINDS
    ]
    return {
        "description": "16-byte records per docs/record-format.md; caseCommitment = "
        "keccak256(salt || utf8(caseRef))[0:4]",
        "recordSize": 16,
        "salt": _hex(TEST_SALT),
        "caseCount": len(cases),
        "cases": cases,
        "malformedCount": len(malformed),
        "malformed": malformed,
    }


def _merkle_records(size: int) -> list[bytes]:
    return [
        Record(
            f"{35_000_000 + size:08d}{index:06d}",
            Kind(1 + index % 6),
            1_700_000_000 + 60 * index,
            case_commitment(TEST_SALT, f"IN-TEST-{size}-{index}"),
        ).pack()
        for index in range(size)
    ]


def build_merkle() -> dict[str, Any]:
    """``merkle.json``: trees of 1, 2, 3, 5 and 8 records with leaves, root and every proof."""
    cases = []
    for size in _MERKLE_SIZES:
        records = _merkle_records(size)
        tree = MerkleTree.from_records(records)
        packed = b"".join(records)
        cases.append(
            {
                "name": f"n{size}",
                "count": size,
                "records": [_hex(r) for r in records],
                "packed": _hex(packed),
                "recordsHash": _hex(keccak256(packed)),
                "leaves": [_hex(leaf) for leaf in tree.leaves],
                "root": _hex(tree.root),
                "proofs": [[_hex(node) for node in proof] for proof in tree.proofs()],
            }
        )
    return {
        "description": "leaf_i = keccak256(uint32_be(i) || record_i); hashPair commutative; odd node "
        "carried up; proofs bottom-up (OpenZeppelin MerkleProof)",
        "caseCount": len(cases),
        "cases": cases,
    }


def _batch_entry(batch: Batch, records: bytes, signer: LocalSigner) -> dict[str, Any]:
    signature = sign_batch(signer, batch, TEST_CHAIN_ID, TEST_VERIFYING_CONTRACT)
    head = struct_hash(batch)
    return {
        "country": _hex(batch.country_code),
        "countryCode": batch.country,
        "seq": batch.seq,
        "prevHead": _hex(batch.prev_head),
        "records": _hex(records),
        "recordsHash": _hex(batch.records_hash),
        "merkleRoot": _hex(batch.merkle_root),
        "count": batch.count,
        "structHash": _hex(head),
        "head": _hex(head),
        "digest": _hex(digest(batch, TEST_CHAIN_ID, TEST_VERIFYING_CONTRACT)),
        "signature": _hex(signature),
        "r": _hex(signature[0:32]),
        "s": _hex(signature[32:64]),
        "v": signature[64],
        "signer": signer.address,
    }


def build_eip712() -> dict[str, Any]:
    """``eip712.json``: domain, typehash and two chained signed batches (seq 1 and 2)."""
    signer = LocalSigner(TEST_PRIVATE_KEY)
    first_records = pack_records(record for _, _, _, record in _record_cases())
    second_records = b"".join(_merkle_records(5))
    first = Batch.build(TEST_COUNTRY, 1, ZERO_HASH, first_records)
    second = first.next(second_records)
    return {
        "warning": _WARNING,
        "privateKey": TEST_PRIVATE_KEY,
        "signer": signer.address,
        "chainId": TEST_CHAIN_ID,
        "verifyingContract": TEST_VERIFYING_CONTRACT,
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "batchType": BATCH_TYPE,
        "typehash": _hex(BATCH_TYPEHASH),
        "domainTypehash": _hex(DOMAIN_TYPEHASH),
        "domainSeparator": _hex(domain_separator(TEST_CHAIN_ID, TEST_VERIFYING_CONTRACT)),
        "batchCount": 2,
        "batches": [
            _batch_entry(first, first_records, signer),
            _batch_entry(second, second_records, signer),
        ],
    }


def build() -> dict[str, dict[str, Any]]:
    """Every vector file, by file name."""
    return {
        "records.json": build_records(),
        "merkle.json": build_merkle(),
        "eip712.json": build_eip712(),
    }


def render(content: dict[str, Any]) -> str:
    """The exact text of a vector file."""
    return json.dumps(content, indent=2) + "\n"


def worked_example(vectors: dict[str, dict[str, Any]]) -> str:
    """The "Worked example" section of docs/record-format.md, generated from the vectors."""
    rec = vectors["records.json"]["cases"][0]
    packed = bytes.fromhex(rec["packed"][2:])
    tree = vectors["merkle.json"]["cases"][2]
    eip = vectors["eip712.json"]
    b1, b2 = eip["batches"]
    lines = [
        _DOC_HEADING,
        "",
        _DOC_INTRO,
        "",
        "<!-- Generated by `python -m ledger_node.vectors --write`; do not edit by hand. -->",
        "",
        "### A record",
        "",
        f"Input `{rec['input']}` (15-digit IMEI, check digit verified then dropped), kind "
        f"{rec['kindName']}, reported at {rec['reportedAt']}, case reference `{rec['caseRef']}`, "
        f"salt `{vectors['records.json']['salt']}` (test salt):",
        "",
        "| bytes | field | value |",
        "|---|---|---|",
        f"| `{packed[0:1].hex()}` | typeKind | type {rec['idType']} (IMEI), kind {rec['kind']} |",
        f"| `{packed[1:8].hex()}` | identifier | IMEI core `{rec['identifier']}` |",
        f"| `{packed[8:12].hex()}` | reportedAt | {rec['reportedAt']} |",
        f"| `{packed[12:16].hex()}` | caseCommitment | keccak256(salt ‖ utf8(caseRef))[0:4] |",
        "",
        f"    record = {rec['packed']}",
        "",
        f"### Merkle tree of {tree['count']} records (`merkle.json` case `{tree['name']}`)",
        "",
    ]
    lines += [f"    leaf_{i} = {leaf}" for i, leaf in enumerate(tree["leaves"])]
    names = {leaf: f"leaf_{i}" for i, leaf in enumerate(tree["leaves"])}
    names[tree["proofs"][-1][0]] = "node"  # the last record's only sibling is hashPair(leaf_0, leaf_1)
    lines += [
        f"    node   = hashPair(leaf_0, leaf_1) = {tree['proofs'][-1][0]}",
        f"    root   = hashPair(node, leaf_2)   = {tree['root']}",
        "",
        "Proofs, bottom-up (leaf_2 has no sibling at the first level, so its proof skips it):",
        "",
    ]
    lines += [f"    proof({i}) = [{', '.join(names[n] for n in p)}]" for i, p in enumerate(tree["proofs"])]
    lines += [
        "",
        "### Signed batches (`eip712.json`)",
        "",
        f"Test key `{eip['privateKey']}` (publicly known, test only) = signer `{eip['signer']}`, "
        f"chainId {eip['chainId']}, verifyingContract `{eip['verifyingContract']}`.",
        "",
        f"    BATCH_TYPEHASH  = {eip['typehash']}",
        f"    domainSeparator = {eip['domainSeparator']}",
        "",
    ]
    for entry in (b1, b2):
        lines += [
            f"Batch seq {entry['seq']} of `{entry['countryCode']}` ({entry['count']} records):",
            "",
            f"    country     = {entry['country']}",
            f"    prevHead    = {entry['prevHead']}",
            f"    recordsHash = {entry['recordsHash']}",
            f"    merkleRoot  = {entry['merkleRoot']}",
            f"    head        = structHash = {entry['structHash']}",
            f"    digest      = {entry['digest']}",
            f"    signature   = {entry['signature']}",
            "",
        ]
    lines.append("Batch 2's `prevHead` is batch 1's head: the log is a hash chain.")
    return "\n".join(lines) + "\n"


def updated_doc(doc: str, section: str) -> str:
    """``doc`` with everything from the last "## Worked example" heading replaced by ``section``."""
    at = doc.rfind("\n" + _DOC_HEADING + "\n")
    if at < 0:
        raise ValueError(f"no '{_DOC_HEADING}' heading in the record format document")
    return doc[: at + 1] + section


def _targets(root: Path, vectors: dict[str, dict[str, Any]]) -> list[tuple[Path, str]]:
    targets = [(root / "vectors" / name, render(content)) for name, content in vectors.items()]
    doc_path = root / "docs" / "record-format.md"
    doc = doc_path.read_text(encoding="utf-8")
    targets.append((doc_path, updated_doc(doc, worked_example(vectors))))
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m ledger_node.vectors", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write vectors/*.json and the docs example")
    mode.add_argument("--check", action="store_true", help="fail if any file differs from the generated one")
    parser.add_argument("--root", type=Path, default=_ROOT, help="repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    targets = _targets(args.root, build())
    if args.write:
        for path, text in targets:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path}")
        return 0
    stale = [path for path, text in targets if not path.exists() or path.read_text(encoding="utf-8") != text]
    for path in stale:
        print(f"out of date: {path} (run python -m ledger_node.vectors --write)", file=sys.stderr)
    if not stale:
        print(f"{len(targets)} files up to date")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
