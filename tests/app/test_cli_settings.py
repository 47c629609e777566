"""Settings from the environment and the ``madoguchi`` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from app.cli import main
from app.core.settings import INSECURE_DEMO_SECRET, ConfigurationError, Settings


def test_settings_come_from_madoguchi_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MADOGUCHI_DATABASE_URL", "postgresql://db.example/city")
    monkeypatch.setenv("MADOGUCHI_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("MADOGUCHI_PUBLIC_BASE_URL", "https://madoguchi.city.example")
    monkeypatch.setenv("MADOGUCHI_REDIS_URL", "redis://127.0.0.1:6379/0")
    s = Settings()
    assert s.database_url == "postgresql://db.example/city"
    assert s.public_base_url == "https://madoguchi.city.example"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert str(s.tz) == "Asia/Tokyo"


def test_production_without_a_secret_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MADOGUCHI_MODE", "production")
    monkeypatch.delenv("MADOGUCHI_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="MADOGUCHI_SECRET_KEY must be set"):
        Settings()
    monkeypatch.setenv("MADOGUCHI_SECRET_KEY", INSECURE_DEMO_SECRET)
    with pytest.raises(ConfigurationError, match="demo secret"):
        Settings()


def test_demo_mode_uses_the_marked_insecure_secret(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MADOGUCHI_SECRET_KEY", raising=False)
    assert Settings().effective_secret == INSECURE_DEMO_SECRET
    assert "INSECURE" in caplog.text


def test_cli_refuses_to_start_production_without_secret(tmp_path: Path) -> None:
    env = {"MADOGUCHI_MODE": "production", "PATH": "/usr/bin:/bin"}
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert r.returncode != 0
    assert "MADOGUCHI_SECRET_KEY must be set" in r.stderr


def test_db_upgrade_and_import_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'city.db'}"
    monkeypatch.setenv("MADOGUCHI_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"bookings", "staff", "services", "departments", "alembic_version"} <= tables
    demo = Path(__file__).parents[2] / "app" / "ops" / "demo_city.yaml"
    assert main(["import", str(demo)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("departments:\n  - slug: x\n    name_ja: 課\n    bogus: 1\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml:" in err and "bogus" in err


def test_api_key_command_prints_a_key_and_its_settings_entry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app import cli
    from app.auth import api_keys

    assert cli.main(["api-key", "koseki-system"]) == 0
    lines = capsys.readouterr().out.splitlines()
    key = next(line for line in lines if line.startswith(api_keys.KEY_PREFIX))
    entry = lines[-1]
    assert entry == f"koseki-system:{api_keys.digest(key)}"
    assert api_keys.login_for(key, [entry]) == "koseki-system"
    assert api_keys.login_for(key + "x", [entry]) is None
