"""Resolvers of the lobby extras: invites, the ready check and message reports."""

from __future__ import annotations

import strawberry

from premiumchat import validation
from premiumchat.context import Info
from premiumchat.schema.lobbies import Lobby, LobbyInvite, LobbyMember
from premiumchat.schema.reports import MessageReport, MessageReportConnection, report_connection
from premiumchat.services import invites, ready, reports


async def create_invite(
    info: Info, lobby_id: strawberry.ID, max_uses: int | None = None, expires_in_seconds: int | None = 86400
) -> LobbyInvite:
    actor = await info.context.require_user()
    lobby_key = validation.object_id(lobby_id, "lobbyId")
    row, lobby = await invites.create(info.context.resources, actor, lobby_key, max_uses, expires_in_seconds)
    return LobbyInvite.from_row(row, Lobby.from_row(lobby))


async def revoke_invite(info: Info, code: str) -> bool:
    actor = await info.context.require_user()
    return await invites.revoke(info.context.resources, actor, code)


async def join_by_invite(info: Info, code: str) -> Lobby:
    actor = await info.context.require_user()
    return Lobby.from_row(await invites.join(info.context.resources, actor, code))


async def set_ready(info: Info, lobby_id: strawberry.ID, is_ready: bool) -> LobbyMember:
    actor = await info.context.require_user()
    lobby_key = validation.object_id(lobby_id, "lobbyId")
    return LobbyMember.from_row(await ready.set_ready(info.context.resources, actor, lobby_key, is_ready))


async def report_message(info: Info, message_id: strawberry.ID, reason: str) -> MessageReport:
    actor = await info.context.require_user()
    message_key = validation.object_id(message_id, "messageId")
    return MessageReport.from_row(await reports.report(info.context.resources, actor, message_key, reason))


async def resolve_report(info: Info, report_id: strawberry.ID) -> MessageReport:
    actor = await info.context.require_user()
    report_key = validation.object_id(report_id, "reportId")
    return MessageReport.from_row(await reports.resolve(info.context.resources, actor, report_key))


async def message_reports(
    info: Info,
    lobby_id: strawberry.ID | None = None,
    unresolved_only: bool | None = True,
    first: int | None = 50,
    after: str | None = None,
) -> MessageReportConnection:
    viewer = await info.context.require_user()
    lobby_key = validation.object_id(lobby_id, "lobbyId") if lobby_id is not None else None
    page = await reports.reports_page(
        info.context.resources,
        viewer,
        lobby_key,
        unresolved_only=unresolved_only is not False,
        first=first,
        after=after,
    )
    return report_connection(page)
