"""deploy/nginx/uplevel.conf for real: nginx serves REPO's files and asks the running
`uplevel serve` (auth_request → /v1/auth) whether each request may have them."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.homes import run_cli
from tests.support.published import AM, Published, create_token
from tests.support.server import Server, bearer, free_port, raw_get

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "uplevel.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

pytestmark = pytest.mark.skipif(
    NGINX is None,
    reason="nginx is not installed (no nginx on PATH or /usr/sbin/nginx; Debian package `nginx`)",
)


def render(template: str, *, repo: Path, backend: str, listen: str) -> str:
    text = (
        template.replace("${UPLEVEL_REPO}", str(repo))
        .replace("${UPLEVEL_BACKEND}", backend)
        .replace("${UPLEVEL_LISTEN}", listen)
    )
    assert "${UPLEVEL_" not in text
    return text


def main_config(prefix: Path, site: Path) -> str:
    """A whole nginx.conf that keeps everything in `prefix` and runs as the test's user."""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
master_process off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix / "access.log"};
{temp}
    include {site};
}}
"""


@pytest.fixture(scope="module")
def nginx(
    published: Published, server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    assert NGINX is not None
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    site = prefix / "uplevel.conf"
    site.write_text(
        render(
            TEMPLATE.read_text(),
            repo=published.repo,
            backend=server.url.removeprefix("http://"),
            listen=f"127.0.0.1:{port}",
        )
    )
    conf = prefix / "nginx.conf"
    conf.write_text(main_config(prefix, site))
    command = [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (prefix / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not come up"
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


@pytest.fixture(scope="module")
def front(nginx: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=nginx, timeout=10) as c:
        yield c


def test_authorised_blob_downloads_equal_the_stored_files(
    published: Published, front: httpx.Client
) -> None:
    for name in ("big", "toml"):
        blob = published.blobs[name]
        r = front.get(f"/v1/blobs/{blob.sha256}", headers=bearer(published.tokens["full"]))
        assert r.status_code == 200
        assert r.content == blob.stored
        assert r.headers["x-uplevel-encoding"] == blob.encoding
        assert r.headers["content-type"] == "application/octet-stream"


def test_metadata_and_targets_through_nginx(published: Published, front: httpx.Client) -> None:
    token = bearer(published.tokens["security"])
    ts = front.get("/v1/metadata/timestamp.json", headers=token)
    assert ts.status_code == 200
    assert ts.content == (published.repo / "metadata/timestamp.json").read_bytes()
    assert ts.headers["cache-control"] == "private, no-cache"
    assert ts.headers["content-type"] == "application/json"
    root = front.get("/v1/metadata/1.root.json", headers=token)
    assert root.content == (published.repo / "metadata/1.root.json").read_bytes()
    target = front.get(published.target_url(AM, "security", 0, "manifest.json"), headers=token)
    assert target.content == published.target(AM, "security", 0, "manifest.json").read_bytes()
    refused = front.get(published.target_url(AM, "full", 0, "manifest.json"), headers=token)
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("case", "status"),
    [("none", 401), ("other_product", 403), ("expired", 403), ("revoked", 403)],
)
def test_refusals_through_nginx_carry_no_content(
    published: Published, front: httpx.Client, case: str, status: int
) -> None:
    blob = published.blobs["big"]
    headers = {} if case == "none" else bearer(published.tokens[case])
    r = front.get(f"/v1/blobs/{blob.sha256}", headers=headers)
    assert r.status_code == status
    assert blob.stored[:32] not in r.content
    assert len(r.content) < 1024
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_ranges_and_revalidation_through_nginx(published: Published, front: httpx.Client) -> None:
    blob = published.blobs["big"]
    data = blob.stored
    path = f"/v1/blobs/{blob.sha256}"
    token = bearer(published.tokens["full"])
    part = front.get(path, headers={**token, "Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    tail = front.get(path, headers={**token, "Range": "bytes=-10"})
    assert tail.content == data[-10:]
    received = bytearray()
    while len(received) < len(data):
        wanted = f"bytes={len(received)}-{len(received) + 700_000 - 1}"
        r = front.get(path, headers={**token, "Range": wanted})
        assert r.status_code == 206
        received += r.content
    assert bytes(received) == data
    beyond = front.get(path, headers={**token, "Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    etag = part.headers["etag"]
    assert front.get(path, headers={**token, "If-None-Match": etag}).status_code == 304
    assert front.get(path, headers={"If-None-Match": etag}).status_code == 401


@pytest.mark.parametrize(
    "target",
    [
        "/v1/metadata/../../canary.txt",
        "/v1/metadata/%2e%2e/%2e%2e/canary.txt",
        "/v1/metadata/..%2f..%2fcanary.txt",
        "/v1/blobs/../repo.json",
        "/v1/metadata/../keys",
        "/repo.json",
        "/uplevel.db",
        "/v1/auth",
    ],
)
def test_nothing_outside_the_three_areas_is_served(
    published: Published, nginx: str, target: str
) -> None:
    status, raw = raw_get(nginx, target, bearer(published.tokens["full"]))
    assert status in (400, 403, 404), raw[:200]
    assert published.canary.read_bytes() not in raw
    assert b"schema_version" not in raw
    assert b"SQLite" not in raw


def test_a_revoked_token_is_refused_at_once(published: Published, front: httpx.Client) -> None:
    """Authorisation answers are not cached: revocation takes effect on the next request."""
    token, token_id, _ = create_token(published.repo, "wso2am-*", "full")
    path = f"/v1/blobs/{published.blobs['toml'].sha256}"
    assert front.get(path, headers=bearer(token)).status_code == 200
    run_cli("repo", "token", "revoke", published.repo, token_id, "--json", check=0)
    assert front.get(path, headers=bearer(token)).status_code == 403
