"""LobbyMute: an active mute, as owner, moderators and staff see it."""

from __future__ import annotations

from datetime import datetime

import strawberry

from premiumchat.context import Info
from premiumchat.db import models
from premiumchat.schema.common import load_user
from premiumchat.schema.users import User


@strawberry.type
class LobbyMute:
    reason: str | None
    created_at: datetime
    expires_at: datetime | None = strawberry.field(description="Null: until unmuted.")
    user_id: strawberry.Private[int]
    muted_by_id: strawberry.Private[int]

    @strawberry.field
    async def user(self, info: Info) -> User:
        return await load_user(await info.context.loaders(), self.user_id)

    @strawberry.field
    async def muted_by(self, info: Info) -> User:
        return await load_user(await info.context.loaders(), self.muted_by_id)

    @classmethod
    def from_row(cls, row: models.LobbyMute) -> LobbyMute:
        return cls(
            reason=row.reason,
            created_at=row.created_at,
            expires_at=row.expires_at,
            user_id=row.user_id,
            muted_by_id=row.muted_by_id,
        )
