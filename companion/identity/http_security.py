"""HTTP hardening at the edge, as plain ASGI middleware (streaming responses pass through untouched):

- security headers on every response (no sniffing, no framing, no referrer, a Content-Security-Policy
  that is `default-src 'none'` for JSON and a same-origin policy for HTML pages);
- a request body size limit: 413 JSON before the body reaches a route;
- rate limiting per API token (per client address without one): an in-memory token bucket, 429 JSON
  with Retry-After. Per process: run one bucket store per replica, or put a shared limiter in front.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from companion.settings import SecuritySettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# FastAPI's /docs and /redoc pages load Swagger UI / ReDoc from jsDelivr and start them inline
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)
DOCS_PATHS = ("/docs", "/redoc")
STATIC_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


async def send_error(send: Send, status: int, code: str, message: str, headers: dict[str, str]) -> None:
    """The same JSON error shape as `app.py` uses for every other error."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Adds the security headers to every HTTP response, unless a route already set one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html"):
                    csp = DOCS_CSP if path.startswith(DOCS_PATHS) else PAGE_CSP
                else:
                    csp = API_CSP
                extra = [*STATIC_HEADERS, (b"content-security-policy", csp.encode())]
                if path.startswith("/v1"):
                    extra.append((b"cache-control", b"no-store"))
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """413 when a request body is larger than `limit`: at once by Content-Length, or while reading a
    body sent without one (chunked), before any of it reaches a route."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _message(self) -> str:
        return (
            f"request body is larger than the {self.limit} byte limit (COMPANION_SECURITY__MAX_REQUEST_BYTES)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await send_error(send, 400, "bad_request", "Content-Length is not a number", {})
                return
            if declared > self.limit:
                await send_error(send, 413, "payload_too_large", self._message(), {"Connection": "close"})
                return
            await self.app(scope, receive, send)
            return
        # no Content-Length: read the body here, within the limit, then replay it to the app
        chunks: list[Message] = []
        size = 0
        while True:
            message = await receive()
            chunks.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await send_error(send, 413, "payload_too_large", self._message(), {"Connection": "close"})
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One bucket per key: `burst` requests at once, refilled at `per_minute` a minute. Holds at most
    `max_keys` buckets (least recently used go first), so unknown tokens cannot exhaust memory."""

    def __init__(
        self,
        *,
        per_minute: float,
        burst: int,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Take one request from the key's bucket: 0 when allowed, else the seconds until one is."""
        now = self.clock()
        bucket = self._buckets.pop(key, None) or _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[key] = bucket
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


class RateLimit:
    """429 with Retry-After when a caller's bucket is empty. Only `/v1` routes count; health checks and
    docs never do. The key is a digest of the bearer token, or the client address without one."""

    def __init__(self, app: ASGIApp, *, buckets: TokenBuckets, per_minute: float) -> None:
        self.app = app
        self.buckets = buckets
        self.per_minute = per_minute

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/v1"):
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(_caller_key(scope))
        if wait > 0:
            retry = max(1, math.ceil(wait))
            message = (
                f"too many requests: the limit is {self.per_minute:g} a minute per token "
                f"(COMPANION_SECURITY__RATE_LIMIT_PER_MINUTE); retry after {retry} s"
            )
            await send_error(send, 429, "rate_limited", message, {"Retry-After": str(retry)})
            return
        await self.app(scope, receive, send)


def _caller_key(scope: Scope) -> str:
    auth = next((v for k, v in scope.get("headers", []) if k == b"authorization"), b"")
    if auth[:7].lower() == b"bearer " and auth[7:].strip():
        return "token:" + hashlib.sha256(auth[7:].strip()).hexdigest()
    client = scope.get("client") or ("unknown", 0)
    return f"client:{client[0]}"


def install(app: Any, settings: SecuritySettings) -> None:
    """Add the middleware to a FastAPI app; the last added runs first (headers wrap everything)."""
    if settings.rate_limit_per_minute > 0:
        buckets = TokenBuckets(per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)
        app.add_middleware(RateLimit, buckets=buckets, per_minute=settings.rate_limit_per_minute)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)
