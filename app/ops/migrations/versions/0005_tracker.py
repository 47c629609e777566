"""tracker: session records, applications, audit log (append-only), webhook outbox

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:38:25.375330
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The audit log only grows: UPDATE and DELETE are refused by the database
# itself, whoever connects (the retention job never touches it).
PG_AUDIT_GUARD = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""
SQLITE_AUDIT_GUARD = (
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Substring search over reference, name and notes (trigram GIN indexes).
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table('webhook_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_outbox'))
    )
    with op.batch_alter_table('webhook_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_outbox_next_attempt_at'), ['next_attempt_at'], unique=False)

    op.create_table('applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('procedure', sa.String(length=120), nullable=False),
    sa.Column('resident_name', sa.String(length=100), nullable=False),
    sa.Column('resident_email', sa.String(length=200), nullable=True),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('pseudonymised', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['staff.id'], name=op.f('fk_applications_assignee_id_staff')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_applications_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications')),
    sa.UniqueConstraint('reference', name=op.f('uq_applications_reference'))
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_applications_dept_created', ['department_id', 'created_at'], unique=False)
        batch_op.create_index('ix_applications_status_due', ['status', 'due_date'], unique=False)
        batch_op.create_index('ix_applications_trgm_notes', ['notes'], unique=False, postgresql_using='gin', postgresql_ops={'notes': 'gin_trgm_ops'})
        batch_op.create_index('ix_applications_trgm_reference', ['reference'], unique=False, postgresql_using='gin', postgresql_ops={'reference': 'gin_trgm_ops'})
        batch_op.create_index('ix_applications_trgm_resident_name', ['resident_name'], unique=False, postgresql_using='gin', postgresql_ops={'resident_name': 'gin_trgm_ops'})

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('object_type', sa.String(length=30), nullable=False),
    sa.Column('object_id', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)

    op.create_table('application_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=True),
    sa.Column('content_type', sa.String(length=60), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('data', sa.LargeBinary(), nullable=True),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_documents_application_id_applications'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_documents'))
    )
    with op.batch_alter_table('application_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_documents_application_id'), ['application_id'], unique=False)

    op.create_table('application_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('actor', sa.String(length=40), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_events_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_application_events_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_events'))
    )
    with op.batch_alter_table('application_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_events_application_id'), ['application_id'], unique=False)

    op.create_table('session_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('room', sa.String(length=128), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('kiosk_id', sa.Integer(), nullable=True),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('wait_seconds', sa.Integer(), nullable=True),
    sa.Column('talk_seconds', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('no_show', sa.Boolean(), nullable=False),
    sa.Column('reconstructed', sa.Boolean(), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_session_records_booking_id_bookings')),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_session_records_branch_id_branches')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_session_records_department_id_departments')),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_session_records_kiosk_id_kiosks')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_session_records_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_records')),
    sa.UniqueConstraint('booking_id', name=op.f('uq_session_records_booking_id')),
    sa.UniqueConstraint('room', name=op.f('uq_session_records_room'))
    )
    with op.batch_alter_table('session_records', schema=None) as batch_op:
        batch_op.create_index('ix_session_records_dept_start', ['department_id', 'started_at'], unique=False)
        batch_op.create_index('ix_session_records_open', ['closed', 'started_at'], unique=False)
        batch_op.create_index('ix_session_records_started_at', ['started_at'], unique=False, postgresql_include=['department_id', 'kind', 'channel', 'branch_id', 'no_show', 'wait_seconds', 'talk_seconds'])

    op.create_table('application_sessions',
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_sessions_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['record_id'], ['session_records.id'], name=op.f('fk_application_sessions_record_id_session_records')),
    sa.PrimaryKeyConstraint('application_id', 'record_id', name=op.f('pk_application_sessions')),
    sa.UniqueConstraint('record_id', name=op.f('uq_application_sessions_record_id'))
    )
    op.create_table('session_segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('participant', sa.String(length=128), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['record_id'], ['session_records.id'], name=op.f('fk_session_segments_record_id_session_records'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_session_segments_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_segments'))
    )
    with op.batch_alter_table('session_segments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_segments_record_id'), ['record_id'], unique=False)

    op.create_index('ix_bookings_created_at', 'bookings', ['created_at'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_AUDIT_GUARD)
    else:
        for statement in SQLITE_AUDIT_GUARD:
            op.execute(statement)


def downgrade() -> None:
    op.drop_index('ix_bookings_created_at', table_name='bookings')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_update ON audit_log")
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
    with op.batch_alter_table('session_segments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_segments_record_id'))

    op.drop_table('session_segments')
    op.drop_table('application_sessions')
    with op.batch_alter_table('session_records', schema=None) as batch_op:
        batch_op.drop_index('ix_session_records_started_at')
        batch_op.drop_index('ix_session_records_open')
        batch_op.drop_index('ix_session_records_dept_start')

    op.drop_table('session_records')
    with op.batch_alter_table('application_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_events_application_id'))

    op.drop_table('application_events')
    with op.batch_alter_table('application_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_documents_application_id'))

    op.drop_table('application_documents')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index('ix_applications_trgm_resident_name', postgresql_using='gin', postgresql_ops={'resident_name': 'gin_trgm_ops'})
        batch_op.drop_index('ix_applications_trgm_reference', postgresql_using='gin', postgresql_ops={'reference': 'gin_trgm_ops'})
        batch_op.drop_index('ix_applications_trgm_notes', postgresql_using='gin', postgresql_ops={'notes': 'gin_trgm_ops'})
        batch_op.drop_index('ix_applications_status_due')
        batch_op.drop_index('ix_applications_dept_created')
        batch_op.drop_index(batch_op.f('ix_applications_created_at'))
        batch_op.drop_index(batch_op.f('ix_applications_assignee_id'))

    op.drop_table('applications')
    with op.batch_alter_table('webhook_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_outbox_next_attempt_at'))

    op.drop_table('webhook_outbox')
