"""Single sign-on: `users.sso_subject` (the identity provider's subject of an account it made) and
`sso_states` (sign-ins in progress: state digest, nonce, PKCE verifier)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("sso_subject", sa.String(300), nullable=True))
        batch.create_unique_constraint("uq_users_sso_subject", ["sso_subject"])
    op.create_table(
        "sso_states",
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(100), nullable=False),
        sa.Column("code_verifier", sa.String(200), nullable=False),
        sa.Column("next_path", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_hash"),
    )
    op.create_index("ix_sso_states_created_at", "sso_states", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_sso_states_created_at", table_name="sso_states")
    op.drop_table("sso_states")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_sso_subject", type_="unique")
        batch.drop_column("sso_subject")
