"""3GPP TS 29.511 N5g-eir Equipment Identity Check: ``GET /n5g-eir-eic/v1/equipment-status``.

The 5G core's AMF asks the EIR whether equipment may attach. Role: **operator** (the network
operator runs the AMF; admin also may), rate-limited like the other check endpoints. Query
parameters: ``pei`` (mandatory; ``imei-<15 digits>`` with its Luhn digit checked, or
``imeisv-<16 digits>``), ``supi`` and ``gpsi`` (optional, accepted and not used: the status
depends on the equipment only), ``supported-features`` (ignored).

Answers (TS 29.511 §6.1.6, TS 29.571 ProblemDetails with ``cause`` for errors):

* 200 ``{"status": "WHITELISTED" | "GREYLISTED" | "BLACKLISTED"}``;
* 400 ``MANDATORY_IE_MISSING`` (no pei), ``MANDATORY_IE_INCORRECT`` (malformed pei or bad check
  digit), ``OPTIONAL_IE_INCORRECT`` (empty supi/gpsi), with ``invalidParams``;
* 404 ``ERROR_EQUIPMENT_UNKNOWN`` for an IMEI on no list, only when
  ``settings.unknown_equipment == "NOT_FOUND"`` (default: such equipment is WHITELISTED);
* 401/403/429 as everywhere (RFC 9457 problems, a subset of TS 29.571 ProblemDetails).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from gateway.api.deps import ApiState, CheckLimited
from gateway.api.problems import PROBLEM_JSON, ProblemError, problem_example, problem_responses
from gateway.api.schemas.n5g import EirResponseData
from gateway.services.status import STATUS_NAMES
from ledger_node.errors import InvalidIdentifierError
from ledger_node.identifiers import parse_imei

__all__ = ["PATH", "equipment_status", "router"]

router = APIRouter(tags=["3gpp"])

PATH = "/n5g-eir-eic/v1/equipment-status"
_PEI_PREFIXES = ("imei-", "imeisv-")


def _problem(
    status: int, cause: str, detail: str, param: str | None = None, reason: str = ""
) -> ProblemError:
    extra: dict[str, object] = {"cause": cause}
    if param is not None:
        extra["invalidParams"] = [{"param": param, "reason": reason}]
    return ProblemError(status, cause.lower().replace("_", "-"), detail, extra=extra)


def _responses() -> dict[int | str, dict[str, Any]]:
    described = {
        400: (
            "MANDATORY_IE_INCORRECT",
            "Malformed or missing `pei` (MANDATORY_IE_MISSING, MANDATORY_IE_INCORRECT)",
        ),
        401: (None, "Missing or invalid API key"),
        403: (None, "The API key's role is not operator or admin"),
        404: ("ERROR_EQUIPMENT_UNKNOWN", "Equipment unknown, only when configured (`unknown_equipment`)"),
        429: (None, "Rate limit exceeded (Retry-After)"),
    }
    responses = problem_responses(*described, schema="ProblemDetails3gpp")
    for status, (cause, text) in described.items():
        responses[status]["description"] = text
        example = problem_example(status, instance=PATH)
        if cause is not None:
            example["cause"] = cause
        if status == 400:
            example["detail"] = "pei: bad check digit 9, expected 8"
            example["invalidParams"] = [{"param": "query pei", "reason": "bad check digit 9, expected 8"}]
        responses[status]["content"][PROBLEM_JSON]["example"] = example
    return responses


@router.get(
    PATH,
    response_model=EirResponseData,
    operation_id="GetEquipmentStatus",
    summary="Retrieves the status of the UE (3GPP TS 29.511)",
    responses=_responses(),
)
async def get_equipment_status(
    _who: CheckLimited,
    request: Request,
    pei: Annotated[
        str | None, Query(description="PEI of the UE: imei-<15 digits> or imeisv-<16 digits>")
    ] = None,
    supi: Annotated[str | None, Query(description="SUPI of the UE (optional, not used)")] = None,
    gpsi: Annotated[str | None, Query(description="GPSI of the UE (optional, not used)")] = None,
    supported_features: Annotated[str | None, Query(alias="supported-features")] = None,
) -> JSONResponse:
    """Equipment status of a PEI: `WHITELISTED`, `GREYLISTED` or `BLACKLISTED`.

    Role: operator (or admin) — the network operator runs the AMF that asks; authenticated with an
    API key (`Authorization: Bearer`) in place of the NRF's OAuth2 tokens. Counts against the key's
    rate limit. An IMEI on no list is WHITELISTED, or 404 `ERROR_EQUIPMENT_UNKNOWN` when the
    gateway is configured with `unknown_equipment = "NOT_FOUND"`.
    """
    return JSONResponse(equipment_status(request.app.state.api, pei=pei, supi=supi, gpsi=gpsi))


def equipment_status(
    state: ApiState, *, pei: str | None, supi: str | None, gpsi: str | None
) -> dict[str, str]:
    """The EirResponseData for ``pei`` (and count the check), or a TS 29.571 problem.

    Shared by the route and the fast lane (:mod:`gateway.api.fastlane`).
    """
    if pei is None:
        raise _problem(
            400,
            "MANDATORY_IE_MISSING",
            "pei: the mandatory query parameter pei is missing",
            "query pei",
            "missing",
        )
    if not pei.lower().startswith(_PEI_PREFIXES):
        reason = "expected imei-<15 digits> or imeisv-<16 digits>"
        raise _problem(400, "MANDATORY_IE_INCORRECT", f"pei: {reason}", "query pei", reason)
    try:
        core = parse_imei(pei)
    except InvalidIdentifierError as exc:
        raise _problem(400, "MANDATORY_IE_INCORRECT", f"pei: {exc.reason}", "query pei", exc.reason) from None
    for name, value in (("supi", supi), ("gpsi", gpsi)):
        if value is not None and not value.strip():
            raise _problem(
                400, "OPTIONAL_IE_INCORRECT", f"{name}: empty value", f"query {name}", "empty value"
            )
    found = state.lookup.find(core)
    if found is None:
        state.checks.add(0, "")
        if state.settings.unknown_equipment.upper() == "NOT_FOUND":
            raise _problem(404, "ERROR_EQUIPMENT_UNKNOWN", f"equipment {pei} is on no list of this EIR")
        return {"status": "WHITELISTED"}
    status, origins = found
    state.checks.add(status, origins)
    return {"status": STATUS_NAMES[status]}
