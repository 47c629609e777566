"""The app's settings read into signaling's ``NodeConfig``."""

from __future__ import annotations

from app.calls.signaling_config import node_config
from app.core.settings import Settings
from signaling.actions import CoreConfig


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
