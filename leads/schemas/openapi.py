"""The OpenAPI 3.1 document of the read API, built from its pydantic schemas.

Each operation below names the models the blueprint itself uses to read the
request and write the answer, so the document cannot drift from the code:
``tests/test_api_openapi.py`` runs Schemathesis against the live service with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from leads.schemas.api import LeadOut, LeadPage, LeadPatch, ListQuery, Problem

REFERENCE = {
    "name": "reference",
    "in": "path",
    "required": True,
    "description": "The lead's reference.",
    "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
}

ERRORS = {
    400: "The request is malformed: the message says what to change.",
    401: "No token, or a token that is unknown or revoked.",
    404: "No such lead among the token's clinic's leads.",
    422: "The change cannot be made (a lost lead without a reason, a stranger as assignee).",
    429: "Too many requests for this token; wait and try again.",
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    ok: type[BaseModel]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    path_params: tuple[dict[str, Any], ...] = ()
    errors: tuple[int, ...] = field(default=(400, 401, 429))


OPERATIONS = (
    Operation(
        "get",
        "/api/v1/leads",
        "listLeads",
        "The clinic's leads, newest first, a page at a time.",
        ok=LeadPage,
        query=ListQuery,
    ),
    Operation(
        "get",
        "/api/v1/leads/{reference}",
        "getLead",
        "One lead.",
        ok=LeadOut,
        path_params=(REFERENCE,),
        errors=(400, 401, 404, 429),
    ),
    Operation(
        "patch",
        "/api/v1/leads/{reference}",
        "updateLead",
        "Move a lead along the pipeline and/or assign it; recorded on its timeline.",
        ok=LeadOut,
        body=LeadPatch,
        path_params=(REFERENCE,),
        errors=(400, 401, 404, 422, 429),
    ),
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model)}}


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string, never null: drop the null branch."""
    prop = dict(prop)
    options = [o for o in prop.pop("anyOf", []) if o != {"type": "null"}]
    if len(options) == 1:
        prop.update(options[0])
    elif options:
        prop["anyOf"] = options
    if prop.get("default", 0) is None:
        del prop["default"]
    prop.pop("title", None)
    return prop


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": prop.pop("description", ""),
            "schema": _not_null(prop),
        }
        for name, prop in schema["properties"].items()
    ]


def document(base_url: str = "") -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    models: list[type[BaseModel]] = [Problem]
    for op in OPERATIONS:
        models += [m for m in (op.ok, op.body) if m is not None]
    _, defs = models_json_schema(
        [(m, "serialization" if m is not LeadPatch else "validation") for m in models],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {"200": {"description": "OK", "content": _json(op.ok)}}
        for code in op.errors:
            responses[str(code)] = {"description": ERRORS[code], "content": _json(Problem)}
        operation: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "parameters": list(op.path_params) + (_query_parameters(op.query) if op.query else []),
            "responses": responses,
        }
        if op.body is not None:
            operation["requestBody"] = {"required": True, "content": _json(op.body)}
        paths.setdefault(op.path, {})[op.method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clinic Leads API",
            "version": "1",
            "description": "A clinic's leads for its other systems. Every request carries "
            "`Authorization: Bearer <token>`; a token sees its own clinic's leads only.",
        },
        "servers": [{"url": base_url or "/"}],
        "security": [{"token": []}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
    }
