"""Serving files of the repository: open safely inside REPO, then answer 200, 206, 304 or 416.

The only place the server opens files. A file is opened once, by a path built from
validated names, whose real path must lie inside the repository, with O_NOFOLLOW
and O_NONBLOCK (a planted symlink or FIFO is refused, never followed or waited
on); its size, tag and bytes then all come from that one descriptor, so a
timestamp replaced mid-request is served whole, old or new, never a mix. Bytes are
streamed in chunks read off the event loop: a blob of gigabytes costs one buffer.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from uplevel.server.conditional import (
    UNSATISFIABLE,
    ByteRange,
    not_modified,
    range_applies,
    requested_range,
    unsatisfied_content_range,
)

CHUNK = 256 * 1024
_ABSENT = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENXIO)
"""Open errors that mean "no such servable file" (404) rather than a broken server."""


@dataclass(frozen=True)
class OpenFile:
    """A regular file opened for reading; whoever holds it must close it (or hand it on)."""

    fd: int
    size: int
    mtime_ns: int

    def close(self) -> None:
        os.close(self.fd)


class RepoFiles:
    """The files under one repository directory, resolved so that none outside it is opened."""

    def __init__(self, repo_dir: Path) -> None:
        self.root = Path(os.path.realpath(repo_dir))

    def open(self, area: str, *parts: str) -> OpenFile | None:
        """Open REPO/<area>/<parts…> if it is a regular file really inside that area; None if
        there is none.

        `parts` must already be validated names (uplevel.server.names); the checks
        here are the second wall, against symlinks placed inside the repository: a
        metadata name linked to `../keys/…` is not served, nor an area linked outside.
        """
        base = os.path.realpath(self.root / area)
        real = os.path.realpath(self.root.joinpath(area, *parts))
        if not (_strictly_inside(base, str(self.root)) and _strictly_inside(real, base)):
            return None
        try:
            fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno in _ABSENT:
                return None
            raise
        try:
            st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return None
        return OpenFile(fd=fd, size=st.st_size, mtime_ns=st.st_mtime_ns)


def _strictly_inside(path: str, directory: str) -> bool:
    return path != directory and os.path.commonpath([path, directory]) == directory


class FileSliceResponse(Response):
    """Stream `length` bytes from `offset` of an open file, then close it.

    Listens for the client going away so that an abandoned download stops reading
    the disk (uvicorn's ASGI 2.3 `send` silently drops data after a disconnect).
    """

    def __init__(
        self,
        opened: OpenFile,
        *,
        offset: int,
        length: int,
        status_code: int,
        headers: Mapping[str, str],
        media_type: str,
    ) -> None:
        self.opened = opened
        self.offset = offset
        self.length = length
        self.status_code = status_code
        self.media_type = media_type
        self.background = None
        self.init_headers({**headers, "content-length": str(length)})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    await self._send_body(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()
        finally:
            self.opened.close()

    async def _send_body(self, send: Send) -> None:
        offset, remaining = self.offset, self.length
        if remaining == 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        while remaining > 0:
            chunk = await anyio.to_thread.run_sync(
                os.pread, self.opened.fd, min(CHUNK, remaining), offset
            )
            if not chunk:
                raise RuntimeError(f"file shrank while being served ({remaining} bytes short)")
            offset += len(chunk)
            remaining -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})


@dataclass(frozen=True, kw_only=True)
class Conditions:
    """The request headers that decide between 200, 206, 304 and 416."""

    range: str | None = None
    if_range: str | None = None
    if_none_match: str | None = None


def file_response(
    opened: OpenFile,
    *,
    etag: str,
    media_type: str,
    conditions: Conditions,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer for an authorised request of an open file (it takes ownership of `opened`)."""
    common = {"etag": etag, "accept-ranges": "bytes", **(headers or {})}
    if not_modified(conditions.if_none_match, etag):
        opened.close()
        return Response(status_code=304, headers=common)
    wanted = (
        requested_range(conditions.range, opened.size)
        if range_applies(conditions.if_range, etag)
        else None
    )
    if wanted == UNSATISFIABLE:
        opened.close()
        return JSONResponse(
            {"detail": "range not satisfiable"},
            status_code=416,
            headers={**common, "content-range": unsatisfied_content_range(opened.size)},
        )
    if isinstance(wanted, ByteRange):
        return FileSliceResponse(
            opened,
            offset=wanted.start,
            length=wanted.length,
            status_code=206,
            headers={**common, "content-range": wanted.content_range(opened.size)},
            media_type=media_type,
        )
    return FileSliceResponse(
        opened, offset=0, length=opened.size, status_code=200, headers=common, media_type=media_type
    )
