"""Screenshots of the main pages at phone and desktop widths, for reviewers.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--only NAME ...]

Starts the app in this process on 127.0.0.1 (a free port) with a temporary
SQLite database, the demo city (``app/ops/demo_city.yaml``) and a fixed set of
bookings, at a fixed moment (Tuesday 2026-12-01 09:50 Japan time, so the
pages look the same on every run), then drives Debian's Chromium through
Playwright (fake camera and microphone) and writes one PNG per page and width
plus ``README.md``, the index. The kiosk's call screens need a call: a
signaling node runs in the same process (on the app's fixed clock) and the
staff member and the interpreter join from browser contexts of their own.
Nothing leaves the machine: the app listens on loopback and the browser only
talks to it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import scheduler.service  # noqa: E402
from app.calls.models import CallEventRow  # noqa: E402
from app.core.clock import FixedClock  # noqa: E402
from app.core.context import AppContext  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.counter.models import QueueTicket, TicketStatus  # noqa: E402
from app.main import create_app  # noqa: E402
from app.ops.demo import ensure_demo_city  # noqa: E402
from app.ops.migrate import upgrade  # noqa: E402
from app.signaling_node import start_signaling  # noqa: E402
from app.tracker.wrapup import record_for_room  # noqa: E402
from media.loopback import allow_loopback_candidates  # noqa: E402
from scheduler.models import Booking, Kiosk, Service  # noqa: E402
from scheduler.service import BookingRequest, SchedulingService  # noqa: E402
from scheduler.types import Channel  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
SECRET = "screenshots-secret-not-for-production-" + "x" * 16
PUBLIC_URL = "https://madoguchi.city.midori.example"
# Tuesday 1 December 2026, 09:50 in Japan: counters open, the first call soon.
NOW = datetime(2026, 12, 1, 0, 50, tzinfo=UTC)
TODAY = date(2026, 12, 1)
TOMORROW = date(2026, 12, 2)
DEMO_PASSWORD = "demo"  # noqa: S105 (the demo city's published password, app/ops/demo_city.yaml)


@dataclass(frozen=True)
class Width:
    name: str
    width: int
    height: int
    max_height: int  # long pages are cut here: these are for reading, not archiving
    mobile: bool


WIDTHS = (
    Width("phone", 390, 844, 2200, True),
    Width("desktop", 1280, 800, 1600, False),
)


# -- the app, in this process ------------------------------------------------------------------


@dataclass
class Demo:
    base_url: str
    manage_token: str
    join_token: str
    kiosk_token: str
    service_id: int
    free_start: str
    staff_login: str
    kiosk_code: str = ""  # a kiosk visit at 09:45, under way now
    kiosk_staff: str = ""
    signer_join: str = ""  # a sign-language interpreter's join link for that visit
    record_id: int = 0  # a walk-in call this morning, to wrap up
    first_code: str = ""  # 10:00 転入・転出, whose service has the demo's 転入届
    kiosk_call: str = ""  # the kiosk's call screen for that booking's room
    others: list[BrowserContext] = field(default_factory=list)  # closed after each shot


def _codes() -> Callable[[], str]:
    """Booking codes that are the same on every run (readable in the screenshots)."""
    counter = itertools.count(1)
    alphabet = scheduler.service.CODE_ALPHABET

    def code() -> str:
        n = next(counter)
        return scheduler.service.CODE_PREFIX + "".join(
            alphabet[(n * 7 + i * 11) % len(alphabet)] for i in range(6)
        )

    return code


def _walk_in(session: Session, kiosk: Kiosk, service: Service, staff_id: int) -> int:
    """This morning's walk-in at the kiosk, answered and ended: its session record."""

    def at(minute: int) -> datetime:
        return NOW - timedelta(minutes=50 - minute)  # 09:00 + minute, Japan time

    room = "demo-walk-in-01"
    ticket = QueueTicket(
        day=TODAY, number=1, kiosk_id=kiosk.id, service_id=service.id, priority=1,
        room_id=room, status=TicketStatus.DONE, queued_at=at(20), staff_id=staff_id,
        accepted_at=at(22), ended_at=at(34), refused_by=[],
    )  # fmt: skip
    session.add(ticket)
    staff = f"staff:{staff_id}"
    for minute, kind, pid, role in (
        (20, "join", f"kiosk:{kiosk.id}", "kiosk"),
        (22, "join", staff, "staff"),
        (22, "call-start", None, None),
        (34, "call-end", staff, "staff"),
    ):
        session.add(
            CallEventRow(room=room, kind=kind, participant=pid, role=role, at=at(minute),
                         node="demo", detail={})
        )  # fmt: skip
    session.flush()
    record = record_for_room(session, room, NOW)
    assert record is not None
    return record.id


