"""Pieces every connection and type module shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from premiumchat.schema.users import User

if TYPE_CHECKING:
    from premiumchat.loaders import Loaders
    from premiumchat.services.browse import Page


async def load_user(loaders: Loaders, user_id: int) -> User:
    row = await loaders.users.load(user_id)
    assert row is not None  # foreign keys guarantee it
    return User.from_row(row)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, page: Page[object]) -> PageInfo:
        return cls(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=page.items[0][0] if page.items else None,
            end_cursor=page.items[-1][0] if page.items else None,
        )
