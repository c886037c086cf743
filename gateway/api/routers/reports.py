"""Regulator: report devices (one or many) and recover them.

``POST /v1/reports`` takes one report object or a list of them (at most 10,000). A single report
answers its result, or a problem (422 invalid identifier/kind/date, 409 another country's block).
A list answers 200 with one result per item, in order: bad items are rejected individually and
change nothing, good ones are applied (all in one transaction). Every accepted change is written
with its outbox record; the publisher puts it on the ledger.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import Discriminator, Tag

from gateway.api.deps import Regulator, SessionDep, StateDep
from gateway.api.problems import ProblemError, item_problem, problem_responses
from gateway.api.schemas.reports import (
    EXAMPLE_BULK,
    MAX_REPORTS,
    REPORT_OUT_EXAMPLE,
    BulkReportOut,
    RecoveryIn,
    ReportIn,
    ReportOut,
)
from gateway.services.reports import ItemResult, ReportInput, add_reports_bulk
from ledger_node.identifiers import imei15
from ledger_node.record import Kind

__all__ = ["router"]

router = APIRouter(tags=["regulator"])


def _shape(value: Any) -> str:
    return "~many" if isinstance(value, list) else "~one"


ReportsBody = Annotated[
    Annotated[ReportIn, Tag("~one")] | Annotated[list[ReportIn], Tag("~many")],
    Discriminator(_shape),
    Body(
        openapi_examples={
            "one": {"summary": "one report", "value": EXAMPLE_BULK[0]},
            "many": {"summary": "a list of reports (per-item results)", "value": EXAMPLE_BULK},
        }
    ),
]


def _out(item: ItemResult) -> ReportOut:
    if item.result is None:
        return ReportOut(
            index=item.index,
            imei=item.imei,
            ok=False,
            error={"code": item.code or "rejected", "detail": item.error or "rejected"},
        )
    result = item.result
    return ReportOut(
        index=item.index,
        imei=imei15(result.imei),
        ok=True,
        changed=result.changed,
        kind=result.kind.name,
        reported_at=result.reported_at,
        previous_kind=None if result.previous_kind is None else result.previous_kind.name,
    )


def _apply(state: StateDep, session: SessionDep, inputs: list[ReportInput]) -> list[ItemResult]:
    with session.begin():
        return add_reports_bulk(session, country=state.settings.country, items=inputs)


@router.post(
    "/v1/reports",
    response_model=ReportOut | BulkReportOut,
    summary="Report one device, or many with per-item results",
    responses={
        200: {
            "description": "The report's result (one), or per-item results (a list)",
            "content": {
                "application/json": {
                    "examples": {
                        "one": {"value": REPORT_OUT_EXAMPLE},
                        "many": {"value": BulkReportOut.model_config["json_schema_extra"]["examples"][0]},  # type: ignore[index]
                    }
                }
            },
        },
        **problem_responses(400, 401, 403, 409, 413, 422),
    },
)
def post_reports(
    body: ReportsBody, _who: Regulator, state: StateDep, session: SessionDep
) -> ReportOut | BulkReportOut:
    """Add reports to the national register (and its outbox, for publication on the ledger).

    One object: STOLEN, LOST, DUPLICATED or INVALID; the answer is its result, or a problem.
    A list (≤ 10,000): any kind, RECOVERED and WITHDRAWN included; items are applied in order and
    answered one by one. An identical repeat is a no-op (`changed: false`).

    Role: regulator (or admin).
    """
    if isinstance(body, ReportIn):
        if body.kind in ("RECOVERED", "WITHDRAWN"):
            raise ProblemError(
                422,
                "report-rejected",
                f"kind: {body.kind} clears an entry: use POST /v1/reports/{{imei}}/recovery, or a list",
                title="Report rejected",
                extra={"invalid_params": [{"name": "kind", "in": "body", "reason": "not a report kind"}]},
            )
        item = _apply(state, session, [_input(body)])[0]
        if not item.ok:
            raise item_problem(item.code or "rejected", item.error or "rejected")
        return _out(item)
    if len(body) > MAX_REPORTS:
        raise ProblemError(
            413, "too-many-items", f"{len(body)} reports in one request; at most {MAX_REPORTS}"
        )
    results = [_out(item) for item in _apply(state, session, [_input(r) for r in body])]
    return BulkReportOut(
        applied=sum(1 for r in results if r.ok and r.changed),
        unchanged=sum(1 for r in results if r.ok and not r.changed),
        rejected=sum(1 for r in results if not r.ok),
        results=results,
    )


def _input(report: ReportIn) -> ReportInput:
    return ReportInput(
        imei=report.imei, kind=report.kind, reported_at=report.reported_at, case_ref=report.case_ref
    )


@router.post(
    "/v1/reports/{imei}/recovery",
    response_model=ReportOut,
    summary="Recover a device this country reported",
    responses=problem_responses(400, 401, 403, 409, 422),
)
def post_recovery(
    imei: str,
    _who: Regulator,
    state: StateDep,
    session: SessionDep,
    body: Annotated[
        RecoveryIn | None, Body(openapi_examples={"at": {"value": {"reported_at": 1_760_086_400}}})
    ] = None,
) -> ReportOut:
    """Clear this country's own active block of `imei` with a RECOVERED record.

    409 `not-blocked` when this country has no active entry, 409 `foreign-block` when only another
    country blocks it (only the country that blocked an IMEI can clear its own block). Repeating a
    recovery is a no-op (`changed: false`).

    Role: regulator (or admin).
    """
    at = None if body is None else body.reported_at
    item = _apply(state, session, [ReportInput(imei=imei, kind=Kind.RECOVERED, reported_at=at)])[0]
    if not item.ok:
        raise item_problem(item.code or "rejected", item.error or "rejected", location="path")
    return _out(item)