def _seed(ctx: AppContext) -> Demo:
    """The fixed bookings; returns what the page visits need (``base_url`` unset)."""
    scheduler.service.new_booking_code = _codes()  # type: ignore[method-assign]
    with ctx.writer_sessions() as session:
        svc = SchedulingService(session, tz=ctx.tz)
        services = {s.slug: s for s in session.scalars(select(Service))}
        kiosk = session.scalars(select(Kiosk).where(Kiosk.slug == "kita-shisho-1")).one()
        booked_at = NOW - timedelta(days=3)

        def book(
            slug: str,
            hour: int,
            minute: int,
            name: str,
            *,
            channel: Channel = Channel.ONLINE,
            day: date = TODAY,
        ) -> Booking:
            start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ctx.tz)
            return svc.book(
                BookingRequest(
                    service_id=services[slug].id,
                    start=start,
                    channel=channel,
                    name=name,
                    email="resident@example.jp",
                    phone="090-0000-0000",
                    kiosk_id=kiosk.id if channel is Channel.KIOSK else None,
                ),
                booked_at,
            )

        first = book("tennyu-tenshutsu", 10, 0, "山田 花子")
        visit = book("shomeisho", 9, 45, "佐々木 明", channel=Channel.KIOSK)
        rest = [
            visit,
            book("mynumber", 10, 30, "鈴木 次郎"),
            book("shomeisho", 11, 0, "高橋 三郎", channel=Channel.KIOSK),
            book("tennyu-tenshutsu", 13, 30, "田中 良子"),
            book("mynumber", 14, 0, "伊藤 さくら"),
            book("tennyu-tenshutsu", 15, 0, "渡辺 健", day=TOMORROW),
        ]
        # Room ids are random; fixed ones keep the printed join links the same.
        for n, booking in enumerate([first, *rest], start=1):
            booking.room_id = f"demo-room-{n:02d}"
        record_id = _walk_in(session, kiosk, services["tennyu-tenshutsu"], first.staff_id)
        session.commit()
        tennyu = services["tennyu-tenshutsu"]
        free = svc.availability(tennyu.id, TOMORROW, TOMORROW, Channel.ONLINE, NOW)
        # The demo's sign-language interpreter, called into the kiosk visit.
        signer = ctx.links.join_token(
            visit, role="interpreter", pid="interpreter:demo", name="中村 さくら", language="jsl"
        )
        kiosk_token = ctx.links.kiosk_token(kiosk, expires=NOW + timedelta(days=365))
        # The resident of the first booking at the branch kiosk (its call screen).
        kiosk_join = ctx.links.join_token(first, role="kiosk", pid=f"kiosk:{kiosk.id}")
        return Demo(
            base_url="",
            manage_token=ctx.links.manage_token(first),
            join_token=ctx.links.join_token(first),
            kiosk_token=kiosk_token,
            service_id=tennyu.id,
            free_start=free[0].start.astimezone(ctx.tz).isoformat(),
            staff_login=first.staff.login,
            kiosk_code=visit.code,
            kiosk_staff=visit.staff.login,
            signer_join=f"/join/{signer}",
            record_id=record_id,
            first_code=first.code,
            kiosk_call=f"/kiosk/{kiosk_token}/call/{kiosk_join}",
        )


@contextmanager
def running_app(workdir: Path) -> Iterator[Demo]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        signaling_port = probe.getsockname()[1]
    url = f"sqlite:///{workdir / 'madoguchi.db'}"
    upgrade(url)
    settings = Settings(
        mode="demo",
        database_url=url,
        secret_key=SECRET,
        # Links printed on the pages read the same on every run (and like a city's).
        public_base_url=PUBLIC_URL,
        demo_data=False,
        ice_servers=[],
        kiosk_phone="01-2345-6789",
        signaling_public_url=f"ws://127.0.0.1:{signaling_port}/ws",
    )
    ctx = AppContext.from_settings(settings, clock=FixedClock(NOW))
    ensure_demo_city(ctx)
    demo = _seed(ctx)
    demo.base_url = base_url
    # The pre-call check's echo peer offers 127.0.0.1, the browser's only path to it.
    allow_loopback_candidates()
    app = create_app(ctx)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    # The call screens need signaling: a node on its own loop, on the app's clock.
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    node = asyncio.run_coroutine_threadsafe(
        start_signaling(
            settings, engine=ctx.engine, host="127.0.0.1", port=signaling_port, clock=ctx.clock.now
        ),
        loop,
    ).result(timeout=30)
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield demo
    finally:
        asyncio.run_coroutine_threadsafe(node.close(), loop).result(timeout=15)
        loop.call_soon_threadsafe(loop.stop)
        server.should_exit = True
        thread.join(timeout=15)
        ctx.engine.dispose()


