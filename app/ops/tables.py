"""Every table the app knows, imported in one place for Alembic and create_all.

Each domain keeps its tables in its own ``models.py``; importing them here
registers them all on ``Base.metadata``.
"""

import app.auth.models
import app.calls.models
import app.counter.models
import app.forms.models
import app.kiosk.models
import app.line.models
import app.rush.models
import app.tracker.models  # noqa: F401
import scheduler.models  # noqa: F401
from app.core.db import Base

__all__ = ["Base"]
