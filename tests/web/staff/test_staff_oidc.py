"""Staff sign-in through the city's directory, against a real OpenID provider process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from admin_page_helpers import csrf_of  # type: ignore[import-not-found]
from fastapi.testclient import TestClient
from oidc_provider import OidcProvider  # type: ignore[import-not-found]

from app.core.clock import FixedClock
from app.core.context import AppContext

CLIENT_ID = "madoguchi-staff"


@pytest.fixture(scope="module")
def directory() -> Iterator[OidcProvider]:
    p = OidcProvider()
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def oidc_on(ctx: AppContext, clock: FixedClock, directory: OidcProvider) -> OidcProvider:
    ctx.settings = ctx.settings.model_copy(
        update={
            "staff_oidc_discovery_url": directory.discovery_url,
            "staff_oidc_client_id": CLIENT_ID,
            "staff_oidc_client_secret": "directory-secret",
            "staff_oidc_login_claim": "preferred_username",
        }
    )
    clock.moment = datetime.now(UTC)  # the provider signs with the real time
    return directory


def sign_in(client: TestClient, directory: OidcProvider, sub: str) -> Any:
    page = client.get("/staff/login")
    assert 'id="directory-login"' in page.text
    started = client.get("/staff/login/oidc?next=/staff", follow_redirects=False)
    assert started.status_code == 303
    back = urlsplit(directory.authorize(started.headers["location"], sub))
    assert parse_qs(back.query)["state"]
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_a_directory_user_named_by_the_claim_gets_a_staff_session(
    client: TestClient, ctx: AppContext, city: Any, oidc_on: OidcProvider
) -> None:
    oidc_on.set_claims("entra-0001", {"preferred_username": "staff1", "email": "x@city.example"})
    done = sign_in(client, oidc_on, "entra-0001")
    assert done.status_code == 200 and 'content="0;url=/staff"' in done.text
    assert client.get("/staff", follow_redirects=False).status_code == 200


def test_a_directory_user_without_a_staff_account_is_refused(
    client: TestClient, ctx: AppContext, city: Any, oidc_on: OidcProvider
) -> None:
    oidc_on.set_claims("entra-0002", {"preferred_username": "stranger"})
    refused = sign_in(client, oidc_on, "entra-0002")
    assert refused.status_code == 403
    assert refused.headers["x-madoguchi-error"] == "unknown-staff"
    assert client.get("/staff", follow_redirects=False).status_code == 303  # to the login


def test_the_claim_is_configurable(
    client: TestClient, ctx: AppContext, city: Any, oidc_on: OidcProvider
) -> None:
    ctx.settings = ctx.settings.model_copy(update={"staff_oidc_login_claim": "email"})
    oidc_on.set_claims("entra-0003", {"preferred_username": "nobody", "email": "staff2"})
    assert sign_in(client, oidc_on, "entra-0003").status_code == 200
    assert client.get("/staff", follow_redirects=False).status_code == 200


def test_a_forged_callback_is_refused(
    client: TestClient, ctx: AppContext, city: Any, oidc_on: OidcProvider
) -> None:
    oidc_on.set_claims("entra-0004", {"preferred_username": "staff1"})
    started = client.get("/staff/login/oidc", follow_redirects=False)
    back = urlsplit(oidc_on.authorize(started.headers["location"], "entra-0004"))
    code = parse_qs(back.query)["code"][0]
    forged = client.get(f"{back.path}?code={code}&state=not-mine", follow_redirects=False)
    assert forged.status_code == 403 and forged.headers["x-madoguchi-error"] == "state-mismatch"
    assert client.get("/staff", follow_redirects=False).status_code == 303


def test_password_login_can_be_switched_off(
    client: TestClient, ctx: AppContext, city: Any, oidc_on: OidcProvider
) -> None:
    token = csrf_of(client.get("/staff/login").text)  # a form opened before the switch
    ctx.settings = ctx.settings.model_copy(update={"staff_password_login": False})
    page = client.get("/staff/login")
    assert 'name="password"' not in page.text and 'id="directory-login"' in page.text
    form = client.post(
        "/staff/login",
        data={"login": "staff1", "password": "pw", "csrf_token": token},
        follow_redirects=False,
    )
    assert form.status_code == 403
    api = client.post("/api/v1/auth/login", json={"login": "staff1", "password": "pw"})
    assert api.status_code == 403 and api.json()["error"]["code"] == "password-login-off"
    assert client.get("/staff", follow_redirects=False).status_code == 303
