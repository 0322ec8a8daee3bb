"""Message reports and their connection."""

from __future__ import annotations

from datetime import datetime

import strawberry

from premiumchat.context import Info
from premiumchat.db import models
from premiumchat.schema.common import PageInfo, load_user
from premiumchat.schema.messages import Message
from premiumchat.schema.users import User
from premiumchat.services.browse import Page


@strawberry.type
class MessageReport:
    id: strawberry.ID
    reason: str
    created_at: datetime
    resolved_at: datetime | None
    message_id: strawberry.Private[int]
    reporter_id: strawberry.Private[int]
    resolved_by_id: strawberry.Private[int | None]

    @strawberry.field
    async def message(self, info: Info) -> Message:
        row = await (await info.context.loaders()).messages.load(self.message_id)
        assert row is not None  # reports go with their message (ON DELETE CASCADE)
        return Message.from_row(row)

    @strawberry.field
    async def reporter(self, info: Info) -> User:
        return await load_user(await info.context.loaders(), self.reporter_id)

    @strawberry.field
    async def resolved_by(self, info: Info) -> User | None:
        if self.resolved_by_id is None:
            return None
        return await load_user(await info.context.loaders(), self.resolved_by_id)

    @classmethod
    def from_row(cls, row: models.MessageReport) -> MessageReport:
        return cls(
            id=strawberry.ID(str(row.id)),
            reason=row.reason,
            created_at=row.created_at,
            resolved_at=row.resolved_at,
            message_id=row.message_id,
            reporter_id=row.reporter_id,
            resolved_by_id=row.resolved_by_id,
        )


@strawberry.type
class MessageReportEdge:
    cursor: str
    node: MessageReport


@strawberry.type
class MessageReportConnection:
    edges: list[MessageReportEdge]
    page_info: PageInfo


def report_connection(page: Page[models.MessageReport]) -> MessageReportConnection:
    return MessageReportConnection(
        edges=[
            MessageReportEdge(cursor=cursor, node=MessageReport.from_row(row)) for cursor, row in page.items
        ],
        page_info=PageInfo.of(page),  # type: ignore[arg-type]
    )
