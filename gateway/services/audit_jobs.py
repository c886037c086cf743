"""Audits run in the background: ``POST /v1/audit/verify`` starts one, a status URL follows it.

:class:`AuditJobs` runs :func:`gateway.services.audit.audit_verify` (or any function of the same
shape) in a daemon thread per job. A second request for the same scope (one country, or all) while
one runs gets the running job rather than a new audit; at most ``max_running`` audits run at once
(:class:`AuditBusyError` beyond). The latest ``keep`` jobs are remembered, in memory: a restarted
process forgets them (an audit is cheap to run again, and its verdict is about the chain *now*).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.errors import AuditBusyError, GatewayError
from gateway.services.audit import AuditReport
from ledger_node.errors import CrossBlockError

__all__ = ["AuditBusyError", "AuditJob", "AuditJobs", "AuditRunner"]

#: ``runner(country, progress)``: the audit itself (``progress`` is called with the running report).
AuditRunner = Callable[[str | None, Callable[[AuditReport], None]], AuditReport]

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


@dataclass
class AuditJob:
    """One audit: ``state`` running → succeeded (``report`` set; ``report.ok`` is the verdict) or failed
    (``error`` set, ``exception`` the error that stopped it)."""

    id: str
    country: str | None
    started_at: float
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


class AuditJobs:
    """The audit jobs of one gateway process."""

    def __init__(
        self,
        runner: AuditRunner,
        *,
        keep: int = 100,
        max_running: int = 2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._runner = runner
        self._keep = keep
        self._max_running = max_running
        self._clock = clock
        self._jobs: OrderedDict[str, AuditJob] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, *, country: str | None = None) -> AuditJob:
        """Start an audit of ``country`` (None: every country), or return the one already running.

        Raises:
            AuditBusyError: ``max_running`` audits are running.
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
        threading.Thread(target=self._run, args=(job,), name=f"audit-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> AuditJob | None:
        """The job with ``job_id``, if it is remembered."""
        with self._lock:
            return self._jobs.get(job_id)

    def _run(self, job: AuditJob) -> None:
        def progress(report: AuditReport) -> None:
            job.batches_checked = report.batches_checked
            job.records_checked = report.records_checked

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
            job.done.set()
