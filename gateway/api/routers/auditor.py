"""Auditor: a device's ledger history with Merkle proofs, a country's verified log, audit jobs.

``POST /v1/audit/verify`` runs :func:`gateway.services.audit.audit_verify` in a background job
(:class:`gateway.services.audit_jobs.AuditJobs`): if it ends within
``settings.audit_sync_wait_seconds`` the answer is the finished job (200), else 202 with a
``Location`` to poll (``GET /v1/audit/jobs/{id}``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from gateway.api.deps import Auditor, ContextDep, SessionDep
from gateway.api.problems import ProblemError, problem_responses
from gateway.api.routers.devices import parse_path_imei
from gateway.api.schemas.auditor import AuditJobOut, AuditVerifyIn, CountryBatchesOut, HistoryOut
from gateway.api.schemas.common import MAX_INT64
from gateway.context import GatewayContext
from gateway.services.audit import AuditReport, audit_verify
from gateway.services.audit_jobs import FAILED, AuditJobs
from gateway.services.country_log import country_log
from gateway.services.history import device_history
from ledger_node.identifiers import imei15

__all__ = ["audit_jobs", "make_audit_jobs", "router"]

router = APIRouter(tags=["auditor"])

_JOB_PATH = "/v1/audit/jobs/{job_id}"


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + bytes(value).hex()


def make_audit_jobs(context: GatewayContext) -> AuditJobs:
    """Audit jobs running :func:`audit_verify` against ``context`` (one per app)."""

    def run(country: str | None, progress: Callable[[AuditReport], None]) -> AuditReport:
        return audit_verify(
            settings=context.settings,
            engine=context.engine,
            client=context.client,
            country=country,
            progress=progress,
        )

    return AuditJobs(run, store=context.settings.data_dir / "audit-jobs")


def audit_jobs(request: Request) -> AuditJobs:
    """The app's audit jobs (set up by :func:`gateway.api.routers.operations.install`)."""
    jobs: AuditJobs = request.app.state.audit_jobs
    return jobs


@router.get(
    "/v1/devices/{imei}/history",
    response_model=HistoryOut,
    summary="Every ledger record of a device, with Merkle proofs",
    responses=problem_responses(401, 403, 422),
)
def get_history(imei: str, _who: Auditor, session: SessionDep, context: ContextDep) -> dict[str, Any]:
    """Each record of the device on the ledger (any country), in chain order: country, kind, batch
    seq, index, transaction, block, signer, and the Merkle inclusion proof against the batch's
    signed root. Every proof also verifies on chain with the ledger's
    `verifyRecord(country, seq, index, record, proof)`. A device never reported has no records.
    `imei`: 14, 15 (Luhn-checked) or 16 digits, or a PEI. Role: auditor."""
    core = parse_path_imei(imei)
    with session.begin():
        items = device_history(session, imei=core)
    return {
        "imei": imei15(core),
        "ledger_address": context.settings.ledger_address,
        "records": [
            {
                "country": i.country,
                "kind": i.kind,
                "reported_at": i.reported_at,
                "case_commitment": i.case_commitment,
                "seq": i.seq,
                "index": i.index,
                "tx_hash": i.tx_hash,
                "block_number": i.block_number,
                "log_index": i.log_index,
                "signer": i.signer,
                "merkle_root": i.merkle_root,
                "record": i.record,
                "leaf": i.leaf,
                "proof": i.proof,
                "proof_valid": i.proof_valid,
            }
            for i in items
        ],
    }


