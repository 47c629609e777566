"""The demo city, loaded into an empty database by the embedded default."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import func, select

from app.core.context import AppContext
from scheduler.importer import import_city, load_city_file
from scheduler.models import Department

log = logging.getLogger(__name__)
DEMO_CITY = Path(__file__).parent / "demo_city.yaml"


def ensure_demo_city(ctx: AppContext) -> bool:
    """Import the demo city if there are no departments yet; True if it did."""
    with ctx.writer_sessions() as session:
        if session.scalar(select(func.count()).select_from(Department)):
            return False
        report = import_city(session, load_city_file(DEMO_CITY))
        session.commit()
    log.warning("loaded the demo city (%s); staff password is 'demo': not for real use", report)
    return True
