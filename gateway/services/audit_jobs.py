"""Audits run in the background: ``POST /v1/audit/verify`` starts one, a status URL follows it.

:class:`AuditJobs` runs :func:`gateway.services.audit.audit_verify` (or any function of the same
shape) in a daemon thread per job. A second request for the same scope (one country, or all) while
one runs in this process gets the running job rather than a new audit; at most ``max_running``
audits run at once per process (:class:`AuditBusyError` beyond).

With a ``store`` directory (the gateway's data directory), each job's state is also written there
as JSON (atomically, on start, at most once a second while it runs, and at the end), so that any
worker process of the same gateway answers the status URL, whichever worker started the job. A
job whose process died while running is reported failed. The latest ``keep`` jobs are kept.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.errors import AuditBusyError, GatewayError
from gateway.services.audit import AuditReport
from ledger_node.errors import CrossBlockError

__all__ = ["FAILED", "RUNNING", "SUCCEEDED", "AuditBusyError", "AuditJob", "AuditJobs", "AuditRunner"]

#: ``runner(country, progress)``: the audit itself (``progress`` is called with the running report).
AuditRunner = Callable[[str | None, Callable[[AuditReport], None]], AuditReport]

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"
_SAVE_INTERVAL = 1.0
_JOB_ID_CHARS = frozenset("0123456789abcdef")


def report_dict(report: AuditReport) -> dict[str, Any]:
    """An audit report as JSON-ready values."""
    return {
        "ok": report.ok,
        "country": report.country,
        "from_block": report.from_block,
        "to_block": report.to_block,
        "batches_checked": report.batches_checked,
        "records_checked": report.records_checked,
        "discrepancies": [
            {"country": d.country, "seq": d.seq, "index": d.idx, "message": d.message}
            for d in report.discrepancies
        ],
        "notes": list(report.notes),
        "seconds": report.seconds,
    }


@dataclass
class AuditJob:
    """One audit: ``state`` running → succeeded (``report`` set; ``report.ok`` is the verdict) or failed
    (``error`` set, ``exception`` the error that stopped it, in the process that ran it)."""

    id: str
    country: str | None
    started_at: float
    pid: int = field(default_factory=os.getpid)
    state: str = RUNNING
    finished_at: float | None = None
    batches_checked: int = 0
    records_checked: int = 0
    report: AuditReport | None = None
    error: str | None = None
    exception: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the job to finish; True if it has."""
        return self.done.wait(timeout)

    def to_dict(self) -> dict[str, Any]:
        """The job's public state as JSON-ready values."""
        return {
            "id": self.id,
            "state": self.state,
            "country": self.country,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "batches_checked": self.batches_checked,
            "records_checked": self.records_checked,
            "report": None if self.report is None else report_dict(self.report),
            "error": self.error,
        }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class AuditJobs:
    """The audit jobs of one gateway (shared through ``store`` by its worker processes)."""

    def __init__(
        self,
        runner: AuditRunner,
        *,
        store: Path | None = None,
        keep: int = 100,
        max_running: int = 2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._runner = runner
        self._store = store
        self._keep = keep
        self._max_running = max_running
        self._clock = clock
        self._jobs: OrderedDict[str, AuditJob] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------ public
    def start(self, *, country: str | None = None) -> AuditJob:
        """Start an audit of ``country`` (None: every country), or return the one already running.

        Raises:
            AuditBusyError: ``max_running`` audits are running in this process.
        """
        scope = country.upper() if country else None
        with self._lock:
            running = [job for job in self._jobs.values() if job.state == RUNNING]
            for job in running:
                if job.country == scope:
                    return job
            if len(running) >= self._max_running:
                raise AuditBusyError(
                    f"{len(running)} audits are running (at most {self._max_running}); retry when one ends"
                )
            job = AuditJob(id=secrets.token_hex(8), country=scope, started_at=self._clock())
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:
                oldest = next(iter(self._jobs.values()))
                if oldest.state == RUNNING:
                    break
                self._jobs.popitem(last=False)
        self._save(job)
        self._prune()
        threading.Thread(target=self._run, args=(job,), name=f"audit-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> AuditJob | None:
        """The job with ``job_id`` if this process runs or ran it."""
        with self._lock:
            return self._jobs.get(job_id)

    def status(self, job_id: str) -> dict[str, Any] | None:
        """The public state of job ``job_id`` (see :meth:`AuditJob.to_dict`), from this process or
        from the store (a job left running by a process that is gone is reported failed)."""
        job = self.get(job_id)
        if job is not None:
            return job.to_dict()
        if self._store is None or not (len(job_id) == 16 and set(job_id) <= _JOB_ID_CHARS):
            return None
        try:
            saved: dict[str, Any] = json.loads((self._store / f"{job_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        pid = saved.pop("pid", None)
        if saved.get("state") == RUNNING and isinstance(pid, int) and not _alive(pid):
            saved["state"] = FAILED
            saved["error"] = "the gateway process that ran this audit stopped before it ended"
        return saved

    # ---------------------------------------------------------------------------------- internals
    def _save(self, job: AuditJob) -> None:
        if self._store is None:
            return
        try:
            self._store.mkdir(parents=True, exist_ok=True)
            tmp = self._store / f".{job.id}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps({**job.to_dict(), "pid": job.pid}), encoding="utf-8")
            tmp.replace(self._store / f"{job.id}.json")
        except OSError:  # the in-process state still answers; other workers see an older state
            return

    def _prune(self) -> None:
        if self._store is None:
            return
        try:
            files = sorted(self._store.glob("*.json"), key=lambda p: p.stat().st_mtime)
            for path in files[: max(0, len(files) - self._keep)]:
                path.unlink(missing_ok=True)
        except OSError:
            return

    def _run(self, job: AuditJob) -> None:
        saved_at = self._clock()

        def progress(report: AuditReport) -> None:
            nonlocal saved_at
            job.batches_checked = report.batches_checked
            job.records_checked = report.records_checked
            if self._clock() - saved_at >= _SAVE_INTERVAL:
                saved_at = self._clock()
                self._save(job)

        try:
            report = self._runner(job.country, progress)
        except (GatewayError, CrossBlockError, OSError) as exc:
            job.error = f"{type(exc).__name__}: {exc}"
            job.exception = exc
            job.state = FAILED
        except Exception as exc:  # a job must always end; the error is kept for the status URL
            job.error = f"unexpected {type(exc).__name__}: {exc}"
            job.exception = exc
            job.state = FAILED
        else:
            job.report = report
            job.batches_checked = report.batches_checked
            job.records_checked = report.records_checked
            job.state = SUCCEEDED
        finally:
            job.finished_at = self._clock()
            self._save(job)
            job.done.set()
