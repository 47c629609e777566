"""staff sessions: a server-side record of each staff login, so it can be revoked

Revision ID: 0013_staff_sessions
Revises: 0012_interpreter_calls
Create Date: 2026-12-03 09:00:00

Safe on a live PostgreSQL database: a new table. Cookies issued before this
migration carry no session id and stop counting: staff log in once more.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013_staff_sessions'
down_revision: str | None = '0012_interpreter_calls'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_sessions_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_staff_sessions'))
    )
    with op.batch_alter_table('staff_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_sessions_staff_id'), ['staff_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('staff_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_sessions_staff_id'))
    op.drop_table('staff_sessions')
