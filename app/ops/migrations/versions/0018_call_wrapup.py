"""consultations: the wrap-up of every call, booked or walk-in (keyed by the call's room)

Revision ID: 0018_call_wrapup
Revises: 0017_forms
Create Date: 2026-12-03 12:40:00

A walk-in call has no booking, so the consultation record (notes and outcome)
is now found by the call's room; ``booking_id`` stays for booked calls.
Existing rows take their booking's room. On a live PostgreSQL database the
backfill is one UPDATE of a small table; the NOT NULL and the unique
constraint follow it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_call_wrapup"
down_revision: str | None = "0017_forms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("room", sa.String(length=128), nullable=True))
    op.execute(
        "UPDATE consultations SET room = "
        "(SELECT bookings.room_id FROM bookings WHERE bookings.id = consultations.booking_id)"
    )
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.alter_column("room", existing_type=sa.String(length=128), nullable=False)
        batch_op.alter_column("booking_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_unique_constraint(batch_op.f("uq_consultations_room"), ["room"])


def downgrade() -> None:
    # Walk-in wrap-ups have no booking to hang on: they go with the column.
    op.execute("DELETE FROM consultations WHERE booking_id IS NULL")
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_consultations_room"), type_="unique")
        batch_op.alter_column("booking_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("room")
