"""Every table the app knows, imported in one place for Alembic and create_all."""

import app.calls.consultations  # (consultation records of bookings)
import app.calls.events
import app.counter.models  # (walk-in queue, offers, staff presence)
import app.calls.documents  # (photos and pushed documents of calls)
import app.kiosk.devices  # (kiosk pairing, credentials, heartbeats)
import app.tracker.applications
import app.tracker.dashboard
import app.tracker.records
import app.tracker.webhooks  # noqa: F401  (session records, applications, audit)
from scheduler.models import Base

__all__ = ["Base"]
