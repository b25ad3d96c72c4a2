"""What the OpenAPI document says about each answer, and the one fix FastAPI needs.

Declared next to nothing else so that app.py reads as routes only. The fix: FastAPI
documents a 422 for every route with parameters, but uplevel answers a malformed
parameter with 400 (like a malformed path), so the document is rewritten to say so.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel


class Problem(BaseModel):
    """The body of every refusal or error: a reason for humans, never any content."""

    detail: str


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"description": description, "model": Problem}
    if headers:
        doc["headers"] = headers
    return doc


_ETAG = {"ETag": {"description": "Strong entity tag", "schema": {"type": "string"}}}
_CONTENT_RANGE = {
    "Content-Range": {"description": "bytes first-last/size", "schema": {"type": "string"}}
}
_ENCODING = {
    "X-Uplevel-Encoding": {
        "description": "How the stored bytes are encoded",
        "schema": {"type": "string", "enum": ["raw", "zstd"]},
    }
}
_WWW_AUTHENTICATE = {"WWW-Authenticate": {"schema": {"type": "string"}}}

BAD_REQUEST = _problem("A parameter or the path is malformed or unsafe (`..`, `%2e%2e`, …)")
UNAUTHENTICATED = _problem("No bearer token", _WWW_AUTHENTICATE)
FORBIDDEN = _problem("Unknown, expired or revoked token, or not entitled to this content")


def file_responses(media_type: str, *, blob: bool = False) -> dict[int | str, dict[str, Any]]:
    """The answers of a content route (metadata, target or blob)."""
    body = (
        {"schema": {"type": "string", "format": "binary"}}
        if blob
        else {"schema": {"type": "object"}}
    )
    headers = {**_ETAG, **(_ENCODING if blob else {})}
    return {
        200: {"description": "The file", "content": {media_type: body}, "headers": headers},
        206: {
            "description": "The requested byte range of the file",
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
            "headers": {**headers, **_CONTENT_RANGE},
        },
        304: {"description": "Not modified (If-None-Match matched the ETag)", "headers": _ETAG},
        400: BAD_REQUEST,
        401: UNAUTHENTICATED,
        403: FORBIDDEN,
        404: _problem("No such file"),
        416: _problem("Range not satisfiable", _CONTENT_RANGE),
    }


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "Allowed: nginx may serve the original URI"},
    401: UNAUTHENTICATED,
    403: FORBIDDEN,
}


def install_openapi(app: FastAPI) -> None:
    """Generate the document once, with 400 in place of FastAPI's automatic 422."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for operations in doc.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = doc.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
