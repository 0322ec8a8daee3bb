"""Accounts: registration, login, token rotation with reuse detection, logout."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from premiumchat import validation
from premiumchat.auth import passwords, tokens
from premiumchat.auth.throttle import LoginThrottle
from premiumchat.auth.tokens import TokenType
from premiumchat.config import Settings
from premiumchat.db import users as user_queries
from premiumchat.db.engine import reading
from premiumchat.db.models import RefreshToken, User
from premiumchat.errors import BadUserInput, Conflict, Unauthenticated
from premiumchat.timeutil import utcnow

WRONG_CREDENTIALS = "Wrong username or password."
DEACTIVATED = "This account is deactivated."


@dataclass(frozen=True, slots=True)
class Session:
    """What register, login and refresh return: a token pair and its user."""

    access_token: str
    refresh_token: str
    user: User


def _issue_pair(session: AsyncSession, settings: Settings, user: User) -> Session:
    assert user.id is not None
    access = tokens.issue(settings, user.id, TokenType.ACCESS)
    refresh = tokens.issue(settings, user.id, TokenType.REFRESH)
    session.add(RefreshToken(jti=refresh.jti, user_id=user.id, expires_at=refresh.expires_at))
    return Session(access_token=access.token, refresh_token=refresh.token, user=user)


async def register(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    username: str,
    email: str,
    password: str,
    password_confirm: str,
) -> Session:
    username = validation.username(username)
    email = validation.email(email)
    validation.password(password)
    if password_confirm != password:
        raise BadUserInput("passwordConfirm", "The two passwords differ.")
    username_key, email_key = validation.username_key(username), validation.email_key(email)
    password_hash = await passwords.hash_password(password)
    try:
        async with sessions() as session, session.begin():
            name_taken, email_taken = await user_queries.username_or_email_taken(
                session, username_key, email_key
            )
            if name_taken:
                raise Conflict("That username is taken.")
            if email_taken:
                raise Conflict("An account with that email already exists.")
            user = User(
                username=username,
                username_key=username_key,
                email=email,
                email_key=email_key,
                password_hash=password_hash,
            )
            session.add(user)
            await session.flush()
            return _issue_pair(session, settings, user)
    except IntegrityError as error:
        # Two registrations raced past the check; the unique constraint decided.
        raise Conflict("That username or email is taken.") from error


async def login(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    username: str,
    password: str,
    throttle: LoginThrottle | None = None,
) -> Session:
    if throttle is not None:
        await throttle.check(username)
    user = None
    if _could_be_username(username):
        async with sessions() as session:
            user = await user_queries.find_by_username_key(session, validation.username_key(username))
    # An unknown user still costs one hash, so timing does not reveal which names exist.
    if not await passwords.verify_password(user.password_hash if user else None, password):
        if throttle is not None:
            await throttle.failed(username)
        raise Unauthenticated(WRONG_CREDENTIALS)
    assert user is not None
    if not user.is_active:
        raise Unauthenticated(DEACTIVATED)
    async with sessions() as session, session.begin():
        return _issue_pair(session, settings, user)


def _could_be_username(value: str) -> bool:
    """False for what no account can be named (NUL, 100,000 characters...): no need to ask the database."""
    try:
        validation.username(value)
    except BadUserInput:
        return False
    return True


async def refresh(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, *, refresh_token: str
) -> Session:
    claims = tokens.decode(settings, refresh_token, TokenType.REFRESH)
    now = utcnow()
    reused = False
    async with sessions() as session, session.begin():
        if await user_queries.spend_refresh_token(session, claims.jti, claims.user_id, now):
            user = await user_queries.get_user(session, claims.user_id)
            if user is not None and user.is_active:
                return _issue_pair(session, settings, user)
        elif await user_queries.refresh_token_exists(session, claims.jti, claims.user_id):
            # A spent token presented again: someone holds a copy. Revoke the lot
            # (committed by leaving this block normally) and refuse.
            await user_queries.revoke_refresh_tokens(session, claims.user_id, now)
            reused = True
    if reused:
        raise Unauthenticated("This refresh token was already used; every session was logged out.")
    raise Unauthenticated("Invalid or expired refresh token: log in again.")


async def logout(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, *, refresh_token: str
) -> bool:
    claims = tokens.decode(settings, refresh_token, TokenType.REFRESH)
    async with sessions() as session, session.begin():
        if not await user_queries.refresh_token_exists(session, claims.jti, claims.user_id):
            raise Unauthenticated("Invalid refresh token.")
        await user_queries.spend_refresh_token(session, claims.jti, claims.user_id, utcnow())
    return True


async def authenticate(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, access_token: str
) -> User:
    """The active user an access token names; status is read now, never from the token."""
    claims = tokens.decode(settings, access_token, TokenType.ACCESS)
    return await authenticate_user_id(sessions, claims.user_id)


async def create_admin(
    sessions: async_sessionmaker[AsyncSession], *, username: str, email: str, password: str
) -> tuple[User, bool]:
    """Create a staff user, or promote an existing one and set its password."""
    username = validation.username(username)
    email = validation.email(email)
    validation.password(password)
    password_hash = await passwords.hash_password(password)
    try:
        return await _save_admin(sessions, username, email, password_hash)
    except IntegrityError as error:
        raise Conflict("Another account already uses that email.") from error


async def _save_admin(
    sessions: async_sessionmaker[AsyncSession], username: str, email: str, password_hash: str
) -> tuple[User, bool]:
    async with sessions() as session, session.begin():
        user = await user_queries.find_by_username_key(session, validation.username_key(username))
        created = user is None
        if user is None:
            user = User(
                username=username,
                username_key=validation.username_key(username),
                email=email,
                email_key=validation.email_key(email),
                password_hash=password_hash,
            )
            session.add(user)
        user.password_hash = password_hash
        user.is_staff = True
        user.is_active = True
        await session.flush()
    return user, created


async def create_user(
    sessions: async_sessionmaker[AsyncSession],
    *,
    username: str,
    email: str,
    password: str,
    is_premium: bool = False,
) -> User:
    """An account made by an operator (demo data): the registration rules, no tokens issued."""
    username = validation.username(username)
    email = validation.email(email)
    validation.password(password)
    username_key, email_key = validation.username_key(username), validation.email_key(email)
    password_hash = await passwords.hash_password(password)
    try:
        async with sessions() as session, session.begin():
            name_taken, email_taken = await user_queries.username_or_email_taken(
                session, username_key, email_key
            )
            if name_taken or email_taken:
                raise Conflict("That username or email is taken.")
            user = User(
                username=username,
                username_key=username_key,
                email=email,
                email_key=email_key,
                password_hash=password_hash,
                is_premium=is_premium,
            )
            session.add(user)
            await session.flush()
    except IntegrityError as error:
        raise Conflict("That username or email is taken.") from error
    return user


async def authenticate_user_id(sessions: async_sessionmaker[AsyncSession], user_id: int) -> User:
    """The active user behind a verified token or an authenticated socket."""
    async with reading(sessions) as session:
        user = await user_queries.get_user(session, user_id)
    if user is None or not user.is_active:
        raise Unauthenticated(DEACTIVATED if user else "Invalid or expired token: log in again.")
    return user
