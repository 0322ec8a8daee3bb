"""Settings: every variable of the contract, read from the environment and `.env`."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_SECRET_KEY = "dev-secret-key-change-me-only-for-local-development"
MIN_PRODUCTION_SECRET_LENGTH = 32

CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    secret_key: str = DEV_SECRET_KEY
    debug: bool = True
    database_url: str = "sqlite+aiosqlite:///./premiumchat.db"
    redis_url: str | None = None
    # PostgreSQL connections kept open per process, and how many more a burst may open (closed
    # again when returned to a full pool: each such connect costs several round trips).
    database_pool_size: int = Field(20, gt=0)
    database_max_overflow: int = Field(10, ge=0)
    allowed_hosts: CommaList = Field(default_factory=lambda: ["localhost", "127.0.0.1"])
    cors_origins: CommaList = Field(default_factory=list)
    access_token_ttl_seconds: int = Field(900, gt=0)
    refresh_token_ttl_seconds: int = Field(604800, gt=0)
    rate_limit_messages: int = Field(3, gt=0)
    rate_limit_window_seconds: int = Field(2, gt=0)
    max_lobbies_per_owner: int = Field(5, gt=0)
    typing_ttl_seconds: int = Field(6, gt=0)
    replay_max_messages: int = Field(200, ge=0)
    max_connections_per_user: int = Field(20, gt=0)
    max_subscriptions_per_connection: int = Field(100, gt=0)
    edit_window_seconds: int = Field(600, ge=0)
    # lobbyEvents frames written to the socket from the shared execution (schema/frames.py);
    # false: through Strawberry's per-result path, as the equality test compares.
    socket_frames: bool = True
    # On SIGTERM: how long open requests and socket clean-up may take before they are cancelled.
    shutdown_timeout_seconds: int = Field(8, gt=0)

    jwt_algorithm: str = "HS256"
    max_query_depth: int = Field(12, gt=0)
    max_query_aliases: int = Field(100, gt=0)
    max_query_tokens: int = Field(5000, gt=0)
    log_level: str = "INFO"
    # The built web client served at `/`; unset: web/dist of the source checkout.
    web_client_dir: Path | None = None

    # Hostile input (README "Limits"): None for graphiql/introspection means "as DEBUG".
    graphiql: bool | None = None
    introspection: bool | None = None
    max_request_body_bytes: int = Field(262_144, gt=0)
    ws_max_message_bytes: int = Field(262_144, gt=0)
    # Keepalive: a protocol ping every interval; a socket that leaves one unanswered for the
    # timeout is closed (a client that vanished without a close frame), so it goes within both.
    ws_ping_interval_seconds: float = Field(20, gt=0)
    ws_ping_timeout_seconds: float = Field(20, gt=0)
    # A subscription's presence entry lives this long unrefreshed: a process killed outright
    # leaves its users listed online at most this long.
    presence_ttl_seconds: float = Field(30, gt=0)
    ws_rate_limit_messages: int = Field(100, gt=0)
    ws_rate_limit_window_seconds: int = Field(10, gt=0)
    login_failures_per_address: int = Field(10, gt=0)
    login_failures_per_username: int = Field(50, gt=0)
    login_failure_window_seconds: int = Field(300, gt=0)

    @field_validator("allowed_hosts", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("graphiql", "introspection", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return value or None

    @model_validator(mode="after")
    def _refuse_development_secret_in_production(self) -> Settings:
        if self.debug:
            return self
        if self.secret_key == DEV_SECRET_KEY or "change-me" in self.secret_key.lower():
            raise ValueError(
                "DEBUG is false but SECRET_KEY is the development key: set SECRET_KEY to a "
                "random value of at least 32 characters, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        if len(self.secret_key) < MIN_PRODUCTION_SECRET_LENGTH:
            raise ValueError(
                f"DEBUG is false but SECRET_KEY has {len(self.secret_key)} characters: "
                f"use at least {MIN_PRODUCTION_SECRET_LENGTH} random characters"
            )
        return self

    @property
    def graphiql_enabled(self) -> bool:
        return self.debug if self.graphiql is None else self.graphiql

    @property
    def introspection_enabled(self) -> bool:
        return self.debug if self.introspection is None else self.introspection

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
