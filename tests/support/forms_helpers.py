"""Form templates and signatures for the forms tests: the demo city's forms on a test service."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy.orm import Session

from scheduler.city_file import load_city_file
from scheduler.form_templates import definition_json
from scheduler.models import FormTemplate

DEMO_CITY = Path(__file__).parents[2] / "app" / "ops" / "demo_city.yaml"


def add_demo_templates(session: Session, service_id: int) -> dict[str, int]:
    """The demo city's three forms, filed under ``service_id``; slug -> template id."""
    ids = {}
    for entry in load_city_file(DEMO_CITY).forms:
        template = FormTemplate(
            slug=entry.slug,
            service_id=service_id,
            title_ja=entry.title_ja,
            title_en=entry.title_en,
            version=1,
            definition=definition_json(entry),
            active=True,
        )
        session.add(template)
        session.flush()
        ids[entry.slug] = template.id
    return ids


def signature_png(width: int = 600, height: int = 200, *, ink: bool = True) -> bytes:
    """A signature as the canvas sends it: transparent, with a stroke unless ``ink`` is False."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    if ink:
        draw = ImageDraw.Draw(image)
        draw.line(
            [(20, height // 2), (width // 3, 30), (width - 20, height - 40)], fill="black", width=6
        )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# A complete 転入届 as staff type it (not yet normalised).
TENNYU: dict[str, Any] = {
    "moved_on": "令和8年11月20日",
    "applicant_name": "山田 太郎",
    "applicant_kana": "やまだ たろう",
    "phone": "09012345678",
    "relation": "self",
    "postal_code": "１２３４５６７",
    "address": "みどり市本町1丁目2番3号",
    "previous_address": "東京都千代田区千代田1-1",
    "householder": "山田 太郎",
    "members": [
        {
            "name": "山田 太郎",
            "kana": "ヤマダ タロウ",
            "birth_date": "S55.1.2",
            "sex": "male",
            "relationship": "世帯主",
        }
    ],
    "mynumber_card": True,
}
