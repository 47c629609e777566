"""counter queue: walk-in tickets, offers to staff, staff presence

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RINGING = sa.text("result = 'ringing'")


def upgrade() -> None:
    op.create_table('queue_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('kiosk_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refused_by', sa.JSON(), nullable=False),
    sa.Column('refused_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_queue_tickets_booking_id_bookings')),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_queue_tickets_kiosk_id_kiosks')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_queue_tickets_service_id_services')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_queue_tickets_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_tickets')),
    sa.UniqueConstraint('day', 'number', name='uq_queue_tickets_day_number'),
    sa.UniqueConstraint('room_id', name=op.f('uq_queue_tickets_room_id'))
    )
    with op.batch_alter_table('queue_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_queue_tickets_kiosk_id'), ['kiosk_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_queue_tickets_status'), ['status'], unique=False)

    op.create_table('queue_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_queue_offers_staff_id_staff'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['queue_tickets.id'], name=op.f('fk_queue_offers_ticket_id_queue_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_offers'))
    )
    # The database refuses a second ringing offer for one ticket or one person.
    with op.batch_alter_table('queue_offers', schema=None) as batch_op:
        batch_op.create_index('uq_queue_offers_ringing_staff', ['staff_id'], unique=True, sqlite_where=RINGING, postgresql_where=RINGING)
        batch_op.create_index('uq_queue_offers_ringing_ticket', ['ticket_id'], unique=True, sqlite_where=RINGING, postgresql_where=RINGING)

    op.create_table('staff_presence',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('idle_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_presence_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_staff_presence'))
    )


def downgrade() -> None:
    op.drop_table('staff_presence')
    with op.batch_alter_table('queue_offers', schema=None) as batch_op:
        batch_op.drop_index('uq_queue_offers_ringing_ticket')
        batch_op.drop_index('uq_queue_offers_ringing_staff')
    op.drop_table('queue_offers')
    with op.batch_alter_table('queue_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_queue_tickets_status'))
        batch_op.drop_index(batch_op.f('ix_queue_tickets_kiosk_id'))
    op.drop_table('queue_tickets')
