"""kiosk devices and interpreters

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 10:38:19.700758
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# One interpreter can never hold two confirmed bookings whose appointments
# overlap, enforced by the database as for staff (see 0001): an exclusion
# constraint on PostgreSQL, triggers on SQLite (one writer at a time).
_SQLITE_INTERPRETER_GUARD = """
SELECT RAISE(ABORT, 'interpreter_overlap')
WHERE NEW.status = 'confirmed' AND NEW.interpreter_id IS NOT NULL AND EXISTS (
    SELECT 1 FROM bookings b
    WHERE b.interpreter_id = NEW.interpreter_id AND b.status = 'confirmed' AND b.id != NEW.id
      AND b.start_at < NEW.end_at AND NEW.start_at < b.end_at
);
"""


# 0001's staff guard, for the SQLite downgrade.
_SQLITE_STAFF_GUARD = """
SELECT RAISE(ABORT, 'booking_overlap')
WHERE NEW.status = 'confirmed' AND EXISTS (
    SELECT 1 FROM bookings b
    WHERE b.staff_id = NEW.staff_id AND b.status = 'confirmed' AND b.id != NEW.id
      AND b.busy_start < NEW.busy_end AND NEW.busy_start < b.busy_end
);
"""


def _interpreter_bookings_upgrade() -> None:
    op.create_table('interpreter_languages',
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name_ja', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_interpreter_languages'))
    )
    op.create_table('interpreters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('languages', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interpreters')),
    sa.UniqueConstraint('slug', name=op.f('uq_interpreters_slug'))
    )
    op.create_table('interpreter_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('interpreter_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start', sa.Time(), nullable=False),
    sa.Column('end', sa.Time(), nullable=False),
    sa.ForeignKeyConstraint(['interpreter_id'], ['interpreters.id'], name=op.f('fk_interpreter_hours_interpreter_id_interpreters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interpreter_hours'))
    )
    op.create_index(op.f('ix_interpreter_hours_interpreter_id'), 'interpreter_hours', ['interpreter_id'], unique=False)
    # Plain ALTER TABLE, never batch mode: recreating ``bookings`` on SQLite
    # would drop its no-double-booking triggers.
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE bookings ADD COLUMN interpreter_id INTEGER "
            "CONSTRAINT fk_bookings_interpreter_id_interpreters REFERENCES interpreters (id)"
        )
    else:
        op.add_column('bookings', sa.Column('interpreter_id', sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f('fk_bookings_interpreter_id_interpreters'), 'bookings', 'interpreters',
            ['interpreter_id'], ['id'],
        )
    op.add_column('bookings', sa.Column('interpreter_language', sa.String(length=20), nullable=True))
    op.create_index(op.f('ix_bookings_interpreter_id'), 'bookings', ['interpreter_id'], unique=False)
    if bind.dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE bookings ADD CONSTRAINT ex_bookings_interpreter_overlap "
            "EXCLUDE USING gist (interpreter_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
            "WHERE (status = 'confirmed' AND interpreter_id IS NOT NULL)"
        )
    elif bind.dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER bookings_no_interpreter_overlap_insert BEFORE INSERT ON bookings "
            "BEGIN" + _SQLITE_INTERPRETER_GUARD + "END"
        )
        op.execute(
            "CREATE TRIGGER bookings_no_interpreter_overlap_update BEFORE UPDATE ON bookings "
            "BEGIN" + _SQLITE_INTERPRETER_GUARD + "END"
        )


def _interpreter_bookings_downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE bookings DROP CONSTRAINT ex_bookings_interpreter_overlap")
        op.drop_constraint(op.f('fk_bookings_interpreter_id_interpreters'), 'bookings', type_='foreignkey')
    else:
        op.execute("DROP TRIGGER IF EXISTS bookings_no_interpreter_overlap_insert")
        op.execute("DROP TRIGGER IF EXISTS bookings_no_interpreter_overlap_update")
    op.drop_index(op.f('ix_bookings_interpreter_id'), table_name='bookings')
    if bind.dialect.name == "sqlite":
        # SQLite cannot drop a column with a foreign key in place; batch mode
        # recreates the table, which loses 0001's triggers: put them back.
        with op.batch_alter_table('bookings', schema=None) as batch_op:
            batch_op.drop_column('interpreter_language')
            batch_op.drop_column('interpreter_id')
        for when in ("insert", "update"):
            op.execute(
                f"CREATE TRIGGER bookings_no_overlap_{when} BEFORE {when.upper()} ON bookings "
                "BEGIN" + _SQLITE_STAFF_GUARD + "END"
            )
    else:
        op.drop_column('bookings', 'interpreter_language')
        op.drop_column('bookings', 'interpreter_id')
    op.drop_index(op.f('ix_interpreter_hours_interpreter_id'), table_name='interpreter_hours')
    op.drop_table('interpreter_hours')
    op.drop_table('interpreters')
    op.drop_table('interpreter_languages')


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('kiosk_pair_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosk_pair_failures'))
    )
    with op.batch_alter_table('kiosk_pair_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_pair_failures_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_kiosk_pair_failures_client'), ['client'], unique=False)

    op.create_table('kiosk_credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kiosk_id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_kiosk_credentials_kiosk_id_kiosks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosk_credentials')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_kiosk_credentials_secret_hash'))
    )
    with op.batch_alter_table('kiosk_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_credentials_kiosk_id'), ['kiosk_id'], unique=False)

    op.create_table('kiosk_heartbeats',
    sa.Column('kiosk_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('camera', sa.String(length=12), nullable=False),
    sa.Column('microphone', sa.String(length=12), nullable=False),
    sa.Column('network', sa.String(length=12), nullable=False),
    sa.Column('rtt_ms', sa.Integer(), nullable=True),
    sa.Column('in_call', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_kiosk_heartbeats_kiosk_id_kiosks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('kiosk_id', name=op.f('pk_kiosk_heartbeats'))
    )
    op.create_table('kiosk_pairings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kiosk_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['staff.id'], name=op.f('fk_kiosk_pairings_created_by_staff'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_kiosk_pairings_kiosk_id_kiosks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosk_pairings')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_kiosk_pairings_code_hash'))
    )
    with op.batch_alter_table('kiosk_pairings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_pairings_kiosk_id'), ['kiosk_id'], unique=False)

    # ### end Alembic commands ###
    _interpreter_bookings_upgrade()


def downgrade() -> None:
    _interpreter_bookings_downgrade()
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('kiosk_pairings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosk_pairings_kiosk_id'))

    op.drop_table('kiosk_pairings')
    op.drop_table('kiosk_heartbeats')
    with op.batch_alter_table('kiosk_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosk_credentials_kiosk_id'))

    op.drop_table('kiosk_credentials')
    with op.batch_alter_table('kiosk_pair_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosk_pair_failures_client'))
        batch_op.drop_index(batch_op.f('ix_kiosk_pair_failures_at'))

    op.drop_table('kiosk_pair_failures')
    # ### end Alembic commands ###
