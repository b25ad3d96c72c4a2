"""The OpenAPI document describes every endpoint, its parameters and its answers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

CONTENT = {
    "/v1/metadata/{name}": ["name"],
    "/v1/targets/{product}/{channel}/{level}/{file}": ["product", "channel", "level", "file"],
    "/v1/blobs/{sha256}": ["sha256"],
}


@pytest.fixture(scope="module")
def document(client: httpx.Client) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


def test_lists_every_endpoint_once_with_get(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {*CONTENT, "/health", "/v1/auth"}
    for path, operations in document["paths"].items():
        assert set(operations) == {"get"}, path


@pytest.mark.parametrize("path", sorted(CONTENT))
def test_content_endpoints_document_parameters_and_answers(
    document: dict[str, Any], path: str
) -> None:
    operation = document["paths"][path]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    for name in CONTENT[path]:
        assert params[name]["in"] == "path"
        assert params[name]["required"] is True
        assert params[name]["schema"]["pattern"].startswith("^")
    for header in ("range", "if-range", "if-none-match"):
        assert params[header]["in"] == "header"
    assert set(operation["responses"]) == {"200", "206", "304", "400", "401", "403", "404", "416"}
    assert operation["security"] == [{"HTTPBearer": []}]
    assert "ETag" in operation["responses"]["200"]["headers"]
    assert "Content-Range" in operation["responses"]["206"]["headers"]


def test_blob_answers_say_how_bytes_are_encoded(document: dict[str, Any]) -> None:
    ok = document["paths"]["/v1/blobs/{sha256}"]["get"]["responses"]["200"]
    assert "application/octet-stream" in ok["content"]
    assert ok["headers"]["X-Uplevel-Encoding"]["schema"]["enum"] == ["raw", "zstd"]


def test_auth_endpoint_and_security_scheme(document: dict[str, Any]) -> None:
    auth = document["paths"]["/v1/auth"]["get"]
    assert set(auth["responses"]) == {"204", "401", "403"}
    names = {p["name"] for p in auth["parameters"]}
    assert {"x-original-uri", "uri"} <= names
    scheme = document["components"]["securitySchemes"]["HTTPBearer"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}


def test_no_undocumented_validation_answer(document: dict[str, Any]) -> None:
    """Malformed parameters are answered 400 (documented), never FastAPI's 422."""
    for operations in document["paths"].values():
        for operation in operations.values():
            assert "422" not in operation["responses"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
