"""OpenAPI for routes that read their own requests (the task routes; see tasks/inputs.py).

Those endpoints take only the Request, so FastAPI cannot see their parameters and bodies; these helpers
document them from the same pydantic models that validate them, so the document cannot drift from the checks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

REF_TEMPLATE = "#/components/schemas/{model}"


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    properties = model.model_json_schema()["properties"]
    parameters = []
    for name, schema in properties.items():
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
        if "description" in schema:
            parameter["description"] = schema["description"]
        parameters.append(parameter)
    return parameters


def parameter(name: str, location: str, schema: dict[str, Any], *, required: bool) -> dict[str, Any]:
    described = {"title": name.replace("_", " ").title(), **schema}
    result: dict[str, Any] = {"name": name, "in": location, "required": required, "schema": described}
    if "description" in schema:
        result["description"] = schema["description"]
    return result


def operation(
    *,
    parameters: Sequence[dict[str, Any]] = (),
    body: type[BaseModel] | None = None,
) -> dict[str, Any]:
    """``openapi_extra`` for one route."""
    extra: dict[str, Any] = {}
    if parameters:
        extra["parameters"] = [dict(p) for p in parameters]
    if body is not None:
        extra["requestBody"] = {
            "content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=body.__name__)}}},
            "required": True,
        }
    return extra


def register_models(app: FastAPI, models: Sequence[type[BaseModel]]) -> None:
    """Add ``models`` (request bodies FastAPI did not see) to the document's components."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                schema = model.model_json_schema(by_alias=True, ref_template=REF_TEMPLATE)
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = _without_null_defaults(schema)
            document["components"]["schemas"] = dict(sorted(schemas.items()))
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _without_null_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    # As FastAPI writes its own components: a generated client (openapi-typescript) reads a property with a
    # default as always present, which would make every optional field of a request body required.
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]
    return schema
