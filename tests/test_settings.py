"""Settings from the environment, and the production guard on SECRET_KEY."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from pydantic import ValidationError
from sqlalchemy import text

from premiumchat.config import DEV_SECRET_KEY, Settings
from premiumchat.main import create_app
from tests.conftest import make_settings

STRONG_KEY = "k" * 8 + "a-long-random-production-key-0123456789"


def test_defaults_follow_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name in Settings.model_fields or name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.debug is True
    assert settings.secret_key == DEV_SECRET_KEY
    assert settings.database_url == "sqlite+aiosqlite:///./premiumchat.db"
    assert settings.redis_url is None
    assert settings.allowed_hosts == ["localhost", "127.0.0.1"]
    assert settings.cors_origins == []
    assert (settings.access_token_ttl_seconds, settings.refresh_token_ttl_seconds) == (900, 604800)
    assert (settings.rate_limit_messages, settings.rate_limit_window_seconds) == (3, 2)
    assert settings.max_lobbies_per_owner == 5
    assert settings.typing_ttl_seconds == 6
    assert settings.replay_max_messages == 200
    assert (settings.max_connections_per_user, settings.max_subscriptions_per_connection) == (20, 100)
    assert settings.edit_window_seconds == 600
    assert (settings.database_pool_size, settings.database_max_overflow) == (20, 10)


def test_environment_and_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", "chat.example.com, api.example.com")
    monkeypatch.setenv("CORS_ORIGINS", "https://chat.example.com")
    monkeypatch.setenv("RATE_LIMIT_MESSAGES", "10")
    monkeypatch.setenv("REDIS_URL", "")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.allowed_hosts == ["chat.example.com", "api.example.com"]
    assert settings.cors_origins == ["https://chat.example.com"]
    assert settings.rate_limit_messages == 10
    assert settings.redis_url is None


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAX_LOBBIES_PER_OWNER", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("MAX_LOBBIES_PER_OWNER=7\n")
    assert Settings(_env_file=env_file).max_lobbies_per_owner == 7  # type: ignore[call-arg]


@pytest.mark.parametrize("key", [DEV_SECRET_KEY, "short", "please-change-me-please-change-me-please"])
def test_production_refuses_development_or_weak_secret(key: str) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(_env_file=None, debug=False, secret_key=key)  # type: ignore[call-arg]


def test_production_accepts_a_real_secret() -> None:
    settings = Settings(_env_file=None, debug=False, secret_key=STRONG_KEY)  # type: ignore[call-arg]
    assert settings.debug is False


def test_serve_refuses_to_start_on_the_development_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY",)}
    env.update(DEBUG="false", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    result = subprocess.run(
        [sys.executable, "-m", "premiumchat", "serve", "--port", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "DEBUG is false" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()


@pytest.mark.postgres
async def test_the_database_pool_keeps_as_many_connections_as_configured(shared_postgres_url: str) -> None:
    settings = make_settings(shared_postgres_url, database_pool_size=3, database_max_overflow=2)
    async with LifespanManager(create_app(settings)) as manager:
        engine = manager._state["resources"].engine
        # A burst of five: three kept connections and the two overflow ones the setting allows.
        connections = [await engine.connect() for _ in range(5)]
        for connection in connections:
            await connection.execute(text("SELECT 1"))
        assert engine.pool.checkedout() == 5
        for connection in connections:
            await connection.close()
        # The overflow ones are closed on return; the pool keeps its three.
        assert engine.pool.checkedout() == 0
        assert engine.pool.checkedin() == 3
        assert engine.pool.size() == 3
