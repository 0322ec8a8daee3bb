"""Long-lived resources, opened and closed by the lifespan and handed to every request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from premiumchat.config import Settings
from premiumchat.metrics import Metrics
from premiumchat.realtime.ordering import KeyedLocks

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from premiumchat.realtime.bus import EventBus
    from premiumchat.realtime.connections import ConnectionCounter
    from premiumchat.realtime.presence import Presence
    from premiumchat.realtime.ratelimit import RateLimiter
    from premiumchat.realtime.typing_state import TypingState


@dataclass(slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    limiter: RateLimiter
    presence: Presence
    typing: TypingState
    connections: ConnectionCounter
    redis: Redis | None = None
    # Sends to one lobby, from insert to publish, one at a time (see realtime/ordering.py).
    lobby_order: KeyedLocks = field(default_factory=KeyedLocks)
    # Made by create_app, so /metrics and the counters share one registry per app.
    metrics: Metrics = field(default_factory=Metrics)
