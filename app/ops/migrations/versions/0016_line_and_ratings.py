"""LINE links, queued webhook events, link checks, call ratings; outbox columns for LINE

Revision ID: 0016_line_and_ratings
Revises: 0014_ring_offers
Create Date: 2026-12-03 08:40:00

Safe on a live PostgreSQL database: new tables, and new outbox columns that are
nullable or have a constant default. Rows already in the outbox count as
fanned out, so nothing old is copied to LINE.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_line_and_ratings"
down_revision: str | None = "0014_ring_offers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "line_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("waitlist_entry_id", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("linked_at", TS, nullable=False),
        sa.Column("deactivated_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_line_links_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_line_links_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["waitlist_entry_id"],
            ["waitlist.id"],
            name=op.f("fk_line_links_waitlist_entry_id_waitlist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_links")),
    )
    with op.batch_alter_table("line_links") as batch_op:
        batch_op.create_index("ix_line_links_line_user_id", ["line_user_id"])
        batch_op.create_index("ix_line_links_booking_id", ["booking_id"])
        batch_op.create_index("ix_line_links_application_id", ["application_id"])
        batch_op.create_index("ix_line_links_waitlist_entry_id", ["waitlist_entry_id"])
        batch_op.create_index("uq_line_links_booking", ["line_user_id", "booking_id"], unique=True)
        batch_op.create_index(
            "uq_line_links_application", ["line_user_id", "application_id"], unique=True
        )
        batch_op.create_index(
            "uq_line_links_waitlist", ["line_user_id", "waitlist_entry_id"], unique=True
        )

    op.create_table(
        "line_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=20), nullable=False),
        sa.Column("line_user_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("processed_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_events")),
        sa.UniqueConstraint("webhook_event_id", name=op.f("uq_line_events_webhook_event_id")),
    )
    with op.batch_alter_table("line_events") as batch_op:
        batch_op.create_index("ix_line_events_due", ["status", "id"])

    op.create_table(
        "line_link_checks",
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("locale", sa.String(length=5), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_line_link_checks_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_line_link_checks_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("line_user_id", name=op.f("pk_line_link_checks")),
    )

    op.create_table(
        "call_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("rated_at", TS, nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_call_ratings_score_range")),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["session_records.id"],
            name=op.f("fk_call_ratings_record_id_session_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_ratings")),
        sa.UniqueConstraint("record_id", name=op.f("uq_call_ratings_record_id")),
    )

    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("application_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("waitlist_entry_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("actions", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("fanned_out", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index("ix_outbox_fanout", ["fanned_out", "channel"])
    op.execute(sa.text("UPDATE outbox SET fanned_out = true"))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_index("ix_outbox_fanout")
        batch_op.drop_column("fanned_out")
        batch_op.drop_column("actions")
        batch_op.drop_column("waitlist_entry_id")
        batch_op.drop_column("application_id")
    op.drop_table("call_ratings")
    op.drop_table("line_link_checks")
    op.drop_table("line_events")
    op.drop_table("line_links")
