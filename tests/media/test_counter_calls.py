"""Walk-in calls from a kiosk routed to staff, with real WebRTC media.

The app (queue, routing, tokens) runs on the host side on a real database:
its HTTP calls go through one worker thread started outside the namespace.
The signaling node and the aiortc peers (the kiosk and the staff members'
consoles, ``media.client.CallClient``) run inside the test's loopback-only
namespace, so no media packet can leave the machine. The app's clock is a
``FixedClock`` at ``served_clock.CITY_OPEN`` (a weekday 10:00 in Tokyo, inside
the city's hours whatever the wall clock says) moved by hand: "no answer
within the set time" is a clock step. The signaling node checks the app's
tokens on an ``OffsetClock`` from the same instant, running in real time for
its heartbeats and time-outs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from argon2 import PasswordHasher
from call_harness import SECRET, TIMEOUT
from fastapi.testclient import TestClient
from served_clock import CITY_OPEN
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import app.ops.tables
from app.core.clock import FixedClock, OffsetClock
from app.core.context import AppContext
from app.core.db import make_engine
from app.core.outbox import OutboxMail
from app.core.settings import Settings
from app.counter.models import InterpreterCall
from app.main import create_app
from app.signaling_node import start_signaling
from media.client import CallClient
from media.loopback import NetworkNamespace
from media.peerlink import PeerLink
from scheduler.models import (
    Branch,
    City,
    Department,
    DepartmentHours,
    Interpreter,
    InterpreterHours,
    InterpreterLanguage,
    Kiosk,
    Service,
    Staff,
)
from signaling.asyncio.server import SignalingServer
from signaling.messages import TransferMode

pytestmark = pytest.mark.media

HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
T = TypeVar("T")


@dataclass
class Counter:
    """The city of these tests and the app's side, driven from the host namespace."""

    ctx: AppContext
    clock: FixedClock
    host: ThreadPoolExecutor
    kiosk_tokens: list[str]
    service_id: int
    kiosk_ids: list[int]
    staff_ids: dict[str, int]

    def __post_init__(self) -> None:
        # The ring time the scenarios count on (MADOGUCHI_COUNTER_OFFER_TIMEOUT_SECONDS).
        self.ctx.settings = self.ctx.settings.model_copy(
            update={"counter_offer_timeout_seconds": 20}
        )
        self.app = create_app(self.ctx)
        self.clients: dict[str, TestClient] = {}

    async def on_host(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.host, fn)

    def _staff(self, login: str) -> TestClient:
        if login not in self.clients:
            client = TestClient(self.app)
            r = client.post("/api/v1/auth/login", json={"login": login, "password": "pw"})
            assert r.status_code == 200, r.text
            self.clients[login] = client
        return self.clients[login]

    def _kiosk(self) -> TestClient:
        return self.clients.setdefault("kiosk", TestClient(self.app))

    async def available(self, login: str) -> None:
        def put() -> None:
            r = self._staff(login).put("/api/v1/staff/presence", json={"status": "available"})
            assert r.status_code == 200, r.text

        await self.on_host(put)

    async def take_ticket(self, kiosk: int, language: str | None = None) -> dict[str, Any]:
        def post() -> dict[str, Any]:
            body: dict[str, Any] = {"service_id": self.service_id}
            if language is not None:
                body["interpreter_language"] = language
            r = self._kiosk().post(f"/api/v1/kiosk/{self.kiosk_tokens[kiosk]}/tickets", json=body)
            assert r.status_code == 201, r.text
            return r.json()  # type: ignore[no-any-return]

        return await self.on_host(post)

    async def ticket(self, kiosk: int, ticket_id: int) -> dict[str, Any]:
        def get() -> dict[str, Any]:
            r = self._kiosk().get(f"/api/v1/kiosk/{self.kiosk_tokens[kiosk]}/tickets/{ticket_id}")
            assert r.status_code == 200, r.text
            return r.json()  # type: ignore[no-any-return]

        return await self.on_host(get)

    async def offers(self, login: str) -> list[dict[str, Any]]:
        def get() -> list[dict[str, Any]]:
            r = self._staff(login).get("/api/v1/staff/offers")
            assert r.status_code == 200, r.text
            return r.json()["offers"]  # type: ignore[no-any-return]

        return await self.on_host(get)

    async def answer(self, login: str, offer_id: int, how: str) -> dict[str, Any] | None:
        def post() -> dict[str, Any] | None:
            r = self._staff(login).post(f"/api/v1/staff/offers/{offer_id}/{how}")
            assert r.status_code in (200, 204), r.text
            return r.json() if r.status_code == 200 else None

        return await self.on_host(post)

    async def post(self, login: str, path: str, body: dict[str, Any] | None = None) -> Any:
        def send() -> Any:
            r = self._staff(login).post(path, json=body)
            assert r.status_code in (200, 201), r.text
            return r.json()

        return await self.on_host(send)

    async def handovers(self, login: str) -> list[dict[str, Any]]:
        def get() -> list[dict[str, Any]]:
            r = self._staff(login).get("/api/v1/staff/offers")
            assert r.status_code == 200, r.text
            return r.json()["handovers"]  # type: ignore[no-any-return]

        return await self.on_host(get)

    async def finish(self, login: str, ticket_id: int) -> None:
        def post() -> None:
            r = self._staff(login).post(f"/api/v1/staff/counter/tickets/{ticket_id}/finish")
            assert r.status_code == 204, r.text

        await self.on_host(post)


