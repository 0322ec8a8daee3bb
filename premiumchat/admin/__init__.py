"""The admin panel at /admin: sqladmin on the product's tables, for active staff only."""

from __future__ import annotations

from sqladmin import Admin
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware

from premiumchat.admin.auth import StaffAuthentication
from premiumchat.admin.security import CrossSiteGuard
from premiumchat.admin.views import VIEWS
from premiumchat.config import Settings

BASE_URL = "/admin"


def mount_admin(app: Starlette, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Admin:
    """Mount the panel; `sessions` is bound to the app's engine when the lifespan opens it."""
    admin = Admin(
        app,
        session_maker=sessions,
        base_url=BASE_URL,
        title="Premium Chat Lobby",
        authentication_backend=StaffAuthentication(settings),
        middlewares=[Middleware(CrossSiteGuard)],
    )
    for view in VIEWS:
        admin.add_view(view)
    return admin
