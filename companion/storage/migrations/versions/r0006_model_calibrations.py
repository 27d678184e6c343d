"""Model calibrations: per backend, task and prompt version, the share of eval cases whose model reply
passed validation (written by `companion eval calibrate`, read by the `auto` polish policy).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_calibrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("backend", sa.String(200), nullable=False),
        sa.Column("task", sa.String(40), nullable=False),
        sa.Column("prompt_version", sa.String(64), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("pass_rate", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_model_calibrations_key", "model_calibrations", ["backend", "task", "prompt_version"])


def downgrade() -> None:
    op.drop_index("ix_model_calibrations_key", table_name="model_calibrations")
    op.drop_table("model_calibrations")
