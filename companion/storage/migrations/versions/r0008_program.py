"""Program rhythm and success: programs, cycles and their milestones, the pairs taking part in each cycle,
goal outcomes (`goals.cycle_id`, `goals.closed_on`, progress notes; status `done` becomes `achieved`),
nominations, surveys with invitations and answers, e-mail nudges sent, user preferences (e-mail opt-out,
calendar feed token), and the cycle of a matching run."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _created() -> sa.Column[object]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "programs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("cadence_days", sa.Integer(), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "cycles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        _created(),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cycles_program_id", "cycles", ["program_id"])
    op.create_index("ix_cycles_starts_on", "cycles", ["starts_on"])
    op.create_table(
        "milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(50), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_milestones_cycle_id", "milestones", ["cycle_id"])
    op.create_table(
        "cycle_mentorships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("mentorship_id", sa.Integer(), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=True),
        _created(),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mentorship_id"], ["mentorships.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cycle_id", "mentorship_id", name="uq_cycle_mentorship"),
    )
    op.create_index("ix_cycle_mentorships_cycle_id", "cycle_mentorships", ["cycle_id"])
    op.create_index("ix_cycle_mentorships_mentorship_id", "cycle_mentorships", ["mentorship_id"])
    op.create_table(
        "goal_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        _created(),
        sa.ForeignKeyConstraint(["goal_id"], ["goals.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_goal_progress_goal_id", "goal_progress", ["goal_id"])
    op.create_index("ix_goal_progress_created_at", "goal_progress", ["created_at"])
    op.create_table(
        "nominations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("nominator_user_id", sa.Integer(), nullable=False),
        sa.Column("nominee_user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _created(),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["nominator_user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["nominee_user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cycle_id", "nominator_user_id", "nominee_user_id", name="uq_nomination"),
    )
    op.create_index("ix_nominations_cycle_id", "nominations", ["cycle_id"])
    op.create_index("ix_nominations_nominator_user_id", "nominations", ["nominator_user_id"])
    op.create_index("ix_nominations_nominee_user_id", "nominations", ["nominee_user_id"])
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("audience", sa.String(20), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=True),
        sa.Column("closes_on", sa.Date(), nullable=True),
        _created(),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_surveys_cycle_id", "surveys", ["cycle_id"])
    op.create_table(
        "survey_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _created(),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("survey_id", "user_id", name="uq_survey_invitation"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_survey_invitations_survey_id", "survey_invitations", ["survey_id"])
    op.create_index("ix_survey_invitations_user_id", "survey_invitations", ["user_id"])
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("contact_requested", sa.Boolean(), nullable=False),
        sa.Column("contact_note", sa.Text(), nullable=False),
        sa.Column("contact_handled", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("survey_id", "user_id", name="uq_survey_response"),
    )
    op.create_index("ix_survey_responses_survey_id", "survey_responses", ["survey_id"])
    op.create_table(
        "nudges_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("period", sa.String(100), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "reason", "period", name="uq_nudge_once"),
    )
    op.create_index("ix_nudges_sent_user_id", "nudges_sent", ["user_id"])
    op.create_index("ix_nudges_sent_sent_at", "nudges_sent", ["sent_at"])
    op.create_table(
        "user_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email_opt_out", sa.Boolean(), nullable=False),
        sa.Column("calendar_token", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
        sa.UniqueConstraint("calendar_token"),
    )
    with op.batch_alter_table("goals") as batch:
        batch.add_column(sa.Column("cycle_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("closed_on", sa.Date(), nullable=True))
        batch.create_index("ix_goals_cycle_id", ["cycle_id"])
        batch.create_foreign_key("fk_goals_cycle_id", "cycles", ["cycle_id"], ["id"], ondelete="SET NULL")
    op.execute("UPDATE goals SET status = 'achieved' WHERE status = 'done'")
    with op.batch_alter_table("match_runs") as batch:
        batch.add_column(sa.Column("cycle_id", sa.Integer(), nullable=True))
        batch.create_index("ix_match_runs_cycle_id", ["cycle_id"])
        batch.create_foreign_key(
            "fk_match_runs_cycle_id", "cycles", ["cycle_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("match_runs") as batch:
        batch.drop_constraint("fk_match_runs_cycle_id", type_="foreignkey")
        batch.drop_index("ix_match_runs_cycle_id")
        batch.drop_column("cycle_id")
    op.execute("UPDATE goals SET status = 'done' WHERE status = 'achieved'")
    with op.batch_alter_table("goals") as batch:
        batch.drop_constraint("fk_goals_cycle_id", type_="foreignkey")
        batch.drop_index("ix_goals_cycle_id")
        batch.drop_column("closed_on")
        batch.drop_column("cycle_id")
    for table in (
        "user_preferences",
        "nudges_sent",
        "survey_responses",
        "survey_invitations",
        "surveys",
        "nominations",
        "goal_progress",
        "cycle_mentorships",
        "milestones",
        "cycles",
        "programs",
    ):
        op.drop_table(table)
