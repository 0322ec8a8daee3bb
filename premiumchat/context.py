"""Long-lived resources (owned by the lifespan) and the per-request GraphQL context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from premiumchat.auth.tokens import bearer_token
from premiumchat.config import Settings
from premiumchat.errors import Unauthenticated
from premiumchat.services import accounts

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from premiumchat.db.models import User


@dataclass(slots=True)
class Resources:
    """What the lifespan opens and closes: handed to every request through the state."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis | None = None


@dataclass(slots=True)
class Context:
    resources: Resources
    request: Request | WebSocket
    response: Any = None
    # Set by Strawberry from the graphql-ws `connection_init` payload.
    connection_params: dict[str, Any] | None = None
    # A socket is authenticated once, at connection_init.
    socket_user_id: int | None = None
    _user: User | None = field(default=None, repr=False)
    _user_error: Unauthenticated | None = field(default=None, repr=False)
    _user_loaded: bool = False

    @property
    def settings(self) -> Settings:
        return self.resources.settings

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.resources.sessions

    @property
    def is_websocket(self) -> bool:
        return isinstance(self.request, WebSocket)

    async def user(self) -> User | None:
        """The caller, or None for an anonymous request; a bad token raises UNAUTHENTICATED."""
        if self.is_websocket:
            # One socket serves many operations: read the account afresh for each,
            # so premium, staff and active changes apply at once.
            if self.socket_user_id is None:
                return None
            return await accounts.authenticate_user_id(self.sessions, self.socket_user_id)
        if not self._user_loaded:
            self._user_loaded = True
            token = bearer_token(self.request.headers.get("authorization"))
            if token is None and self.request.headers.get("authorization"):
                self._user_error = Unauthenticated(
                    "Send the access token as `Authorization: Bearer <token>`."
                )
            elif token is not None:
                try:
                    self._user = await accounts.authenticate(self.sessions, self.settings, token)
                except Unauthenticated as error:
                    self._user_error = error
        if self._user_error is not None:
            raise self._user_error
        return self._user

    async def require_user(self) -> User:
        user = await self.user()
        if user is None:
            raise Unauthenticated()
        return user


Info: TypeAlias = StrawberryInfo[Context, None]
