"""Property-based run of schemathesis over the gateway's own OpenAPI document, in-process (ASGI).

Every operation of the app (regulator, operator, 3GPP, auditor, statistics, operations) is called
with generated requests, authenticated with an admin key (admitted everywhere), against BR's
gateway on a real anvil devnet holding a few published and synced records, so that /readyz is
ready and audits can run. Checked for every answer: no 5xx, a documented status code and
content type, and a body that conforms to the documented schema. Examples per operation are
bounded (MAX_EXAMPLES) to keep the run short.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ledger_node.identifiers import imei15
from tests.api.devnet_app import DevnetApi, devnet_of_own, open_app

pytestmark = pytest.mark.anvil

MAX_EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetApi]:
    root = tmp_path_factory.mktemp("schemathesis")
    with devnet_of_own(root / "devnet") as net, open_app(net, "IN", root / "IN") as india:
        items = [
            {"imei": imei15(f"8615{n:010d}"), "kind": kind}
            for n, kind in enumerate(["STOLEN", "LOST", "DUPLICATED"])
        ]
        assert india.http.post("/v1/reports", json=items, headers=india.auth("regulator")).status_code == 200
        india.gateway.publish()
        with open_app(net, "BR", root / "BR", audit_sync_wait_seconds=30.0) as brazil:
            brazil.gateway.sync()
            yield brazil


def run_operation(
    operation: schemathesis.APIOperation, strategy: SearchStrategy[schemathesis.Case], gateway: DevnetApi
) -> None:
    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=gateway.auth("admin"), checks=CHECKS)

    run()


def has_inputs(operation: schemathesis.APIOperation) -> bool:
    """Whether the operation takes any parameter or body (the API key aside) that can be made invalid."""
    definition = operation.definition.raw
    params = [p for p in definition.get("parameters", []) if p.get("in") != "header"]
    return bool(params or definition.get("requestBody"))


def test_every_operation_conforms_to_the_schema(gateway: DevnetApi) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", gateway.app)
    failures: dict[str, str] = {}
    labels: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)
        strategies = [
            *schema.get_strategies_from_examples(operation),
            operation.as_strategy(GenerationMode.POSITIVE),
        ]
        if has_inputs(operation):  # invalid paths, queries and bodies
            strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
        for strategy in strategies:
            try:
                run_operation(operation, strategy, gateway)
            except (Exception, BaseExceptionGroup) as exc:  # collect every failure, then report them all
                failures.setdefault(operation.label, f"{type(exc).__name__}: {exc}")
    assert len(labels) == len(set(labels)) >= 16, labels
    # Every operation was really called (the app's own request histogram saw its route).
    served = {
        (sample.labels["method"], sample.labels["route"])
        for metric in gateway.app.state.metrics.requests.collect()
        for sample in metric.samples
        if sample.name.endswith("_count") and sample.value > 0
    }
    assert {tuple(label.split(" ", 1)) for label in labels} <= served
    assert not failures, "\n\n".join(f"{label}\n{error}" for label, error in failures.items())
