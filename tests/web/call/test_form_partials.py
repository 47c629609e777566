"""The forms parts of the call pages (templates/forms/): the staff member's form
panel on the staff call page, the resident's review on the join page, and
their texts in both languages. What they do in a browser is tested in
tests/browser/test_form_call.py."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from call_page_helpers import NOW, add_booking, login
from fastapi.testclient import TestClient
from jinja2 import Environment
from sqlalchemy import Engine

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.i18n import catalog
from scheduler.models import Booking
from web.templating import TEMPLATES_DIR


@pytest.fixture
def booking(city_engine: tuple[Engine, object], city: object) -> Booking:
    return add_booking(city_engine[0], city.staff_ids[0], city.consult_id, NOW + timedelta(hours=1))  # type: ignore[attr-defined]


def data_of(html: str, element_id: str) -> dict[str, str]:
    tag = re.search(rf'<[a-z]+ id="{element_id}"(.*?)>', html, re.S)
    assert tag, f"no #{element_id} in the page"
    return {
        k: unescape(v[1:-1])
        for k, v in re.findall(r'data-([a-z-]+)=("[^"]*"|\'[^\']*\')', tag.group(1))
    }


def test_the_staff_call_page_has_the_form_panel_for_its_booking(
    client: TestClient, booking: Booking
) -> None:
    login(client)
    r = client.get(f"/staff/call/{booking.code}?lang=ja")
    assert r.status_code == 200
    data = data_of(r.text, "form-launch")
    assert json.loads(data["of"]) == {"booking_code": booking.code}
    assert data["service-id"] == str(booking.service_id)
    messages = json.loads(data["messages"])
    assert messages["error.not-kana"] == "カタカナで入力してください。"
    assert messages["state.signed"] == "署名済み"
    assert '<aside id="form-panel" class="form-panel"' in r.text
    assert 'href="/static/css/forms.css"' in r.text
    assert "style=" not in r.text  # the CSP forbids inline style


def test_the_join_page_has_the_residents_review(
    client: TestClient, ctx: AppContext, clock: FixedClock, booking: Booking
) -> None:
    clock.moment = booking.start_at - timedelta(minutes=5)
    r = client.get("/join/" + ctx.links.join_token(booking) + "?lang=en")
    assert r.status_code == 200
    messages = json.loads(data_of(r.text, "form-review")["messages"])
    assert messages["confirm-last"] == "This page is correct: go on to sign"
    # The pad has a name and a description, and every control is a real button.
    assert re.search(r'<canvas id="signature-canvas"[^>]*role="img"[^>]*aria-label="[^"]+"', r.text)
    for button in ("btn-form-confirm", "btn-sign-submit", "btn-sign-clear", "btn-sign-undo"):
        assert f'<button type="button" id="{button}"' in r.text


def test_every_forms_message_has_a_japanese_translation() -> None:
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    messages: set[str] = set()
    for path in sorted(Path(TEMPLATES_DIR, "forms").glob("*.html")):
        text = path.read_text()
        for _line, _func, message in env.extract_translations(text):  # type: ignore[attr-defined]
            if isinstance(message, str):
                messages.add(message)
        messages.update(re.findall(r'_\(\s*"([^"]+)"', text))
    assert len(messages) > 60
    # English is the message ids themselves.
    ja = catalog("ja")
    missing = sorted(m for m in messages if not (ja.get(m) and ja.get(m).string))
    assert missing == []
