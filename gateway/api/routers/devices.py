"""Operator: a device's status (one, or up to 10,000 at once) with origin countries and reasons.

The answers come from :class:`gateway.services.status.StatusLookup` (a primary-key probe of the
incrementally maintained ``device_status``), never from a fold at request time. Each answer is
counted for the statistics in memory (:class:`gateway.api.checks.CheckCounter`), not written per
request. Both endpoints spend one token of the caller's rate-limit bucket.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import partial
from typing import Annotated, cast

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from gateway.api.deps import ApiState, CheckLimited, StateDep
from gateway.api.imeis import parse_imeis
from gateway.api.problems import ProblemError, invalid_field, problem_responses
from gateway.api.schemas.devices import MAX_CHECK, CheckIn, CheckOut, DeviceOut
from gateway.services.status import STATUS_NAMES, explain
from ledger_node.errors import InvalidIdentifierError
from ledger_node.identifiers import imei15, parse_imei
from ledger_node.record import Kind

__all__ = ["device_answer", "device_json", "parse_path_imei", "router"]

router = APIRouter(tags=["operator"])


def parse_path_imei(value: str, name: str = "imei") -> str:
    """The 14-digit core of a path parameter, or a 422 problem naming it."""
    try:
        return parse_imei(value)
    except InvalidIdentifierError as exc:
        raise invalid_field(name, "path", exc.reason, slug="invalid-identifier") from None


def _kind_name(kind: int) -> str:
    try:
        return Kind(kind).name
    except ValueError:
        return str(kind)


def reasons_of(
    state: ApiState, core: str, origins: str, entries: list[tuple[str, int]] | None = None
) -> list[dict[str, str]]:
    """The records behind a status: the origin countries' latest kinds (``entries``, the IMEI's
    latest ``(country, kind)`` entries, read with one indexed probe if not given)."""
    if not origins:
        return []
    behind = set(origins.split(","))
    policy = state.policy
    return [
        {"country": cc, "kind": _kind_name(kind), "status": STATUS_NAMES[policy.contribution(cc, kind)]}
        for cc, kind in (state.lookup.entries(core) if entries is None else entries)
        if cc in behind
    ]


def device_answer(state: ApiState, core: str) -> dict[str, object]:
    """The JSON answer for one device (and count the check)."""
    status, origins = state.lookup.status(core)
    state.checks.add(status, origins)
    return {
        "imei": imei15(core),
        "status": STATUS_NAMES[status],
        "origins": origins.split(",") if origins else [],
        "reasons": reasons_of(state, core, origins),
    }


# Rendered as Starlette's JSONResponse renders (compact, UTF-8).
_json = partial(json.dumps, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))

_SAFE_COUNTRY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ORIGINS_CACHED = 4096  # distinct origin sets rendered once and kept (bounded)


class _OriginsJson(dict[str, str]):
    """Rendered ``origins`` lists by origins string, each rendered once (a bounded cache)."""

    def __missing__(self, origins: str) -> str:
        text = _json(origins.split(",")) if origins else "[]"
        if len(self) < _ORIGINS_CACHED:
            self[origins] = text
        return text


_origins_json = _OriginsJson()


def _reasons_json(state: ApiState, core: str, origins: str, entries: list[tuple[str, int]]) -> str:
    """:func:`reasons_of` rendered: the common reason (a two-letter country code, a kind name and a
    status name, nothing to escape) with a format string, anything else through json.dumps."""
    if not origins:
        return "[]"
    items = []
    for reason in reasons_of(state, core, origins, entries):
        country = reason["country"]
        if len(country) == 2 and _SAFE_COUNTRY.issuperset(country) and reason["kind"].isidentifier():
            items.append(f'{{"country":"{country}","kind":"{reason["kind"]}","status":"{reason["status"]}"}}')
        else:
            items.append(_json(reason))
    return f"[{','.join(items)}]"


def device_json(state: ApiState, core: str, given: str = "") -> bytes:
    """:func:`device_answer` rendered as ``JSONResponse`` renders it (and count the check).

    ``given`` is the identifier as the caller wrote it: a 15-character one that parsed is the
    Luhn-checked IMEI itself, so its check digit need not be computed again. The values written with
    the format string (15 digits, a status name, rendered lists) need no escaping; the route and the
    fast lane both answer with these bytes, and a test compares them with ``JSONResponse``'s.
    """
    status, origins, entries = state.lookup.device(core)
    state.checks.add(status, origins)
    text = given.strip()
    imei = text if len(text) == 15 else imei15(core)
    return (
        f'{{"imei":"{imei}","status":"{STATUS_NAMES[status]}","origins":{_origins_json[origins]},'
        f'"reasons":{_reasons_json(state, core, origins, entries)}}}'
    ).encode()


def _entries(state: ApiState, core: str) -> list[dict[str, object]]:
    with state.context.sessions() as session:
        explanation = explain(session, imei=core, settings=state.settings)
    return [
        {
            "country": e.country,
            "kind": e.kind,
            "reported_at": e.reported_at,
            "seq": e.seq,
            "index": e.index,
            "signer": e.signer,
            "block_number": e.block_number,
            "tx_hash": e.tx_hash,
            "contributes": e.contributes,
            "note": e.note,
        }
        for e in (*explanation.contributing, *explanation.other_entries)
    ]


@router.get(
    "/v1/devices/{imei}",
    response_model=DeviceOut,
    summary="Status of one device, with origin countries and reasons",
    responses=problem_responses(401, 403, 422, 429),
)
async def get_device(
    imei: str,
    _who: CheckLimited,
    request: Request,
    explain: Annotated[
        bool, Query(description="also list every country's latest record with its batch, signer and tx")
    ] = False,
) -> Response:
    """May this device attach? `BLACKLISTED`, `GREYLISTED` or `WHITELISTED` under this gateway's
    policy, the countries behind it, and their records. `imei`: 14, 15 (Luhn-checked) or 16 digits,
    or a PEI (`imei-…`, `imeisv-…`).

    Role: operator (or admin); counts against the key's rate limit."""
    state: ApiState = request.app.state.api  # not a dependency: this is the hot path
    core = parse_path_imei(imei)
    if not explain:
        return Response(device_json(state, core, imei), media_type="application/json")
    body = device_answer(state, core)
    body["entries"] = await run_in_threadpool(_entries, state, core)
    return JSONResponse(body)


