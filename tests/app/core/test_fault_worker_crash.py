"""Fault test: ``madoguchi worker`` is killed (SIGKILL) in the middle of a batch.

Real processes: two ``madoguchi worker`` processes one after the other, a
real SMTP server (aiosmtpd) on 127.0.0.1 and the database. The SMTP server
holds one message in the middle of the batch until the first worker is dead,
then refuses it (the dead client never saw a reply), so the kill lands
exactly while a send is in flight. The second worker takes over the rows once
their lease expires. Every row must reach the server exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path

import pytest
from smtp_inbox import smtp_server  # type: ignore[import-not-found]
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.core.outbox import OutboxMail, OutboxStatus, message_id

ROOT = Path(__file__).resolve().parents[3]
ROWS = 30
HELD = 12  # the n-th message to arrive is held until the first worker is dead
DEADLINE = 60.0


def wait_until(what: str, check: object, *, within: float = DEADLINE) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_worker(url: str, smtp_port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update(
        MADOGUCHI_MODE="production",
        MADOGUCHI_SECRET_KEY="fault-test-" + "k" * 40,
        MADOGUCHI_DATABASE_URL=url,
        MADOGUCHI_SMTP_HOST="127.0.0.1",
        MADOGUCHI_SMTP_PORT=str(smtp_port),
        MADOGUCHI_MAIL_LEASE_SECONDS="3",
        PYTHONPATH=str(ROOT),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--interval", "0.2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    "engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_worker_killed_mid_batch_delivers_every_mail_exactly_once(
    committing_engine: Engine,
) -> None:
    now = datetime.now(UTC)
    with Session(committing_engine) as s:
        s.add_all(
            OutboxMail(
                kind="test",
                to_addr=f"resident{i}@example.jp",
                subject=f"mail {i}",
                body="本文",
                created_at=now,
                attempts=0,
            )
            for i in range(ROWS)
        )
        s.commit()
        ids = list(s.scalars(select(OutboxMail.id).order_by(OutboxMail.id)))
    url = committing_engine.url.render_as_string(hide_password=False)

    arrived = 0
    held = threading.Event()
    release = threading.Event()

    def hold_one(_msg: Message) -> str | None:
        nonlocal arrived
        arrived += 1
        if arrived != HELD:
            return None
        held.set()
        release.wait(DEADLINE)
        return "451 try again later"

    with smtp_server() as (inbox, port):
        inbox.before_accept = hold_one
        first = start_worker(url, port)
        try:
            assert held.wait(DEADLINE), "the first worker never reached the held message"
            first.send_signal(signal.SIGKILL)
            first.wait(DEADLINE)
        finally:
            release.set()
            if first.poll() is None:
                first.kill()
                first.wait()
        assert len(inbox.messages) == HELD - 1  # the batch really was cut in the middle

        def all_sent() -> bool:
            with Session(committing_engine) as s:
                unsent = s.scalar(
                    select(func.count(OutboxMail.id)).where(OutboxMail.status != OutboxStatus.SENT)
                )
            return unsent == 0

        second = start_worker(url, port)
        try:
            wait_until("the second worker to deliver the rest", all_sent)
        finally:
            second.terminate()
            second.wait(DEADLINE)
        received = Counter(inbox.message_ids())
    assert received == Counter(message_id(i) for i in ids)  # each exactly once
