"""Schemathesis drives the running server from its own OpenAPI document: whatever it sends
(valid and invalid names, hostile headers, odd ranges), the answer is never a server error.

Hypothesis runs schemathesis's strategies directly: `schemathesis.pytest.from_fixture`
fails under pytest 9 (it sets `Function._nodeid`, which pytest 9 no longer has).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from tests.support.published import AM, Published
from tests.support.server import Server, bearer

EXAMPLES = 50
OPERATIONS = {
    "/health": False,
    "/v1/auth": True,
    "/v1/metadata/{name}": True,
    "/v1/targets/{product}/{channel}/{level}/{file}": True,
    "/v1/blobs/{sha256}": True,
}
"""Each GET operation, and whether it has parameters to get wrong (negative cases)."""

PINNED = ("blob", "target")
"""Runs whose path names a real file, so that the headers (Range, If-Range, If-None-Match)
are fuzzed against bytes that are served, not only against refusals."""

RUNS = [
    *((path, mode, None) for path in OPERATIONS for mode in GenerationMode if OPERATIONS[path]),
    ("/health", GenerationMode.POSITIVE, None),
    *((f"/v1/{p}s/…", mode, p) for p in PINNED for mode in GenerationMode),
]


def pinned_operation(published: Published, pin: str) -> tuple[str, dict[str, str]]:
    if pin == "blob":
        return "/v1/blobs/{sha256}", {"sha256": published.blobs["big"].sha256}
    document = published.target(AM, "full", 0, "manifest.json")
    return "/v1/targets/{product}/{channel}/{level}/{file}", {
        "product": AM,
        "channel": "full",
        "level": "0",
        "file": document.name,
    }


@pytest.fixture(scope="module")
def api_schema(server: Server) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


def test_every_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    found = set()
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document parses into operations
        found.add((result.ok().method.upper(), result.ok().path))
    assert found == {("GET", path) for path in OPERATIONS}


@pytest.mark.parametrize(("path", "mode", "pin"), RUNS, ids=[f"{p}-{m.value}" for p, m, _ in RUNS])
def test_no_server_errors(
    api_schema: schemathesis.BaseSchema,
    published: Published,
    path: str,
    mode: GenerationMode,
    pin: str | None,
) -> None:
    fixed: dict[str, str] | None = None
    if pin is not None:
        path, fixed = pinned_operation(published, pin)
    operation = api_schema[path]["GET"]
    headers = bearer(published.tokens["full"])

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def fuzz(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=10)

    fuzz()


def test_the_server_survived_the_fuzzing(client: httpx.Client) -> None:
    assert client.get("/health").status_code == 200
