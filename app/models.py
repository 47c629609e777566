"""Every table the app knows, imported in one place for Alembic and create_all."""

import app.call_events
import app.consultations  # (consultation records of bookings)
import app.counter_orm  # (walk-in queue, offers, staff presence)
import app.documents  # noqa: F401  (photos and pushed documents of calls)
from scheduler.orm import Base

__all__ = ["Base"]
