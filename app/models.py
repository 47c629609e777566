"""Every table the app knows, imported in one place for Alembic and create_all."""

import app.call_events
import app.consultations
import app.documents  # noqa: F401  (photos and pushed documents of calls)
from scheduler.orm import Base

__all__ = ["Base"]
