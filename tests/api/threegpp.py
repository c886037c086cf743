"""Validate N5g-eir answers against the official 3GPP OpenAPI files in spec/3gpp/.

The YAML files are loaded as they are; their ``$ref``s (``#/components/...`` within a file and
``TS29571_CommonData.yaml#/...`` across files) are resolved by a ``referencing`` registry holding
both documents. TS29571 refers to TS29510 (NRF access-token types) for two ProblemDetails members
we never send; that file is not shipped, so it is registered as an empty document and any reference
into it fails loudly if it is ever followed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from ledger_node.paths import REPO_ROOT

SPEC_DIR = REPO_ROOT / "spec" / "3gpp"
EIR_FILE = "TS29511_N5g-eir_EquipmentIdentityCheck.yaml"
COMMON_FILE = "TS29571_CommonData.yaml"
OPERATION_PATH = "/equipment-status"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SPEC_DIR / name).read_text(encoding="utf-8"))
    return data


@cache
def _registry() -> Registry:
    resources = [
        (name, Resource.from_contents(_load(name), default_specification=DRAFT4))
        for name in (EIR_FILE, COMMON_FILE)
    ]
    stub = Resource.from_contents({}, default_specification=DRAFT4)
    return Registry().with_resources([*resources, ("TS29510_Nnrf_AccessToken.yaml", stub)])


def response_schema(status: int, media_type: str) -> dict[str, Any]:
    """The schema the spec gives for ``status`` / ``media_type`` of GET /equipment-status."""
    spec = _load(EIR_FILE)
    response = spec["paths"][OPERATION_PATH]["get"]["responses"][str(status)]
    if "$ref" in response:  # a shared response of TS29571, e.g. '400'
        file, _, pointer = response["$ref"].partition("#")
        target: Any = _load(file)
        for part in pointer.strip("/").split("/"):
            target = target[part]
        response = target
        base = file
    else:
        base = EIR_FILE
    schema = response["content"][media_type]["schema"]
    return {"$ref": _absolute(schema["$ref"], base)}


def _absolute(ref: str, base: str) -> str:
    return ref if not ref.startswith("#") else base + ref


def validate(status: int, media_type: str, body: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``body`` is a valid ``status`` answer per the spec."""
    schema = response_schema(status, media_type)
    # OpenAPI 3.0 schemas are (close to) JSON Schema draft 4; the wrapper resolves in the registry.
    Draft4Validator(schema, registry=_registry()).validate(body)


def parameter_pattern(name: str) -> str:
    """The regex pattern of a query parameter of GET /equipment-status (through its $ref)."""
    spec = _load(EIR_FILE)
    for param in spec["paths"][OPERATION_PATH]["get"]["parameters"]:
        if param["name"] == name:
            file, _, pointer = param["schema"]["$ref"].partition("#")
            target: Any = _load(file)
            for part in pointer.strip("/").split("/"):
                target = target[part]
            return str(target["pattern"])
    raise KeyError(name)
