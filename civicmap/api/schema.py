"""The OpenAPI schema's shared parts: the one error shape, documented on every operation.

Every view answers refusals through ``civicmap.api.errors`` in the shape
``{"errors": [{"field", "code", "message"}]}``; drf-spectacular only documents the success of
each operation, so a postprocessing hook adds the refusals a client must be ready for. The
fuzzing test (tests/civicmap/test_fuzz_api.py) holds every answer to this schema.
"""

from __future__ import annotations

ERROR_SCHEMA_NAME = "ErrorResponse"

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
                "required": ["field", "code", "message"],
            },
        },
    },
    "required": ["errors"],
}

# The refusals any operation can answer: bad input, a missing or wrong token, a role or object
# the caller may not use, an unknown object, a state conflict, a body too large, a body in a
# media type the operation does not read, and a rate limit.
ERROR_STATUSES = {
    "400": "Invalid input; each error names its field.",
    "401": "No credentials, or a token that is not valid.",
    "403": "The caller's role may not do this.",
    "404": "No such object, or not one the caller may see.",
    "405": "The method is not allowed here.",
    "409": "The object's state does not allow this now.",
    "413": "The request body is too large.",
    "415": "The request body's media type is not accepted.",
    "429": "Too many requests; retry after the Retry-After header's seconds.",
}


def error_responses_add(result: dict, generator, request, public: bool) -> dict:
    """A drf-spectacular postprocessing hook: the error shape on every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, description in ERROR_STATUSES.items():
                operation["responses"].setdefault(status, {
                    "description": description,
                    "content": {"application/json": {"schema": reference}},
                })
    return result
