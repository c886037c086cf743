"""SQLAlchemy tables of a gateway. Schemas for the APIs live apart, in gateway.api.schemas.

Natural keys make re-application idempotent: a ledger record is ``(country, seq, idx)``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Status codes stored in device_status (compact; names in gateway.services.status).
WHITELISTED, GREYLISTED, BLACKLISTED = 0, 1, 2


class Base(DeclarativeBase):
    """Declarative base of every gateway table."""


class RegisterEntry(Base):
    """The national register: this country's current entry for each IMEI it ever reported."""

    __tablename__ = "register_entries"
    imei: Mapped[str] = mapped_column(String(14), primary_key=True)
    kind: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[int] = mapped_column(BigInteger)
    case_salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    case_commitment: Mapped[bytes] = mapped_column(LargeBinary(4))
    updated_at: Mapped[int] = mapped_column(BigInteger)


class OutboxRecord(Base):
    """A record waiting to be published, in report order; ``batch_seq`` is set when it is batched."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record: Mapped[bytes] = mapped_column(LargeBinary(16))
    imei: Mapped[str] = mapped_column(String(14))
    kind: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger)
    batch_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, default=None)
    batch_index: Mapped[int | None] = mapped_column(Integer, default=None)


class PublishedBatch(Base):
    """A batch this gateway signed: persisted before it is submitted, so it is never lost or re-signed."""

    __tablename__ = "published_batches"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    prev_head: Mapped[bytes] = mapped_column(LargeBinary(32))
    head: Mapped[bytes] = mapped_column(LargeBinary(32))
    records_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    merkle_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    count: Mapped[int] = mapped_column(Integer)
    records: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary(65))
    signer: Mapped[str] = mapped_column(String(42))
    state: Mapped[str] = mapped_column(String(16), index=True)  # signed | submitted | confirmed
    tx_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    block_number: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[int] = mapped_column(BigInteger)
    submitted_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    confirmed_at: Mapped[int | None] = mapped_column(BigInteger, default=None)


class LedgerBatch(Base):
    """A verified batch of any country, applied from the chain."""

    __tablename__ = "ledger_batches"
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    prev_head: Mapped[bytes] = mapped_column(LargeBinary(32))
    head: Mapped[bytes] = mapped_column(LargeBinary(32))
    records_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    merkle_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    count: Mapped[int] = mapped_column(Integer)
    signer: Mapped[str] = mapped_column(String(42))
    signature: Mapped[bytes] = mapped_column(LargeBinary(65))
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    block_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    tx_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    log_index: Mapped[int] = mapped_column(Integer)
    records: Mapped[bytes] = mapped_column(LargeBinary)  # the packed records, exactly as published


class LedgerRecord(Base):
    """Where each record of a verified batch sits, clustered by IMEI: the IMEI's history and the input
    of its effective-status fold (the latest record of each country for the IMEI).

    ``(country, seq, idx)`` is the record's natural key; the primary key leads with the IMEI so that
    every record of an IMEI is one range of one B-tree (on SQLite a ``WITHOUT ROWID`` table: no
    separate table and index to write per record). ``kind`` is the kind (1..6) for IMEI records and
    the whole ``typeKind`` byte (>= 0x21) for other identifier types. The 16 packed bytes of every
    record, case commitment included, are in ``LedgerBatch.records``.
    """

    __tablename__ = "ledger_records"
    imei: Mapped[str] = mapped_column(String(14), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = ({"sqlite_with_rowid": False},)


class DeviceStatus(Base):
    """Effective status of an IMEI under this gateway's policy, maintained incrementally.

    ``change_id`` grows monotonically with every change: it is the cursor of the delta feed.
    """

    __tablename__ = "device_status"
    imei: Mapped[str] = mapped_column(String(14), primary_key=True)
    status: Mapped[int] = mapped_column(Integer)
    origins: Mapped[str] = mapped_column(Text)  # comma-separated countries behind the status (any number)
    change_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # On SQLite the rows live in the primary-key B-tree (no rowid table beside it): a lookup is one
    # descent and the blocklist snapshot reads the rows in IMEI order.
    __table_args__ = ({"sqlite_with_rowid": False},)


class CountryLog(Base):
    """Per-country sync state: last applied seq and head; ``blocked_seq`` if a batch is quarantined."""

    __tablename__ = "country_logs"
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    head: Mapped[bytes] = mapped_column(LargeBinary(32))
    blocked_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)


class SignerKey(Base):
    """A country's signing key and the blocks it is active in, from the contract's signer events."""

    __tablename__ = "signer_keys"
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    signer: Mapped[str] = mapped_column(String(42), primary_key=True)
    active_from: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, default=None)


class SyncCursor(Base):
    """How far the syncer has applied the chain (one row)."""

    __tablename__ = "sync_cursor"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class SeenBlock(Base):
    """Recent block hashes, to detect a reorganisation and rewind."""

    __tablename__ = "seen_blocks"
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class QuarantinedBatch(Base):
    """A batch that failed verification (``reason``), or one held behind it, never applied."""

    __tablename__ = "quarantine"
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(8))  # rejected | held
    reason: Mapped[str] = mapped_column(Text)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    tx_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    log_index: Mapped[int] = mapped_column(Integer)
    header: Mapped[bytes] = mapped_column(LargeBinary)  # prev_head|records_hash|root|count|signer|sig
    records: Mapped[bytes] = mapped_column(LargeBinary)
    detected_at: Mapped[int] = mapped_column(BigInteger)


class CheckEvent(Base):
    """Counters of status checks, for effectiveness statistics (blocked-attach attempts)."""

    __tablename__ = "check_stats"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    origin: Mapped[str] = mapped_column(String(8), primary_key=True)  # country behind a hit, or "-"
    status: Mapped[int] = mapped_column(Integer, primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, default=0)


class ApiKey(Base):
    """An HTTP API key: only its SHA-256 hash is stored."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, default=None)


class Meta(Base):
    """Key/value facts about this database (policy fingerprint, schema notes)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
