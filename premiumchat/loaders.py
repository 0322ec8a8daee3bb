"""Per-request DataLoaders: one query per batch for users, members, roles and bans."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from premiumchat.db import invites as invite_queries
from premiumchat.db import lobbies as queries
from premiumchat.db import mutes
from premiumchat.db import reports as report_queries
from premiumchat.db.models import LobbyBan, LobbyInvite, LobbyMember, LobbyMute, Message, User
from premiumchat.resources import Resources
from premiumchat.timeutil import utcnow

K = TypeVar("K")
V = TypeVar("V")


class Loaders:
    """Batch loaders for one request (HTTP) or, uncached, for one socket."""

    def __init__(self, resources: Resources, viewer_id: int | None, *, cache: bool) -> None:
        self._sessions = resources.sessions
        self.users: DataLoader[int, User | None] = self._loader(queries.users_by_id, None, cache)
        self.members: DataLoader[int, list[LobbyMember]] = self._loader(queries.members_by_lobby, [], cache)
        self.bans: DataLoader[int, list[LobbyBan]] = self._loader(
            lambda session, ids: queries.active_bans_by_lobby(session, ids, utcnow()), [], cache
        )
        self.mutes: DataLoader[int, list[LobbyMute]] = self._loader(
            lambda session, ids: mutes.active_mutes_by_lobby(session, ids, utcnow()), [], cache
        )
        self.invites: DataLoader[int, list[LobbyInvite]] = self._loader(
            lambda session, ids: invite_queries.usable_by_lobby(session, ids, utcnow()), [], cache
        )
        self.messages: DataLoader[int, Message | None] = self._loader(
            report_queries.messages_by_id, None, cache
        )
        presence = resources.presence
        self.online: DataLoader[int, list[int]] = DataLoader(
            load_fn=lambda ids: _in_order(presence.online(ids), ids, []), cache=cache
        )
        self.viewer_roles: DataLoader[int, str | None] = self._loader(
            lambda session, ids: queries.roles_of_user(session, viewer_id or 0, ids), None, cache
        )

    def _loader(
        self,
        fetch: Callable[[AsyncSession, Sequence[K]], Awaitable[Mapping[K, V]]],
        missing: V,
        cache: bool,
    ) -> DataLoader[K, V]:
        # Not `self._sessions` inside `load`: the loader would hold this object, which holds the
        # loader, a cycle per request that only the cyclic collector frees (tests/test_memory.py).
        sessions = self._sessions

        async def load(keys: list[K]) -> list[V]:
            async with sessions() as session:
                found = await fetch(session, keys)
            return [found.get(key, missing) for key in keys]

        return DataLoader(load_fn=load, cache=cache)


async def _in_order(found: Awaitable[Mapping[K, V]], keys: list[K], missing: V) -> list[V]:
    result = await found
    return [result.get(key, missing) for key in keys]
