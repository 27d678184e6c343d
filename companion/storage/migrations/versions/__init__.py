"""Schema revisions, oldest first: `r0001_...`, `r0002_...`. Alembic skips this file."""
