"""The rich menu under the chat: 予約する / 予約の確認 / 申請の状況 / 窓口の混雑.

``madoguchi line setup --image menu.png`` creates it through the Messaging
API, uploads the city's image (2500×843, four equal columns in this order)
and makes it every user's default. 予約する opens the booking pages (the LIFF
app when ``MADOGUCHI_LINE_LIFF_ID`` is set, so LINE Login links the booking);
the other three are postbacks the bot answers (app/line/service.py).
"""

from __future__ import annotations

from pathlib import Path

from linebot.v3.messaging import (
    MessagingApi,
    MessagingApiBlob,
    PostbackAction,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
    URIAction,
)

from app.core.settings import Settings

WIDTH, HEIGHT = 2500, 843
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def booking_entry(settings: Settings) -> str:
    if settings.line_liff_id:
        return f"https://liff.line.me/{settings.line_liff_id}"
    return settings.public_base_url.rstrip("/") + "/"


def menu_request(settings: Settings) -> RichMenuRequest:
    actions = [
        URIAction(label="予約する", uri=booking_entry(settings)),
        PostbackAction(label="予約の確認", data="action=bookings", display_text="予約の確認"),
        PostbackAction(label="申請の状況", data="action=applications", display_text="申請の状況"),
        PostbackAction(label="窓口の混雑", data="action=wait", display_text="窓口の混雑"),
    ]
    column = WIDTH // len(actions)
    areas = [
        RichMenuArea(
            bounds=RichMenuBounds(x=i * column, y=0, width=column, height=HEIGHT), action=action
        )
        for i, action in enumerate(actions)
    ]
    return RichMenuRequest(
        size=RichMenuSize(width=WIDTH, height=HEIGHT),
        selected=True,
        name="madoguchi",
        chat_bar_text="メニュー / Menu",
        areas=areas,
    )


def setup(api: MessagingApi, blob: MessagingApiBlob, settings: Settings, image: Path) -> str:
    """Create the menu, upload its image, make it the default; returns the rich menu id."""
    content_type = IMAGE_TYPES.get(image.suffix.lower())
    if content_type is None:
        raise ValueError("the rich menu image must be a .png or .jpg file")
    menu_id: str = api.create_rich_menu(menu_request(settings)).rich_menu_id
    blob.set_rich_menu_image(menu_id, image.read_bytes(), _headers={"Content-Type": content_type})
    api.set_default_rich_menu(menu_id)
    return menu_id
