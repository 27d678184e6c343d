"""Requests cut by a shutdown get a clean answer.

When `companion serve` is stopped (SIGTERM, Ctrl-C), uvicorn stops accepting connections, gives requests in
flight `shutdown_grace_seconds` to finish, then cancels the rest. A cancelled request would otherwise get
uvicorn's plain-text 500 and a traceback in the log; this outermost ASGI middleware answers it with a JSON
503 and Retry-After instead (or, when its response had already started, ends it), so the client knows to
try again. The thread still running a cut request ends with the process: its open database transaction is
rolled back, never half-committed, and an ingest stopped that way is finished exactly by the next run.
"""

from __future__ import annotations

import asyncio
import json
import logging

from companion.identity.http_security import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("companion")
BODY = json.dumps(
    {
        "error": {
            "code": "shutting_down",
            "message": "the server is shutting down and stopped this request; send it again in a moment",
        }
    }
).encode()


class CutOnShutdown:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except asyncio.CancelledError:
            log.warning("request %s %s cut by shutdown", scope.get("method"), scope.get("path"))
            if started:
                return  # the connection is closed with the response unfinished
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(BODY)).encode()),
                        (b"retry-after", b"5"),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": BODY, "more_body": False})
