"""Long-lived resources (owned by the lifespan) and the per-request GraphQL context."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from premiumchat.auth import tokens
from premiumchat.auth.tokens import TokenType, bearer_token
from premiumchat.config import Settings
from premiumchat.errors import Unauthenticated
from premiumchat.loaders import Loaders
from premiumchat.resources import Resources
from premiumchat.services import accounts

if TYPE_CHECKING:
    from premiumchat.db.models import User


@dataclass(slots=True)
class Context:
    resources: Resources
    request: Request | WebSocket
    response: Any = None
    # Set by Strawberry from the graphql-ws `connection_init` payload.
    connection_params: dict[str, Any] | None = None
    # A socket is authenticated once, at connection_init.
    socket_user_id: int | None = None
    # One load per HTTP request, shared by resolvers that ask at the same time.
    _user_task: asyncio.Future[User | None] | None = field(default=None, repr=False)
    _loaders: Loaders | None = field(default=None, repr=False)

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
        if self._user_task is None:
            self._user_task = asyncio.ensure_future(self._user_from_header())
        return await self._user_task

    def _header_token(self) -> str | None:
        """The access token of the `Authorization` header; None without one, UNAUTHENTICATED if malformed."""
        header = self.request.headers.get("authorization")
        if not header:
            return None
        token = bearer_token(header)
        if token is None:
            raise Unauthenticated("Send the access token as `Authorization: Bearer <token>`.")
        return token

    async def _user_from_header(self) -> User | None:
        token = self._header_token()
        if token is None:
            return None
        return await accounts.authenticate(self.sessions, self.settings, token)

    async def claimed_user_id(self) -> int:
        """Who the caller says they are, verified but not read: the token's user, or the socket's.

        UNAUTHENTICATED as `require_user` for a missing or bad token. Whoever uses it must
        read the account itself (active or not) before anything else, then `remember_user`.
        """
        if self.is_websocket:
            if self.socket_user_id is None:
                raise Unauthenticated()
            return self.socket_user_id
        if self._user_task is not None:
            user = await self._user_task
            if user is None:
                raise Unauthenticated()
            assert user.id is not None
            return user.id
        token = self._header_token()
        if token is None:
            raise Unauthenticated()
        return tokens.decode(self.settings, token, TokenType.ACCESS).user_id

    def remember_user(self, user: User) -> None:
        """The caller as just read by a service: later resolvers of this HTTP request reuse it."""
        if not self.is_websocket and self._user_task is None:
            done: asyncio.Future[User | None] = asyncio.get_running_loop().create_future()
            done.set_result(user)
            self._user_task = done

    async def viewer_id(self) -> int | None:
        """The caller's id, without a database read on a socket."""
        if self.is_websocket:
            return self.socket_user_id
        user = await self.user()
        return user.id if user else None

    def is_viewer(self, user_id: int) -> bool | None:
        """Whether the caller is this user, when known without a read (a socket's user); else None."""
        if self.is_websocket:
            return self.socket_user_id is not None and self.socket_user_id == user_id
        return None

    def known_user_id(self) -> int | None:
        """The caller's id if already identified, without a read (for logs and metrics)."""
        if self.is_websocket:
            return self.socket_user_id
        task = self._user_task
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        user = task.result()
        return user.id if user else None

    async def loaders(self) -> Loaders:
        """DataLoaders for this request; a socket's operations share them, uncached."""
        if self._loaders is None:
            if self.is_websocket:
                self._loaders = Loaders(self.resources, self.socket_user_id, cache=False)
            else:
                viewer = await self.user()
                # Another resolver may have made them while this one waited.
                if self._loaders is None:
                    self._loaders = Loaders(self.resources, viewer.id if viewer else None, cache=True)
        return self._loaders

    async def require_user(self) -> User:
        user = await self.user()
        if user is None:
            raise Unauthenticated()
        return user


Info: TypeAlias = StrawberryInfo[Context, None]
