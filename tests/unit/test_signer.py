"""Signers: the protocol, local keys and encrypted keystores (cheap KDF settings)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from eth_account import Account

from ledger_node.batch import ZERO_HASH, Batch, recover_signer
from ledger_node.errors import KeystoreError, SignatureError
from ledger_node.signer import KeystoreSigner, LocalSigner, Signer, create_keystore, sign_batch

KEY = bytes(31) + b"\x01"
ADDRESS = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
LEDGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
BATCH = Batch("IN", 1, ZERO_HASH, b"\x01" * 32, b"\x02" * 32, 1)


def test_local_signer() -> None:
    signer = LocalSigner(KEY)
    assert isinstance(signer, Signer)
    assert signer.address == ADDRESS
    assert LocalSigner("0x" + KEY.hex()).address == ADDRESS
    assert LocalSigner(KEY.hex()).address == ADDRESS
    digest = os.urandom(32)
    assert signer.sign_digest(digest) == bytes(Account.from_key(KEY).unsafe_sign_hash(digest).signature)
    assert KEY.hex() not in repr(signer)
    assert ADDRESS in repr(signer)
    with pytest.raises(SignatureError, match="a digest is 32 bytes"):
        signer.sign_digest(bytes(31))


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (bytes(32), "not a valid secp256k1 scalar"),
        (bytes(31), "must be 32 bytes"),
        ("0xzz", "not valid hex"),
    ],
)
def test_bad_private_keys(key: bytes | str, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        LocalSigner(key)


class WrongKeySigner:
    """A misbehaving external signer (e.g. an HSM slot holding another key)."""

    address = ADDRESS

    def sign_digest(self, digest: bytes) -> bytes:
        return LocalSigner(bytes(31) + b"\x02").sign_digest(digest)


class HighSSigner:
    """An external signer that forgets to normalize s (raw HSM/KMS output)."""

    address = ADDRESS
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

    def sign_digest(self, digest: bytes) -> bytes:
        sig = LocalSigner(KEY).sign_digest(digest)
        s = int.from_bytes(sig[32:64], "big")
        return sig[:32] + (self.n - s).to_bytes(32, "big") + bytes([55 - sig[64]])


def test_sign_batch_verifies_the_signer() -> None:
    signature = sign_batch(LocalSigner(KEY), BATCH, 31337, LEDGER)
    assert recover_signer(BATCH, signature, 31337, LEDGER) == ADDRESS
    with pytest.raises(SignatureError, match=f"signer {ADDRESS} produced a signature recovering to 0x"):
        sign_batch(WrongKeySigner(), BATCH, 31337, LEDGER)
    with pytest.raises(SignatureError, match="upper half"):
        sign_batch(HighSSigner(), BATCH, 31337, LEDGER)


@pytest.mark.parametrize("kdf", ["scrypt", "pbkdf2"])
def test_keystore_roundtrip(tmp_path: Path, kdf: str) -> None:
    path = tmp_path / "keys" / "in-signer.json"
    address = create_keystore(path, "correct horse", KEY, kdf=kdf, iterations=2)  # type: ignore[arg-type]
    assert address == ADDRESS
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keyfile = json.loads(path.read_text())
    assert keyfile["crypto"]["kdf"] == kdf
    assert KEY.hex() not in path.read_text()
    signer = KeystoreSigner.from_file(path, "correct horse")
    assert signer.address == ADDRESS
    assert signer.path == path
    assert sign_batch(signer, BATCH, 1, LEDGER) == sign_batch(LocalSigner(KEY), BATCH, 1, LEDGER)
    assert str(path) in repr(signer)
    assert KEY.hex() not in repr(signer)


def test_keystore_random_key(tmp_path: Path) -> None:
    path = tmp_path / "new.json"
    address = create_keystore(path, "pw", kdf="scrypt", iterations=2)
    assert address != ADDRESS
    assert KeystoreSigner.from_file(path, "pw").address == address


def test_keystore_errors(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    create_keystore(path, "pw", KEY, kdf="pbkdf2", iterations=2)
    with pytest.raises(KeystoreError, match=f"wrong password for keystore {path}"):
        KeystoreSigner.from_file(path, "not the password")
    missing = tmp_path / "missing.json"
    with pytest.raises(KeystoreError, match=f"keystore file not found: {missing}"):
        KeystoreSigner.from_file(missing, "pw")
    with pytest.raises(KeystoreError, match="already exists"):
        create_keystore(path, "pw", KEY, kdf="pbkdf2", iterations=2)
    assert create_keystore(path, "pw2", KEY, kdf="pbkdf2", iterations=2, overwrite=True) == ADDRESS
    assert KeystoreSigner.from_file(path, "pw2").address == ADDRESS
    with pytest.raises(KeystoreError, match="not a valid secp256k1 scalar"):
        create_keystore(tmp_path / "zero.json", "pw", bytes(32), kdf="pbkdf2", iterations=2)
    assert not (tmp_path / "zero.json").exists()
    notjson = tmp_path / "notjson.json"
    notjson.write_text("{")
    with pytest.raises(KeystoreError, match="is not JSON"):
        KeystoreSigner.from_file(notjson, "pw")
    wrong_shape = tmp_path / "list.json"
    wrong_shape.write_text("[]")
    with pytest.raises(KeystoreError, match="not a Web3 Secret Storage file"):
        KeystoreSigner.from_file(wrong_shape, "pw")
    with pytest.raises(KeystoreError, match="cannot read keystore"):
        KeystoreSigner.from_file(tmp_path, "pw")  # a directory


def test_keystore_address_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    create_keystore(path, "pw", KEY, kdf="pbkdf2", iterations=2)
    keyfile = json.loads(path.read_text())
    keyfile["address"] = "00" * 20
    path.write_text(json.dumps(keyfile))
    with pytest.raises(KeystoreError, match=f"declares address {'00' * 20} but holds the key of {ADDRESS}"):
        KeystoreSigner.from_file(path, "pw")
