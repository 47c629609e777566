"""schemathesis against the app's own OpenAPI schema: no 5xx, no schema violation.

The app runs in-process (ASGI) over the real database of the mini city (SQLite
and PostgreSQL). Each operation gets schema-valid and schema-invalid requests;
examples are limited and derandomized so the run fits in CI's time and a
failure reproduces.

One check is left out on purpose: ``positive_data_acceptance`` expects every
schema-valid request to succeed, but business rules a JSON schema cannot
express (a slot in the past, an unknown service id, "an email or a phone")
rightly answer 422 with the documented error body.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from app.core.context import AppContext
from app.core.settings import Settings
from app.main import create_app

pytestmark = pytest.mark.slow


def _operations() -> list[tuple[str, str]]:
    # Collection needs the list of operations before any database exists.
    app = create_app(
        AppContext.from_settings(Settings(database_url="sqlite://", secret_key="k" * 40))
    )
    paths = app.openapi()["paths"]
    return [(method.upper(), path) for path in paths for method in paths[path]]


OPERATIONS = _operations()


@pytest.mark.parametrize("who", ["anonymous", "admin"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_conforms_to_schema(ctx: AppContext, method: str, path: str, who: str) -> None:
    app = create_app(ctx)
    cookies: dict[str, str] = {}
    if who == "admin":
        # Logged in, the staff operations get past the login check and are fuzzed too.
        # No `with`: the app's lifespan (which closes the echo service) must not end here.
        client = TestClient(app)
        r = client.post("/api/v1/auth/login", json={"login": "admin", "password": "pw"})
        assert r.status_code == 200, r.text
        cookies = {"madoguchi_staff": client.cookies["madoguchi_staff"]}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema[path][method]

    @given(case=operation.as_strategy(cookies=cookies))
    @settings(
        max_examples=20,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        excluded = [positive_data_acceptance]
        if who == "admin":
            # The login cookie authenticates these requests whatever the declared
            # bearer scheme carries; the anonymous run checks that auth is not ignored.
            excluded.append(ignored_auth)
        case.call_and_validate(excluded_checks=excluded)

    check()
