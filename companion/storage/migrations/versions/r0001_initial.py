"""The schema of the first release: users and tokens, documents, mentorships, goals and sessions,
people and their vectors, matching runs and matches, eval runs, results and labels.

A database made by that release (with `create_all`, before migrations existed) has exactly these tables;
`companion.storage.migrate` stamps it with this revision instead of running it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _stamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user_fk(column: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        _stamp("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_users_name", "users", ["name"], unique=True)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        _stamp("created_at"),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        _user_fk("user_id", "CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_tokens_token_hash", "api_tokens", ["token_hash"], unique=True)
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])

    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        _stamp("ingested_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_documents_source", "documents", ["source"], unique=True)

    op.create_table(
        "mentorships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentor_user_id", sa.Integer(), nullable=False),
        sa.Column("mentee_user_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _stamp("created_at"),
        _user_fk("mentor_user_id", "CASCADE"),
        _user_fk("mentee_user_id", "CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mentor_user_id", "mentee_user_id", name="uq_mentorship_pair"),
    )
    op.create_index("ix_mentorships_mentor_user_id", "mentorships", ["mentor_user_id"])
    op.create_index("ix_mentorships_mentee_user_id", "mentorships", ["mentee_user_id"])

    op.create_table(
        "goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentee_user_id", sa.Integer(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=True),
        sa.Column("first_steps", sa.JSON(), nullable=False),
        sa.Column("citations", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _stamp("created_at"),
        _stamp("updated_at"),
        _user_fk("mentee_user_id", "CASCADE"),
        _user_fk("created_by", "SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_goals_mentee_user_id", "goals", ["mentee_user_id"])

    op.create_table(
        "mentoring_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentee_user_id", sa.Integer(), nullable=False),
        sa.Column("mentor_user_id", sa.Integer(), nullable=True),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("length_minutes", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _stamp("created_at"),
        _stamp("updated_at"),
        _user_fk("mentee_user_id", "CASCADE"),
        _user_fk("mentor_user_id", "SET NULL"),
        _user_fk("created_by", "SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mentoring_sessions_mentee_user_id", "mentoring_sessions", ["mentee_user_id"])

    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(200), nullable=True),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("department", sa.String(200), nullable=True),
        sa.Column("site", sa.String(200), nullable=True),
        sa.Column("manager_key", sa.String(200), nullable=True),
        sa.Column("seniority", sa.String(50), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("expertise", sa.Text(), nullable=False),
        sa.Column("goals", sa.Text(), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("preferences", sa.JSON(), nullable=False),
        _stamp("created_at"),
        _stamp("updated_at"),
        _user_fk("user_id", "SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),  # unnamed, as create_all made it (PostgreSQL: people_user_id_key)
    )
    op.create_index("ix_people_key", "people", ["key"], unique=True)
    op.create_index("ix_people_role", "people", ["role"])
    op.create_index("ix_people_manager_key", "people", ["manager_key"])
    op.create_index("ix_people_updated_at", "people", ["updated_at"])

    op.create_table(
        "profile_vectors",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("dimensions", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("phrases", sa.JSON(), nullable=False),
        sa.Column("phrase_vectors", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("person_id"),
    )

    op.create_table(
        "match_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("mentees", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("total_score", sa.Float(), nullable=False),
        sa.Column("greedy_score", sa.Float(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        _stamp("created_at"),
        _user_fk("created_by", "SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("mentee_id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("breakdown", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("mentor_accepted", sa.Boolean(), nullable=False),
        sa.Column("mentee_accepted", sa.Boolean(), nullable=False),
        _stamp("created_at"),
        _stamp("updated_at"),
        sa.ForeignKeyConstraint(["run_id"], ["match_runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mentee_id"], ["people.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mentor_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_matches_run_id", "matches", ["run_id"])
    op.create_index("ix_matches_mentee_id", "matches", ["mentee_id"])
    op.create_index("ix_matches_mentor_id", "matches", ["mentor_id"])
    op.create_index("ix_matches_status", "matches", ["status"])

    op.create_table(
        "eval_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        _stamp("created_at"),
        sa.Column("suites", sa.JSON(), nullable=False),
        sa.Column("case_limit", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt_versions", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("pass_rate", sa.Float(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "eval_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("suite", sa.String(50), nullable=False),
        sa.Column("case_id", sa.String(100), nullable=False),
        sa.Column("task", sa.String(50), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["eval_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_eval_results_run_id", "eval_results", ["run_id"])
    op.create_index("ix_eval_results_suite", "eval_results", ["suite"])

    op.create_table(
        "eval_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("good", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _stamp("created_at"),
        sa.ForeignKeyConstraint(["result_id"], ["eval_results.id"], ondelete="CASCADE"),
        _user_fk("user_id", "SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("result_id", "user_id", name="uq_eval_label_user"),
    )
    op.create_index("ix_eval_labels_result_id", "eval_labels", ["result_id"])


def downgrade() -> None:
    for table in (
        "eval_labels",
        "eval_results",
        "eval_runs",
        "matches",
        "match_runs",
        "profile_vectors",
        "people",
        "mentoring_sessions",
        "goals",
        "mentorships",
        "documents",
        "api_tokens",
        "users",
    ):
        op.drop_table(table)  # its indexes go with it
