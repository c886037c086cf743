"""The one keccak256 helper of ledger_node.

Merkle trees hash thousands of tiny preimages (20 and 64 bytes), so per-call overhead dominates.
Measured on the 2-core dev machine, per 64-byte hash:

* ``eth_hash.auto.keccak``: ~14 µs (dispatch + pycryptodome object)
* ``Crypto.Hash.keccak.new(...).digest()``: ~7-10 µs (object creation, ctypes state allocation)
* pycryptodome's raw C library, reusing one state per thread: ~2 µs (three ctypes calls)
* safe-pysha3's C extension ``sha3.keccak_256(data).digest()``: ~0.5 µs (one C call)

:func:`keccak256` uses safe-pysha3 (a pinned dependency). If it is missing or fails the import-time
self-test, pycryptodome's raw C library with a per-thread state (safe from any thread); if that
cannot be used either (it is a private pycryptodome interface), the public ``Crypto.Hash.keccak`` API.
"""

from __future__ import annotations

import ctypes
import importlib
import threading
from collections.abc import Callable, Iterable
from operator import methodcaller
from typing import Any, Protocol, cast

from Crypto.Hash import keccak as _keccak_mod

__all__ = ["EMPTY_KECCAK", "keccak256", "keccak256_concat"]

#: keccak256(b"") — used as the import-time self-test of the fast path.
EMPTY_KECCAK = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")

_KECCAK_PADDING = 0x01  # original Keccak padding (SHA-3 uses 0x06)
_DIGEST_SIZE = 32


def _keccak256_public(data: bytes) -> bytes:
    """keccak256 via pycryptodome's public API (slower, always available)."""
    return bytes(_keccak_mod.new(data=data, digest_bits=256).digest())


class _State:
    """A raw Keccak-256 C state plus output buffer, freed when garbage-collected."""

    __slots__ = ("_destroy", "out", "ptr")

    def __init__(self, init: Any, destroy: Any) -> None:
        ptr = ctypes.c_void_p()
        # capacity = 2 * digest size (512 bits) and 24 rounds: Keccak-256.
        err = init(ctypes.byref(ptr), 2 * _DIGEST_SIZE, 24)
        if err or not ptr.value:
            raise RuntimeError(f"keccak_init failed with error {err}")
        self.ptr: int = ptr.value
        self.out = ctypes.create_string_buffer(_DIGEST_SIZE)
        self._destroy = destroy

    def __del__(self) -> None:
        self._destroy(self.ptr)


class _ThreadState(threading.local):
    """One raw keccak state per thread, created lazily."""

    state: _State | None = None


def _make_fast() -> Callable[[bytes], bytes]:
    """Build the fast keccak256 over pycryptodome's raw C library (raises if it is unusable).

    The shared object is opened through our own ``ctypes.CDLL`` handle so that declaring
    ``argtypes`` does not alter the function objects pycryptodome itself uses.
    """
    lib = ctypes.CDLL(getattr(_keccak_mod, "_raw_keccak_lib")._name)  # noqa: B009 - private, untyped
    c_void_p, c_char_p, c_size_t, c_uint8 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint8
    init = lib.keccak_init
    init.argtypes = [ctypes.POINTER(c_void_p), c_size_t, c_uint8]
    destroy = lib.keccak_destroy
    destroy.argtypes = [c_void_p]
    reset = lib.keccak_reset
    reset.argtypes = [c_void_p]
    absorb = lib.keccak_absorb
    absorb.argtypes = [c_void_p, c_char_p, c_size_t]
    digest = lib.keccak_digest
    digest.argtypes = [c_void_p, c_char_p, c_size_t, c_uint8]
    for fn in (init, destroy, reset, absorb, digest):
        fn.restype = ctypes.c_int
    local = _ThreadState()

    def keccak256_fast(data: bytes) -> bytes:
        st = local.state
        if st is None:
            st = local.state = _State(init, destroy)
        ptr = st.ptr
        out = st.out
        reset(ptr)
        absorb(ptr, data, len(data))
        digest(ptr, out, _DIGEST_SIZE, _KECCAK_PADDING)
        return out.raw

    return keccak256_fast


class _Hash(Protocol):
    def digest(self) -> bytes: ...


def _pysha3_new() -> Callable[[bytes], _Hash]:
    return cast("Callable[[bytes], _Hash]", importlib.import_module("sha3").keccak_256)


def _make_pysha3() -> Callable[[bytes], bytes]:
    """keccak256 over safe-pysha3's C extension (raises ImportError if it is not installed)."""
    new = _pysha3_new()

    def keccak256_pysha3(data: bytes) -> bytes:
        return new(data).digest()

    return keccak256_pysha3


def _make_pysha3_concat() -> Callable[[Iterable[bytes]], bytes]:
    """keccak256_concat over safe-pysha3: C-level calls only, no Python frame per hash."""
    new = _pysha3_new()
    digest = methodcaller("digest")

    def keccak256_concat_pysha3(preimages: Iterable[bytes]) -> bytes:
        return b"".join(map(digest, map(new, preimages)))

    return keccak256_concat_pysha3


def _concat_of(single: Callable[[bytes], bytes]) -> Callable[[Iterable[bytes]], bytes]:
    def keccak256_concat_each(preimages: Iterable[bytes]) -> bytes:
        return b"".join(map(single, preimages))

    return keccak256_concat_each


def _passes_self_test(fn: Callable[[bytes], bytes]) -> bool:
    probe = b"CrossBlock" * 20
    return fn(b"") == EMPTY_KECCAK and fn(probe) == _keccak256_public(probe)


def _select() -> Callable[[bytes], bytes]:
    """Return the fastest implementation that passes its self-test, else the public-API one."""
    for make in (_make_pysha3, _make_fast):
        try:
            fast = make()
            if _passes_self_test(fast):
                return fast
        except Exception:  # pragma: no cover - depends on what is installed
            continue
    return _keccak256_public  # pragma: no cover


#: ``keccak256(data: bytes) -> bytes``: the 32-byte Keccak-256 of ``data`` (Ethereum's
#: ``keccak256``, not SHA3-256). Bound directly to the fastest implementation: no wrapper call.
keccak256: Callable[[bytes], bytes] = _select()


def _select_concat() -> Callable[[Iterable[bytes]], bytes]:
    if keccak256.__name__ == "keccak256_pysha3":
        return _make_pysha3_concat()
    return _concat_of(keccak256)  # pragma: no cover - depends on what is installed


#: ``keccak256_concat(preimages) -> bytes``: the 32-byte Keccak-256 digests of ``preimages``, in order,
#: as one byte string (digest ``i`` at ``32 * i``). For many small preimages: with safe-pysha3 it makes
#: no Python call per hash (~40 % less time per hash than mapping :data:`keccak256`).
keccak256_concat: Callable[[Iterable[bytes]], bytes] = _select_concat()
