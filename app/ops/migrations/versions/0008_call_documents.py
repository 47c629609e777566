"""call documents (photos with consent, pushed documents)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'call_documents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('booking_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('content_type', sa.String(length=64), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delete_after', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['booking_id'], ['bookings.id'], name=op.f('fk_call_documents_booking_id_bookings')
        ),
        sa.ForeignKeyConstraint(
            ['staff_id'], ['staff.id'], name=op.f('fk_call_documents_staff_id_staff')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_call_documents')),
    )
    with op.batch_alter_table('call_documents', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_call_documents_booking_id'), ['booking_id'], unique=False
        )
        batch_op.create_index('ix_call_documents_delete_after', ['delete_after'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('call_documents', schema=None) as batch_op:
        batch_op.drop_index('ix_call_documents_delete_after')
        batch_op.drop_index(batch_op.f('ix_call_documents_booking_id'))
    op.drop_table('call_documents')
