"""Rush queues measure their admission pace: rush_queues.paced_since, paced_from, pace

Revision ID: 0021_rush_pace
Revises: 0020_english_forms
Create Date: 2026-12-03 15:45:00

Safe on a live PostgreSQL database: three new columns on a small table, two
nullable and one with a constant default (no rewrite).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_rush_pace"
down_revision: str | None = "0020_english_forms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (see 0019): no batch copy of a table others reference.
    op.add_column("rush_queues", sa.Column("paced_since", sa.DateTime(timezone=True)))
    op.add_column(
        "rush_queues",
        sa.Column("paced_from", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column("rush_queues", sa.Column("pace", sa.Double()))


def downgrade() -> None:
    # SQLite (3.35+) and PostgreSQL both drop a column in place.
    op.execute("ALTER TABLE rush_queues DROP COLUMN pace")
    op.execute("ALTER TABLE rush_queues DROP COLUMN paced_from")
    op.execute("ALTER TABLE rush_queues DROP COLUMN paced_since")
