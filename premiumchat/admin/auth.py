"""Who may use the admin panel: active staff, by username and password, in a signed session cookie."""

from __future__ import annotations

import hashlib
import logging

from sqladmin.authentication import AuthenticationBackend
from starlette.requests import Request

from premiumchat import validation
from premiumchat.auth import passwords
from premiumchat.config import Settings
from premiumchat.db import users as user_queries
from premiumchat.db.models import User
from premiumchat.resources import Resources

logger = logging.getLogger("premiumchat.admin")

SESSION_COOKIE = "premiumchat_admin"
SESSION_MAX_AGE_SECONDS = 8 * 60 * 60  # a working day; staff log in again after that
LOGIN_ATTEMPTS, LOGIN_WINDOW_SECONDS = 20, 60  # per client address
ADMIN_USER = "premiumchat_admin_user"


def _password_stamp(user: User) -> str:
    """Changes with the password, so a new password ends the sessions opened with the old one."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def admin_user(request: Request) -> User:
    """The staff user behind this admin request (set by `authenticate`): the actor of every change."""
    user: User = getattr(request.state, ADMIN_USER)
    return user


def resources(request: Request) -> Resources:
    res: Resources = request.state.resources
    return res


class StaffAuthentication(AuthenticationBackend):
    def __init__(self, settings: Settings) -> None:
        # Starlette's SessionMiddleware, scoped to the panel: signed with SECRET_KEY, HttpOnly, SameSite=Lax.
        super().__init__(
            secret_key=settings.secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE_SECONDS,
            path="/admin",
            same_site="lax",
        )

    async def login(self, request: Request) -> bool:
        form = await request.form()
        username, password = form.get("username"), form.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return False
        res = resources(request)
        client = request.client.host if request.client else "unknown"
        retry_after = await res.limiter.hit("admin-login", client, LOGIN_ATTEMPTS, LOGIN_WINDOW_SECONDS)
        if retry_after is not None:
            logger.warning("admin login from %s refused: too many attempts", client)
            return False
        async with res.sessions() as session:
            user = await user_queries.find_by_username_key(session, validation.username_key(username))
        # An unknown user still costs one hash, so timing does not reveal which names exist.
        if not await passwords.verify_password(user.password_hash if user else None, password):
            return False
        assert user is not None
        if not (user.is_staff and user.is_active):
            return False
        request.session.clear()
        request.session.update({"user_id": user.id, "stamp": _password_stamp(user)})
        return True

    async def logout(self, request: Request) -> bool:
        request.session.clear()
        return True

    async def authenticate(self, request: Request) -> bool:
        user_id = request.session.get("user_id")
        if not isinstance(user_id, int):
            return False
        async with resources(request).sessions() as session:
            user = await user_queries.get_user(session, user_id)
        # Staff and active status are read on every request, as for the API.
        if user is None or not (user.is_staff and user.is_active):
            request.session.clear()
            return False
        if request.session.get("stamp") != _password_stamp(user):
            request.session.clear()
            return False
        setattr(request.state, ADMIN_USER, user)
        return True
