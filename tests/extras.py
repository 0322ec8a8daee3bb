"""Test helpers for the moderation extras: mutes, purge, edits, slow mode and blocked terms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.lobbies import Account, Users, _id, app_with, make_users
from tests.realtime import MESSAGE_FIELDS, USER, Chat

MUTE_FIELDS = f"user {{ {USER} }} mutedBy {{ {USER} }} reason createdAt expiresAt"
MUTE_USER = f"""
mutation MuteUser($lobbyId: ID!, $userId: ID!, $reason: String, $durationSeconds: Int) {{
  muteUser(lobbyId: $lobbyId, userId: $userId, reason: $reason, durationSeconds: $durationSeconds) {{
    {MUTE_FIELDS}
  }}
}}
"""
UNMUTE_USER = (
    "mutation UnmuteUser($lobbyId: ID!, $userId: ID!) { unmuteUser(lobbyId: $lobbyId, userId: $userId) }"
)
PURGE_MESSAGES = """
mutation PurgeMessages($lobbyId: ID!, $userId: ID!, $withinSeconds: Int) {
  purgeMessages(lobbyId: $lobbyId, userId: $userId, withinSeconds: $withinSeconds)
}
"""
EDIT_MESSAGE = f"""
mutation EditMessage($messageId: ID!, $content: String!) {{
  editMessage(messageId: $messageId, content: $content) {{ {MESSAGE_FIELDS} editedAt }}
}}
"""
LOBBY_EXTRAS = f"""
query LobbyExtras($id: ID!) {{
  lobby(id: $id) {{
    id slowModeSeconds blockedTerms
    members {{ user {{ {USER} }} role isMuted mutedUntil }}
  }}
}}
"""
LOBBY_MUTES = f"query LobbyMutes($id: ID!) {{ lobby(id: $id) {{ id mutes {{ {MUTE_FIELDS} }} }} }}"
EXTRAS_EVENTS = f"""
subscription ExtrasEvents($lobbyId: ID!) {{
  lobbyEvents(lobbyId: $lobbyId) {{
    __typename lobbyId occurredAt
    ... on ChatMessageEvent {{ message {{ {MESSAGE_FIELDS} editedAt }} }}
    ... on PresenceJoinEvent {{ user {{ {USER} }} }}
    ... on TypingEvent {{ user {{ {USER} }} isTyping }}
    ... on MessageEditedEvent {{ message {{ {MESSAGE_FIELDS} editedAt }} }}
    ... on MessagesPurgedEvent {{ user {{ {USER} }} purgedBy {{ {USER} }} messageIds }}
    ... on ModerationEvent {{ action actor {{ {USER} }} target {{ {USER} }} reason expiresAt }}
    ... on MemberJoinedEvent {{ member {{ user {{ {USER} }} isMuted mutedUntil }} }}
    ... on LobbyUpdatedEvent {{ lobby {{ id slowModeSeconds blockedTerms }} }}
  }}
}}
"""


class Extras(Chat):
    """The chat operations plus the moderation extras, one call each."""

    async def mute(
        self,
        user: Account | None,
        lobby_id: str,
        target: Account | str,
        reason: str | None = None,
        duration: int | None = None,
        *,
        expect: str | None = None,
    ) -> Any:
        variables = {
            "lobbyId": lobby_id,
            "userId": _id(target),
            "reason": reason,
            "durationSeconds": duration,
        }
        result = await self.run(MUTE_USER, variables, user, expect)
        return result if expect else result["muteUser"]

    async def unmute(
        self, user: Account | None, lobby_id: str, target: Account | str, *, expect: str | None = None
    ) -> Any:
        result = await self.run(UNMUTE_USER, {"lobbyId": lobby_id, "userId": _id(target)}, user, expect)
        if expect:
            return result
        assert result["unmuteUser"] is True
        return True

    async def purge(
        self,
        user: Account | None,
        lobby_id: str,
        target: Account | str,
        within: int | None = None,
        *,
        expect: str | None = None,
    ) -> Any:
        variables: dict[str, Any] = {"lobbyId": lobby_id, "userId": _id(target)}
        if within is not None:
            variables["withinSeconds"] = within
        result = await self.run(PURGE_MESSAGES, variables, user, expect)
        return result if expect else result["purgeMessages"]

    async def edit(
        self, user: Account | None, message_id: str, content: str, *, expect: str | None = None
    ) -> Any:
        result = await self.run(EDIT_MESSAGE, {"messageId": message_id, "content": content}, user, expect)
        return result if expect else result["editMessage"]

    async def extras(self, user: Account | None, lobby_id: str) -> Any:
        lobby = (await self.run(LOBBY_EXTRAS, {"id": lobby_id}, user))["lobby"]
        assert lobby is not None
        return lobby

    async def muted(self, viewer: Account, lobby_id: str, target: Account) -> tuple[bool, str | None]:
        """(isMuted, mutedUntil) of a member, as `viewer` sees it."""
        lobby = await self.extras(viewer, lobby_id)
        [member] = [m for m in lobby["members"] if m["user"]["id"] == target.id]
        return member["isMuted"], member["mutedUntil"]

    async def mutes(self, user: Account | None, lobby_id: str, *, expect: str | None = None) -> Any:
        body = await self.gql.execute(LOBBY_MUTES, {"id": lobby_id}, user.token if user else None)
        if expect:
            [error] = body["errors"]
            assert error["extensions"]["code"] == expect, error
            return error
        assert "errors" not in body, body["errors"]
        return body["data"]["lobby"]["mutes"]


CAST = ["owner", "moderator", "member", "other", "outsider", "staff"]


@asynccontextmanager
async def cast_in_lobby(
    database_url: str, names: list[str] | None = None, **settings: Any
) -> AsyncIterator[tuple[Extras, Users, str]]:
    """An app (rate limit out of the way unless given), the cast, and a lobby: owner owns it,
    moderator moderates it, member and other are plain members; outsider and staff are not members."""
    settings.setdefault("rate_limit_messages", 1000)
    async with app_with(database_url, **settings) as (gql, _):
        api = Extras(gql)
        names = names or CAST
        staff = [name for name in names if name == "staff"]
        users = await make_users(gql, database_url, names, premium=["owner"], staff=staff)
        lobby_id = (await api.create_lobby(users["owner"], "Extras"))["id"]
        await api.join_all([users["moderator"], users["member"], users["other"]], lobby_id)
        await api.add_moderator(users["owner"], lobby_id, users["moderator"])
        yield api, users, lobby_id