# -- the pages -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shot:
    name: str
    title: str
    show: Callable[[Page, Demo], None]
    widths: tuple[str, ...] = ("phone", "desktop")  # a kiosk screen is one size


def _goto(path: str) -> Callable[[Page, Demo], None]:
    def show(page: Page, demo: Demo) -> None:
        page.goto(path.format(d=demo))

    return show


def _login(page: Page, login: str) -> None:
    page.goto("/staff/login")
    page.fill("#login", login)
    page.fill("#password", DEMO_PASSWORD)
    page.click("form.narrow-form button[type=submit]")
    page.wait_for_url(re.compile(r"/staff$"))


def _join_check(page: Page, demo: Demo) -> None:
    page.goto(f"/join/{demo.join_token}")
    page.click("#btn-devices")
    page.wait_for_selector("#step-check:not([hidden])")
    # The check takes about ten seconds; its result is the state worth showing.
    page.wait_for_function(
        "() => !document.querySelector('#btn-check-again').hidden", timeout=60_000
    )
    # The live preview is a moving test pattern: keep the shot stable.
    page.evaluate("() => document.querySelectorAll('video').forEach((v) => v.pause())")


def _staff_queue(page: Page, demo: Demo) -> None:
    _login(page, demo.staff_login)
    page.wait_for_selector("table, .queue")


def _admin_services(page: Page, demo: Demo) -> None:
    _login(page, "admin")
    page.goto("/admin/services")


def _confirm(page: Page, demo: Demo) -> None:
    page.goto(f"/manage/{demo.manage_token}?new=1")


def _wrapup(page: Page, demo: Demo) -> None:
    _login(page, demo.staff_login)
    page.goto(f"/staff/records/{demo.record_id}/wrapup")
    page.check("#outcome-follow-up-needed")
    page.fill("#notes", "転入届の書類（転出証明書）を後日持参予定。")
    page.fill("#w-proc", "転入届")
    page.fill("#w-name", "佐藤 花子")


def _kiosk_code(page: Page, demo: Demo) -> None:
    page.goto(f"/kiosk/{demo.kiosk_token}/code?lang=ja")
    for key in "7K3":
        page.click(f'#kiosk-keypad button[data-key="{key}"]')


def _other(page: Page, demo: Demo) -> Page:
    """Another person's browser (staff, interpreter), closed after the shot."""
    browser = page.context.browser
    assert browser is not None
    context = browser.new_context(base_url=demo.base_url, locale="ja-JP", timezone_id="Asia/Tokyo")
    context.set_default_timeout(60_000)
    demo.others.append(context)
    return context.new_page()


def _kiosk_call(page: Page, demo: Demo) -> None:
    """The kiosk visit in its call: the staff member has joined."""
    page.goto(f"/kiosk/{demo.kiosk_token}/code?lang=ja")
    page.fill("#code", demo.kiosk_code)
    page.click("form.kiosk-code-form button[type=submit]")
    # Waiting, or (the app's clock stands still, so seats left by an earlier
    # shot's browsers are kept) already meeting them: either way in the room.
    page.wait_for_selector("#call-app[data-call-state]", timeout=60_000)
    staff = _other(page, demo)
    _login(staff, demo.kiosk_staff)
    staff.goto(f"/staff/call/{demo.kiosk_code}")
    staff.click("#btn-join")
    page.wait_for_selector("#call-app[data-call-state=in-call]", timeout=60_000)
    page.wait_for_function("() => document.getElementById('remote-video').videoWidth > 0")


def _kiosk_call_sign(page: Page, demo: Demo) -> None:
    """The same visit with a sign-language interpreter: both large, side by side."""
    _kiosk_call(page, demo)
    signer = _other(page, demo)
    signer.goto(demo.signer_join)
    signer.click("#btn-devices")
    signer.wait_for_selector("#btn-enter:not([hidden])")
    signer.click("#btn-enter")
    page.wait_for_selector("#call-stage[data-layout=duo]", timeout=60_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#call-stage video')].every((v) => v.videoWidth > 0)"
    )