def build_city(engine: Engine) -> tuple[int, list[int], dict[str, int]]:
    """Two departments; the kiosk's service belongs to the first, but staff of
    the second are qualified for it too (skills are services, not departments).
    The first has one member of its own, for hand-overs to the department."""
    app.ops.tables.Base.metadata.create_all(engine)
    with Session(engine) as session:
        # Open every day, holidays too: the ticket API refuses outside staffed
        # hours (the app's clock starts at CITY_OPEN, a weekday 10:00).
        session.add(
            City(
                id=1,
                name_ja="テスト市",
                name_en="Test City",
                close_public_holidays=False,
                close_year_end=False,
            )
        )
        hours = [DepartmentHours(weekday=wd, start=time(0), end=time(23, 59)) for wd in range(7)]
        shimin = Department(slug="shimin", name_ja="市民課", name_en="Residents", hours=hours)
        fukushi = Department(slug="fukushi", name_ja="福祉課", name_en="Welfare")
        session.add_all([shimin, fukushi])
        session.flush()
        service = Service(
            department_id=shimin.id,
            slug="tennyu",
            name_ja="転入の相談",
            name_en="Moving in",
            duration_min=30,
            channels="online,kiosk",
        )
        session.add(service)
        staff: dict[str, Staff] = {}
        for login in ("fukushi1", "fukushi2", "fukushi3"):
            member = Staff(login=login, display_name=login, password_hash=HASHER.hash("pw"))
            member.departments.append(fukushi)
            member.skills.append(service)
            staff[login] = member
        # The service's own department: where hand-overs go (never set
        # available in the walk-in tests, so it never rings there).
        shimin1 = Staff(login="shimin1", display_name="市民課職員", password_hash=HASHER.hash("pw"))
        shimin1.departments.append(shimin)
        shimin1.skills.append(service)
        staff["shimin1"] = shimin1
        branch = Branch(slug="kita", name_ja="北支所", name_en="North Branch")
        kiosks = [Kiosk(slug=f"kita-{i}", name=f"北支所{i}号機", branch=branch) for i in (1, 2)]
        session.add_all([*staff.values(), branch, *kiosks])
        session.commit()
        return service.id, [k.id for k in kiosks], {k: v.id for k, v in staff.items()}


