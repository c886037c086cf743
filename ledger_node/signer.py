"""Batch signers: who holds a country's signing key and how a digest gets signed.

:class:`Signer` is the whole interface the rest of CrossBlock relies on: an ``address`` and
``sign_digest(digest) -> 65 bytes``. Implementations here keep the key in process memory:

* :class:`LocalSigner`: a raw private key (tests, devnet);
* :class:`KeystoreSigner`: an encrypted Web3 Secret Storage (v3) keystore file, decrypted on load.

An HSM or cloud KMS signer implements the same protocol outside this module: its ``sign_digest``
asks the device to sign the 32-byte digest (ECDSA secp256k1, *no* further hashing), then converts
the answer (often DER) to ``r || s || v`` with ``s`` normalized to the lower half of the curve order
and ``v = 27 + recovery_id``, finding the recovery id by trying both and comparing the recovered
address. :func:`sign_batch` checks every signature by recovery, so a signer that gets this wrong
fails loudly here instead of with ``CrossBlockInvalidSignature`` on chain.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from eth_account import Account
from eth_keys.datatypes import PrivateKey
from eth_utils.exceptions import ValidationError

from ledger_node.batch import Batch, digest, recover_digest_signer
from ledger_node.errors import KeystoreError, SignatureError

__all__ = [
    "KeystoreSigner",
    "LocalSigner",
    "Signer",
    "create_keystore",
    "sign_batch",
]

Kdf = Literal["scrypt", "pbkdf2"]


@runtime_checkable
class Signer(Protocol):
    """Anything that can sign a 32-byte EIP-712 digest for one Ethereum address."""

    @property
    def address(self) -> str:
        """Checksum address of the signing key (registered as a country signer in the contract)."""
        ...

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest as is; return 65 bytes ``r || s || v`` with ``v`` in {27, 28}."""
        ...


def sign_batch(signer: Signer, batch: Batch, chain_id: int, verifying_contract: str) -> bytes:
    """EIP-712 signature of ``batch`` for the ledger at ``verifying_contract`` on ``chain_id``.

    The signature is verified by recovery before it is returned.

    Raises:
        SignatureError: the signer returned a malformed signature or one from another key.
    """
    message_digest = digest(batch, chain_id, verifying_contract)
    signature = bytes(signer.sign_digest(message_digest))
    recovered = recover_digest_signer(message_digest, signature)
    if recovered.lower() != signer.address.lower():
        raise SignatureError(f"signer {signer.address} produced a signature recovering to {recovered}")
    return signature


def _private_key(private_key: bytes | str) -> PrivateKey:
    if isinstance(private_key, str):
        text = private_key.removeprefix("0x").removeprefix("0X")
        try:
            private_key = bytes.fromhex(text)
        except ValueError:
            raise SignatureError("private key is not valid hex") from None
    if not isinstance(private_key, bytes | bytearray) or len(private_key) != 32:
        raise SignatureError("private key must be 32 bytes")
    try:
        return PrivateKey(bytes(private_key))
    except ValidationError:
        raise SignatureError("private key is not a valid secp256k1 scalar") from None


class LocalSigner:
    """Signs with a private key held in memory. For tests and devnet; production uses a keystore/HSM."""

    __slots__ = ("_address", "_key")

    def __init__(self, private_key: bytes | str) -> None:
        """``private_key``: 32 bytes or a (``0x``-prefixed) 64-hex-digit string."""
        self._key = _private_key(private_key)
        self._address = str(self._key.public_key.to_checksum_address())

    @property
    def address(self) -> str:
        """Checksum address of the key."""
        return self._address

    def sign_digest(self, digest: bytes) -> bytes:
        """Deterministic (RFC 6979), low-``s`` signature; ``v`` in {27, 28}."""
        if not isinstance(digest, bytes | bytearray) or len(digest) != 32:
            raise SignatureError("a digest is 32 bytes")
        sig = self._key.sign_msg_hash(bytes(digest))
        r: int = sig.r
        s: int = sig.s
        v: int = sig.v
        return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + v])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(address={self._address!r})"


class KeystoreSigner(LocalSigner):
    """A :class:`LocalSigner` whose key comes from an encrypted keystore file."""

    __slots__ = ("path",)

    def __init__(self, private_key: bytes | str, path: Path | None = None) -> None:
        super().__init__(private_key)
        self.path = path

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], password: str) -> KeystoreSigner:
        """Decrypt a Web3 Secret Storage (v3) keystore.

        Raises:
            KeystoreError: missing/unreadable file, not a keystore, wrong password, or the file's
                ``address`` field does not match its key.
        """
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeystoreError(f"keystore file not found: {file}") from None
        except OSError as exc:
            raise KeystoreError(f"cannot read keystore {file}: {exc.strerror or exc}") from None
        try:
            keyfile = json.loads(text)
        except ValueError:
            raise KeystoreError(f"keystore {file} is not JSON") from None
        if not isinstance(keyfile, dict) or "crypto" not in {k.lower() for k in keyfile}:
            raise KeystoreError(f"keystore {file} is not a Web3 Secret Storage file (no 'crypto')")
        try:
            key = bytes(Account.decrypt(keyfile, password))
        except ValueError as exc:
            if "MAC mismatch" in str(exc):
                raise KeystoreError(f"wrong password for keystore {file}") from None
            raise KeystoreError(f"cannot decrypt keystore {file}: {exc}") from None
        except (KeyError, TypeError) as exc:
            raise KeystoreError(f"keystore {file} is malformed: missing or bad field {exc}") from None
        signer = cls(key, file)
        declared = keyfile.get("address")
        if isinstance(declared, str) and declared.lower().removeprefix("0x") != signer.address[2:].lower():
            raise KeystoreError(
                f"keystore {file} declares address {declared} but holds the key of {signer.address}"
            )
        return signer

    def __repr__(self) -> str:
        return f"{type(self).__name__}(address={self._address!r}, path={str(self.path)!r})"


def create_keystore(
    path: str | os.PathLike[str],
    password: str,
    private_key: bytes | None = None,
    *,
    kdf: Kdf = "scrypt",
    iterations: int | None = None,
    overwrite: bool = False,
) -> str:
    """Encrypt ``private_key`` (a fresh random key when ``None``) into a keystore file; return its address.

    ``kdf``/``iterations`` default to eth-account's standard scrypt parameters. Tests and devnet may
    pass a cheap setting (e.g. ``kdf="pbkdf2", iterations=2`` or ``kdf="scrypt", iterations=2``);
    never do so for a real key. The file is created with mode 0600 and an existing file is never
    replaced unless ``overwrite=True``.

    Raises:
        KeystoreError: bad key, bad KDF parameters, existing file, or the file cannot be written.
    """
    file = Path(path)
    if file.exists() and not overwrite:
        raise KeystoreError(f"keystore {file} already exists (pass overwrite=True to replace it)")
    if private_key is None:
        private_key = os.urandom(32)
    try:
        signer = LocalSigner(private_key)
        keyfile = Account.encrypt(private_key, password, kdf=kdf, iterations=iterations)
    except SignatureError as exc:
        raise KeystoreError(f"cannot create keystore {file}: {exc}") from None
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise KeystoreError(f"cannot create keystore {file}: {exc}") from None
    tmp = file.with_name(file.name + ".tmp")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(keyfile, out)
        os.replace(tmp, file)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise KeystoreError(f"cannot write keystore {file}: {exc.strerror or exc}") from None
    return signer.address
