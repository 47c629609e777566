"""Documents at the counter: photos staff take (with consent) and documents they push.

Files are kept in the database (``call_documents``), so every app process and
node sees them and a restart loses none, and deleted by the jobs loop once
their retention ends (``MADOGUCHI_DOCUMENT_RETENTION_DAYS`` after the
booking's end): nothing is left behind.

A still photo of the resident's document is taken only with their on-screen
consent: the signaling server records the resident's ``consent`` answer as a
call event (docs/signaling.md), and :meth:`Documents.add_photo` refuses unless
the latest photo consent in that room was granted.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Final

import filetype
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.calls.models import CallDocument, CallEventRow, DocumentKind
from scheduler.models import Booking
from signaling.events import EventKind

log = logging.getLogger(__name__)

MAX_BYTES: Final = 10 * 1024 * 1024
PHOTO_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/webp"})
PUSH_TYPES: Final = PHOTO_TYPES | {"application/pdf"}
# What a browser may show inline: nothing in these formats runs script.
INLINE_TYPES: Final = PUSH_TYPES


def content_type_of(data: bytes) -> str | None:
    """The type ``data`` really has, from its leading bytes; None if unknown.

    The declared ``Content-Type`` is the uploader's word: HTML declared as a
    PDF would otherwise be stored, and served, as one.
    """
    kind = filetype.guess(data)
    return str(kind.mime) if kind is not None else None


class DocumentError(ValueError):
    """The upload cannot be taken; ``code`` is stable."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code


def _consented(session: Session, room: str) -> bool:
    """Whether the resident's latest answer about photos in ``room`` was yes."""
    rows = session.scalars(
        select(CallEventRow)
        .where(CallEventRow.room == room, CallEventRow.kind == EventKind.CONSENT.value)
        .order_by(CallEventRow.at.desc(), CallEventRow.id.desc())
    )
    for row in rows:
        if row.detail.get("purpose") == "photo":
            return row.detail.get("granted") == "true"
    return False


class Documents:
    def __init__(self, session: Session, retention: timedelta) -> None:
        self.session = session
        self.retention = retention

    def _add(
        self,
        booking: Booking,
        kind: DocumentKind,
        name: str,
        content_type: str,
        data: bytes,
        staff_id: int,
        now: datetime,
    ) -> CallDocument:
        allowed = PHOTO_TYPES if kind is DocumentKind.PHOTO else PUSH_TYPES
        if not data or len(data) > MAX_BYTES:
            raise DocumentError("document-size", str(len(data)))
        detected = content_type_of(data)
        if content_type not in allowed or detected not in allowed:
            raise DocumentError("document-type", f"{content_type} is {detected}")
        content_type = detected
        doc = CallDocument(
            booking_id=booking.id,
            kind=kind.value,
            name=name[:256] or kind.value,
            content_type=content_type,
            data=data,
            staff_id=staff_id,
            created_at=now,
            delete_after=max(now, booking.end_at) + self.retention,
        )
        self.session.add(doc)
        self.session.flush()
        log.info("booking %s: %s document %s stored", booking.code, kind.value, doc.id)
        return doc

    def add_photo(
        self, booking: Booking, content_type: str, data: bytes, staff_id: int, now: datetime
    ) -> CallDocument:
        if not _consented(self.session, booking.room_id):
            raise DocumentError("consent-required")
        name = f"photo-{now:%Y%m%d-%H%M%S}"
        return self._add(booking, DocumentKind.PHOTO, name, content_type, data, staff_id, now)

    def add_pushed(
        self,
        booking: Booking,
        name: str,
        content_type: str,
        data: bytes,
        staff_id: int,
        now: datetime,
    ) -> CallDocument:
        return self._add(booking, DocumentKind.PUSHED, name, content_type, data, staff_id, now)

    def get(self, doc_id: int, now: datetime) -> CallDocument | None:
        doc = self.session.get(CallDocument, doc_id)
        if doc is None or doc.delete_after <= now:
            return None
        return doc

    def purge(self, now: datetime) -> int:
        """Delete every document past its retention; returns how many."""
        result = self.session.execute(delete(CallDocument).where(CallDocument.delete_after <= now))
        count: int = result.rowcount or 0  # type: ignore[attr-defined]
        if count:
            log.info("deleted %s call documents past retention", count)
        return count
