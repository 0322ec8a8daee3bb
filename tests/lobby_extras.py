"""Test helpers for the lobby extras: invites, lock, ready check, tags and message reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from premiumchat.db.engine import create_engine
from premiumchat.db.models import LobbyInvite
from tests.lobbies import LOBBY_FRAGMENT, Account
from tests.realtime import Chat

INVITE_FIELDS = "code lobby { id name } createdBy { id username } createdAt expiresAt maxUses uses"
CREATE_INVITE = f"""
mutation CreateInvite($lobbyId: ID!, $maxUses: Int, $expiresInSeconds: Int) {{
  createInvite(lobbyId: $lobbyId, maxUses: $maxUses, expiresInSeconds: $expiresInSeconds) {{
    {INVITE_FIELDS}
  }}
}}
"""
CREATE_INVITE_DEFAULTS = f"""
mutation CreateInvite($lobbyId: ID!) {{ createInvite(lobbyId: $lobbyId) {{ {INVITE_FIELDS} }} }}
"""
REVOKE_INVITE = "mutation RevokeInvite($code: String!) { revokeInvite(code: $code) }"
JOIN_BY_INVITE = (
    "mutation JoinByInvite($code: String!) { joinByInvite(code: $code) { ...LobbyFields } }" + LOBBY_FRAGMENT
)
INVITES = f"query Invites($id: ID!) {{ lobby(id: $id) {{ id invites {{ {INVITE_FIELDS} }} }} }}"
EXTRAS = """
query Extras($id: ID!) {
  lobby(id: $id) { id isLocked tags readyCount participantCount members { user { id } isReady } }
}
"""
SET_READY = """
mutation SetReady($lobbyId: ID!, $isReady: Boolean!) {
  setReady(lobbyId: $lobbyId, isReady: $isReady) { user { id username } role joinedAt isReady }
}
"""
REPORT_FIELDS = (
    "id reason createdAt resolvedAt message { id lobbyId content sender { id } }"
    " reporter { id username } resolvedBy { id username }"
)
REPORT_MESSAGE = f"""
mutation ReportMessage($messageId: ID!, $reason: String!) {{
  reportMessage(messageId: $messageId, reason: $reason) {{ {REPORT_FIELDS} }}
}}
"""
RESOLVE_REPORT = f"""
mutation ResolveReport($reportId: ID!) {{ resolveReport(reportId: $reportId) {{ {REPORT_FIELDS} }} }}
"""
MESSAGE_REPORTS = f"""
query MessageReports($lobbyId: ID, $unresolvedOnly: Boolean, $first: Int, $after: String) {{
  messageReports(lobbyId: $lobbyId, unresolvedOnly: $unresolvedOnly, first: $first, after: $after) {{
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ cursor node {{ {REPORT_FIELDS} }} }}
  }}
}}
"""


class Extras(Chat):
    """The extras' operations, one call each (data, or the error when `expect` names its code)."""

    async def create_invite(
        self, user: Account, lobby_id: str, *, expect: str | None = None, **arguments: Any
    ) -> Any:
        query = CREATE_INVITE if arguments else CREATE_INVITE_DEFAULTS
        result = await self.run(query, {"lobbyId": lobby_id, **arguments}, user, expect)
        return result if expect else result["createInvite"]

    async def revoke_invite(self, user: Account, code: str, *, expect: str | None = None) -> Any:
        result = await self.run(REVOKE_INVITE, {"code": code}, user, expect)
        return result if expect else result["revokeInvite"]

    async def join_by_invite(self, user: Account, code: str, *, expect: str | None = None) -> Any:
        result = await self.run(JOIN_BY_INVITE, {"code": code}, user, expect)
        return result if expect else result["joinByInvite"]

    async def invites(self, user: Account, lobby_id: str, *, expect: str | None = None) -> Any:
        result = await self.run(INVITES, {"id": lobby_id}, user, expect)
        return result if expect else result["lobby"]["invites"]

    async def extras(self, user: Account, lobby_id: str) -> dict[str, Any]:
        lobby: dict[str, Any] = (await self.run(EXTRAS, {"id": lobby_id}, user))["lobby"]
        return lobby

    async def set_ready(
        self, user: Account, lobby_id: str, is_ready: bool = True, *, expect: str | None = None
    ) -> Any:
        result = await self.run(SET_READY, {"lobbyId": lobby_id, "isReady": is_ready}, user, expect)
        return result if expect else result["setReady"]

    async def report(
        self, user: Account, message_id: str, reason: str = "spam", *, expect: str | None = None
    ) -> Any:
        result = await self.run(REPORT_MESSAGE, {"messageId": message_id, "reason": reason}, user, expect)
        return result if expect else result["reportMessage"]

    async def resolve(self, user: Account, report_id: str, *, expect: str | None = None) -> Any:
        result = await self.run(RESOLVE_REPORT, {"reportId": report_id}, user, expect)
        return result if expect else result["resolveReport"]

    async def reports(self, user: Account, *, expect: str | None = None, **variables: Any) -> Any:
        result = await self.run(MESSAGE_REPORTS, variables, user, expect)
        return result if expect else result["messageReports"]


async def set_invite_expiry(database_url: str, code: str, expires_at: datetime) -> None:
    """Move an invite's expiry (as time passing would) straight in the database."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(LobbyInvite).where(col(LobbyInvite.code) == code).values(expires_at=expires_at)
            )
    finally:
        await engine.dispose()
