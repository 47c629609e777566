"""outbox leases, channels and reminders; idempotency keys

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-23 10:45:00

Safe on a live PostgreSQL database: new columns are nullable or have a
constant default (a catalogue-only change since PostgreSQL 11), the new
indexes on ``outbox`` are built CONCURRENTLY outside the transaction, and
``env.py`` sets a short ``lock_timeout`` so a migration waiting behind a long
transaction fails fast instead of queueing every request behind it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _create_index(name: str, columns: list[str], *, unique: bool = False) -> None:
    if op.get_context().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")  # a failed earlier run
            op.create_index(
                name, "outbox", columns, unique=unique, postgresql_concurrently=True
            )
    else:
        op.create_index(name, "outbox", columns, unique=unique)


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=20), server_default='mail', nullable=False))
        batch_op.add_column(sa.Column('status', sa.String(length=10), server_default='pending', nullable=False))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('lease_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('booking_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('locale', sa.String(length=5), server_default='ja', nullable=False))
        batch_op.add_column(sa.Column('dedup_key', sa.String(length=120), nullable=True))
    op.execute("UPDATE outbox SET status = 'sent' WHERE sent_at IS NOT NULL")
    _create_index('ix_outbox_due', ['status', 'next_attempt_at'])
    _create_index(op.f('ix_outbox_booking_id'), ['booking_id'])
    _create_index('uq_outbox_dedup_key', ['dedup_key'], unique=True)
    op.create_table('idempotency_keys',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_idempotency_keys_booking_id_bookings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_idempotency_keys'))
    )


def downgrade() -> None:
    op.drop_table('idempotency_keys')
    op.drop_index('uq_outbox_dedup_key', table_name='outbox')
    op.drop_index(op.f('ix_outbox_booking_id'), table_name='outbox')
    op.drop_index('ix_outbox_due', table_name='outbox')
    with op.batch_alter_table('outbox') as batch_op:
        for column in ('dedup_key', 'locale', 'booking_id', 'lease_token', 'lease_until', 'status', 'channel'):
            batch_op.drop_column(column)