@pytest.fixture
def counter(tmp_path: Path) -> Iterator[Counter]:
    engine = make_engine(f"sqlite:///{tmp_path / 'counter.db'}")
    service_id, kiosk_ids, staff_ids = build_city(engine)
    clock = FixedClock(CITY_OPEN.astimezone(UTC))
    settings = Settings(secret_key=SECRET, database_url="sqlite://")
    ctx = AppContext(settings=settings, engine=engine, clock=clock)
    with Session(engine) as session:
        tokens = [
            ctx.links.kiosk_token(kiosk, expires=clock.now() + timedelta(days=1))
            for kiosk in (session.get(Kiosk, k) for k in kiosk_ids)
            if kiosk is not None
        ]
    # One worker, started here: every app call runs in the host namespace.
    host = ThreadPoolExecutor(max_workers=1, thread_name_prefix="host-app")
    host.submit(lambda: None).result()
    try:
        yield Counter(ctx, clock, host, tokens, service_id, kiosk_ids, staff_ids)
    finally:
        host.shutdown(wait=True)
        engine.dispose()


@contextlib.asynccontextmanager
async def signaling_node() -> AsyncIterator[SignalingServer]:
    """A node whose time starts where the app's does (the app's steps aside)."""
    server = await start_signaling(
        Settings(mode="demo", secret_key=SECRET),
        host="127.0.0.1",
        port=0,
        node="counter",
        clock=OffsetClock(CITY_OPEN).now,
    )
    try:
        yield server
    finally:
        await server.close()


async def assert_media_flows(link: PeerLink) -> None:
    stats = await asyncio.wait_for(link.wait_media(video_above=10, audio_frames=10), TIMEOUT)
    assert stats.video is not None and stats.audio is not None
    assert stats.video.frames >= 2
    assert stats.video.frame_numbers_increasing
    assert stats.audio.frames_with_sound > 0


async def call_connects(
    node: SignalingServer, kiosk_call: dict[str, Any], staff_call: dict[str, Any]
) -> tuple[CallClient, CallClient]:
    """The kiosk and the staff member enter the room with the tokens the app
    gave them; both decode the other's video and audio."""
    assert kiosk_call["room"] == staff_call["room"]
    kiosk = CallClient(node.url, room=kiosk_call["room"], token=kiosk_call["token"])
    staff = CallClient(node.url, room=staff_call["room"], token=staff_call["token"])
    await kiosk.start()
    await staff.start()
    link_k = await asyncio.wait_for(kiosk.wait_connected(staff_call["participant"]), TIMEOUT)
    link_s = await asyncio.wait_for(staff.wait_connected(kiosk_call["participant"]), TIMEOUT)
    await assert_media_flows(link_k)
    await assert_media_flows(link_s)
    return kiosk, staff


async def hang_up(*clients: CallClient) -> None:
    for client in clients:
        await client.close()


def test_walk_in_answered_by_staff_of_another_department(
    netns: NetworkNamespace, counter: Counter
) -> None:
    async def scenario() -> None:
        async with signaling_node() as node:
            await counter.available("fukushi1")
            ticket = await counter.take_ticket(0)
            assert ticket["number"] == 1
            ring = await counter.offers("fukushi1")
            assert [o["ticket_id"] for o in ring] == [ticket["id"]]
            staff_call = await counter.answer("fukushi1", ring[0]["id"], "accept")
            assert staff_call is not None
            status = await counter.ticket(0, ticket["id"])
            assert status["status"] == "in-call"
            kiosk, staff = await call_connects(node, status["call"], staff_call)
            assert status["call"]["participant"] == f"kiosk:{counter.kiosk_ids[0]}"
            assert staff_call["participant"] == f"staff:{counter.staff_ids['fukushi1']}"
            await hang_up(kiosk, staff)

    netns.run(scenario)


