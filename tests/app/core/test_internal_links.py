"""Links for kiosks use the internal base URL; links for residents the public one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.core.links import Links
from app.core.settings import Settings
from app.core.tokens import Tokens
from scheduler.models import Booking, Kiosk

PUBLIC = "https://madoguchi.city.example"
INTERNAL = "https://madoguchi.city.lan"


def test_kiosk_links_use_the_internal_url_and_resident_links_the_public_one() -> None:
    links = Links(tokens=Tokens("k" * 32), base_url=PUBLIC, internal_base_url=INTERNAL)
    expires = datetime(2026, 12, 3, tzinfo=UTC)
    assert links.kiosk_url(Kiosk(id=7), expires=expires).startswith(f"{INTERNAL}/kiosk/")
    booking = Booking(id=3, code="MDG-ABC", end_at=expires + timedelta(hours=1))
    assert links.manage_url(booking).startswith(f"{PUBLIC}/manage/")


def test_without_an_internal_url_every_link_is_public() -> None:
    links = Links(tokens=Tokens("k" * 32), base_url=PUBLIC)
    expires = datetime(2026, 12, 3, tzinfo=UTC)
    assert links.kiosk_url(Kiosk(id=7), expires=expires).startswith(f"{PUBLIC}/kiosk/")
    assert Settings(public_base_url=PUBLIC).internal_url() == PUBLIC
    assert Settings(public_base_url=PUBLIC, internal_base_url=INTERNAL).internal_url() == INTERNAL
