"""The one error shape, written into the OpenAPI schema for every operation.

litestar documents a 400 of its own shape (``status_code``, ``detail``) on each operation, but
every error this API returns is ``{"error": {"status", "type", "message", ...}}``
(:mod:`api.app.errors`).  :func:`document_errors` replaces that 400 and adds the 4XX and 5XX
ranges, all pointing at one ``Error`` component, so that clients and schemathesis read the
errors the API actually sends.
"""

from __future__ import annotations

from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
)

__all__ = ["ERROR_SCHEMA", "document_errors"]

_PROBLEM = Schema(
    type=OpenAPIType.OBJECT,
    properties={
        "line": Schema(type=[OpenAPIType.INTEGER, OpenAPIType.NULL]),
        "col": Schema(type=[OpenAPIType.INTEGER, OpenAPIType.NULL]),
        "message": Schema(type=OpenAPIType.STRING),
        "policy_id": Schema(type=[OpenAPIType.STRING, OpenAPIType.NULL]),
    },
    required=["message"],
)
ERROR_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    description="Every error: its status, the error's type and a message a person can act on.",
    properties={
        "error": Schema(
            type=OpenAPIType.OBJECT,
            properties={
                "status": Schema(type=OpenAPIType.INTEGER),
                "type": Schema(type=OpenAPIType.STRING),
                "message": Schema(type=OpenAPIType.STRING),
                "problems": Schema(type=OpenAPIType.ARRAY, items=_PROBLEM),
            },
            required=["status", "type", "message"],
        )
    },
    required=["error"],
)
_RANGES = {
    "400": "The request is malformed (its body, a parameter)",
    "4XX": "Refused: not logged in, not allowed, not found, invalid input, locked out",
    "5XX": "The server or a service it needs is unavailable",
}


def document_errors(schema: OpenAPI) -> OpenAPI:
    """``schema`` with every operation's errors in the one shape (changed in place)."""
    assert schema.components is not None
    components = schema.components.schemas if isinstance(schema.components.schemas, dict) else {}
    components["Error"] = ERROR_SCHEMA
    schema.components.schemas = components
    content = {"application/json": OpenAPIMediaType(schema=Reference("#/components/schemas/Error"))}
    for item in (schema.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            for code, description in _RANGES.items():
                responses[code] = OpenAPIResponse(description=description, content=dict(content))
            operation.responses = responses
    return schema
