"""The update server's HTTP API (docs/repository.md), as a FastAPI application.

Each content route does the same three steps in the same order: its names were
validated by their patterns (400 otherwise; traversal was refused even earlier by
the path guard), the bearer token is checked against the publisher's rule (401 or
403, with a reason and never a byte of content), and only then is a file opened
(404 if absent). `/v1/auth` applies the same rule to the URI nginx is about to
serve, for deployments where nginx sends the bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from uplevel import __version__
from uplevel.server import apidoc, names
from uplevel.server.accesslog import AccessLogMiddleware, note
from uplevel.server.conditional import name_etag, stat_etag
from uplevel.server.files import Conditions, RepoFiles, file_response
from uplevel.server.pathguard import PathGuardMiddleware
from uplevel.server.publisher import (
    Gatekeeper,
    Verdict,
    check_repository,
    resign_timestamp_if_due,
)
from uplevel.server.refresher import DEFAULT_INTERVAL, keep_timestamp_fresh

JSON = "application/json"
OCTETS = "application/octet-stream"
NO_STORE = {"cache-control": "no-store"}
IMMUTABLE = {"cache-control": "private, max-age=31536000, immutable"}
REVALIDATE = {"cache-control": "private, no-cache"}
UNVERSIONED_METADATA = frozenset({"timestamp.json", "root.json"})

bearer = HTTPBearer(
    auto_error=False,
    description="A subscriber token (`upl_…`) made with `uplevel repo token create`.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
RangeHeader = Annotated[
    str | None, Header(alias="range", description="One byte range: bytes=a-b, a- or -n")
]
IfRangeHeader = Annotated[
    str | None, Header(alias="if-range", description="Partial answer only for this ETag")
]
IfNoneMatchHeader = Annotated[
    str | None, Header(alias="if-none-match", description="ETags the client already has")
]


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"detail": detail}, status_code=status, headers={**NO_STORE, **(headers or {})}
    )


def _refusal(verdict: Verdict) -> Response:
    if verdict.status == 401:
        return _problem(
            401, "a bearer token is required", {"www-authenticate": 'Bearer realm="uplevel"'}
        )
    return _problem(403, verdict.reason)


async def _bad_request(request: Request, exc: Exception) -> Response:
    """Malformed parameters are the client's mistake, said as 400 (see apidoc)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    what = "; ".join(
        f"{'.'.join(str(part) for part in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
        for e in errors
    )
    return _problem(400, what or "bad request")


