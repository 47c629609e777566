"""A signaling node's /metrics and /livez, over plain HTTP on its own port."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client import REGISTRY
from sig_helpers import WAIT, make_server, pair  # type: ignore[import-not-found]


def sample(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    return value or 0.0


async def scrape(port: int, path: str = "/metrics") -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=WAIT) as http:
        return await http.get(path)


async def test_metrics_count_connections_and_messages() -> None:
    async with make_server() as server:
        live = await scrape(server.port, "/livez")
        assert live.status_code == 200 and live.text == "ok\n"
        before_in = sample("madoguchi_signaling_messages_received_total")
        before_out = sample("madoguchi_signaling_messages_sent_total")
        open_before = sample("madoguchi_signaling_connections")
        a, b = await pair(server.url)
        assert sample("madoguchi_signaling_connections") == open_before + 2
        # Both joins were received; each side was told about the room and its peer.
        assert sample("madoguchi_signaling_messages_received_total") >= before_in + 2
        assert sample("madoguchi_signaling_messages_sent_total") >= before_out + 2
        text = (await scrape(server.port)).text
        assert "madoguchi_signaling_connections " in text
        assert "madoguchi_signaling_messages_received_total" in text
        await a.close()
        await b.close()

        async def closed() -> None:
            while sample("madoguchi_signaling_connections") != open_before:  # noqa: ASYNC110
                await asyncio.sleep(0.01)

        await asyncio.wait_for(closed(), WAIT)
