"""Account types: User, AuthPayload and RegisterInput."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import strawberry

from premiumchat.context import Info
from premiumchat.timeutil import parse_datetime

if TYPE_CHECKING:
    from premiumchat.db.models import User as UserRow


@strawberry.type(name="User")
class User:
    id: strawberry.ID
    username: str
    is_premium: bool
    is_staff: bool
    created_at: datetime
    user_id: strawberry.Private[int]
    # None for users taken from an event: events never carry emails.
    private_email: strawberry.Private[str | None]
    # True when the viewer is known to be this user (the payload of their own login).
    email_visible: strawberry.Private[bool]

    @strawberry.field(description="Only to the user themself and to staff, else null.")
    def email(self, info: Info) -> str | None:
        # Synchronous when nothing needs reading (events carry no email): see Message.sender.
        if self.email_visible or self.private_email is None:
            return self.private_email
        return self._email_for_viewer(info)  # type: ignore[return-value]  # awaited by graphql-core

    async def _email_for_viewer(self, info: Info) -> str | None:
        viewer = await info.context.user()
        if viewer is not None and (viewer.id == self.user_id or viewer.is_staff):
            return self.private_email
        return None

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> User:
        return cls(
            id=strawberry.ID(snapshot["id"]),
            username=snapshot["username"],
            is_premium=snapshot["isPremium"],
            is_staff=snapshot["isStaff"],
            created_at=parse_datetime(snapshot["createdAt"]),
            user_id=int(snapshot["id"]),
            private_email=None,
            email_visible=False,
        )

    @classmethod
    def from_row(cls, row: UserRow, *, email_visible: bool = False) -> User:
        assert row.id is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            username=row.username,
            is_premium=row.is_premium,
            is_staff=row.is_staff,
            created_at=row.created_at,
            user_id=row.id,
            private_email=row.email,
            email_visible=email_visible,
        )


@strawberry.type
class AuthPayload:
    access_token: str
    refresh_token: str
    user: User


@strawberry.input
class RegisterInput:
    username: str
    email: str
    password: str
    password_confirm: str
