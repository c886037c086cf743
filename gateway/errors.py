"""Exceptions of the gateway package: one root, meaningful subclasses.

They are mapped to exit codes in the CLI and to RFC 9457 problem responses in the HTTP layer,
only at those edges.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Root of every error raised by the gateway."""


class ConfigurationError(GatewayError):
    """Settings are missing or inconsistent (country, deployment, keystore, database)."""


class ReportRejectedError(GatewayError):
    """A regulator's report breaks a register rule; nothing was changed."""


class ForeignBlockError(ReportRejectedError):
    """A country tried to clear a block that another country placed."""

    def __init__(self, imei: str, country: str, owners: list[str]) -> None:
        self.imei = imei
        self.country = country
        self.owners = owners
        super().__init__(
            f"{country} cannot clear IMEI {imei}: it is blocked by {', '.join(owners)}; "
            "only the country that blocked an IMEI can clear its own block"
        )


class NotBlockedError(ReportRejectedError):
    """A recovery or withdrawal for an IMEI this country has no active entry for."""


class PublishConflictError(GatewayError):
    """The chain holds a different batch at a seq this gateway believes it published."""


class SyncError(GatewayError):
    """The syncer cannot make progress (node unreachable, reorg deeper than kept history)."""


class ImportFileError(GatewayError):
    """A register snapshot file cannot be read at all (missing, unknown format, no header)."""


class AuditFailedError(GatewayError):
    """``audit verify`` found discrepancies between the chain and the database."""


class BatchVerificationError(GatewayError):
    """A batch read from the chain failed verification; it is quarantined, never applied.

    ``code`` is a short stable identifier of the failed check (``seq-gap``, ``head-mismatch``,
    ``records-length``, ``records-hash``, ``malformed-record``, ``merkle-root``, ``bad-signature``,
    ``signer-mismatch``, ``signer-not-active``); ``reason`` is the human-readable explanation.
    """

    def __init__(self, reason: str, *, code: str = "invalid", country: str = "", seq: int = 0) -> None:
        self.reason = reason
        self.code = code
        self.country = country
        self.seq = seq
        super().__init__(reason)


class FeedRequestError(GatewayError, ValueError):
    """A blocklist delta-feed request out of range (negative cursor, page size out of bounds)."""


class CursorAheadError(FeedRequestError):
    """A feed cursor above the newest change: it was not issued by this gateway's database."""

    def __init__(self, after: int, head: int) -> None:
        self.after = after
        self.head = head
        super().__init__(
            f"cursor {after} is ahead of the newest change ({head}): it was not issued by this gateway; "
            "start again from a snapshot or from cursor 0"
        )


class AuditBusyError(GatewayError):
    """Too many audits are running already; try again when one ends."""
