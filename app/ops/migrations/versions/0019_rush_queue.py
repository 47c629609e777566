"""Opening-day rush: services.rush and rush_opens_at; the admission queues and their tickets

Revision ID: 0019_rush_queue
Revises: 0018_call_wrapup
Create Date: 2026-12-03 12:30:00

Safe on a live PostgreSQL database: two new tables, and two new services
columns, one nullable and one with a constant default (no rewrite).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_rush_queue"
down_revision: str | None = "0018_call_wrapup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: on SQLite a non-literal default makes the
    # batch copy services into a new table, and dropping the old one fails the
    # foreign keys of every booking and staff member pointing at it.
    op.add_column(
        "services", sa.Column("rush", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("services", sa.Column("rush_opens_at", TS, nullable=True))

    op.create_table(
        "rush_queues",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.Column("admitted", sa.BigInteger(), nullable=False),
        sa.Column("admitted_until", TS, nullable=False),
        sa.Column("checked_at", TS, nullable=True),
        sa.Column("full_since", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_rush_queues_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_id", name=op.f("pk_rush_queues")),
    )

    op.create_table(
        "rush_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("admitted_at", TS, nullable=True),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_rush_tickets_booking_id_bookings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_rush_tickets_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rush_tickets")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_rush_tickets_booking_id")),
    )
    with op.batch_alter_table("rush_tickets") as batch_op:
        batch_op.create_index("uq_rush_tickets_number", ["service_id", "number"], unique=True)
        batch_op.create_index("ix_rush_tickets_active", ["service_id", "admitted_at"])


def downgrade() -> None:
    op.drop_table("rush_tickets")
    op.drop_table("rush_queues")
    if op.get_bind().dialect.name == "sqlite":
        # In place (SQLite 3.35+): a batch copy drops and re-creates services,
        # which bookings and staff reference, and the foreign keys refuse it.
        op.execute("ALTER TABLE services DROP COLUMN rush_opens_at")
        op.execute("ALTER TABLE services DROP COLUMN rush")
        return
    op.drop_column("services", "rush_opens_at")
    op.drop_column("services", "rush")