def create_app(
    repo_dir: Path,
    *,
    clock: Callable[[], float] = time.time,
    refresh_interval: float = DEFAULT_INTERVAL,
) -> FastAPI:
    """The server of the repository in `repo_dir`.

    `clock` is the time tokens expire against and log lines carry; `refresh_interval`
    is how often (seconds) the timestamp's remaining lifetime is checked.
    """
    repo_dir = Path(repo_dir)
    check_repository(repo_dir)
    gate = Gatekeeper(repo_dir, clock=clock)
    files = RepoFiles(repo_dir)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(
            keep_timestamp_fresh(lambda: resign_timestamp_if_due(repo_dir), refresh_interval)
        )
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="uplevel update server",
        version=__version__,
        description="Signed updates for Java server products (docs/repository.md).",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_middleware(PathGuardMiddleware)
    app.add_middleware(AccessLogMiddleware, clock=clock)
    apidoc.install_openapi(app)

    def authorise(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None,
        *,
        product: str | None = None,
        channel: str | None = None,
        blob_sha256: str | None = None,
    ) -> Response | None:
        """None when the bearer may read this; otherwise the refusal to send."""
        token = credentials.credentials if credentials else None
        verdict = gate.check(token, product=product, channel=channel, blob_sha256=blob_sha256)
        note(request, token_id=verdict.token_id)
        return None if verdict.allowed else _refusal(verdict)

    @app.get("/health", summary="Liveness", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/v1/metadata/{name}",
        summary="A TUF metadata file",
        tags=["content"],
        response_class=Response,
        responses=apidoc.file_responses(JSON),
    )
    def metadata(
        request: Request,
        name: Annotated[
            str,
            PathParam(
                pattern=names.METADATA_NAME,
                description="timestamp.json, root.json or N.<role>.json",
            ),
        ],
        credentials: Credentials,
        range_: RangeHeader = None,
        if_range: IfRangeHeader = None,
        if_none_match: IfNoneMatchHeader = None,
    ) -> Response:
        if refused := authorise(request, credentials):
            return refused
        opened = files.open("metadata", name)
        if opened is None:
            return _problem(404, f"no metadata file {name}")
        return file_response(
            opened,
            etag=stat_etag(opened.mtime_ns, opened.size),
            media_type=JSON,
            conditions=Conditions(range=range_, if_range=if_range, if_none_match=if_none_match),
            headers=REVALIDATE if name in UNVERSIONED_METADATA else IMMUTABLE,
        )

    @app.get(
        "/v1/targets/{product}/{channel}/{level}/{file}",
        summary="A target document (manifest.json or update.json) of a level",
        tags=["content"],
        response_class=Response,
        responses=apidoc.file_responses(JSON),
    )
    def target(
        request: Request,
        product: Annotated[str, PathParam(pattern=names.PRODUCT, description="e.g. wso2am-4.2.0")],
        channel: Annotated[str, PathParam(pattern=names.CHANNEL, description="full or security")],
        level: Annotated[str, PathParam(pattern=names.LEVEL, description="0, 1, 2, …")],
        file: Annotated[
            str,
            PathParam(
                pattern=names.TARGET_FILE,
                description="<sha256>.manifest.json or <sha256>.update.json",
            ),
        ],
        credentials: Credentials,
        range_: RangeHeader = None,
        if_range: IfRangeHeader = None,
        if_none_match: IfNoneMatchHeader = None,
    ) -> Response:
        if refused := authorise(request, credentials, product=product, channel=channel):
            return refused
        opened = files.open("targets", product, channel, level, file)
        if opened is None:
            return _problem(404, f"no target {product}/{channel}/{level}/{file}")
        return file_response(
            opened,
            etag=name_etag(file),
            media_type=JSON,
            conditions=Conditions(range=range_, if_range=if_range, if_none_match=if_none_match),
            headers=IMMUTABLE,
        )

    @app.get(
        "/v1/blobs/{sha256}",
        summary="The stored bytes of one file content",
        tags=["content"],
        response_class=Response,
        responses=apidoc.file_responses(OCTETS, blob=True),
    )
    def blob(
        request: Request,
        sha256: Annotated[str, PathParam(pattern=names.SHA256, description="64 hex digits")],
        credentials: Credentials,
        range_: RangeHeader = None,
        if_range: IfRangeHeader = None,
        if_none_match: IfNoneMatchHeader = None,
    ) -> Response:
        if refused := authorise(request, credentials, blob_sha256=sha256):
            return refused
        for stored, encoding in ((sha256, "raw"), (f"{sha256}.zst", "zstd")):
            opened = files.open("blobs", sha256[:2], stored)
            if opened is not None:
                return file_response(
                    opened,
                    etag=name_etag(stored),
                    media_type=OCTETS,
                    conditions=Conditions(
                        range=range_, if_range=if_range, if_none_match=if_none_match
                    ),
                    headers={**IMMUTABLE, "x-uplevel-encoding": encoding},
                )
        return _problem(404, f"no blob {sha256}")

    @app.get(
        "/v1/auth",
        summary="Authorise an nginx auth_request subrequest",
        description="The original request's URI comes in X-Original-URI (or `uri`); "
        "204 lets nginx serve it, 401 and 403 refuse it. Answers are never cached.",
        tags=["service"],
        status_code=204,
        response_class=Response,
        responses=apidoc.AUTH_RESPONSES,
    )
    def auth(
        request: Request,
        credentials: Credentials,
        x_original_uri: Annotated[
            str | None, Header(alias="x-original-uri", description="nginx's $request_uri")
        ] = None,
        uri: Annotated[
            str | None, Query(description="The original URI, if not in the header")
        ] = None,
    ) -> Response:
        original = x_original_uri if x_original_uri is not None else uri
        note(request, original_uri=original)
        if credentials is None:
            return _refusal(Verdict(401, "no token", None))
        resource = names.classify(original) if original else None
        if resource is None:
            note(request, token_id=gate.token_id(credentials.credentials))
            return _problem(403, "the original URI names no content of this repository")
        if refused := authorise(
            request,
            credentials,
            product=resource.product,
            channel=resource.channel,
            blob_sha256=resource.sha256,
        ):
            return refused
        return Response(status_code=204, headers=NO_STORE)

    return app
