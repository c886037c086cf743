"""The committed vectors/*.json equal what the library generates, and are right on their own terms."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from ledger_node import vectors
from ledger_node.batch import Batch, typed_data
from ledger_node.identifiers import parse_imei
from ledger_node.merkle import verify_proof
from ledger_node.record import Record, decode_records

ROOT = Path(__file__).resolve().parents[2]
FILES = ("records.json", "merkle.json", "eip712.json")


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((ROOT / "vectors" / name).read_text(encoding="utf-8")))


def b(text: str) -> bytes:
    assert text.startswith("0x")
    return bytes.fromhex(text[2:])


@pytest.mark.parametrize("name", FILES)
def test_committed_files_match_generator(name: str) -> None:
    generated = vectors.build()[name]
    assert load(name) == generated
    assert (ROOT / "vectors" / name).read_text(encoding="utf-8") == vectors.render(generated)


def test_docs_worked_example_is_current() -> None:
    doc = (ROOT / "docs" / "record-format.md").read_text(encoding="utf-8")
    assert vectors.updated_doc(doc, vectors.worked_example(vectors.build())) == doc
    assert doc.count("## Worked example") == 1


def test_check_and_write_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert vectors.main(["--check"]) == 0
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "record-format.md", tmp_path / "docs" / "record-format.md")
    assert vectors.main(["--check", "--root", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert vectors.main(["--write", "--root", str(tmp_path)]) == 0
    assert vectors.main(["--check", "--root", str(tmp_path)]) == 0
    for name in FILES:
        assert (tmp_path / "vectors" / name).read_bytes() == (ROOT / "vectors" / name).read_bytes()
    (tmp_path / "vectors" / "merkle.json").write_text("{}")
    assert vectors.main(["--check", "--root", str(tmp_path)]) == 1


def test_records_vectors_independently() -> None:
    data = load("records.json")
    salt = b(data["salt"])
    kinds = set()
    times = set()
    for case in data["cases"]:
        packed = b(case["packed"])
        assert len(packed) == 16
        assert packed[0] == case["typeKind"] == case["idType"] << 4 | case["kind"]
        assert packed[1:8].hex() == case["identifier"]
        assert int.from_bytes(packed[8:12], "big") == case["reportedAt"]
        assert b(case["caseCommitment"]) == keccak(salt + case["caseRef"].encode())[:4] == packed[12:16]
        record = Record.unpack(packed)
        assert record.kind.name == case["kindName"]
        if case["idType"] == 1:
            assert parse_imei(case["input"]) == case["identifier"]
        kinds.add(case["kind"])
        times.add(case["reportedAt"])
    assert kinds == {1, 2, 3, 4, 5, 6}
    assert {0, 2**32 - 1} <= times
    assert {len(c["input"]) for c in data["cases"] if c["input"].isdigit()} >= {14, 15, 16}
    for bad in data["malformed"]:
        with pytest.raises(ValueError, match=f"record 0: typeKind 0x{bad['typeKind']:02x}"):
            decode_records(b(bad["packed"]))


def test_merkle_vectors_independently() -> None:
    data = load("merkle.json")
    assert [c["count"] for c in data["cases"]] == [1, 2, 3, 5, 8]
    for case in data["cases"]:
        records = [b(r) for r in case["records"]]
        assert b"".join(records) == b(case["packed"])
        assert keccak(b(case["packed"])) == b(case["recordsHash"])
        leaves = [keccak(i.to_bytes(4, "big") + r) for i, r in enumerate(records)]
        assert [b(x) for x in case["leaves"]] == leaves
        for index, proof in enumerate(case["proofs"]):
            assert verify_proof([b(p) for p in proof], b(case["root"]), leaves[index])


def test_eip712_vectors_independently() -> None:
    data = load("eip712.json")
    assert Account.from_key(data["privateKey"]).address == data["signer"]
    assert keccak(text=data["batchType"]) == b(data["typehash"])
    prev = bytes(32)
    for seq, entry in enumerate(data["batches"], start=1):
        records = b(entry["records"])
        batch = Batch(
            b(entry["country"]).decode(),
            entry["seq"],
            b(entry["prevHead"]),
            keccak(records),
            b(entry["merkleRoot"]),
            len(records) // 16,
        )
        assert (batch.seq, batch.prev_head, batch.count) == (seq, prev, entry["count"])
        assert batch == Batch.build(entry["countryCode"], seq, prev, records)
        message = encode_typed_data(
            full_message=typed_data(batch, data["chainId"], data["verifyingContract"])
        )
        assert message.header == b(data["domainSeparator"])
        assert message.body == b(entry["structHash"]) == b(entry["head"])
        digest = keccak(b"\x19" + message.version + message.header + message.body)
        assert digest == b(entry["digest"])
        signature = b(entry["signature"])
        assert signature == b(entry["r"]) + b(entry["s"]) + bytes([entry["v"]])
        assert Account._recover_hash(digest, signature=signature) == data["signer"]
        prev = b(entry["head"])
