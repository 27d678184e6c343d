"""Identity: users, roles and API tokens (`auth`), passwords and web sessions (`accounts`), the audit log,
and the HTTP edge's plain-ASGI guards (`http_security`, `http_audit`). Uses storage; no FastAPI."""
