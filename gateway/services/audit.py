"""``audit verify``: re-read the whole ledger from the chain, re-verify it, and compare the database.

The audit trusts neither the database nor the syncer. From ``deploy_block`` it re-fetches every
signer event and every batch, re-verifies each batch on its own state (seq contiguity, head chain,
records hash, well-formed records, Merkle root, signature by a key active at that block), and
compares byte for byte with the database:

* every ``LedgerBatch`` equals the chain's batch (header, signer, signature, block, tx, log index);
* every batch's stored records (``LedgerBatch.records``) equal the chain's, record by record;
  nothing missing (a quarantined or skipped batch is reported), nothing extra;
* the IMEI index (``LedgerRecord``) holds exactly one row per stored record, with its IMEI, kind
  and reported-at, and no row of a batch the database does not hold;
* each country's ``CountryLog`` (last seq, head) equals the contract's ``headOf`` at the audited block;
* ``SignerKey`` equals the signer events;
* for the publishing country, ``published_batches`` equals what the chain holds;
* the derived table: ``DeviceStatus`` is the policy fold of every IMEI's latest entries (full
  audit only).

The chain is read up to the sync cursor's block (what the database claims to cover), or to
``to_block``; with no cursor, to the latest block.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from gateway.db.models import WHITELISTED
from gateway.errors import BatchVerificationError
from gateway.services.apply import (
    SignerSet,
    Sql,
    event_head,
    read_cursor,
    stored_kind,
)
from gateway.services.status import Policy, fold
from gateway.services.verify import verify_batch
from gateway.settings import GatewaySettings
from ledger_node.batch import ZERO_HASH
from ledger_node.client import LedgerClient
from ledger_node.errors import CrossBlockError
from ledger_node.events import BatchEvent

__all__ = ["AuditReport", "Discrepancy", "audit_verify"]

#: Per category, at most this many discrepancies are listed one by one (then a count).
MAX_LISTED = 20


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One difference between the chain and the database (``str()`` is the human-readable form)."""

    country: str
    seq: int | None
    idx: int | None
    message: str

    def __str__(self) -> str:
        where = self.country or "-"
        if self.seq is not None:
            where += f"#{self.seq}"
        if self.idx is not None:
            where += f"[{self.idx}]"
        return f"{where}: {self.message}"


