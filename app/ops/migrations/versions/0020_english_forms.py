"""English forms of kiosk names and branch addresses

Revision ID: 0020_english_forms
Revises: 0019_rush_queue
Create Date: 2026-12-03 12:40:00

Safe on a live PostgreSQL database: two new columns with a constant default
(no table rewrite); empty means English pages show the Japanese form.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_english_forms"
down_revision: str | None = "0019_rush_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("branches") as batch:
        batch.add_column(
            sa.Column("address_en", sa.String(length=300), server_default="", nullable=False)
        )
    with op.batch_alter_table("kiosks") as batch:
        batch.add_column(
            sa.Column("name_en", sa.String(length=100), server_default="", nullable=False)
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35+) drops a column in place. A batch copy would drop and
        # re-create branches, which kiosks reference: with foreign keys on,
        # SQLite refuses that as soon as a kiosk exists.
        op.execute("ALTER TABLE kiosks DROP COLUMN name_en")
        op.execute("ALTER TABLE branches DROP COLUMN address_en")
        return
    op.drop_column("kiosks", "name_en")
    op.drop_column("branches", "address_en")
