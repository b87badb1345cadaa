"""The OpenAPI document: FastAPI's, made to say what the server does. The analysis result's
JSON Schema is added as components, so a client sees every field of `result` rather than a bare
object; FastAPI's default 422 HTTPValidationError is removed, because this API answers a bad
request with 400 in its own error shape (gateway/errors.py)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from skin.schema_files import SCHEMA_DIR

RESULT_COMPONENT = "AnalysisResult"
RESULT_REF = f"#/components/schemas/{RESULT_COMPONENT}"


@cache
def result_components() -> dict[str, Any]:
    """analysis_result.schema.json as OpenAPI components: the root becomes AnalysisResult and
    each of its `$defs` a component of its own (AnalysisResult_point, ...), with the references
    rewritten, because not every OpenAPI tool resolves `$defs` inside a component."""
    schema = json.loads((SCHEMA_DIR / "analysis_result.schema.json").read_text())
    definitions = schema.pop("$defs", {})
    for keyword in ("$schema", "$id"):
        schema.pop(keyword, None)

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: (
                    f"#/components/schemas/{RESULT_COMPONENT}_{value.removeprefix('#/$defs/')}"
                    if key == "$ref" and isinstance(value, str)
                    else rewrite(value)
                )
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    components = {RESULT_COMPONENT: rewrite(schema)}
    for name, definition in definitions.items():
        components[f"{RESULT_COMPONENT}_{name}"] = rewrite(definition)
    return components


def _drop_fastapi_validation_error(document: dict[str, Any]) -> None:
    default = "#/components/schemas/HTTPValidationError"
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            response = operation.get("responses", {}).get("422", {})
            if response.get("content", {}).get("application/json", {}).get("schema") == {
                "$ref": default
            }:
                del operation["responses"]["422"]
    schemas = document["components"]["schemas"]
    if default not in json.dumps(document["paths"]):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(result_components())
            _drop_fastapi_validation_error(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
