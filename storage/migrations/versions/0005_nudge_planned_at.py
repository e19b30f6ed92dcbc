"""When each nudge was planned to go out, kept while retries move `send_at` on.

The grace window (nudges.grace_minutes) is counted from it: measured from a `send_at` that
every retry pushed later, a nudge failing for hours was retried for hours and could arrive
long after its moment. A snooze is a new plan, and sets it again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("nudges") as batch:
        batch.add_column(sa.Column("planned_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE nudges SET planned_at = send_at")  # the best known for older rows
    with op.batch_alter_table("nudges") as batch:
        batch.alter_column("planned_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("nudges") as batch:
        batch.drop_column("planned_at")
