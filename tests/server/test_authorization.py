"""The access rule over HTTP: every kind of token against every kind of content, directly and
through `/v1/auth` (what nginx asks). A refusal carries a reason and never a byte of content."""

from __future__ import annotations

import httpx
import pytest

from tests.support.published import AM, IS, Published
from tests.support.server import bearer

RESOURCES = ("metadata", "target_full", "target_security", "blob_am", "blob_is")

# token case → expected status per resource (same order as RESOURCES)
MATRIX: dict[str, tuple[int, ...]] = {
    "none": (401, 401, 401, 401, 401),
    "unknown": (403, 403, 403, 403, 403),
    "full": (200, 200, 200, 200, 403),
    "security": (200, 403, 200, 200, 403),
    "other_product": (200, 403, 403, 403, 200),
    "expired": (403, 403, 403, 403, 403),
    "revoked": (403, 403, 403, 403, 403),
}
UNKNOWN_TOKEN = "upl_" + "A" * 43


def resource(published: Published, name: str) -> tuple[str, bytes]:
    """(URL path, the bytes it serves)."""
    if name == "metadata":
        return "/v1/metadata/timestamp.json", (
            published.repo / "metadata/timestamp.json"
        ).read_bytes()
    if name.startswith("target_"):
        channel = name.removeprefix("target_")
        path = published.target(AM, channel, 0, "manifest.json")
        return published.target_url(AM, channel, 0, "manifest.json"), path.read_bytes()
    blob = published.blobs["big" if name == "blob_am" else "identity"]
    return f"/v1/blobs/{blob.sha256}", blob.stored


def headers_for(published: Published, case: str) -> dict[str, str]:
    if case == "none":
        return {}
    return bearer(UNKNOWN_TOKEN if case == "unknown" else published.tokens[case])


def assert_refusal_without_content(response: httpx.Response, content: bytes) -> None:
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"detail"}
    assert len(response.content) < 512
    assert content[:32] not in response.content
    assert response.headers.get("cache-control") == "no-store"


CASES = [(case, i) for case in MATRIX for i in range(len(RESOURCES))]


@pytest.mark.parametrize(("case", "index"), CASES, ids=[f"{c}-{RESOURCES[i]}" for c, i in CASES])
def test_direct_access_follows_the_rule(
    published: Published, client: httpx.Client, case: str, index: int
) -> None:
    path, content = resource(published, RESOURCES[index])
    r = client.get(path, headers=headers_for(published, case))
    assert r.status_code == MATRIX[case][index], r.text
    if r.status_code == 200:
        assert r.content == content
    else:
        assert_refusal_without_content(r, content)
    if r.status_code == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("case", "index"), CASES, ids=[f"{c}-{RESOURCES[i]}" for c, i in CASES])
def test_auth_endpoint_gives_nginx_the_same_answers(
    published: Published, client: httpx.Client, case: str, index: int
) -> None:
    path, content = resource(published, RESOURCES[index])
    r = client.get(
        "/v1/auth", headers={**headers_for(published, case), "X-Original-URI": f"{path}?x=1"}
    )
    expected = MATRIX[case][index]
    assert r.status_code == (204 if expected == 200 else expected)
    if r.status_code == 204:
        assert r.content == b""
        assert r.headers["cache-control"] == "no-store"
    else:
        assert_refusal_without_content(r, content)


def test_auth_endpoint_takes_the_uri_from_the_query_too(
    published: Published, client: httpx.Client
) -> None:
    path, _ = resource(published, "target_security")
    ok = client.get("/v1/auth", params={"uri": path}, headers=bearer(published.tokens["security"]))
    assert ok.status_code == 204
    path, _ = resource(published, "target_full")
    no = client.get("/v1/auth", params={"uri": path}, headers=bearer(published.tokens["security"]))
    assert no.status_code == 403


@pytest.mark.parametrize(
    "uri",
    [
        None,
        "",
        "/etc/passwd",
        "/v1/metadata/../repo.json",
        "/v1/metadata/%2e%2e/repo.json",
        "/v1/metadata/%2E%2E%2Fkeys",
        "/v1/metadata/./timestamp.json",
        "/v1/metadata//timestamp.json",
        "/v1/blobs/" + "A" * 64,
        "/v1/targets/wso2am-4.2.0/full/0/../../../repo.json",
        "/health",
        "/v1/auth",
    ],
)
def test_auth_endpoint_refuses_uris_that_name_no_content(
    published: Published, client: httpx.Client, uri: str | None
) -> None:
    headers = bearer(published.tokens["full"])
    if uri is not None:
        headers["X-Original-URI"] = uri
    r = client.get("/v1/auth", headers=headers)
    assert r.status_code == 403, uri


def test_other_authorization_schemes_count_as_no_token(
    published: Published, client: httpx.Client
) -> None:
    for value in (f"Basic {published.tokens['full']}", "Bearer", "", published.tokens["full"]):
        r = client.get("/v1/metadata/timestamp.json", headers={"Authorization": value})
        assert r.status_code == 401, value


def test_existence_is_not_revealed_before_authorization(
    published: Published, client: httpx.Client
) -> None:
    missing = ["/v1/metadata/999.root.json", f"/v1/targets/{IS}/full/7/{'0' * 64}.update.json"]
    for path in missing:
        assert client.get(path).status_code == 401
        assert client.get(path, headers=bearer(UNKNOWN_TOKEN)).status_code == 403
        r = client.get(path, headers=bearer(published.tokens["other_product"]))
        assert r.status_code == 404
        assert set(r.json()) == {"detail"}
    # A blob no product has: nobody is entitled to it, so it is refused, not "not found".
    nobody = "/v1/blobs/" + "0" * 64
    assert client.get(nobody, headers=bearer(published.tokens["full"])).status_code == 403


def test_a_security_token_reads_security_levels_of_its_products_only(
    published: Published, client: httpx.Client
) -> None:
    token = bearer(published.tokens["security"])
    update = published.target_url(AM, "security", 0, "update.json")
    assert client.get(update, headers=token).status_code == 200
    assert (
        client.get(
            published.target_url(IS, "security", 0, "update.json"), headers=token
        ).status_code
        == 403
    )
