"""Resolvers of the account operations."""

from __future__ import annotations

from premiumchat.auth.throttle import LoginThrottle
from premiumchat.context import Info
from premiumchat.schema.users import AuthPayload, RegisterInput, User
from premiumchat.services import accounts


def _payload(session: accounts.Session) -> AuthPayload:
    return AuthPayload(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        user=User.from_row(session.user, email_visible=True),
    )


async def me(info: Info) -> User:
    return User.from_row(await info.context.require_user(), email_visible=True)


async def register(info: Info, input: RegisterInput) -> AuthPayload:
    ctx = info.context
    return _payload(
        await accounts.register(
            ctx.sessions,
            ctx.settings,
            username=input.username,
            email=input.email,
            password=input.password,
            password_confirm=input.password_confirm,
        )
    )


async def login(info: Info, username: str, password: str) -> AuthPayload:
    ctx = info.context
    client = ctx.request.client
    throttle = LoginThrottle(ctx.resources.limiter, ctx.settings, client.host if client else None)
    return _payload(
        await accounts.login(
            ctx.sessions, ctx.settings, username=username, password=password, throttle=throttle
        )
    )


async def refresh_token(info: Info, refresh_token: str) -> AuthPayload:
    ctx = info.context
    return _payload(await accounts.refresh(ctx.sessions, ctx.settings, refresh_token=refresh_token))


async def logout(info: Info, refresh_token: str) -> bool:
    ctx = info.context
    return await accounts.logout(ctx.sessions, ctx.settings, refresh_token=refresh_token)
