"""LINE Login on the booking pages, against a real OpenID provider process.

A booking made after LINE Login is linked to the verified ``sub``; a sign-in
whose state does not match, or whose ID token is for another channel, expired
or carries another nonce, is refused and links nothing.

The provider signs with the real time, so these tests set the app's clock to
it and book a weekday a few days ahead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

import holidays
import pytest
from admin_page_helpers import csrf_of  # type: ignore[import-not-found]
from fastapi.testclient import TestClient
from oidc_provider import OidcProvider  # type: ignore[import-not-found]
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.oidc import OidcError
from app.line import login
from app.line.models import LineLink

CHANNEL_ID = "1650000000"
LINE_USER = "U" + "c" * 32
JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    p = OidcProvider(token_max_age=600)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def line_login(ctx: AppContext, provider: OidcProvider, clock: FixedClock) -> OidcProvider:
    ctx.settings = ctx.settings.model_copy(
        update={
            "line_login_channel_id": CHANNEL_ID,
            "line_login_channel_secret": "line-login-secret-" + "s" * 20,
            "line_login_issuer": provider.issuer,
        }
    )
    clock.moment = datetime.now(UTC)
    return provider


def bookable_start(now: datetime) -> str:
    """10:00 JST on an open weekday at least two days ahead."""
    closed = holidays.country_holidays("JP")
    day: date = now.astimezone(JST).date() + timedelta(days=2)
    while (
        day.weekday() >= 5
        or day in closed
        or (day.month == 12 and day.day >= 29)
        or (day.month == 1 and day.day <= 3)
    ):
        day += timedelta(days=1)
    return datetime.combine(day, time(10, 0), JST).isoformat()


def sign_in(client: TestClient, provider: OidcProvider, next_path: str) -> Any:
    started = client.get(f"/line/login?next={quote(next_path)}", follow_redirects=False)
    assert started.status_code == 303, started.text
    authorize = started.headers["location"]
    assert authorize.startswith(provider.issuer + "/")
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == [CHANNEL_ID] and query["nonce"][0]
    back = urlsplit(provider.authorize(authorize, LINE_USER))
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


def links(ctx: AppContext) -> list[LineLink]:
    with Session(ctx.engine) as s:
        return list(s.scalars(select(LineLink)))


def test_a_booking_made_after_line_login_is_linked(
    client: TestClient, ctx: AppContext, city: Any, line_login: OidcProvider
) -> None:
    start = bookable_start(ctx.clock.now())
    form_path = f"/services/{city.consult_id}/book?start={quote(start)}"
    page = client.get(form_path)
    assert 'id="line-login"' in page.text
    done = sign_in(client, line_login, form_path)
    assert done.status_code == 303
    assert done.headers["location"] == form_path
    page = client.get(form_path)
    assert 'id="line-linked"' in page.text
    booked = client.post(
        f"/services/{city.consult_id}/book",
        data={
            "csrf_token": csrf_of(page.text),
            "start": start,
            "channel": "online",
            "name": "山田 花子",
            "email": "hanako@example.jp",
            "phone": "",
            "mail_locale": "ja",
        },
        follow_redirects=False,
    )
    assert booked.status_code == 303, booked.text[:400]
    (row,) = links(ctx)
    assert row.line_user_id == LINE_USER and row.via == "login" and row.booking_id


def test_a_callback_whose_state_does_not_match_is_refused(
    client: TestClient, ctx: AppContext, city: Any, line_login: OidcProvider
) -> None:
    started = client.get("/line/login?next=/", follow_redirects=False)
    back = urlsplit(line_login.authorize(started.headers["location"], LINE_USER))
    query = parse_qs(back.query)
    forged = client.get(
        f"{back.path}?code={query['code'][0]}&state=someone-elses", follow_redirects=False
    )
    assert forged.status_code == 400
    assert forged.headers["x-madoguchi-error"] == "state-mismatch"
    assert login.USER_COOKIE not in forged.cookies


def test_an_open_redirect_is_not_followed(
    client: TestClient, ctx: AppContext, line_login: OidcProvider
) -> None:
    done = sign_in(client, line_login, "//evil.example/")
    assert done.headers["location"] == "/"


def _rp(ctx: AppContext) -> Any:
    rp = login.relying_party(ctx)
    assert rp is not None
    return rp


def test_an_id_token_for_another_channel_is_refused(
    ctx: AppContext, line_login: OidcProvider
) -> None:
    token = line_login.id_token("1659999999", LINE_USER, nonce="n-1")
    with pytest.raises(OidcError) as err:
        _rp(ctx).verify(token, "n-1")
    assert err.value.code == "id-token-audience"


def test_an_expired_id_token_is_refused(
    ctx: AppContext, clock: FixedClock, line_login: OidcProvider
) -> None:
    token = line_login.id_token(CHANNEL_ID, LINE_USER, nonce="n-2")
    assert _rp(ctx).verify(token, "n-2")["sub"] == LINE_USER
    clock.moment += timedelta(seconds=600 + 31)  # past exp and the 30 s leeway
    with pytest.raises(OidcError) as err:
        _rp(ctx).verify(token, "n-2")
    assert err.value.code == "id-token-expired"


def test_an_id_token_with_another_nonce_is_refused(
    ctx: AppContext, line_login: OidcProvider
) -> None:
    token = line_login.id_token(CHANNEL_ID, LINE_USER, nonce="n-3")
    with pytest.raises(OidcError) as err:
        _rp(ctx).verify(token, "n-other")
    assert err.value.code == "id-token-nonce"


def test_a_tampered_id_token_is_refused(ctx: AppContext, line_login: OidcProvider) -> None:
    token = line_login.id_token(CHANNEL_ID, LINE_USER, nonce="n-4")
    head, body, sig = token.split(".")
    tampered = f"{head}.{body}.{sig[:-4]}AAAA"
    with pytest.raises(OidcError) as err:
        _rp(ctx).verify(tampered, "n-4")
    assert err.value.code == "id-token-invalid"


def test_joining_the_waiting_list_after_line_login_links_the_entry(
    client: TestClient, ctx: AppContext, city: Any, line_login: OidcProvider
) -> None:
    start = bookable_start(ctx.clock.now())
    form_path = f"/services/{city.consult_id}/book?start={quote(start)}"
    sign_in(client, line_login, form_path)
    token = csrf_of(client.get(form_path).text)
    joined = client.post(
        "/waitlist",
        data={
            "csrf_token": token,
            "service_id": str(city.consult_id),
            "day": start[:10],
            "name": "山田 花子",
            "email": "hanako@example.jp",
            "phone": "",
            "mail_locale": "ja",
        },
        follow_redirects=False,
    )
    assert joined.status_code == 303, joined.text[:300]
    (row,) = links(ctx)
    assert row.line_user_id == LINE_USER and row.waitlist_entry_id and row.via == "login"
