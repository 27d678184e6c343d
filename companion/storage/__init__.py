"""Storage: the SQLAlchemy tables and engine (`db`), schema migrations (`migrate`, `migrations/`) and
backup/restore. Imports nothing of the domains above it."""
