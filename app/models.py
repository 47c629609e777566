"""Every table the app knows, imported in one place for Alembic and create_all."""

import app.call_events
import app.consultations  # (consultation records of bookings)
import app.counter_orm  # noqa: F401  (walk-in queue, offers, staff presence)
from scheduler.orm import Base

__all__ = ["Base"]
