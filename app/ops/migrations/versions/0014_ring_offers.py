"""one ring model: queue_offers and handover_offers become ring_offers (kind ticket | handover)

Revision ID: 0014_ring_offers
Revises: 0012_interpreter_calls
Create Date: 2026-12-03 08:30:00

Every ring (offer) of a walk-in ticket or a hand-over request to a staff
member lives in one table, so one partial unique index refuses a second
ringing offer to one person whatever it is about. Existing rows are copied
(their ids are renumbered: a ring's id is only used while it rings, and the
console picks the new ids up at its next poll). Should a person have had a
ticket and a hand-over ringing at once (the old tables could not refuse it),
the hand-over's ring is copied as lapsed and the next round rings it again.
Run it with the app stopped: the old tables are dropped.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_ring_offers'
down_revision: str | None = '0013_staff_sessions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RINGING = sa.text("result = 'ringing'")
COLUMNS = "staff_id, offered_at, expires_at, result, answered_at"


def _offer_table(name: str, subject: str, subject_table: str) -> None:
    op.create_table(name,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column(subject, sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint([subject], [f'{subject_table}.id'], name=op.f(f'fk_{name}_{subject}_{subject_table}'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f(f'fk_{name}_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{name}'))
    )


def upgrade() -> None:
    op.create_table('ring_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(kind = 'ticket' AND ticket_id IS NOT NULL AND request_id IS NULL) OR (kind = 'handover' AND request_id IS NOT NULL AND ticket_id IS NULL)", name=op.f('ck_ring_offers_one_subject')),
    sa.ForeignKeyConstraint(['request_id'], ['handover_requests.id'], name=op.f('fk_ring_offers_request_id_handover_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_ring_offers_staff_id_staff'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['queue_tickets.id'], name=op.f('fk_ring_offers_ticket_id_queue_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ring_offers'))
    )
    # The database refuses a second ringing offer for one ticket, one request or one person.
    with op.batch_alter_table('ring_offers', schema=None) as batch_op:
        batch_op.create_index('uq_ring_offers_ringing_request', ['request_id'], unique=True, sqlite_where=RINGING, postgresql_where=RINGING)
        batch_op.create_index('uq_ring_offers_ringing_staff', ['staff_id'], unique=True, sqlite_where=RINGING, postgresql_where=RINGING)
        batch_op.create_index('uq_ring_offers_ringing_ticket', ['ticket_id'], unique=True, sqlite_where=RINGING, postgresql_where=RINGING)

    op.execute(
        "INSERT INTO ring_offers (kind, ticket_id, request_id, staff_id, offered_at, expires_at, result, answered_at) "
        f"SELECT 'ticket', ticket_id, NULL, {COLUMNS} FROM queue_offers ORDER BY id"
    )
    op.execute(
        "INSERT INTO ring_offers (kind, ticket_id, request_id, staff_id, offered_at, expires_at, result, answered_at) "
        "SELECT 'handover', NULL, request_id, staff_id, offered_at, expires_at, "
        "CASE WHEN result = 'ringing' AND staff_id IN "
        "(SELECT staff_id FROM queue_offers WHERE result = 'ringing') THEN 'lapsed' ELSE result END, "
        "answered_at FROM handover_offers ORDER BY id"
    )

    with op.batch_alter_table('queue_offers', schema=None) as batch_op:
        batch_op.drop_index('uq_queue_offers_ringing_ticket')
        batch_op.drop_index('uq_queue_offers_ringing_staff')
    op.drop_table('queue_offers')
    with op.batch_alter_table('handover_offers', schema=None) as batch_op:
        batch_op.drop_index('uq_handover_offers_ringing_staff')
        batch_op.drop_index('uq_handover_offers_ringing_request')
    op.drop_table('handover_offers')


def downgrade() -> None:
    _offer_table('queue_offers', 'ticket_id', 'queue_tickets')
    with op.batch_alter_table('queue_offers', schema=None) as batch_op:
        batch_op.create_index('uq_queue_offers_ringing_staff', ['staff_id'], unique=True, sqlite_where=RINGING, postgresql_where=RINGING)
        batch_op.create_index('uq_queue_offers_ringing_ticket', ['ticket_id'], unique=True, sqlite_where=RINGING, postgresql_where=RINGING)
    _offer_table('handover_offers', 'request_id', 'handover_requests')
    with op.batch_alter_table('handover_offers', schema=None) as batch_op:
        batch_op.create_index('uq_handover_offers_ringing_request', ['request_id'], unique=True, sqlite_where=RINGING, postgresql_where=RINGING)
        batch_op.create_index('uq_handover_offers_ringing_staff', ['staff_id'], unique=True, sqlite_where=RINGING, postgresql_where=RINGING)

    op.execute(
        f"INSERT INTO queue_offers (ticket_id, {COLUMNS}) "
        f"SELECT ticket_id, {COLUMNS} FROM ring_offers WHERE kind = 'ticket' ORDER BY id"
    )
    op.execute(
        f"INSERT INTO handover_offers (request_id, {COLUMNS}) "
        f"SELECT request_id, {COLUMNS} FROM ring_offers WHERE kind = 'handover' ORDER BY id"
    )

    with op.batch_alter_table('ring_offers', schema=None) as batch_op:
        batch_op.drop_index('uq_ring_offers_ringing_ticket')
        batch_op.drop_index('uq_ring_offers_ringing_staff')
        batch_op.drop_index('uq_ring_offers_ringing_request')
    op.drop_table('ring_offers')