# -- 書かない窓口: the staff member's form panel and the resident's signature --------------------

# What the staff member types into the demo's 転入届 (its required fields).
FORM_INPUT = {
    "moved_on": "R8.11.28",
    "applicant_kana": "ヤマダ ハナコ",
    "postal_code": "1234567",
    "address": "みどり市中央1丁目2番3号",
    "previous_address": "東京都千代田区千代田1番1号",
    "householder": "山田 花子",
}
MEMBER_INPUT = {
    "name": "山田 花子",
    "kana": "ヤマダ ハナコ",
    "birth_date": "S60.4.1",
    "relationship": "本人",
}


def _fill_form(staff: Page) -> None:
    staff.wait_for_selector("#form-template option", state="attached")
    staff.click("#btn-form-open")
    staff.wait_for_selector("#form-panel:not([hidden]) #form-fields [data-path]")
    for path, value in FORM_INPUT.items():
        staff.fill(f'#form-fields [data-path="{path}"] input', value)
    staff.check('#form-fields [data-path="relation"] input[value="self"]')
    if staff.locator('#form-fields [data-path="members"] .form-group-item').count() == 0:
        staff.click('#form-fields [data-path="members"] > button')
    for name, value in MEMBER_INPUT.items():
        path = f"members[0].{name}"
        box = staff.locator(f'#form-fields [data-path="{path}"]').locator("input")
        box.fill(value)
        box.press("Tab")


def _still(page: Page) -> None:
    # Live video is a moving test pattern: keep the shot stable.
    page.evaluate("() => document.querySelectorAll('video').forEach((v) => v.pause())")


def _staff_form(page: Page, demo: Demo) -> None:
    _login(page, demo.staff_login)
    page.goto(f"/staff/call/{demo.first_code}")
    _fill_form(page)
    page.click("#btn-form-save")
    page.wait_for_selector("#form-panel[data-version]")
    page.locator("#form-panel-title").focus()


def _kiosk_signing(page: Page, demo: Demo) -> None:
    """A real call: staff fill in and push, the kiosk confirms both pages and starts to sign."""
    browser = page.context.browser
    assert browser is not None
    staff_context = browser.new_context(base_url=demo.base_url, locale="ja-JP")
    # The staff member stays in the call until the shot is taken (take() closes the kiosk's).
    page.context.on("close", lambda _context: staff_context.close())
    staff = staff_context.new_page()
    page.goto(demo.kiosk_call + "?lang=ja")
    page.wait_for_selector("#call-app[data-call-state=waiting]")
    _login(staff, demo.staff_login)
    staff.goto(f"/staff/call/{demo.first_code}")
    staff.click("#btn-join")
    page.wait_for_selector("#call-app[data-call-state=in-call]", timeout=60_000)
    _fill_form(staff)
    staff.wait_for_selector("#call-app[data-call-state=in-call]", timeout=60_000)
    staff.click("#btn-form-push")
    staff.wait_for_selector("#form-panel[data-state=pushed]")
    page.wait_for_selector("#form-review[data-phase=review]")
    while page.get_attribute("#form-review", "data-phase") == "review":
        shown = page.get_attribute("#form-review", "data-page")
        page.click("#btn-form-confirm")
        page.wait_for_function(
            "(shown) => { const r = document.getElementById('form-review');"
            " return r.dataset.phase !== 'review' || r.dataset.page !== shown; }",
            arg=shown,
        )
    box = page.locator("#signature-canvas").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 24):
        page.mouse.move(x + step * box["width"] * 0.025, y + (-1) ** step * box["height"] * 0.12)
    page.mouse.up()
    _still(page)
    page.locator("#form-sign-title").scroll_into_view_if_needed()


