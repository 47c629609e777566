"""Every table the app knows, imported in one place for Alembic and create_all."""

import app.call_events
import app.consultations  # (consultation records of bookings)
import app.counter_orm  # (walk-in queue, offers, staff presence)
import app.documents  # (photos and pushed documents of calls)
import app.kiosk_devices  # (kiosk pairing, credentials, heartbeats)
import app.tracker.applications
import app.tracker.dashboard
import app.tracker.records
import app.tracker.webhooks  # noqa: F401  (session records, applications, audit)
from scheduler.orm import Base

__all__ = ["Base"]