def test_two_kiosks_one_free_staff_member_fifo(netns: NetworkNamespace, counter: Counter) -> None:
    async def scenario() -> None:
        async with signaling_node() as node:
            first = await counter.take_ticket(0)
            counter.clock.moment += timedelta(seconds=2)
            second = await counter.take_ticket(1)
            await counter.available("fukushi1")
            ring = await counter.offers("fukushi1")
            assert [o["ticket_id"] for o in ring] == [first["id"]]
            staff_call = await counter.answer("fukushi1", ring[0]["id"], "accept")
            assert staff_call is not None
            call1 = (await counter.ticket(0, first["id"]))["call"]
            kiosk1, staff1 = await call_connects(node, call1, staff_call)
            # The second kiosk waits, first in line, with no way into a room.
            waiting = await counter.ticket(1, second["id"])
            assert (waiting["status"], waiting["position"], waiting["call"]) == (
                "waiting",
                1,
                None,
            )
            assert await counter.offers("fukushi1") == []
            counter.clock.moment += timedelta(minutes=5)
            await hang_up(kiosk1, staff1)
            await counter.finish("fukushi1", first["id"])
            ring = await counter.offers("fukushi1")
            assert [o["ticket_id"] for o in ring] == [second["id"]]
            staff_call2 = await counter.answer("fukushi1", ring[0]["id"], "accept")
            assert staff_call2 is not None
            assert staff_call2["room"] != staff_call["room"]
            call2 = (await counter.ticket(1, second["id"]))["call"]
            kiosk2, staff2 = await call_connects(node, call2, staff_call2)
            await hang_up(kiosk2, staff2)

    netns.run(scenario)


def test_decline_and_no_answer_are_re_offered(netns: NetworkNamespace, counter: Counter) -> None:
    async def scenario() -> None:
        async with signaling_node() as node:
            for login in ("fukushi1", "fukushi2", "fukushi3"):
                await counter.available(login)
                counter.clock.moment += timedelta(seconds=1)
            ticket = await counter.take_ticket(0)
            ring1 = await counter.offers("fukushi1")
            assert len(ring1) == 1
            assert await counter.offers("fukushi2") == await counter.offers("fukushi3") == []
            await counter.answer("fukushi1", ring1[0]["id"], "decline")
            ring2 = await counter.offers("fukushi2")
            assert len(ring2) == 1
            # fukushi2 does not answer within the 20 s the setting allows.
            counter.clock.moment += timedelta(seconds=20)
            ring3 = await counter.offers("fukushi3")
            assert len(ring3) == 1
            assert await counter.offers("fukushi2") == []
            assert await counter.offers("fukushi1") == []
            staff_call = await counter.answer("fukushi3", ring3[0]["id"], "accept")
            assert staff_call is not None
            status = await counter.ticket(0, ticket["id"])
            kiosk, staff = await call_connects(node, status["call"], staff_call)
            await hang_up(kiosk, staff)

    netns.run(scenario)