SHOTS = (
    Shot("resident-start", "住民: トップ（課を選ぶ） / Resident: start", _goto("/")),
    Shot(
        "service-days",
        "住民: 日にちを選ぶ / Resident: days of a service",
        _goto("/services/{d.service_id}"),
    ),
    Shot(
        "day-times",
        "住民: 時間を選ぶ / Resident: times of a day",
        _goto(f"/services/{{d.service_id}}/day/{TOMORROW.isoformat()}"),
    ),
    Shot(
        "booking-form",
        "住民: 予約の入力 / Resident: booking form",
        _goto("/services/{d.service_id}/book?start={d.free_start}"),
    ),
    Shot("confirmation", "住民: 予約の確定 / Resident: confirmation", _confirm),
    Shot("manage", "住民: 予約の確認・変更 / Resident: manage", _goto("/manage/{d.manage_token}")),
    Shot("join-check", "住民: 接続確認 / Resident: join page, device check", _join_check),
    Shot("staff-login", "職員: ログイン / Staff: login", _goto("/staff/login")),
    Shot("staff-queue", "職員: 本日の予約 / Staff: today's queue", _staff_queue),
    Shot("staff-wrapup", "職員: 通話のまとめ / Staff: wrap-up of a call", _wrapup),
    Shot("admin-services", "管理: サービス一覧 / Admin: services", _admin_services),
    Shot(
        "kiosk-start",
        "端末: 最初の画面 / Kiosk: start",
        _goto("/kiosk/{d.kiosk_token}?lang=ja"),
    ),
    Shot("kiosk-code", "端末: 予約番号の入力 / Kiosk: booking code", _kiosk_code),
    Shot(
        "kiosk-walk-in",
        "端末: 予約のない方 / Kiosk: without a booking",
        _goto("/kiosk/{d.kiosk_token}/walk-in?lang=ja"),
    ),
    Shot("kiosk-call", "端末: ビデオ相談中 / Kiosk: in a call", _kiosk_call, ("desktop",)),
    Shot(
        "kiosk-call-sign",
        "端末: 手話通訳と職員を並べて表示 / Kiosk: sign language, side by side",
        _kiosk_call_sign,
        ("desktop",),
    ),
    Shot("staff-form", "職員: 通話中の申請書入力 / Staff: form panel in a call", _staff_form),
    Shot(
        "kiosk-form-sign",
        "端末: 申請書の確認と署名 / Kiosk: checking and signing the form",
        _kiosk_signing,
    ),
)


def take(browser: Browser, demo: Demo, shot: Shot, width: Width, out: Path) -> Path:
    context = browser.new_context(
        base_url=demo.base_url,
        viewport={"width": width.width, "height": width.height},
        device_scale_factor=1,
        is_mobile=width.mobile,
        has_touch=width.mobile,
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
        reduced_motion="reduce",
    )
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        shot.show(page, demo)
        page.wait_for_load_state("load")
        page.evaluate("() => document.fonts.ready")
        # No blinking caret or focus ring from an autofocus in the picture.
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        height = min(
            int(page.evaluate("() => document.documentElement.scrollHeight")), width.max_height
        )
        path = out / f"{shot.name}-{width.name}.png"
        page.screenshot(
            path=str(path),
            full_page=True,
            clip={"x": 0, "y": 0, "width": width.width, "height": max(height, width.height)},
            animations="disabled",
            caret="hide",
        )
        return path
    finally:
        context.close()
        for other in demo.others:
            other.close()
        demo.others.clear()


def write_index(out: Path, shots: tuple[Shot, ...]) -> None:
    lines = [
        "# Screenshots",
        "",
        "Made by `scripts/screenshots.py` (`.venv/bin/python scripts/screenshots.py`): the demo",
        "city みどり市 with a fixed set of bookings, at Tuesday 2026-12-01 09:50 Japan time, in",
        "Japanese, at phone (390×844) and desktop (1280×800) widths. Long pages are cut at",
        "2200 px (phone) and 1600 px (desktop). The kiosk's call screens are one size (1280×800),",
        "with the staff member and a sign-language interpreter joining from other browsers through",
        "a signaling node in the same process. Run the script again after changing a page.",
        "",
        "| Page | Phone | Desktop |",
        "| --- | --- | --- |",
    ]
    for shot in shots:
        cells = [
            f"[{width.name}]({shot.name}-{width.name}.png)"
            if (out / f"{shot.name}-{width.name}.png").exists()
            else "—"
            for width in WIDTHS
        ]
        lines.append(f"| {shot.title} | {cells[0]} | {cells[1]} |")
    lines.append("")
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", nargs="*", help="names of the pages to take (default: all)")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    shots = tuple(s for s in SHOTS if not args.only or s.name in args.only)

    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="mdg-shots-") as tmp,
        running_app(Path(tmp)) as demo,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for shot in shots:
                for width in (w for w in WIDTHS if w.name in shot.widths):
                    path = take(browser, demo, shot, width, out)
                    print(f"{path}  {path.stat().st_size // 1024} KiB")
        finally:
            browser.close()
    write_index(out, SHOTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
