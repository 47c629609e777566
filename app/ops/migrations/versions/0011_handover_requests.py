"""hand-over requests routed like walk-ins; staff presence seen_at for offline detection

Revision ID: 0011_handover_requests
Revises: 0010
Create Date: 2026-11-23 14:00:00

Safe on a live PostgreSQL database: two new tables and two nullable columns.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_handover_requests'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RINGING = sa.text("result = 'ringing'")


def upgrade() -> None:
    op.create_table('handover_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.String(length=128), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('mode', sa.String(length=4), nullable=False),
    sa.Column('from_staff_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('target_staff_id', sa.Integer(), nullable=True),
    sa.Column('context', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('refused_by', sa.JSON(), nullable=False),
    sa.Column('refused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_by', sa.Integer(), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['accepted_by'], ['staff.id'], name=op.f('fk_handover_requests_accepted_by_staff')),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_handover_requests_booking_id_bookings')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_handover_requests_department_id_departments')),
    sa.ForeignKeyConstraint(['from_staff_id'], ['staff.id'], name=op.f('fk_handover_requests_from_staff_id_staff')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_handover_requests_service_id_services')),
    sa.ForeignKeyConstraint(['target_staff_id'], ['staff.id'], name=op.f('fk_handover_requests_target_staff_id_staff')),
    sa.ForeignKeyConstraint(['ticket_id'], ['queue_tickets.id'], name=op.f('fk_handover_requests_ticket_id_queue_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handover_requests'))
    )
    with op.batch_alter_table('handover_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handover_requests_room_id'), ['room_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handover_requests_status'), ['status'], unique=False)

    op.create_table('handover_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['handover_requests.id'], name=op.f('fk_handover_offers_request_id_handover_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_handover_offers_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handover_offers'))
    )
    # The database refuses a second ringing offer for one request or one person.
    with op.batch_alter_table('handover_offers', schema=None) as batch_op:
        batch_op.create_index('uq_handover_offers_ringing_request', ['request_id'], unique=True, sqlite_where=RINGING, postgresql_where=RINGING)
        batch_op.create_index('uq_handover_offers_ringing_staff', ['staff_id'], unique=True, sqlite_where=RINGING, postgresql_where=RINGING)

    op.add_column('staff_presence', sa.Column('seen_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('staff_presence', sa.Column('resume_status', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff_presence', schema=None) as batch_op:
        batch_op.drop_column('resume_status')
        batch_op.drop_column('seen_at')
    with op.batch_alter_table('handover_offers', schema=None) as batch_op:
        batch_op.drop_index('uq_handover_offers_ringing_staff')
        batch_op.drop_index('uq_handover_offers_ringing_request')
    op.drop_table('handover_offers')
    with op.batch_alter_table('handover_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handover_requests_status'))
        batch_op.drop_index(batch_op.f('ix_handover_requests_room_id'))
    op.drop_table('handover_requests')
