"""consultations: the notes and outcome staff record for a booking

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 08:21:25.035165
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'consultations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('booking_id', sa.Integer(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=True),
        sa.Column('referred_department_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(outcome = 'referred') = (referred_department_id IS NOT NULL)",
            name=op.f('ck_consultations_referral_department'),
        ),
        sa.ForeignKeyConstraint(
            ['booking_id'], ['bookings.id'], name=op.f('fk_consultations_booking_id_bookings')
        ),
        sa.ForeignKeyConstraint(
            ['referred_department_id'],
            ['departments.id'],
            name=op.f('fk_consultations_referred_department_id_departments'),
        ),
        sa.ForeignKeyConstraint(
            ['staff_id'], ['staff.id'], name=op.f('fk_consultations_staff_id_staff')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consultations')),
        sa.UniqueConstraint('booking_id', name=op.f('uq_consultations_booking_id')),
    )
    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consultations_staff_id'), ['staff_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consultations_staff_id'))
    op.drop_table('consultations')
