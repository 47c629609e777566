"""A finished call to rate: a booking with the call events the signaling server writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tracker_helpers import add_event, make_booking  # type: ignore[import-not-found]

# Tuesday 2026-12-01 10:00 JST.
START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def finished_call(
    engine: Engine,
    service_id: int,
    staff_id: int,
    *,
    resident_joined: bool = True,
    start: datetime = START,
    email: str | None = "taro@example.jp",
) -> tuple[int, str]:
    """The booking id and room of a call that ended; the resident took part or not."""
    with Session(engine) as session:
        booking = make_booking(session, service_id, staff_id, start, email=email)
        room = booking.room_id
        add_event(session, room, "join", start + timedelta(minutes=1), f"staff:{staff_id}", "staff")
        if resident_joined:
            add_event(session, room, "join", start, "resident", "resident")
            add_event(session, room, "call-start", start + timedelta(minutes=1))
            add_event(
                session,
                room,
                "call-end",
                start + timedelta(minutes=20),
                f"staff:{staff_id}",
                "staff",
            )
        else:
            add_event(
                session, room, "leave", start + timedelta(minutes=20), f"staff:{staff_id}", "staff"
            )
        session.commit()
        return booking.id, room
