"""Access log as JSON lines: one ``tier0.access`` record per HTTP request or websocket session.

Written by the application, not the web server, so the line is the same JSON as
every other log line whichever ASGI server runs it (daphne, uvicorn, gunicorn
with uvicorn workers); the servers' own plain-text access logs are switched off
(``daphne -v 0``, ``uvicorn --no-access-log``). ``ACCESS_LOG=false`` turns it off.
"""

from __future__ import annotations

import logging
import time

logger = logging.getLogger("tier0.access")


class AccessLogMiddleware:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        seen = {"status": None, "bytes": 0}

        async def observed_send(message):
            kind = message["type"]
            if kind == "http.response.start":
                seen["status"] = message["status"]
            elif kind == "http.response.body":
                seen["bytes"] += len(message.get("body", b""))
            elif kind == "websocket.accept":
                seen["status"] = 101
            elif kind == "websocket.close" and seen["status"] is None:
                seen["status"] = 403  # closed before accepting: refused
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            self._log(scope, seen, started)

    @staticmethod
    def _log(scope, seen: dict, started: float) -> None:
        method = scope.get("method", "WS")
        client = scope.get("client") or ("", 0)
        logger.info(
            "%s %s %s",
            method,
            scope["path"],
            seen["status"] or "-",
            extra={
                "method": method,
                "path": scope["path"],
                "status": seen["status"],
                "bytes": seen["bytes"],
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "client": client[0],
                "protocol": scope["type"],
            },
        )
