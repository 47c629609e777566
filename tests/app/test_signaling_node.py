"""The composition root of a signaling node (app/signaling_node.py): settings read
into a ``NodeConfig``, the app's join and document tokens and the call_events
table wired into signaling."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sig_helpers import SECRET, TOKENS, Client, issue
from sqlalchemy import create_engine, select

from app.calls.models import CallEventRow
from app.core.settings import Settings
from app.core.tokens import Purpose
from app.signaling_node import node_config, run_signaling, start_signaling
from signaling.actions import CoreConfig
from signaling.errors import CloseCode, ErrorCode


async def test_start_signaling_with_a_database_records_and_refuses_ended_rooms(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    settings = Settings(secret_key=SECRET)
    server = await start_signaling(settings, engine=engine, port=0)
    try:
        resident = await Client.open(server.url)
        await resident.join("r1", issue("r1", "resident", "p1"))
        staff = await Client.open(server.url)
        await staff.join("r1", issue("r1", "staff", "s1"))
        await resident.expect("peer-joined")
        await resident.expect("room-state")
        await staff.send({"type": "end"})
        assert (await resident.expect("ended")).by == "s1"
    finally:
        await server.close()
    with engine.connect() as conn:
        kinds = list(conn.execute(select(CallEventRow.kind).order_by(CallEventRow.id)).scalars())
    assert kinds[:3] == ["join", "join", "call-end"]

    server = await start_signaling(settings, engine=engine, port=0)
    try:
        again = await Client.open(server.url)
        await again.send(
            {"type": "join", "v": 1, "room": "r1", "token": issue("r1", "resident", "p1")}
        )
        code, _ = await again.closed()
        assert code == CloseCode.ROOM_ENDED
    finally:
        await server.close()
    engine.dispose()


async def test_run_signaling_stops_when_asked() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_signaling(Settings(secret_key=SECRET), stop=stop, port=0))
    stop.set()
    async with asyncio.timeout(10):
        await task


async def test_the_node_checks_pushed_links_with_the_app_key_and_limits_from_settings() -> None:
    settings = Settings(
        secret_key=SECRET, rate_limit_exempt_ips=[], signaling_unjoined_per_address=2
    )
    server = await start_signaling(settings, port=0)
    try:
        resident = await Client.open(server.url)
        await resident.join("r1", issue("r1", "resident", "p1"))
        staff = await Client.open(server.url)
        await staff.join("r1", issue("r1", "staff", "s1"))
        await resident.expect("peer-joined")
        await resident.expect("room-state")
        # A well-formed link whose token is not a document token of ours.
        forged = f"/api/v1/documents/{issue('r1', 'staff', 's1')}"
        await staff.send({"type": "document", "url": forged, "name": "x"})
        assert (await staff.expect("error")).code == "invalid-message"
        token = TOKENS.issue(Purpose.DOCUMENT, {"d": 1}, expires=datetime.now(UTC) + timedelta(1))
        await staff.send({"type": "document", "url": f"/api/v1/documents/{token}", "name": "x"})
        assert (await resident.expect("document")).url == f"/api/v1/documents/{token}"

        idle = [await Client.open(server.url) for _ in range(2)]
        third = await Client.open(server.url)
        assert await third.close_reason() == (CloseCode.TRY_AGAIN_LATER, "too-many-unjoined")
        for client in (resident, staff, *idle):
            await client.close()
    finally:
        await server.close()


def test_settings_become_the_node_config_and_its_address_limits() -> None:
    settings = Settings(
        secret_key="x" * 32,
        signaling_host="0.0.0.0",
        signaling_port=9000,
        redis_url="redis://127.0.0.1:6379/0",
        signaling_unjoined_per_address=40,
        signaling_connections_per_second_per_address=5.0,
        signaling_connection_burst_per_address=60,
        signaling_forwarded_allow_ips=["10.0.0.0/8"],
        rate_limit_exempt_ips=["192.0.2.1"],
    )
    config = node_config(settings)
    assert (config.host, config.port, config.redis_url) == (
        "0.0.0.0",
        9000,
        "redis://127.0.0.1:6379/0",
    )
    assert config.trusted_proxies == ("10.0.0.0/8",)
    core = config.core
    assert core.unjoined_per_address == 40
    assert core.connections_per_address_rate == 5.0
    assert core.connections_per_address_burst == 60
    assert core.exempt_addresses == frozenset({"192.0.2.1"})


def test_keywords_override_settings_and_a_given_core_config_is_taken_whole() -> None:
    mine = CoreConfig(join_timeout=3.0)
    config = node_config(Settings(secret_key="x" * 32), host="127.0.0.2", port=0, core=mine)
    assert (config.host, config.port, config.core) == ("127.0.0.2", 0, mine)


def test_default_limits_admit_a_city_hall_reconnecting_at_once() -> None:
    # One NAT address in front of ~250 staff consoles, each with a call socket
    # and a lobby socket, all reconnecting after a node restart (docs/security.md).
    core = node_config(Settings(secret_key="x" * 32)).core
    assert core.connections_per_address_burst >= 500
    assert core.unjoined_per_address >= 200
    assert core.exempt_addresses == frozenset({"127.0.0.1", "::1"})


async def test_start_signaling_checks_tokens_on_the_clock_it_is_given() -> None:
    """The app passes its own clock (tests choose it): a token valid only at
    that clock's time is admitted, one valid only by the wall clock is not."""
    then = datetime.now(UTC) + timedelta(days=3650)
    server = await start_signaling(Settings(secret_key=SECRET), port=0, clock=lambda: then)
    try:
        at_then = TOKENS.issue(
            Purpose.JOIN,
            {"room": "r1", "role": "resident", "pid": "p1", "name": "t"},
            not_before=then - timedelta(hours=1),
            expires=then + timedelta(hours=1),
        )
        resident = await Client.open(server.url)
        await resident.join("r1", at_then)
        staff = await Client.open(server.url)
        await staff.send(
            {"type": "join", "v": 1, "room": "r1", "token": issue("r1", "staff", "s1")}
        )
        assert (await staff.expect("error")).code is ErrorCode.TOKEN_EXPIRED
    finally:
        await server.close()