def _check(state: ApiState, request: CheckIn) -> bytes:
    """The JSON body of a batch check (the bytes ``JSONResponse`` would render for the same answer).

    The identifiers are parsed together (:func:`gateway.api.imeis.parse_imeis`), the listed ones found
    with one sorted batch lookup. The common item — a valid identifier, no reasons — is written with
    a format string: its values are 15 digits, a status name and an origins list rendered by
    json.dumps, so nothing needs escaping, and the part after the IMEI is rendered once per distinct
    (status, origins). Invalid identifiers and items with reasons go through json.dumps.
    """
    values = request.imeis
    cores, imeis, errors = parse_imeis(values)
    found = state.lookup.statuses([c for c in cores if c is not None] if errors else cast(list[str], cores))
    unlisted = (0, "")
    answers = [unlisted if core is None else found.get(core, unlisted) for core in cores]
    if request.reasons:
        items = []
        for index, core in enumerate(cores):
            if core is None:
                items.append(_json({"index": index, "imei": values[index], "error": errors[index]}))
                continue
            status, origins = answers[index]
            item = {
                "index": index,
                "imei": imeis[index],
                "status": STATUS_NAMES[status],
                "origins": origins.split(",") if origins else [],
                "reasons": reasons_of(state, core, origins),
            }
            items.append(_json(item))
    else:
        tails = {
            answer: f'","status":"{STATUS_NAMES[answer[0]]}","origins":{_origins_json[answer[1]]}}}'
            for answer in set(answers)
        }
        items = [
            f'{{"index":{index},"imei":"{imei}{tails[answer]}'
            for index, (imei, answer) in enumerate(zip(imeis, answers, strict=True))
        ]
        for index, error in errors.items():
            items[index] = _json({"index": index, "imei": values[index], "error": error})
    checked = Counter(answers)
    for index in errors:  # invalid identifiers are not checks
        checked[answers[index]] -= 1
    counts = dict.fromkeys(STATUS_NAMES.values(), 0)
    for (status, origins), n in checked.items():
        if n:
            counts[STATUS_NAMES[status]] += n
            state.checks.add(status, origins, n)
    head = _json({"checked": len(cores) - len(errors), "invalid": len(errors), "counts": counts})
    return f'{head[:-1]},"results":[{",".join(items)}]}}'.encode()


@router.post(
    "/v1/devices/check",
    response_model=CheckOut,
    summary="Status of up to 10,000 devices",
    responses=problem_responses(400, 401, 403, 413, 422, 429),
)
async def post_check(request: CheckIn, _who: CheckLimited, state: StateDep) -> Response:
    """Check many devices at once (≤ 10,000): one answer per identifier, in order; an invalid
    identifier gets an `error` instead of a status. `reasons: true` adds the records behind each
    status.

    Role: operator (or admin); one request counts once against the key's rate limit."""
    if len(request.imeis) > MAX_CHECK:
        raise ProblemError(
            413, "too-many-items", f"{len(request.imeis)} identifiers in one request; at most {MAX_CHECK}"
        )
    return Response(await run_in_threadpool(_check, state, request), media_type="application/json")
