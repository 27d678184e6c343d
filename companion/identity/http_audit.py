"""Records admin actions made over HTTP at the edge, so that no route has to remember to.

After a changing request (POST, PUT, PATCH, DELETE) that succeeded (status below 400), when the caller
set on `request.state.principal` is an admin, one audit event is written:

- action: `"METHOD /route/{template}"`, e.g. `DELETE /v1/knowledge/documents/{document_id}`;
- target: the path parameters, e.g. `document_id=3`;
- via: `api` for `/v1` paths, `web` for everything else (the pages);
- details: `{"status": 201}`.

`deps.get_principal` sets the principal for the JSON API; any other code (the web pages' sign-in) only
has to set `request.state.principal` too. A route handler may be more specific by setting
`request.state.audit_action`, `audit_target` (strings) or `audit_details` (a dict, merged into the
details), or opt out with `request.state.audit_skip = True`. Requests that only read but are sent as
POST (search, ask, drafts) are listed in `READ_ONLY` and never recorded.

The event is written after the response has gone out. If writing it fails, the failure is logged with
its traceback (`AuditLog.record_quietly`) and the response stands.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread

from companion.identity.auth import Principal, Role

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("companion.identity.audit")

CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# POST routes of the JSON API that change nothing: an admin using them is not an admin action
READ_ONLY = frozenset(
    {
        ("POST", "/v1/search"),
        ("POST", "/v1/ask"),
        ("POST", "/v1/goals/draft"),
        ("POST", "/v1/sessions/prep"),
        ("POST", "/v1/feedback/coach"),
        ("POST", "/ask"),
        ("POST", "/ask/stream"),
    }
)


def event_for(scope: Scope, status: int) -> dict[str, Any] | None:
    """The audit event a finished request calls for (keyword arguments of `AuditLog.record`), or None."""
    method = scope.get("method", "")
    if method not in CHANGING_METHODS or status >= 400:
        return None
    state = scope.get("state") or {}
    principal = state.get("principal")
    if not isinstance(principal, Principal) or principal.role != Role.admin or state.get("audit_skip"):
        return None
    path: str = scope.get("path", "")
    route = scope.get("route")
    template = getattr(route, "path", None) or path
    if (method, template) in READ_ONLY:
        return None
    params = scope.get("path_params") or {}
    action = state.get("audit_action") or f"{method} {template}"
    target = state.get("audit_target")
    if target is None:
        target = ", ".join(f"{name}={value}" for name, value in params.items())
    details: dict[str, Any] = {"status": status}
    extra = state.get("audit_details")
    if isinstance(extra, dict):
        details.update(extra)
    return {
        "actor": principal,
        "actor_name": principal.name,
        "action": str(action),
        "target": str(target),
        "via": "api" if path == "/v1" or path.startswith("/v1/") else "web",
        "details": details,
    }


class AuditMiddleware:
    """Plain ASGI middleware (streamed responses pass through untouched). It reads the app's
    `Services` from `app.state.services` at request time, as `deps.get_services` does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in CHANGING_METHODS:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})  # shared with every Request built on this scope
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        event = event_for(scope, status) if status else None
        if event is None:
            return
        try:
            audit = scope["app"].state.services.audit
        except Exception:
            log.exception("AUDIT EVENT LOST: no audit service for %s", event["action"])
            return
        await anyio.to_thread.run_sync(lambda: audit.record_quietly(**event))


def install(app: Any) -> None:
    """Add the middleware to a FastAPI app. Installed before `security.install`, it runs inside the
    size and rate limits, so a refused request never reaches it."""
    app.add_middleware(AuditMiddleware)
