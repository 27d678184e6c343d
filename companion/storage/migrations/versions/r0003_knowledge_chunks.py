"""The chunk catalogue `knowledge_chunks` (text, citation fields, sentence vectors for the rerank) and the
database's own full-text index over it.

SQLite: an external-content FTS5 table (`porter` stemming) kept in step by triggers, so every write to
the catalogue updates the index in the same transaction. PostgreSQL: a generated tsvector column
(`english` configuration) with a GIN index. Neither is in the models (see `db.ENGINE_MANAGED_*`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE knowledge_chunks_fts USING fts5(title, heading, body, content='knowledge_chunks', "
    "content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER knowledge_chunks_fts_insert AFTER INSERT ON knowledge_chunks BEGIN "
    "INSERT INTO knowledge_chunks_fts(rowid, title, heading, body) "
    "VALUES (new.id, new.title, new.heading, new.body); END",
    "CREATE TRIGGER knowledge_chunks_fts_delete AFTER DELETE ON knowledge_chunks BEGIN "
    "INSERT INTO knowledge_chunks_fts(knowledge_chunks_fts, rowid, title, heading, body) "
    "VALUES ('delete', old.id, old.title, old.heading, old.body); END",
    "CREATE TRIGGER knowledge_chunks_fts_update AFTER UPDATE ON knowledge_chunks BEGIN "
    "INSERT INTO knowledge_chunks_fts(knowledge_chunks_fts, rowid, title, heading, body) "
    "VALUES ('delete', old.id, old.title, old.heading, old.body); "
    "INSERT INTO knowledge_chunks_fts(rowid, title, heading, body) "
    "VALUES (new.id, new.title, new.heading, new.body); END",
]
_POSTGRES_FTS = [
    "ALTER TABLE knowledge_chunks ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(to_tsvector('english', title || ' ' || heading || ' ' || body)) STORED",
    "CREATE INDEX ix_knowledge_chunks_search_vector ON knowledge_chunks USING gin (search_vector)",
]


def upgrade() -> None:
    op.create_table(
        "knowledge_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chunk_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("heading", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("sentence_vectors", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_knowledge_chunks_chunk_id", "knowledge_chunks", ["chunk_id"], unique=True)
    op.create_index("ix_knowledge_chunks_source", "knowledge_chunks", ["source"])
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_FTS if dialect == "sqlite" else _POSTGRES_FTS if dialect == "postgresql" else []:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS knowledge_chunks_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS knowledge_chunks_fts")
    op.drop_table("knowledge_chunks")
