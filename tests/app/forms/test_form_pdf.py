"""The rendered view, its hash, the signature checks and the PDF with its embedded font."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from forms_helpers import DEMO_CITY, TENNYU, signature_png
from PIL import Image, ImageDraw
from pypdf import PdfReader

from app.forms.pdf import SignedBy, render_pdf
from app.forms.signature import SignatureRefused, check_signature
from app.forms.validation import validate
from app.forms.view import build_view, canonical_json, view_hash
from scheduler.city_file import load_city_file
from scheduler.form_templates import definition_json

TZ = ZoneInfo("Asia/Tokyo")


@pytest.fixture(scope="module")
def tennyu() -> dict[str, object]:
    entry = next(f for f in load_city_file(DEMO_CITY).forms if f.slug == "tennyu-todoke")
    return definition_json(entry)


def view_of(definition: dict[str, object], values: dict[str, object]) -> dict[str, object]:
    result = validate(definition, values)
    assert result.errors == []
    return build_view(definition, result.values, form_id=7, version=3, template_version=1)


def test_the_view_is_deterministic_and_its_hash_follows_every_value(
    tennyu: dict[str, object],
) -> None:
    first = canonical_json(view_of(tennyu, TENNYU))
    assert first == canonical_json(view_of(tennyu, dict(reversed(list(TENNYU.items())))))
    other = canonical_json(view_of(tennyu, {**TENNYU, "previous_address": "東京都港区1-1"}))
    assert view_hash(first) != view_hash(other) and len(view_hash(first)) == 64
    view = view_of(tennyu, TENNYU)
    pages = view["pages"]
    assert isinstance(pages, list) and [p["number"] for p in pages] == [1, 2]
    rows = {r["name"]: r for s in pages[0]["sections"] for r in s["rows"]}
    assert rows["relation"]["text"] == "本人（世帯主を含む）"
    assert rows["postal_code"]["text"] == "〒123-4567"
    assert "agent_reason" not in rows  # hidden, so not shown, not signed
    members = pages[1]["sections"][0]["rows"][0]
    assert members["items"][0][2]["text"] == "昭和55年1月2日（1980年1月2日）"
    assert pages[1]["sections"][0]["rows"][1]["text"] == "はい"


def test_the_pdf_embeds_its_japanese_font_and_prints_the_signed_view(
    tennyu: dict[str, object],
) -> None:
    view = view_of(tennyu, TENNYU)
    digest = view_hash(canonical_json(view))
    signed = SignedBy(
        signature_png(), datetime(2026, 12, 3, 3, 4, tzinfo=UTC), digest, "予約 BK-1", "みどり市"
    )
    pdf = render_pdf(view, signed, TZ)
    # A TrueType font program inside the file: it reads the same everywhere.
    assert b"/FontFile2" in pdf and b"IPAexGothic" in pdf
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(p.extract_text() for p in reader.pages)
    for expected in (
        "転入届",
        "山田 太郎",
        "みどり市本町1丁目2番3号",
        "〒123-4567",
        "2026年12月03日 12:04",
    ):
        assert expected in text, expected
    assert digest in text.replace("\n", "")
    assert any(
        "/XObject" in str(p.get("/Resources", {})) for p in reader.pages
    )  # the signature image


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "signature-empty"),
        (signature_png(ink=False), "signature-empty"),
        (signature_png(4001, 100), "signature-too-large"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (513 * 1024), "signature-too-large"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "signature-type"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage", "signature-type"),
    ],
)
def test_signatures_refused(data: bytes, code: str) -> None:
    with pytest.raises(SignatureRefused) as caught:
        check_signature(data)
    assert caught.value.code == code


def test_a_drawn_signature_on_a_white_canvas_is_taken() -> None:
    image = Image.new("RGB", (400, 150), "white")
    ImageDraw.Draw(image).line([(10, 10), (390, 140)], fill="black", width=4)
    out = io.BytesIO()
    image.save(out, "PNG")
    assert check_signature(out.getvalue()) == (400, 150)
