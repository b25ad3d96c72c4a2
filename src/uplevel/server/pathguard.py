"""Refuse a request whose path could climb out of the repository, before routing.

Runs on the raw path as the client sent it, ahead of every route (and of the 404
for unknown ones), so no handler and no file open ever sees a path with `..`,
`%2e%2e`, a backslash, a NUL or an encoded slash (uplevel.server.names.refusal).
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from uplevel.server.names import refusal


class PathGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path")
            path = (
                raw.decode("latin-1")
                if isinstance(raw, bytes)
                else scope["path"].encode("utf-8", "surrogateescape").decode("latin-1")
            )
            why = refusal(path)
            if why is not None:
                response = JSONResponse(
                    {"detail": f"refused: {why}"},
                    status_code=400,
                    headers={"cache-control": "no-store"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
