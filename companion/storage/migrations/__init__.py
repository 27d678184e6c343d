"""The Alembic environment (`env.py`, `script.py.mako`) and the schema revisions (`versions/`).

Run through `companion.storage.migrate`, which configures Alembic in code; there is no alembic.ini.
"""
