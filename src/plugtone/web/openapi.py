"""The admin API's OpenAPI document, as OpenAPI 3.0 with problem details throughout.

FastAPI writes OpenAPI 3.1; the Swagger UI plugtone serves (the ``swagger-ui-bundle``
package, Swagger UI 4) renders only 3.0, so the document is rewritten into 3.0's
dialect: ``anyOf [X, null]`` becomes ``nullable``, ``const`` a one-value ``enum``,
``examples`` its first ``example``. Every operation declares the problem documents it
can answer (and a ``default`` one), all ``application/problem+json``, and the bearer
token scheme, so a client, or schemathesis, can check every response against the
document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from plugtone.web.problems import MEDIA_TYPE
from plugtone.web.schemas import Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
ALWAYS = {
    "401": "no token, or a token that is unknown, revoked or expired",
    "403": "the caller's role does not allow this",
    "422": "the input breaks a field rule; `errors` names each field",
    "500": "the server failed (never with details)",
    "503": "the store is busy or unreachable; retry after `Retry-After` seconds",
}
WITH_BODY = {
    "400": "the body is not JSON",
    "413": "the body is larger than the cap (2 MiB)",
}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and so ``/api/openapi.json``) answer the 3.0 document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes,
            )  # fmt: skip
            app.openapi_schema = rewrite(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def rewrite(document: dict[str, Any]) -> dict[str, Any]:
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defined = document.setdefault("components", {}).setdefault("schemas", {})
    defined.update(problem.pop("$defs", {}))
    defined["Problem"] = problem
    document = to_openapi30(document)
    document["openapi"] = "3.0.3"
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "plugtone token create"}
    }
    document["security"] = [{"bearer": []}]
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            _declare_problems(operation)
    return document


def _declare_problems(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    wanted = dict(ALWAYS)
    if "requestBody" in operation:
        wanted.update(WITH_BODY)
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        wanted["404"] = "no such object"
    for status, response in list(responses.items()):
        if status != "default" and int(status) >= 400:
            wanted.setdefault(status, response.get("description", "refused"))
    for status, description in wanted.items():
        existing = responses.get(status, {})
        responses[status] = {
            "description": existing.get("description") if status in responses else description,
            "content": {MEDIA_TYPE: {"schema": PROBLEM_REF}},
        }
    responses["default"] = {
        "description": "any other refusal",
        "content": {MEDIA_TYPE: {"schema": PROBLEM_REF}},
    }


def to_openapi30(value: Any) -> Any:
    """JSON Schema 2020-12 (OpenAPI 3.1) constructs rewritten into OpenAPI 3.0's."""
    if isinstance(value, list):
        return [to_openapi30(item) for item in value]
    if not isinstance(value, dict):
        return value
    result = {key: to_openapi30(item) for key, item in value.items()}
    if "const" in result and not isinstance(result["const"], dict):  # not a field "const"
        result["enum"] = [result.pop("const")]
    if isinstance(result.get("examples"), list):  # 3.0 has one "example"
        examples = result.pop("examples")
        if examples:
            result["example"] = examples[0]
    for combinator in ("anyOf", "oneOf"):
        options = result.get(combinator)
        if not isinstance(options, list) or {"type": "null"} not in options:
            continue
        rest = [option for option in options if option != {"type": "null"}]
        del result[combinator]
        result["nullable"] = True
        if len(rest) == 1 and "$ref" in rest[0]:
            result["allOf"] = rest
        elif len(rest) == 1:
            result.update(rest[0])
        else:
            result[combinator] = rest
    return result
