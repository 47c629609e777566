"""Every table the app knows, imported in one place for Alembic and create_all."""

import app.call_events
import app.consultations  # noqa: F401  (consultation records of bookings)
from scheduler.orm import Base

__all__ = ["Base"]