@router.get(
    "/v1/countries/{cc}/batches",
    response_model=CountryBatchesOut,
    summary="A country's batches as verified here",
    responses=problem_responses(401, 403, 422),
)
def get_country_batches(
    cc: Annotated[str, Path(pattern="^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 country code")],
    _who: Auditor,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="batches per page")] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_INT64, description="only batches with a lower seq (paging)")
    ] = None,
) -> dict[str, Any]:
    """The batches of country `cc` this gateway verified and applied from the chain, newest first
    (header, signer, signature, block, transaction), the log's head, and any batch held back by
    verification (quarantine: `rejected`, or `held` behind a rejected one). A country with no
    batch has an empty log. Role: auditor."""
    with session.begin():
        view = country_log(session, country=cc, limit=limit, before=before)
        log = view.log
        batches = [
            {
                "seq": b.seq,
                "count": b.count,
                "prev_head": _hex(b.prev_head),
                "head": _hex(b.head),
                "records_hash": _hex(b.records_hash),
                "merkle_root": _hex(b.merkle_root),
                "signer": b.signer,
                "signature": _hex(b.signature),
                "block_number": b.block_number,
                "block_hash": _hex(b.block_hash),
                "tx_hash": _hex(b.tx_hash),
                "log_index": b.log_index,
            }
            for b in view.batches
        ]
        quarantined = [
            {
                "seq": q.seq,
                "state": q.state,
                "reason": q.reason,
                "block_number": q.block_number,
                "tx_hash": _hex(q.tx_hash),
                "detected_at": q.detected_at,
            }
            for q in view.quarantined
        ]
    last = view.batches[-1].seq if view.batches else None
    return {
        "country": view.country,
        "last_seq": log.last_seq if log is not None else 0,
        "head": _hex(log.head) if log is not None and log.last_seq else None,
        "blocked_seq": log.blocked_seq if log is not None else None,
        "batches": batches,
        "quarantined": quarantined,
        "next_before": last if len(batches) == limit and last is not None and last > 1 else None,
    }


def _job_out(job: dict[str, Any]) -> dict[str, Any]:
    return {**job, "status_url": _JOB_PATH.format(job_id=job["id"])}


@router.post(
    "/v1/audit/verify",
    response_model=AuditJobOut,
    summary="Audit the database against the chain",
    responses={
        202: {
            "model": AuditJobOut,
            "description": "The audit runs on: poll `Location` until `state` is not `running`.",
        },
        **problem_responses(401, 403, 422, 429, 503),
    },
)
async def post_audit_verify(
    _who: Auditor,
    context: ContextDep,
    request: Request,
    body: Annotated[
        AuditVerifyIn | None,
        Body(
            openapi_examples={
                "all": {"summary": "every country and the derived status tables", "value": {}},
                "one": {"summary": "one country's log", "value": {"country": "IN"}},
            }
        ),
    ] = None,
) -> JSONResponse:
    """Re-read the ledger from the chain, re-verify every batch (seq, head chain, records hash,
    Merkle root, signature by a key active at that block) and compare the database byte for byte,
    including the derived status tables (whole audit). `report.ok` is the verdict; each discrepancy
    is listed. Answers 200 with the finished job when the audit ends within a couple of seconds,
    else 202 with a status URL. While an audit of the same scope runs, its job is returned; at most
    two audits run at once (429). An audit that cannot run (node unreachable) is a 503. Role: auditor."""
    jobs = audit_jobs(request)
    country = body.country.upper() if body is not None and body.country else None
    job = jobs.start(country=country)
    finished = await run_in_threadpool(job.wait, context.settings.audit_sync_wait_seconds)
    if finished and job.state == FAILED and job.exception is not None:
        raise job.exception
    status = 200 if finished else 202
    headers = {} if finished else {"Location": _JOB_PATH.format(job_id=job.id)}
    return JSONResponse(_job_out(job.to_dict()), status_code=status, headers=headers)


@router.get(
    _JOB_PATH,
    response_model=AuditJobOut,
    summary="Status of an audit job",
    responses=problem_responses(401, 403, 404),
)
def get_audit_job(
    job_id: Annotated[str, Path(description="the `id` of a job from POST /v1/audit/verify")],
    _who: Auditor,
    request: Request,
) -> dict[str, Any]:
    """The audit job: `running` (with progress), `succeeded` (with `report`; `report.ok` is the
    verdict) or `failed` (with `error`). Any worker of the gateway answers (job states are kept in
    the data directory, the latest 100). Role: auditor."""
    job = audit_jobs(request).status(job_id)
    if job is None:
        raise ProblemError(404, "not-found", f"no audit job {job_id!r} (the latest 100 jobs are kept)")
    return _job_out(job)
