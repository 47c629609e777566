"""Every table the app knows, imported in one place for Alembic and create_all."""

import app.call_events
import app.consultations  # consultation records of bookings
import app.kiosk_devices  # noqa: F401  (kiosk pairing, credentials, heartbeats)
from scheduler.orm import Base

__all__ = ["Base"]
