"""Alembic environment. `companion.storage.migrate` passes the live connection in `config.attributes`;
offline (SQL script) mode is not supported."""

from __future__ import annotations

from alembic import context

from companion.storage.db import Base, include_name

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through companion.storage.migrate (or `companion db upgrade`)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them; PostgreSQL ignores the batch
    compare_type=True,
    include_name=include_name,  # the full-text index objects each engine owns (migration 0003)
)
with context.begin_transaction():
    context.run_migrations()
