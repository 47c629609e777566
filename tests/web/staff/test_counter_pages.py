"""The walk-in queue on the kiosk screen and the counter in the staff console."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.tokens import Purpose
from scheduler.models import Kiosk
from web.pages.staff.counter import console_state

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # the conftest's Monday 09:00 JST


def kiosk_path(ctx: AppContext, kiosk_id: int) -> str:
    with ctx.sessions() as session:
        kiosk = session.get(Kiosk, kiosk_id)
        assert kiosk is not None
        return "/kiosk/" + ctx.links.kiosk_token(kiosk, expires=NOW + timedelta(days=30))


def take_ticket(client: TestClient, path: str, service_id: int) -> str:
    page = client.get(f"{path}/walk-in?lang=ja")
    assert page.status_code == 200
    assert f'name="service_id" value="{service_id}"' in page.text
    token = CSRF.search(page.text)
    assert token
    r = client.post(
        f"{path}/walk-in/ticket?lang=ja",
        data={"service_id": str(service_id), "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return str(r.headers["location"])


def login(client: TestClient, who: str) -> None:
    r = client.post("/api/v1/auth/login", json={"login": who, "password": "pw"})
    assert r.status_code == 200


def test_walk_in_gets_a_ticket_number_and_an_estimate_and_can_leave(
    client: TestClient, ctx: AppContext, city: Any
) -> None:
    path = kiosk_path(ctx, city.kiosk_id)
    first = take_ticket(client, path, city.consult_id)
    second = take_ticket(client, path, city.consult_id)
    page = client.get(second + "?lang=ja")
    assert page.status_code == 200
    assert re.search(r'class="kiosk-ticket-number"[^>]*>.*?2</p>', page.text)
    assert "受付番号" in page.text
    # Nobody on duty: no wait is promised; when staff are expected, the phone
    # number and a QR code to book this service instead.
    assert "2番目" in page.text and 'id="ticket-estimate"' not in page.text
    assert "いま、この用件の担当職員で対応できる人がいません。" in page.text
    assert "次に担当職員が対応できる見込みは 本日 13:00 からです。" in page.text
    assert f"/services/{city.consult_id}?kiosk={city.kiosk_id}" in page.text
    assert 'src="/static/js/pages/kiosk-ticket.js"' in page.text
    assert " style=" not in page.text and not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    english = client.get(first + "?lang=en").text
    assert "You are next." in english and "can answer right now" in english
    assert "expected today at 13:00" in english

    # 「受付を取り消す」 asks first: the form to confirm is on the confirm step only.
    assert CSRF.search(page.text) is None
    confirm = client.get(second + "?lang=ja&confirm=leave").text
    assert "受付を取り消しますか" in confirm
    token = CSRF.search(confirm)
    assert token
    left = client.post(
        second + "/leave", data={"csrf_token": token.group(1)}, follow_redirects=False
    )
    assert left.status_code == 303 and left.headers["location"] == second + "/left"
    done = client.get(second + "/left?lang=ja")
    assert "受付を取り消しました" in done.text
    # A ticket that left goes back to the start screen.
    assert client.get(second, follow_redirects=False).status_code == 303
    # Another kiosk's token cannot see this ticket.
    forged = client.get(f"/kiosk/not-a-token/ticket/{first.rsplit('/', 1)[1]}")
    assert forged.status_code == 403


def test_the_pictograms_are_svg_files(client: TestClient) -> None:
    for name in ("counter", "document", "family", "health", "money"):
        r = client.get(f"/static/pictograms/{name}.svg")
        assert r.status_code == 200 and r.text.startswith("<svg")


def test_accepted_walk_in_moves_both_sides_into_the_same_room(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    path = kiosk_path(ctx, city.kiosk_id)
    ticket_url = take_ticket(client, path, city.consult_id)
    ticket_id = int(ticket_url.rsplit("/", 1)[1])
    assert client.get(ticket_url + "/call").status_code == 403  # nobody accepted yet

    staff = TestClient(client.app)
    login(staff, "staff1")
    page = staff.get("/staff/counter?lang=ja")
    assert page.status_code == 200
    assert "リモート窓口" in page.text and 'src="/static/js/pages/staff-counter.js"' in page.text
    staff.put("/api/v1/staff/presence", json={"status": "available"})
    state = console_state(ctx, city.staff_ids[1], "ja")
    assert state is not None and state["presence"] == "available"
    assert [o["number"] for o in state["offers"]] == [1]
    # The ring says where the walk-in is: the kiosk (its name says the branch).
    assert state["offers"][0]["text"] == "呼び出し：北支所1号機の受付番号 1（転入の相談）"
    assert (state["offers"][0]["kiosk"], state["offers"][0]["branch"]) == ("北支所1号機", "北支所")
    english = console_state(ctx, city.staff_ids[1], "en")
    assert english is not None
    assert english["offers"][0]["text"] == (
        "Incoming call: ticket 1, Moving in, at North Branch 北支所1号機"
    )
    offered = staff.get("/api/v1/staff/offers?lang=en").json()["offers"][0]
    assert (offered["kiosk"], offered["branch"]) == ("北支所1号機", "North Branch")
    assert state["board"] == []  # not an administrator

    accept = staff.post(f"/api/v1/staff/offers/{state['offers'][0]['id']}/accept")
    assert accept.status_code == 200
    staff_room = accept.json()["room"]
    call = staff.get(f"/staff/counter/call/{ticket_id}?lang=ja")
    assert call.status_code == 200 and f'data-room="{staff_room}"' in call.text
    assert f"/api/v1/staff/counter/tickets/{ticket_id}/join" in call.text

    # The kiosk's ticket screen now goes to the call screen, in the same room.
    moved = client.get(ticket_url, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"].endswith("/call")
    kiosk_call = client.get(ticket_url + "/call?lang=ja")
    assert kiosk_call.status_code == 200
    assert f'data-room="{staff_room}"' in kiosk_call.text
    join = re.search(r'data-token="([^"]+)"', kiosk_call.text)
    assert join
    claims = ctx.tokens.verify(Purpose.JOIN, join.group(1), now=clock.now())
    assert claims["role"] == "kiosk" and claims["pid"] == f"kiosk:{city.kiosk_id}"
    assert claims["room"] == staff_room

    # Another staff member cannot open this call.
    other = TestClient(client.app)
    login(other, "staff2")
    assert other.get(f"/staff/counter/call/{ticket_id}").status_code == 404


def test_supervisor_board_shows_escalation(
    client: TestClient, ctx: AppContext, city: Any, clock: FixedClock
) -> None:
    path = kiosk_path(ctx, city.kiosk_id)
    take_ticket(client, path, city.consult_id)
    clock.moment = NOW + timedelta(minutes=11)
    state = console_state(ctx, city.admin_id, "ja")
    assert state is not None
    assert [(r["number"], r["escalated"], r["waited"]) for r in state["board"]] == [
        (1, True, "11分")
    ]
    admin = TestClient(client.app)
    login(admin, "admin")
    page = admin.get("/staff/counter?lang=ja").text
    assert 'class="escalated"' in page