def test_warm_hand_over_to_a_department_through_the_api(
    netns: NetworkNamespace, counter: Counter
) -> None:
    """Staff A (福祉課) hands a walk-in over to 市民課 through the API; 市民課's
    member accepts the ring, joins the same room with the hand-over ticket
    beside A, A leaves, and the kiosk and B see and hear each other. The
    kiosk never leaves the room."""

    async def scenario() -> None:
        async with signaling_node() as node:
            await counter.available("fukushi1")
            ticket = await counter.take_ticket(0)
            ring = await counter.offers("fukushi1")
            first_call = await counter.answer("fukushi1", ring[0]["id"], "accept")
            assert first_call is not None
            kiosk_call = (await counter.ticket(0, ticket["id"]))["call"]
            kiosk, first = await call_connects(node, kiosk_call, first_call)
            # Free and qualified, but of another department: never rung.
            await counter.available("fukushi2")
            await counter.available("shimin1")

            with Session(counter.ctx.engine) as session:
                shimin = session.scalar(select(Department.id).where(Department.slug == "shimin"))
            out = await counter.post(
                "fukushi1",
                f"/api/v1/staff/counter/tickets/{ticket['id']}/handover",
                {"department_id": shimin, "mode": "warm", "note": "転入届の続き"},
            )
            assert out["department"] == "shimin"
            await first.transfer(TransferMode.WARM, department=out["department"])
            assert await counter.handovers("fukushi2") == []
            ring = await counter.handovers("shimin1")
            assert len(ring) == 1 and ring[0]["context"] == "転入届の続き"
            second_call = await counter.post(
                "shimin1", f"/api/v1/staff/handover-offers/{ring[0]['id']}/accept"
            )
            assert second_call["room"] == kiosk_call["room"] == first_call["room"]
            assert second_call["participant"] == f"staff:{counter.staff_ids['shimin1']}"

            second = CallClient(node.url, room=second_call["room"], token=second_call["token"])
            await second.start()
            # Warm: B is in beside A (the hand-over seat), then A leaves.
            await asyncio.wait_for(first.wait_connected(second_call["participant"]), TIMEOUT)
            link_k = await asyncio.wait_for(
                kiosk.wait_connected(second_call["participant"]), TIMEOUT
            )
            await first.leave()
            await asyncio.wait_for(
                kiosk.wait_until(lambda: first_call["participant"] not in kiosk.peers), 20
            )
            await assert_media_flows(link_k)
            link_b = await asyncio.wait_for(
                second.wait_connected(kiosk_call["participant"]), TIMEOUT
            )
            await assert_media_flows(link_b)
            stats = await kiosk.stats()
            assert (stats.joins, stats.socket_drops) == (1, 0)
            # B now holds the walk-in: B finishes it.
            await hang_up(kiosk, second)
            await counter.finish("shimin1", ticket["id"])

    netns.run(scenario)


def test_walk_in_with_an_interpreter_called_by_mail_three_way(
    netns: NetworkNamespace, counter: Counter
) -> None:
    """The resident asks for Portuguese at the kiosk; accepting the call calls
    the interpreter, who joins with the link from their mail: a 3-way mesh."""
    with Session(counter.ctx.engine) as session:
        session.add(InterpreterLanguage(code="pt", name_ja="ポルトガル語", name_en="Portuguese"))
        session.add(
            Interpreter(
                slug="silva",
                name="Ana Silva",
                email="silva@interp.example",
                languages="pt",
                hours=[
                    InterpreterHours(weekday=d, start=time(0), end=time(23, 59)) for d in range(7)
                ],
            )
        )
        session.commit()

    def mailed_token() -> tuple[str, str]:
        """The join token of the mail's link, and the participant id reserved for it."""
        with Session(counter.ctx.engine) as session:
            body = session.scalars(
                select(OutboxMail.body).where(OutboxMail.kind == "interpreter-called")
            ).one()
            pid = session.scalars(select(InterpreterCall.participant)).one()
        match = re.search(r"/join/(\S+)", body)
        assert match, body
        return match.group(1), pid

    async def scenario() -> None:
        async with signaling_node() as node:
            await counter.available("fukushi1")
            ticket = await counter.take_ticket(0, language="pt")
            ring = await counter.offers("fukushi1")
            staff_call = await counter.answer("fukushi1", ring[0]["id"], "accept")
            assert staff_call is not None
            status = await counter.ticket(0, ticket["id"])
            kiosk, staff = await call_connects(node, status["call"], staff_call)
            token, pid = await counter.on_host(mailed_token)
            interpreter = CallClient(node.url, room=staff_call["room"], token=token)
            await interpreter.start()
            for client, other in (
                (interpreter, status["call"]["participant"]),
                (interpreter, staff_call["participant"]),
                (kiosk, pid),
                (staff, pid),
            ):
                link = await asyncio.wait_for(client.wait_connected(other), TIMEOUT)
                await assert_media_flows(link)
            await hang_up(interpreter, kiosk, staff)
            await counter.finish("fukushi1", ticket["id"])

    netns.run(scenario)
    with Session(counter.ctx.engine) as session:
        call = session.scalars(select(InterpreterCall)).one()
        assert call.release_reason == "ticket-done"
