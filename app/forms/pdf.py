"""The signed form as a PDF: the signed view's pages, the signature and its proof.

reportlab with a TrueType Japanese font (IPAex Gothic, ``fonts-ipaexfont-gothic``)
registered as a ``TTFont``, so the glyphs used are embedded as a subset: the
PDF reads the same on any machine, unlike reportlab's CID fonts, which name a
font the reader must already have. Each page of the view starts a new sheet
(a long one continues on the next); labels are on the left, values on the
right, a repeating group prints as a table of its items.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

__all__ = ["FONT_PATH", "FontMissing", "SignedBy", "render_pdf"]

FONT_NAME = "IPAexGothic"
FONT_PATH = Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")
_font_lock = threading.Lock()


class FontMissing(RuntimeError):
    """The Japanese font is not installed (``apt-get install fonts-ipaexfont-gothic``)."""


def _register_font() -> None:
    # Parsing the font takes most of a render; once per process is enough.
    with _font_lock:
        if FONT_NAME in pdfmetrics.getRegisteredFontNames():
            return
        if not FONT_PATH.exists():
            raise FontMissing(f"{FONT_PATH} is missing: install fonts-ipaexfont-gothic")
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_PATH)))


@dataclass(frozen=True, slots=True)
class SignedBy:
    """What the PDF says about the signature."""

    image: bytes  # PNG
    signed_at: datetime
    view_hash: str
    call: str  # e.g. "予約 BK-1234" or "受付番号 12 (2026-12-03)"
    city: str


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT_NAME, fontSize=10, leading=14, wordWrap="CJK")
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=24, spaceAfter=4),
        "page": ParagraphStyle("page", parent=base, fontSize=13, leading=18, spaceAfter=4),
        "section": ParagraphStyle(
            "section", parent=base, fontSize=11, leading=16, spaceBefore=6, spaceAfter=2
        ),
        "label": ParagraphStyle("label", parent=base, fontSize=9, leading=12),
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=11),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Paragraph(escaped.replace("\n", "<br/>"), style)


_GRID = TableStyle(
    [
        ("FONTNAME", (0, 0), (-1, -1), FONT_NAME),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eeeeee")),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
)
WIDTH = A4[0] - 30 * mm


def _group_table(row: Mapping[str, Any], st: dict[str, ParagraphStyle]) -> Flowable:
    items: list[list[Mapping[str, Any]]] = row["items"]
    labels: list[str] = []
    for item in items:
        for cell in item:
            if cell["label_ja"] not in labels:
                labels.append(cell["label_ja"])
    if not items or not labels:
        return _p("（なし）", st["base"])
    header = [_p("", st["label"]), *(_p(label, st["label"]) for label in labels)]
    body = []
    for number, item in enumerate(items, start=1):
        texts = {cell["label_ja"]: cell["text"] for cell in item}
        body.append(
            [_p(str(number), st["label"]), *(_p(texts.get(lb, "―"), st["base"]) for lb in labels)]
        )
    inner = WIDTH * 0.75 - 8
    widths = [8 * mm] + [(inner - 8 * mm) / len(labels)] * len(labels)
    table = Table([header, *body], colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _section(section: Mapping[str, Any], st: dict[str, ParagraphStyle]) -> list[Flowable]:
    data: list[list[Flowable]] = []
    for row in section["rows"]:
        value = _group_table(row, st) if "items" in row else _p(row["text"], st["base"])
        data.append([_p(row["label_ja"], st["label"]), value])
    out: list[Flowable] = [_p(section["title_ja"], st["section"])]
    if data:
        table = Table(data, colWidths=[WIDTH * 0.25, WIDTH * 0.75])
        table.setStyle(_GRID)
        out.append(table)
    return out


def _signature(signed: SignedBy, tz: ZoneInfo, st: dict[str, ParagraphStyle]) -> Flowable:
    with PILImage.open(io.BytesIO(signed.image)) as img:
        width, height = img.size
    scale = min(80 * mm / width, 30 * mm / height)
    image = Image(io.BytesIO(signed.image), width=width * scale, height=height * scale)
    local = signed.signed_at.astimezone(tz)
    rows: list[list[Flowable]] = [
        [_p("署名", st["label"]), image],
        [_p("署名日時", st["label"]), _p(f"{local:%Y年%m月%d日 %H:%M}", st["base"])],
        [_p("通話", st["label"]), _p(signed.call, st["base"])],
        [_p("表示内容のハッシュ (SHA-256)", st["label"]), _p(signed.view_hash, st["small"])],
    ]
    table = Table(rows, colWidths=[WIDTH * 0.25, WIDTH * 0.75])
    table.setStyle(_GRID)
    return KeepTogether(
        [
            _p("署名欄", st["section"]),
            _p(
                "上記の内容を画面で確認し、署名しました。"
                "（I checked the above on screen and signed it.）",
                st["small"],
            ),
            Spacer(1, 2 * mm),
            table,
        ]
    )


def render_pdf(view: Mapping[str, Any], signed: SignedBy, tz: ZoneInfo) -> bytes:
    """The PDF of a signed view (``app.forms.view.build_view``)."""
    _register_font()
    st = _styles()
    form = view["form"]
    title = f"{form['title_ja']}"
    story: list[Flowable] = []
    pages = view["pages"]
    for index, page in enumerate(pages):
        if index:
            story.append(PageBreak())
        story.append(_p(title, st["title"]))
        story.append(
            _p(
                f"{signed.city}　様式 {form['template']} 第{form['template_version']}版　"
                f"受付 No.{form['id']}-{form['version']}",
                st["small"],
            )
        )
        story.append(_p(f"{page['number']}. {page['title_ja']}", st["page"]))
        for section in page["sections"]:
            story.extend(_section(section, st))
    story.append(Spacer(1, 6 * mm))
    story.append(_signature(signed, tz, st))

    def footer(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT_NAME, 8)
        canvas.drawString(15 * mm, 10 * mm, f"{title}　{signed.view_hash[:16]}…")
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"{doc.page}")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        title=title,
        author=signed.city,
        subject=form["template"],
        creator="madoguchi",
        invariant=1,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