@dataclass
class AuditReport:
    """Result of :func:`audit_verify`: ``ok`` when there is no discrepancy."""

    from_block: int = 0
    to_block: int = 0
    country: str | None = None
    batches_checked: int = 0
    records_checked: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the database matches the chain exactly."""
        return not self.discrepancies

    def add(self, country: str, seq: int | None, message: str, idx: int | None = None) -> None:
        """Record a discrepancy."""
        self.discrepancies.append(Discrepancy(country, seq, idx, message))

    def lines(self) -> list[str]:
        """The discrepancies as text lines."""
        return [str(d) for d in self.discrepancies]


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


_BATCH_FIELDS = (
    "prev_head", "head", "records_hash", "merkle_root", "count", "signer", "signature",
    "block_number", "block_hash", "tx_hash", "log_index",
)  # fmt: skip


def _chain_fields(ev: BatchEvent, head: bytes) -> dict[str, Any]:
    pos = ev.position
    return {
        "prev_head": ev.prev_head,
        "head": head,
        "records_hash": ev.records_hash,
        "merkle_root": ev.merkle_root,
        "count": ev.count,
        "signer": ev.signer.lower(),
        "signature": ev.signature,
        "block_number": pos.block_number,
        "block_hash": pos.block_hash,
        "tx_hash": pos.tx_hash,
        "log_index": pos.log_index,
    }


def _slice(data: Any) -> list[tuple[int, str, int, bytes]]:
    """``(typeKind, identifier hex, reportedAt, caseCommitment)`` of each whole 16-byte record."""
    blob = bytes(data)
    out = []
    for o in range(0, len(blob) - len(blob) % 16, 16):
        at = int.from_bytes(blob[o + 8 : o + 12], "big")
        out.append((blob[o], blob[o + 1 : o + 8].hex(), at, blob[o + 12 : o + 16]))
    return out


def _norm(value: Any) -> Any:
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x"):
        return value.lower()
    return value


def _show(value: Any) -> str:
    return _hex(value) if isinstance(value, bytes) else str(value)


class _Auditor:
    def __init__(
        self,
        *,
        settings: GatewaySettings,
        conn: Connection,
        client: LedgerClient,
        country: str | None,
        report: AuditReport,
        progress: Callable[[AuditReport], None] | None,
    ) -> None:
        self.settings = settings
        self.sql = Sql(conn)
        self.client = client
        self.country = country
        self.report = report
        self.progress = progress
        self.index_counts: dict[tuple[str, int], int] = {}

    def _in_scope(self, cc: str) -> bool:
        return self.country is None or cc == self.country

    # ------------------------------------------------------------------------------------ signers
    def signers(self, to_block: int) -> SignerSet:
        chain = SignerSet()
        for event in self.client.fetch_signer_events(
            from_block=self.settings.deploy_block, to_block=to_block
        ):
            chain.add(event)
        db: dict[tuple[str, str], tuple[int, int | None]] = {
            (cc, signer.lower()): (int(a), None if r is None else int(r))
            for cc, signer, a, r in self.sql.all(
                "SELECT country, signer, active_from, revoked_at FROM signer_keys"
            )
        }
        for key in sorted(set(chain.keys) | set(db)):
            cc, signer = key
            if not self._in_scope(cc):
                continue
            on_chain, stored = chain.keys.get(key), db.get(key)
            if on_chain != stored:
                self.report.add(
                    cc,
                    None,
                    f"signer {signer}: database has active blocks {stored}, chain events say {on_chain}",
                )
        return chain

    # ------------------------------------------------------------------------------------ batches
    def batches(self, to_block: int, signers: SignerSet) -> dict[str, tuple[int, bytes]]:
        report, sql = self.report, self.sql
        where, params = ("WHERE country = ?", (self.country,)) if self.country else ("", ())
        db_batches: dict[tuple[str, int], dict[str, Any]] = {}
        for row in sql.all(
            "SELECT country, seq, prev_head, head, records_hash, merkle_root, count, signer, signature, "
            f"block_number, block_hash, tx_hash, log_index FROM ledger_batches {where}",
            params,
        ):
            db_batches[(row[0], int(row[1]))] = {
                name: _norm(value) for name, value in zip(_BATCH_FIELDS, row[2:], strict=True)
            }
        stored_batches = set(db_batches)
        self.index_counts = {
            (cc, int(seq)): int(n)
            for cc, seq, n in sql.all(
                f"SELECT country, seq, count(*) FROM ledger_records {where} GROUP BY country, seq", params
            )
        }
        quarantined = {
            (cc, int(seq)): (state, reason)
            for cc, seq, state, reason in sql.all(
                f"SELECT country, seq, state, reason FROM quarantine {where}", params
            )
        }
        state: dict[str, tuple[int, bytes]] = {}
        chain_id, ledger = self.client.chain_id, self.client.address
        own = self.settings.country
        published_rows = int(sql.one("SELECT count(*) FROM published_batches")[0])
        for ev in self.client.fetch_batches(
            from_block=self.settings.deploy_block,
            to_block=to_block,
            country=self.country,
            chunk_size=self.settings.sync_chunk_blocks,
        ):
            cc, seq = ev.country, ev.seq
            last_seq, last_head = state.get(cc, (0, ZERO_HASH))
            decoded = None
            try:
                verified = verify_batch(
                    ev,
                    expected_seq=last_seq + 1,
                    expected_prev_head=last_head,
                    chain_id=chain_id,
                    ledger_address=ledger,
                    signer_active=signers.active,
                )
                head, decoded = verified.head, verified.records
            except BatchVerificationError as exc:
                report.add(cc, seq, f"the batch on chain fails verification: [{exc.code}] {exc.reason}")
                head = event_head(ev)
            state[cc] = (seq, head)
            report.batches_checked += 1
            report.records_checked += ev.count
            stored = db_batches.pop((cc, seq), None)
            if stored is None:
                q = quarantined.pop((cc, seq), None)
                if q is not None:
                    report.add(cc, seq, f"not applied: quarantined ({q[0]}): {q[1]}")
                else:
                    report.add(cc, seq, f"missing from the database (block {ev.position.block_number})")
            else:
                expected = _chain_fields(ev, head)
                for name in _BATCH_FIELDS:
                    if stored[name] != expected[name]:
                        report.add(
                            cc, seq, f"batch {name} differs: database {_show(stored[name])}, "
                            f"chain {_show(expected[name])}",
                        )  # fmt: skip
                self.records(ev, decoded)
                q = quarantined.pop((cc, seq), None)
                if q is not None:
                    report.add(cc, seq, f"applied but also quarantined ({q[0]}): {q[1]}")
            if cc == own and self._in_scope(own):
                self.published(ev, head, has_rows=published_rows > 0)
            if self.progress is not None:
                self.progress(report)
        for (cc, seq), stored in sorted(db_batches.items()):
            if stored["block_number"] <= to_block:
                report.add(cc, seq, f"in the database but not on chain (block {stored['block_number']})")
        for (cc, seq), (q_state, reason) in sorted(quarantined.items()):
            report.add(cc, seq, f"quarantined ({q_state}) but not on chain up to block {to_block}: {reason}")
        for (cc, seq), n in sorted(self.index_counts.items()):
            if (cc, seq) not in stored_batches:
                report.add(cc, seq, f"{n} rows in the IMEI index (ledger_records) without their batch")
        return state

    def records(self, ev: BatchEvent, decoded: list[tuple[int, str, int, bytes]] | None) -> None:
        blob = self.sql.one(
            "SELECT records FROM ledger_batches WHERE country = ? AND seq = ?", (ev.country, ev.seq)
        )
        rows = [
            (i, ident, stored_kind(tk), at, com) for i, (tk, ident, at, com) in enumerate(_slice(blob[0]))
        ]
        if decoded is None:  # the chain's own batch is malformed: compare what can be sliced
            decoded = _slice(ev.records)
        expected = [(i, ident, stored_kind(tk), at, com) for i, (tk, ident, at, com) in enumerate(decoded)]
        self.index(ev, rows)
        if rows == expected:
            return
        listed = 0
        by_idx = {row[0]: row for row in rows}
        for exp in expected:
            got = by_idx.pop(exp[0], None)
            if got == exp:
                continue
            listed += 1
            if listed > MAX_LISTED:
                continue
            if got is None:
                self.report.add(ev.country, ev.seq, "record missing from the database", idx=exp[0])
            else:
                self.report.add(
                    ev.country, ev.seq,
                    f"record differs: database (imei {got[1]}, kind {got[2]}, reported_at {got[3]}, "
                    f"case {_hex(got[4])}), chain (imei {exp[1]}, kind {exp[2]}, reported_at {exp[3]}, "
                    f"case {_hex(exp[4])})",
                    idx=exp[0],
                )  # fmt: skip
        for idx in sorted(by_idx):
            listed += 1
            if listed <= MAX_LISTED:
                self.report.add(
                    ev.country, ev.seq, "record in the database but not in the chain's batch", idx=idx
                )
        if listed > MAX_LISTED:
            self.report.add(ev.country, ev.seq, f"... and {listed - MAX_LISTED} more record differences")

    def index(self, ev: BatchEvent, stored: list[tuple[int, str, int, int, bytes]]) -> None:
        """The IMEI index rows of a stored batch are exactly its records (IMEI, kind, reported-at)."""
        cc, seq = ev.country, ev.seq
        want = {(idx, imei, kind, at) for idx, imei, kind, at, _com in stored}
        have = {
            (int(idx), imei, int(kind), int(at))
            for imei, idx, kind, at in self.sql.in_chunks(
                "SELECT imei, idx, kind, reported_at FROM ledger_records "
                "WHERE country = ? AND seq = ? AND imei IN ({})",
                sorted({row[1] for row in stored}),
                (cc, seq),
            )
        }
        listed = 0
        for idx, imei, kind, at in sorted(want - have):
            listed += 1
            if listed <= MAX_LISTED:
                self.report.add(
                    cc, seq, f"IMEI index (ledger_records) lacks the record (imei {imei}, kind {kind}, "
                    f"reported_at {at})", idx=idx,
                )  # fmt: skip
        for idx, imei, kind, at in sorted(have - want):
            listed += 1
            if listed <= MAX_LISTED:
                self.report.add(
                    cc, seq, f"IMEI index (ledger_records) row (imei {imei}, kind {kind}, reported_at {at}) "
                    "is not the batch's record", idx=idx,
                )  # fmt: skip
        extra = self.index_counts.pop((cc, seq), 0) - len(have)
        if extra > 0:
            listed += 1
            self.report.add(cc, seq, f"{extra} rows in the IMEI index (ledger_records) are not its records")
        if listed > MAX_LISTED:
            self.report.add(cc, seq, f"... and {listed - MAX_LISTED} more IMEI index differences")

    def published(self, ev: BatchEvent, head: bytes, *, has_rows: bool) -> None:
        row = self.sql.one(
            "SELECT prev_head, head, records_hash, merkle_root, count, records, signature, signer, state, "
            "tx_hash FROM published_batches WHERE seq = ?",
            (ev.seq,),
        )
        if row is None:
            if has_rows:
                self.report.add(
                    ev.country,
                    ev.seq,
                    "on chain, signed by our country, but not in published_batches (who signed it?)",
                )
            return
        prev_head, p_head, records_hash, root, count, records, signature, signer, p_state, tx_hash = (
            _norm(v) for v in row
        )
        mismatches = [
            name
            for name, ours, chain in (
                ("prev_head", prev_head, ev.prev_head),
                ("head", p_head, head),
                ("records_hash", records_hash, ev.records_hash),
                ("merkle_root", root, ev.merkle_root),
                ("count", count, ev.count),
                ("records", records, ev.records),
                ("signature", signature, ev.signature),
                ("signer", signer, ev.signer.lower()),
            )
            if ours != chain
        ]
        if tx_hash is not None and tx_hash != ev.position.tx_hash and p_state == "confirmed":
            mismatches.append("tx_hash")
        if mismatches:
            self.report.add(
                ev.country, ev.seq, f"published batch differs from the chain in {', '.join(mismatches)}"
            )
        elif p_state != "confirmed":
            self.report.notes.append(
                f"{ev.country}#{ev.seq}: on chain, published_batches state still {p_state!r}"
            )

    def published_beyond(self, chain_seq: int) -> None:
        for seq, p_state in self.sql.all(
            "SELECT seq, state FROM published_batches WHERE seq > ? ORDER BY seq", (chain_seq,)
        ):
            if p_state == "confirmed":
                self.report.add(
                    self.settings.country,
                    int(seq),
                    "published_batches says confirmed, chain does not hold it",
                )
            else:
                self.report.notes.append(
                    f"{self.settings.country}#{seq}: published batch pending ({p_state})"
                )

    # ------------------------------------------------------------------------------------ heads
    def heads(self, to_block: int, state: dict[str, tuple[int, bytes]]) -> None:
        where, params = ("WHERE country = ?", (self.country,)) if self.country else ("", ())
        logs = {
            cc: (int(seq), bytes(head), blocked)
            for cc, seq, head, blocked in self.sql.all(
                f"SELECT country, last_seq, head, blocked_seq FROM country_logs {where}", params
            )
        }
        countries = set(state) | set(logs)
        if self.country:
            countries.add(self.country)
        for cc in sorted(countries):
            try:
                chain_head, chain_seq = self.client.head_of(cc, block=to_block)
            except CrossBlockError as exc:
                self.report.notes.append(
                    f"{cc}: headOf at block {to_block} unavailable ({exc}); used the events"
                )
                chain_seq, chain_head = state.get(cc, (0, ZERO_HASH))
            if state.get(cc, (0, ZERO_HASH)) != (chain_seq, chain_head):
                self.report.add(
                    cc, None, f"the batch events do not add up to headOf: events end at seq "
                    f"{state.get(cc, (0, ZERO_HASH))[0]}, headOf says seq {chain_seq}",
                )  # fmt: skip
            db_seq, db_head, blocked = logs.get(cc, (0, ZERO_HASH, None))
            if (db_seq, db_head) != (chain_seq, chain_head):
                self.report.add(
                    cc, db_seq or None, f"country log at seq {db_seq} head {_hex(db_head)}, "
                    f"headOf at block {to_block}: seq {chain_seq} head {_hex(chain_head)}",
                )  # fmt: skip
            if blocked is not None:
                self.report.add(cc, int(blocked), "country log blocked at this quarantined batch")
            if cc == self.settings.country and self._in_scope(cc):
                self.published_beyond(chain_seq)

    # ------------------------------------------------------------------------------------ derived
    def statuses(self) -> None:
        policy = Policy.from_settings(self.settings)
        listed = 0

        def check(imei: str, entries: list[tuple[str, int]], stored: tuple[int, str] | None) -> None:
            nonlocal listed
            want = fold(entries, policy)
            have = stored if stored is not None else (WHITELISTED, "")
            if want != have:
                listed += 1
                if listed <= MAX_LISTED:
                    countries = ",".join(sorted({cc for cc, _ in entries})) or "-"
                    self.report.add(
                        countries,
                        None,
                        f"IMEI {imei}: device_status {have}, the policy fold of its entries gives {want}",
                    )

        current: str | None = None
        group: dict[str, int] = {}
        stored: tuple[int, str] | None = None
        for imei, cc, kind, status, origins in self.sql.iterate(
            "SELECT r.imei, r.country, r.kind, d.status, d.origins FROM ledger_records r "
            "LEFT JOIN device_status d ON d.imei = r.imei WHERE r.kind < 16 "
            "ORDER BY r.imei, r.country, r.seq, r.idx"
        ):
            if imei != current:
                if current is not None:
                    check(current, sorted(group.items()), stored)
                current, group = imei, {}
                stored = None if status is None else (int(status), str(origins))
            group[cc] = int(kind)  # rows in key order: a country's latest record comes last
        if current is not None:
            check(current, sorted(group.items()), stored)
        for imei, status, origins in self.sql.all(
            "SELECT imei, status, origins FROM device_status WHERE status != ? "
            "AND imei NOT IN (SELECT imei FROM ledger_records WHERE kind < 16)",
            (WHITELISTED,),
        ):
            check(imei, [], (int(status), str(origins)))
        if listed > MAX_LISTED:
            self.report.add("", None, f"... and {listed - MAX_LISTED} more device_status differences")


def audit_verify(
    *,
    settings: GatewaySettings,
    engine: Engine,
    client: LedgerClient,
    country: str | None = None,
    progress: Callable[[AuditReport], None] | None = None,
    to_block: int | None = None,
    check_derived: bool = True,
) -> AuditReport:
    """Re-verify the chain and compare the database with it; see the module docstring.

    ``progress`` is called with the running report after each batch. The database is read in one
    snapshot (one SQLite read transaction / REPEATABLE READ on PostgreSQL).
    """
    started = time.perf_counter()
    country = country.upper() if country else None
    report = AuditReport(from_block=settings.deploy_block, country=country)
    options: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as conn:
        sql = Sql(conn)
        if engine.dialect.name == "sqlite":
            sql.run("BEGIN")  # one read snapshot for the whole audit
        try:
            cursor = read_cursor(conn)
            latest = client.block_number()
            end = to_block if to_block is not None else (cursor[0] if cursor is not None else latest)
            end = min(end, latest)
            report.to_block = end
            if cursor is None:
                report.notes.append("the database was never synced")
            elif latest > end:
                report.notes.append(
                    f"chain read up to the sync cursor (block {end}); latest block is {latest}"
                )
            auditor = _Auditor(
                settings=settings, conn=conn, client=client, country=country, report=report, progress=progress
            )
            signers = auditor.signers(end)
            state = auditor.batches(end, signers)
            auditor.heads(end, state)
            if check_derived and country is None:
                auditor.statuses()
        finally:
            sql.raw.rollback()
    report.seconds = time.perf_counter() - started
    return report
