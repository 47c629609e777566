"""docker/: the compose file validates and wires what docs/deploy.md promises.

``docker compose config`` (or Compose v1's ``docker-compose config``, which
scripts/test.sh installs from Debian where neither is present) needs the CLI;
without one that test is skipped with the reason on a developer machine and
fails under CI=true. No image is built and nothing is pulled; the structural
tests below run everywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.core.settings import Settings

DOCKER = Path(__file__).resolve().parents[2] / "docker"
ENV = {
    "MADOGUCHI_DOMAIN": "madoguchi.city.example",
    "ACME_EMAIL": "it@city.example",
    "MADOGUCHI_SECRET_KEY": "k" * 48,
    "POSTGRES_PASSWORD": "pg-password",
    "TURN_SECRET": "turn-secret",
    "TURN_EXTERNAL_IP": "203.0.113.10",
}


def compose_command() -> list[str] | str:
    """``docker compose`` (v2), else ``docker-compose`` (v1); or why neither runs here."""
    reasons = []
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            reasons.append(f"{command[0]} is not installed")
            continue
        probe = subprocess.run(
            [*command, "version"], capture_output=True, text=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return command
        reasons.append(f"`{' '.join(command)}` fails: {(probe.stderr or probe.stdout).strip()}")
    return "; ".join(reasons)


def test_docker_compose_config_validates() -> None:
    command = compose_command()
    if isinstance(command, str):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{command}; CI=true requires a Compose CLI", pytrace=False)
        pytest.skip(command)
    result = subprocess.run(
        [*command, "-f", str(DOCKER / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **ENV},
        check=False,
    )
    assert result.returncode == 0, result.stderr


def load_compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return data


def test_services_of_a_several_node_deployment() -> None:
    services = load_compose()["services"]
    assert {"app", "signaling-1", "signaling-2", "proxy", "postgres", "redis", "coturn"} <= set(
        services
    )
    for node in ("signaling-1", "signaling-2"):
        assert services[node]["command"][:2] == ["madoguchi", "signaling"]
        assert services[node]["environment"]["MADOGUCHI_REDIS_URL"] == "redis://redis:6379/0"
    assert services["app"]["command"] == ["madoguchi", "serve"]
    assert services["app"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["migrate"]["command"] == ["madoguchi", "db", "upgrade"]
    assert "--static-auth-secret=${TURN_SECRET}" in services["coturn"]["command"]


def test_every_madoguchi_variable_is_a_setting() -> None:
    """A misspelt MADOGUCHI_* variable would be ignored silently by the app."""
    fields = {f"MADOGUCHI_{name.upper()}" for name in Settings.model_fields}
    fields |= {"MADOGUCHI_LOG_FORMAT", "MADOGUCHI_HEALTH_URL"}  # read outside Settings
    env = load_compose()["services"]["app"]["environment"]
    used = {key for key in env if key.startswith("MADOGUCHI_")}
    dockerfile = (DOCKER / "Dockerfile").read_text()
    used |= set(re.findall(r"MADOGUCHI_[A-Z_]+", dockerfile))
    assert used - fields == set()
    assert env["MADOGUCHI_TURN_SECRET"] == "${TURN_SECRET:?set TURN_SECRET (shared with coturn)}"


def test_the_proxy_routes_websockets_to_both_signaling_nodes() -> None:
    caddy = (DOCKER / "Caddyfile").read_text()
    ws_block = caddy[caddy.index("handle /ws*") :]
    ws_block = ws_block[: ws_block.index("}\n\n")]
    assert "reverse_proxy signaling-1:8765 signaling-2:8765" in ws_block
    assert "health_uri /livez" in ws_block
    assert "reverse_proxy app:8000" in caddy
    assert "respond @internal 404" in caddy  # /metrics stays off the internet


def test_the_image_is_slim_non_root_and_health_checked() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == [
        "python:3.11-slim",
        "python:3.11-slim",
    ]
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and not user[-1].startswith(("root", "0"))
    assert "HEALTHCHECK" in dockerfile and "/livez" in dockerfile
    # Installed from the project's own files, no index.
    assert "pip wheel --wheel-dir /wheels ." in dockerfile
    assert "--no-index" in dockerfile
