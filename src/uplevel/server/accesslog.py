"""One JSON line per HTTP request, for operators and log pipelines.

Fields: time (UTC, ISO 8601), client, method, path (as sent, still encoded),
status, bytes (body bytes sent), duration_ms, token_id (the token's public id, or
null) and, for nginx's `/v1/auth` subrequests, original_uri. The bearer token is
never written: handlers record only the id (`note`), and headers are never logged.

Lines go to the `uplevel.server.access` logger; `uplevel serve` decides where that
logger writes (stderr or `--access-log FILE`). This is a plain ASGI middleware, not
Starlette's BaseHTTPMiddleware, so streamed downloads pass through untouched.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("uplevel.server.access")

_NOTE = "uplevel.access_note"
_NOTED_FIELDS = ("token_id", "original_uri")
_MAX_FIELD = 2048


def note(request: Request, **fields: str | None) -> None:
    """Record facts about this request for its log line (only the fields in _NOTED_FIELDS)."""
    slot = request.scope.get(_NOTE)
    if isinstance(slot, dict):
        slot.update({k: v for k, v in fields.items() if k in _NOTED_FIELDS})


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_FIELD else text[:_MAX_FIELD] + "…"


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, *, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        at = self.clock()
        noted: dict[str, str | None] = {}
        scope[_NOTE] = noted
        status = 0
        sent = 0

        async def counting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            client = scope.get("client")
            raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
            line: dict[str, Any] = {
                "time": datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds"),
                "client": client[0] if client else None,
                "method": scope["method"],
                "path": _clip(raw_path.decode("latin-1")),
                "status": status or 500,
                "bytes": sent,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "token_id": noted.get("token_id"),
            }
            if noted.get("original_uri") is not None:
                line["original_uri"] = _clip(str(noted["original_uri"]))
            logger.info(json.dumps(line, ensure_ascii=False))
