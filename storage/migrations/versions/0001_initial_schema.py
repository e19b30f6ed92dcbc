"""Initial schema: users, drafts of unfinished dialogues, finished thought records.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("active_flow", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_users_telegram_id")),
    )
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("flow", sa.String(length=32), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_drafts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
        sa.UniqueConstraint("user_id", "flow", name=op.f("uq_drafts_user_id")),
    )
    op.create_table(
        "thought_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("completed_at", UTC_TIME, nullable=False),
        sa.Column("situation", sa.Text(), nullable=False),
        sa.Column("emotions", sa.Text(), nullable=False),
        sa.Column("hot_thought", sa.Text(), nullable=False),
        sa.Column("evidence_for", sa.Text(), nullable=False),
        sa.Column("evidence_against", sa.Text(), nullable=False),
        sa.Column("traps", sa.Text(), nullable=False),
        sa.Column("balanced_thought", sa.Text(), nullable=False),
        sa.Column("belief", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_thought_records_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thought_records")),
    )
    op.create_index(
        "ix_thought_records_user_completed", "thought_records", ["user_id", "completed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_thought_records_user_completed", table_name="thought_records")
    op.drop_table("thought_records")
    op.drop_table("drafts")
    op.drop_table("users")
