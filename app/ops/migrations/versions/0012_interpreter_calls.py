"""interpreters on demand: calls, the kiosk's language choice, native names

Revision ID: 0012_interpreter_calls
Revises: 0011_handover_requests
Create Date: 2026-11-23 14:00:00

Safe on a live PostgreSQL database: every new column is nullable or has a
constant default, and ``interpreter_calls`` is a new table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012_interpreter_calls'
down_revision: str | None = '0011_handover_requests'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("released_at IS NULL")

# Names in their own script for the languages a city file most often has, so
# the kiosk's buttons read right before an administrator edits them.
NATIVE = {
    "pt": "Português",
    "zh": "中文",
    "en": "English",
    "vi": "Tiếng Việt",
    "ko": "한국어",
    "es": "Español",
    "tl": "Tagalog",
    "ne": "नेपाली",
    "jsl": "手話",
}


def upgrade() -> None:
    with op.batch_alter_table('interpreter_languages') as batch_op:
        batch_op.add_column(sa.Column('name_native', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table('interpreters') as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=5), server_default='ja', nullable=False))
    with op.batch_alter_table('queue_tickets') as batch_op:
        batch_op.add_column(sa.Column('interpreter_language', sa.String(length=20), nullable=True))
    languages = sa.table('interpreter_languages', sa.column('code', sa.String), sa.column('name_native', sa.String))
    for code, name in NATIVE.items():
        op.execute(languages.update().where(languages.c.code == code).values(name_native=name))
    op.create_table('interpreter_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('interpreter_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=20), nullable=False),
    sa.Column('room_id', sa.String(length=40), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('called_by', sa.Integer(), nullable=True),
    sa.Column('participant', sa.String(length=60), nullable=False),
    sa.Column('called_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('release_reason', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_interpreter_calls_booking_id_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['called_by'], ['staff.id'], name=op.f('fk_interpreter_calls_called_by_staff'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['interpreter_id'], ['interpreters.id'], name=op.f('fk_interpreter_calls_interpreter_id_interpreters'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['queue_tickets.id'], name=op.f('fk_interpreter_calls_ticket_id_queue_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interpreter_calls'))
    )
    with op.batch_alter_table('interpreter_calls') as batch_op:
        batch_op.create_index(batch_op.f('ix_interpreter_calls_interpreter_id'), ['interpreter_id'], unique=False)
        batch_op.create_index('uq_interpreter_calls_active_interpreter', ['interpreter_id'], unique=True, sqlite_where=ACTIVE, postgresql_where=ACTIVE)
        batch_op.create_index('uq_interpreter_calls_active_room', ['room_id'], unique=True, sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade() -> None:
    op.drop_table('interpreter_calls')
    with op.batch_alter_table('queue_tickets') as batch_op:
        batch_op.drop_column('interpreter_language')
    with op.batch_alter_table('interpreters') as batch_op:
        batch_op.drop_column('locale')
    with op.batch_alter_table('interpreter_languages') as batch_op:
        batch_op.drop_column('active')
        batch_op.drop_column('name_native')
