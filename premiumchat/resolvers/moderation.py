"""Resolvers of moderation and of the staff account operations."""

from __future__ import annotations

import strawberry

from premiumchat import validation
from premiumchat.context import Info
from premiumchat.schema.lobbies import LobbyBan, LobbyMember
from premiumchat.schema.mutes import LobbyMute
from premiumchat.schema.users import User
from premiumchat.services import moderation, mutes, purge, staff


def _ids(lobby_id: strawberry.ID, user_id: strawberry.ID) -> tuple[int, int]:
    return validation.object_id(lobby_id, "lobbyId"), validation.object_id(user_id, "userId")


async def kick_user(
    info: Info, lobby_id: strawberry.ID, user_id: strawberry.ID, reason: str | None = None
) -> bool:
    actor = await info.context.require_user()
    return await moderation.kick(info.context.resources, actor, *_ids(lobby_id, user_id), reason)


async def ban_user(
    info: Info,
    lobby_id: strawberry.ID,
    user_id: strawberry.ID,
    reason: str | None = None,
    duration_seconds: int | None = None,
) -> LobbyBan:
    actor = await info.context.require_user()
    row = await moderation.ban(
        info.context.resources, actor, *_ids(lobby_id, user_id), reason, duration_seconds
    )
    return LobbyBan.from_row(row)


async def unban_user(info: Info, lobby_id: strawberry.ID, user_id: strawberry.ID) -> bool:
    actor = await info.context.require_user()
    return await moderation.unban(info.context.resources, actor, *_ids(lobby_id, user_id))


async def add_moderator(info: Info, lobby_id: strawberry.ID, user_id: strawberry.ID) -> LobbyMember:
    actor = await info.context.require_user()
    member, _ = await moderation.add_moderator(info.context.resources, actor, *_ids(lobby_id, user_id))
    return LobbyMember.from_row(member)


async def remove_moderator(info: Info, lobby_id: strawberry.ID, user_id: strawberry.ID) -> LobbyMember:
    actor = await info.context.require_user()
    member, _ = await moderation.remove_moderator(info.context.resources, actor, *_ids(lobby_id, user_id))
    return LobbyMember.from_row(member)


async def mute_user(
    info: Info,
    lobby_id: strawberry.ID,
    user_id: strawberry.ID,
    reason: str | None = None,
    duration_seconds: int | None = None,
) -> LobbyMute:
    actor = await info.context.require_user()
    row = await mutes.mute(info.context.resources, actor, *_ids(lobby_id, user_id), reason, duration_seconds)
    return LobbyMute.from_row(row)


async def unmute_user(info: Info, lobby_id: strawberry.ID, user_id: strawberry.ID) -> bool:
    actor = await info.context.require_user()
    return await mutes.unmute(info.context.resources, actor, *_ids(lobby_id, user_id))


async def purge_messages(
    info: Info, lobby_id: strawberry.ID, user_id: strawberry.ID, within_seconds: int | None = 3600
) -> int:
    actor = await info.context.require_user()
    # Nullable with a default, as the contract has it; an explicit null means the default.
    within = 3600 if within_seconds is None else within_seconds
    return await purge.purge(info.context.resources, actor, *_ids(lobby_id, user_id), within)


async def set_premium(info: Info, user_id: strawberry.ID, is_premium: bool) -> User:
    actor = await info.context.require_user()
    user_key = validation.object_id(user_id, "userId")
    return User.from_row(await staff.set_premium(info.context.resources, actor, user_key, is_premium))


async def set_user_active(info: Info, user_id: strawberry.ID, is_active: bool) -> User:
    actor = await info.context.require_user()
    user_key = validation.object_id(user_id, "userId")
    return User.from_row(await staff.set_active(info.context.resources, actor, user_key, is_active))
