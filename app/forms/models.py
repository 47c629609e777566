"""Tables of the forms domain: forms filled in during a call, their saved
versions, the views pushed to the resident, and the resident's signatures.

The template a form follows is city configuration (``form_templates`` in
``scheduler/models.py``, imported from the city file); a form keeps its own
copy of the definition, so a re-imported template never changes a form
being filled or one already signed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base
from scheduler.models import FormTemplate


class FormState(StrEnum):
    DRAFT = "draft"  # staff are filling it in (or edited it after a push)
    PUSHED = "pushed"  # on the resident's screen, waiting for their signature
    SIGNED = "signed"
    DECLINED = "declined"  # the resident declined to sign this push


class PushState(StrEnum):
    LIVE = "live"
    SUPERSEDED = "superseded"  # staff edited the form (or pushed again)
    SIGNED = "signed"
    DECLINED = "declined"


class Form(Base):
    __tablename__ = "forms"
    __table_args__ = (
        # A form belongs to one call: a booked consultation or a walk-in ticket.
        CheckConstraint("(booking_id IS NULL) <> (ticket_id IS NULL)", name="one_call"),
        Index("ix_forms_match_phone", "match_phone"),
        Index("ix_forms_match_email", "match_email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("form_templates.id"), index=True)
    template_version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id"), nullable=True, index=True
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("queue_tickets.id"), nullable=True, index=True
    )
    # The call's signaling room: the resident's join token must name it.
    room: Mapped[str] = mapped_column(String(128))
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="SET NULL"), nullable=True, index=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(12), default=FormState.DRAFT)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # How a later form finds this resident's earlier ones (digits; lower case).
    match_phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    match_email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Set by the retention job: values, views and signature images are gone.
    erased_at: Mapped[datetime | None] = mapped_column(nullable=True)
    template: Mapped[FormTemplate] = relationship()

    # Optimistic locking: every UPDATE says WHERE version = <the version read>,
    # so a save racing another one in a second process fails instead of
    # overwriting it (the service sets the next version itself).
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012


class FormVersion(Base):
    """Every saved state of a form's values: the history behind ``forms.values``."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "version", name="uq_form_versions_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    staff_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime]


class FormPush(Base):
    """A frozen rendered view shown on the resident's screen, and their page confirmations."""

    __tablename__ = "form_pushes"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    form_version: Mapped[int] = mapped_column(Integer)
    # The canonical JSON text whose SHA-256 is ``view_hash`` (docs/forms.md).
    view: Mapped[str] = mapped_column(Text)
    view_hash: Mapped[str] = mapped_column(String(64))
    page_count: Mapped[int] = mapped_column(Integer)
    confirmed_pages: Mapped[list[int]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(12), default=PushState.LIVE)
    staff_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pushed_at: Mapped[datetime]
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)


class FormSignature(Base):
    """The resident's signature over one push's view; voided, never deleted, by an edit."""

    __tablename__ = "form_signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    push_id: Mapped[int] = mapped_column(ForeignKey("form_pushes.id", ondelete="CASCADE"))
    view_hash: Mapped[str] = mapped_column(String(64))
    # The PNG drawn on the resident's screen (None once erased by retention).
    image: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    image_size: Mapped[int] = mapped_column(Integer)
    signed_at: Mapped[datetime]
    # The call it was made in (docs/forms.md): a booking or a walk-in ticket, and its room.
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("queue_tickets.id"), nullable=True)
    room: Mapped[str] = mapped_column(String(128))
    # The signed PDF as attached to the application.
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("application_documents.id", ondelete="SET NULL"), nullable=True
    )
    voided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    void_reason: Mapped[str] = mapped_column(String(200), default="")
