"""``madoguchi doctor`` against real servers: one test per failure it reports.

Everything runs in a private network namespace (only ``lo``): the app and a
signaling node in this process on 127.0.0.1 port 0, and Debian's coturn
(docker/turnserver.conf, tests/support/coturn_helpers.py) with a certificate
from a CA made for the test. Each test breaks one thing: a closed port, a
TURN secret coturn does not share, a certificate this machine does not trust.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from coturn_helpers import TURNSERVER, running_coturn  # type: ignore[import-not-found]
from sqlalchemy import Engine
from tls_helpers import make_server_cert  # type: ignore[import-not-found]

from app.core.clock import FixedClock
from app.core.context import AppContext
from app.core.tokens import Purpose
from app.main import create_app
from app.ops.doctor import Check, run_doctor
from app.signaling_node import start_signaling
from media.loopback import NetworkNamespace, namespace_unavailable_reason

IN_CI = os.environ.get("CI", "").lower() == "true"
HOST = "127.0.0.1"
TURN_SECRET = "doctor-tests-turn-secret"
TURN_URLS = [
    f"turn:{HOST}:3478?transport=udp",
    f"turn:{HOST}:3478?transport=tcp",
    f"turns:{HOST}:5349?transport=tcp",
]
LABELS = [
    f"TURN over {kind} ({HOST}:{port})"
    for kind, port in (("UDP", 3478), ("TCP", 3478), ("TLS", 5349))
]


@dataclass(frozen=True)
class Lab:
    ns: NetworkNamespace
    ca: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    reason = namespace_unavailable_reason()
    if reason is None and shutil.which(TURNSERVER) is None:
        reason = "coturn is not installed"
    if reason is not None:
        if IN_CI:
            pytest.fail(f"doctor tests: {reason}; CI=true requires it", pytrace=False)
        pytest.skip(f"doctor tests: {reason}")
    root = tmp_path_factory.mktemp("doctor")
    tls = make_server_cert(root / "tls", ip=HOST)
    with (
        NetworkNamespace.create(prefix="mdg-doc") as ns,
        running_coturn(
            ns, root / "coturn", address=HOST, cert=tls.cert, key=tls.key,
            secret=TURN_SECRET, realm="city.test", denied=[],
        ),
    ):  # fmt: skip
        yield Lab(ns, tls.ca)


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    """SQLite only: the doctor checks networks, not the database."""
    return sqlite_engine


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def app_ctx(ctx: AppContext, clock: FixedClock) -> AppContext:
    # coturn checks the credentials' expiry against the real clock.
    clock.moment = datetime.now(UTC)
    ctx.settings.turn_urls = list(TURN_URLS)
    ctx.settings.turn_secret = TURN_SECRET
    return ctx


def closed_port() -> int:
    """A port nothing listens on (bound, then released) in the current namespace."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serving(ctx: AppContext) -> AsyncIterator[str]:
    """The app on 127.0.0.1 port 0 and a signaling node; yields the base URL."""
    node = await start_signaling(ctx.settings, host=HOST, port=0, node="doctor")
    if not ctx.settings.signaling_public_url:
        ctx.settings.signaling_public_url = node.url
    server = uvicorn.Server(uvicorn.Config(create_app(ctx), host=HOST, port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:  # uvicorn exposes no start event to await
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://{HOST}:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        await node.close()


def join_token(ctx: AppContext) -> str:
    now = ctx.clock.now()
    return ctx.tokens.issue(
        Purpose.JOIN,
        {"room": "room-doctor", "role": "kiosk", "pid": "kiosk:1", "name": "kiosk"},
        not_before=now - timedelta(minutes=1),
        expires=now + timedelta(hours=1),
    )


def doctor(lab: Lab, ctx: AppContext, *, base_url: str | None = None, **kwargs: Any) -> list[Check]:
    async def scenario() -> list[Check]:
        async with serving(ctx) as served:
            return await run_doctor(base_url or served, seconds=5.0, **kwargs)

    return lab.ns.run(scenario, timeout=60)


def failures(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.detail for c in checks if not c.ok}


def test_everything_reachable_is_all_ok(lab: Lab, app_ctx: AppContext, city: Any) -> None:
    checks = doctor(lab, app_ctx, token=join_token(app_ctx), ca_file=str(lab.ca))
    assert [c.name for c in checks] == ["API", "signaling", *LABELS]
    assert failures(checks) == {}, [c.line() for c in checks]
    for check in checks[2:]:
        assert check.detail == "relay allocated with the call's credentials"


def test_without_a_token_turn_is_probed_without_credentials(
    lab: Lab, app_ctx: AppContext, city: Any
) -> None:
    checks = doctor(lab, app_ctx, turn_urls=TURN_URLS, ca_file=str(lab.ca))
    assert failures(checks) == {}
    assert all("credentials not checked" in c.detail for c in checks[2:])


def test_a_closed_api_port_is_one_failure(lab: Lab, app_ctx: AppContext, city: Any) -> None:
    async def scenario() -> list[Check]:
        url = f"http://{HOST}:{closed_port()}"
        return await run_doctor(url, turn_urls=TURN_URLS, ca_file=str(lab.ca), seconds=5.0)

    checks = lab.ns.run(scenario, timeout=60)
    failed = failures(checks)
    assert set(failed) == {"API", "signaling"}
    assert "is not reachable" in failed["API"] and "allow HTTPS" in failed["API"]
    assert failed["signaling"] == "not checked: the API gave no signaling URL"


def test_signaling_that_does_not_open_is_reported(lab: Lab, app_ctx: AppContext, city: Any) -> None:
    async def closed() -> int:
        return closed_port()

    app_ctx.settings.signaling_public_url = f"ws://{HOST}:{lab.ns.run(closed)}/ws"
    checks = doctor(lab, app_ctx, token=join_token(app_ctx), ca_file=str(lab.ca))
    failed = failures(checks)
    assert list(failed) == ["signaling"]
    assert "cannot open the WebSocket" in failed["signaling"]


def test_turn_refusing_the_credentials_is_reported_per_transport(
    lab: Lab, app_ctx: AppContext, city: Any
) -> None:
    app_ctx.settings.turn_secret = "not-what-coturn-has"
    checks = doctor(lab, app_ctx, token=join_token(app_ctx), ca_file=str(lab.ca))
    failed = failures(checks)
    assert list(failed) == LABELS
    assert all("refused the call's credentials" in detail for detail in failed.values())
    assert "static-auth-secret" in failed[LABELS[0]]


def test_an_untrusted_turn_certificate_is_reported(
    lab: Lab, app_ctx: AppContext, city: Any
) -> None:
    checks = doctor(lab, app_ctx, token=join_token(app_ctx))  # the test CA is not trusted
    failed = failures(checks)
    assert list(failed) == [LABELS[2]]
    assert "TLS certificate is not trusted" in failed[LABELS[2]]


def test_turn_ports_that_do_not_answer_are_reported(
    lab: Lab, app_ctx: AppContext, city: Any
) -> None:
    async def closed() -> int:
        return closed_port()

    port = lab.ns.run(closed)
    app_ctx.settings.turn_urls = [
        f"turn:{HOST}:{port}?transport=udp",
        f"turn:{HOST}:{port}?transport=tcp",
    ]
    checks = doctor(lab, app_ctx, token=join_token(app_ctx), ca_file=str(lab.ca))
    failed = failures(checks)
    udp, tcp = f"TURN over UDP ({HOST}:{port})", f"TURN over TCP ({HOST}:{port})"
    assert list(failed) == [udp, tcp]
    assert f"allow UDP {port}" in failed[udp]
    assert "cannot connect" in failed[tcp] and f"allow TCP {port}" in failed[tcp]


def test_the_command_prints_one_line_per_check_and_fails_on_any(
    lab: Lab, app_ctx: AppContext, city: Any
) -> None:
    async def scenario() -> tuple[int, str]:
        async with serving(app_ctx) as base_url:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "app.cli", "doctor", base_url,
                "--token", join_token(app_ctx), "--timeout", "5",
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, _ = await proc.communicate()
            assert proc.returncode is not None
            return proc.returncode, out.decode()

    code, out = lab.ns.run(scenario, timeout=60)
    lines = out.splitlines()
    assert code == 1, out
    assert len(lines) == 5, out
    assert lines[-1].startswith(f"FAIL {LABELS[2]}: the TLS certificate is not trusted"), out
    assert all(line.startswith("OK   ") for line in lines[:-1]), out


def test_an_api_that_answers_an_error_is_reported(lab: Lab, app_ctx: AppContext, city: Any) -> None:
    async def scenario() -> list[Check]:
        async with serving(app_ctx):
            # The signaling node speaks HTTP too, but has no /healthz: a wrong base URL.
            wrong = app_ctx.settings.signaling_public_url.replace("ws://", "http://")
            return await run_doctor(wrong.removesuffix("/ws"), turn_urls=TURN_URLS, seconds=5.0)

    failed = failures(lab.ns.run(scenario, timeout=60))
    assert set(failed) == {"API", "signaling", LABELS[2]}
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+ answered HTTP \d{3}", failed["API"])


def test_a_websocket_upgrade_refused_is_reported(lab: Lab, app_ctx: AppContext, city: Any) -> None:
    async def scenario() -> list[Check]:
        async with serving(app_ctx) as base_url:
            # A plain HTTP server where the WebSocket should be (a proxy that
            # does not pass upgrades answers the same way).
            app_ctx.settings.signaling_public_url = (
                base_url.replace("http://", "ws://") + "/healthz"
            )
            return await run_doctor(
                base_url, token=join_token(app_ctx), ca_file=str(lab.ca), seconds=15.0
            )

    failed = failures(lab.ns.run(scenario, timeout=60))
    assert list(failed) == ["signaling"]
    assert "was refused" in failed["signaling"]


def test_no_turn_url_to_check_is_reported(lab: Lab, app_ctx: AppContext, city: Any) -> None:
    checks = doctor(lab, app_ctx)  # no token, no --turn-url
    failed = failures(checks)
    assert failed == {"TURN": "no TURN URL to check: pass --token, or --turn-url for each URL"}
