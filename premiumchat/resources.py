"""Long-lived resources, opened and closed by the lifespan and handed to every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from premiumchat.config import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from premiumchat.realtime.bus import EventBus


@dataclass(slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    redis: Redis | None = None
