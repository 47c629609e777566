"""Forms filled in during a call: form templates (city file), forms, versions, pushes, signatures

Revision ID: 0017_forms
Revises: 0016_line_and_ratings
Create Date: 2026-12-03 12:15:00

Safe on a live PostgreSQL database: new tables only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_forms"
down_revision: str | None = "0016_line_and_ratings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('form_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=60), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('title_ja', sa.String(length=200), nullable=False),
    sa.Column('title_en', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_form_templates_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_templates')),
    sa.UniqueConstraint('slug', name=op.f('uq_form_templates_slug'))
    )
    with op.batch_alter_table('form_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_templates_service_id'), ['service_id'], unique=False)

    op.create_table('forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('template_version', sa.Integer(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('room', sa.String(length=128), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('match_phone', sa.String(length=20), nullable=True),
    sa.Column('match_email', sa.String(length=200), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('(booking_id IS NULL) <> (ticket_id IS NULL)', name=op.f('ck_forms_one_call')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_forms_application_id_applications'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_forms_booking_id_bookings')),
    sa.ForeignKeyConstraint(['created_by'], ['staff.id'], name=op.f('fk_forms_created_by_staff')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_forms_department_id_departments')),
    sa.ForeignKeyConstraint(['template_id'], ['form_templates.id'], name=op.f('fk_forms_template_id_form_templates')),
    sa.ForeignKeyConstraint(['ticket_id'], ['queue_tickets.id'], name=op.f('fk_forms_ticket_id_queue_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forms'))
    )
    with op.batch_alter_table('forms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forms_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_forms_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_forms_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_forms_match_email', ['match_email'], unique=False)
        batch_op.create_index('ix_forms_match_phone', ['match_phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_forms_template_id'), ['template_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_forms_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('form_pushes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('form_version', sa.Integer(), nullable=False),
    sa.Column('view', sa.Text(), nullable=False),
    sa.Column('view_hash', sa.String(length=64), nullable=False),
    sa.Column('page_count', sa.Integer(), nullable=False),
    sa.Column('confirmed_pages', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('pushed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_pushes_form_id_forms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_pushes'))
    )
    with op.batch_alter_table('form_pushes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_pushes_form_id'), ['form_id'], unique=False)

    op.create_table('form_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_versions_form_id_forms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_versions')),
    sa.UniqueConstraint('form_id', 'version', name='uq_form_versions_version')
    )
    op.create_table('form_signatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('push_id', sa.Integer(), nullable=False),
    sa.Column('view_hash', sa.String(length=64), nullable=False),
    sa.Column('image', sa.LargeBinary(), nullable=True),
    sa.Column('image_size', sa.Integer(), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('room', sa.String(length=128), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_form_signatures_booking_id_bookings')),
    sa.ForeignKeyConstraint(['document_id'], ['application_documents.id'], name=op.f('fk_form_signatures_document_id_application_documents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_signatures_form_id_forms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['push_id'], ['form_pushes.id'], name=op.f('fk_form_signatures_push_id_form_pushes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['queue_tickets.id'], name=op.f('fk_form_signatures_ticket_id_queue_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_signatures'))
    )
    with op.batch_alter_table('form_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_signatures_form_id'), ['form_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('form_signatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_signatures_form_id'))

    op.drop_table('form_signatures')
    op.drop_table('form_versions')
    with op.batch_alter_table('form_pushes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_pushes_form_id'))

    op.drop_table('form_pushes')
    with op.batch_alter_table('forms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forms_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_forms_template_id'))
        batch_op.drop_index('ix_forms_match_phone')
        batch_op.drop_index('ix_forms_match_email')
        batch_op.drop_index(batch_op.f('ix_forms_department_id'))
        batch_op.drop_index(batch_op.f('ix_forms_booking_id'))
        batch_op.drop_index(batch_op.f('ix_forms_application_id'))

    op.drop_table('forms')
    with op.batch_alter_table('form_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_templates_service_id'))

    op.drop_table('form_templates')
