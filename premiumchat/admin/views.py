"""The panel's views. They read through sqladmin; every change goes through a service, as the API's do."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqladmin import ModelView, action
from sqladmin.filters import BooleanFilter, ForeignKeyFilter, StaticValuesFilter, get_column_obj
from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload
from sqlalchemy.sql.expression import Select
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from wtforms import Form, PasswordField
from wtforms.validators import Optional

from premiumchat import validation
from premiumchat.admin.auth import admin_user, resources
from premiumchat.admin.models import (
    Lobby,
    LobbyBan,
    LobbyLogEntry,
    LobbyMute,
    Message,
    MessageReport,
    User,
)
from premiumchat.db import models
from premiumchat.errors import DomainError, NotFound
from premiumchat.services import lobbies, messages, moderation, mutes, reports, staff
from premiumchat.timeutil import utcnow

logger = logging.getLogger("premiumchat.admin")

LOOKUP_LIMIT = 200
UNEXPECTED = "Something went wrong; the server log has the details."


class AdminError(Exception):
    """What the panel shows for a failed change: the domain error's message, never internals."""


@asynccontextmanager
async def _as_admin_errors() -> AsyncIterator[None]:
    try:
        yield
    except DomainError as error:
        raise AdminError(error.message) from error
    except Exception as error:
        logger.exception("admin change failed")
        raise AdminError(UNEXPECTED) from error


def _ids(request: Request) -> list[int]:
    raw = request.query_params.get("pks", "")
    try:
        return [validation.object_id(part, "pks") for part in raw.split(",") if part]
    except DomainError:
        return []


def _back_to_list(request: Request, view: ModelView, errors: list[str]) -> Response:
    url = URL(str(request.url_for("admin:list", identity=view.identity)))
    if errors:
        url = url.include_query_params(error="; ".join(errors))
    return RedirectResponse(url, status_code=302)


async def _each(request: Request, change: Callable[[int], Awaitable[None]]) -> list[str]:
    """Apply a change to every selected row; the errors, one per row that failed."""
    errors = []
    for row_id in _ids(request):
        try:
            async with _as_admin_errors():
                await change(row_id)
        except AdminError as error:
            errors.append(f"#{row_id}: {error}")
    return errors


class ReferencedFilter(ForeignKeyFilter):
    """A foreign-key filter that offers only the rows actually referenced (the first few hundred
    by name) and treats a malformed id as matching nothing."""

    async def lookups(
        self,
        request: Request,  # noqa: ARG002 (sqladmin's signature)
        model: Any,
        run_query: Callable[[Select[Any]], Any],
    ) -> list[tuple[str, str]]:
        foreign_key = get_column_obj(self.foreign_key, model)
        display = get_column_obj(self.foreign_display_field, self.foreign_model)
        key = next(iter(foreign_key.foreign_keys)).column
        rows = await run_query(
            select(key, display)
            .where(key.in_(select(foreign_key).distinct()))
            .order_by(display)
            .limit(LOOKUP_LIMIT)
        )
        return [("__all", "All"), *((str(row[0]), str(row[1])) for row in rows)]

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        if value is not None and value != "__all" and not str(value).isdecimal():
            return query.where(false())
        return await super().get_filtered_query(query, value, model)


class StateFilter(StaticValuesFilter):
    """A filter on a row's state (open or resolved, active or expired): each choice is a condition,
    built when the list is read (so "active" means active now)."""

    def __init__(
        self,
        parameter_name: str,
        title: str,
        states: dict[str, tuple[str, Callable[[], ColumnElement[bool]]]],
    ) -> None:
        values = [(value, label) for value, (label, _) in states.items()]
        super().__init__(parameter_name, values, title=title, parameter_name=parameter_name)
        self.states = states

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:  # noqa: ARG002
        state = self.states.get(str(value))
        if state is not None:
            return query.where(state[1]())
        # "All", nothing chosen, or a value that is no state: every row (as the other filters do).
        return query


def _mute_active() -> ColumnElement[bool]:
    now = utcnow()
    return or_(LobbyMute.expires_at.is_(None), LobbyMute.expires_at > now)


def _mute_expired() -> ColumnElement[bool]:
    return LobbyMute.expires_at <= utcnow()


def _until(expires_at: datetime | None) -> str:
    return "until lifted" if expires_at is None else f"until {expires_at:%Y-%m-%d %H:%M} UTC"


def _describe_mute(mute: LobbyMute) -> str:
    reason = f"; {mute.reason}" if mute.reason else ""
    return f"{mute.user.username}: muted by {mute.muted_by.username}, {_until(mute.expires_at)}{reason}"


def _reported_content(report: MessageReport, limit: int | None = None) -> str:
    """What the reported message says; like the API, nothing once it is deleted."""
    if report.message.deleted:
        return "(deleted)"
    content = report.message.content
    return content if limit is None or len(content) <= limit else content[: limit - 1] + "…"


class ReadView(ModelView):
    """What every view shares: newest first, no generic create, edit, delete or export."""

    can_create = False
    can_edit = False
    can_delete = False
    can_export = False
    page_size = 25
    column_default_sort = ("id", True)


class UserAdmin(ReadView, model=User):
    name, name_plural, icon = "User", "Users", "fa-solid fa-user"
    column_list = ["id", "username", "email", "is_premium", "is_staff", "is_active", "created_at"]
    column_details_list = column_list
    column_labels = {
        "is_premium": "Premium",
        "is_staff": "Staff",
        "is_active": "Active",
        "created_at": "Created",
    }
    column_searchable_list = ["username", "email"]
    column_sortable_list = ["id", "username", "created_at"]
    column_filters = [
        BooleanFilter(User.is_premium, title="Premium"),
        BooleanFilter(User.is_staff, title="Staff"),
        BooleanFilter(User.is_active, title="Active"),
    ]
    # Premium and active go through the staff service (its rules and events); the hash is never shown.
    can_edit = True
    form_columns = ["is_premium", "is_active"]

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        base = await super().scaffold_form(rules)

        class UserForm(base):  # type: ignore[misc, valid-type]
            new_password = PasswordField(
                "New password",
                validators=[Optional()],
                description="Leave empty to keep the password. A new one logs the user out everywhere.",
            )

        return UserForm

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        res, actor = resources(request), admin_user(request)
        async with _as_admin_errors():
            user_id = validation.object_id(pk, "id")
            new_password = data.get("new_password") or None
            if new_password is not None:
                validation.password(new_password, "new_password")  # before anything changes
            async with res.sessions() as session:
                user = await session.get(models.User, user_id)
            if user is None:
                raise NotFound("No such user.")
            if bool(data.get("is_premium")) != user.is_premium:
                user = await staff.set_premium(res, actor, user_id, bool(data.get("is_premium")))
            if bool(data.get("is_active")) != user.is_active:
                user = await staff.set_active(res, actor, user_id, bool(data.get("is_active")))
            if new_password is not None:
                user = await staff.set_password(res, actor, user_id, new_password)
        return user


class LobbyAdmin(ReadView, model=Lobby):
    name, name_plural, icon = "Lobby", "Lobbies", "fa-solid fa-door-open"
    column_list = [
        "id",
        "name",
        "owner",
        "status",
        "participant_count",
        "max_participants",
        "is_public",
        "created_at",
        "closed_at",
    ]
    column_details_exclude_list = ["password_hash"]
    column_labels = {
        "participant_count": "Participants",
        "max_participants": "Max",
        "is_public": "Public",
        "mutes": "Active mutes",
    }
    # The lobby's page lists its active mutes, one a line (each links to the mute, which has "Lift mute").
    show_compact_lists = False
    column_formatters_detail = {"mutes": lambda lobby, _: [_describe_mute(mute) for mute in lobby.mutes]}
    column_searchable_list = ["name", "owner.username"]
    column_sortable_list = ["id", "name", "participant_count", "created_at"]
    column_filters = [
        StaticValuesFilter(Lobby.status, [(status.value, status.value) for status in models.LobbyStatus]),
        BooleanFilter(Lobby.is_public, title="Public"),
        ReferencedFilter(Lobby.owner_id, User.username, User, title="Owner"),
    ]

    @action(
        name="close",
        label="Close lobby",
        confirmation_message="Close the selected lobbies? Subscribers are told; nothing more can be written.",
    )
    async def close_lobbies(self, request: Request) -> Response:
        res, actor = resources(request), admin_user(request)

        async def close(lobby_id: int) -> None:
            await lobbies.close(res, actor, lobby_id)

        return _back_to_list(request, self, await _each(request, close))

    def details_query(self, request: Request) -> Select[Any]:
        # sqladmin would load every mute row; the page shows the active ones, with who and by whom.
        active_mutes = selectinload(Lobby.mutes.and_(_mute_active())).options(
            joinedload(LobbyMute.user), joinedload(LobbyMute.muted_by)
        )
        stmt = self._stmt_by_identifier(request.path_params["pk"]).options(active_mutes)
        for relation in self._details_relations:
            if relation.key != "mutes":
                stmt = stmt.options(selectinload(relation))
        return stmt


class MessageAdmin(ReadView, model=Message):
    name, name_plural, icon = "Message", "Messages", "fa-solid fa-comment"
    column_list = ["id", "lobby", "sender", "content", "created_at", "deleted", "deleted_by"]
    column_details_list = column_list
    column_searchable_list = ["content", "sender.username"]
    column_sortable_list = ["id", "created_at"]
    column_filters = [
        ReferencedFilter(Message.lobby_id, Lobby.name, Lobby, title="Lobby"),
        ReferencedFilter(Message.sender_id, User.username, User, title="Sender"),
        BooleanFilter(Message.deleted, title="Deleted"),
    ]
    # As in the API: a deleted message reads empty for everyone, staff included.
    column_formatters = {"content": lambda message, _: "" if message.deleted else message.content}
    column_formatters_detail = column_formatters
    # "Delete" is the soft delete of deleteMessage, through its service (MessageDeletedEvent, log entry).
    can_delete = True

    def search_query(self, stmt: Select[Any], term: str) -> Select[Any]:
        # A deleted message's content is gone for staff too: a search must not find it either.
        sender = aliased(User)
        pattern = f"%{term}%"
        return stmt.join(Message.sender.of_type(sender)).where(
            or_(
                and_(Message.deleted.is_(False), Message.content.ilike(pattern)),
                sender.username.ilike(pattern),
            )
        )

    async def delete_model(self, request: Request, pk: Any) -> None:
        res, actor = resources(request), admin_user(request)
        async with _as_admin_errors():
            await messages.delete(res, actor, validation.object_id(str(pk), "id"))


class BanAdmin(ReadView, model=LobbyBan):
    name, name_plural, icon = "Ban", "Bans", "fa-solid fa-ban"
    column_list = ["id", "lobby", "user", "banned_by", "reason", "created_at", "expires_at"]
    column_details_list = column_list
    column_labels = {"expires_at": "Expires (empty: never)"}
    column_filters = [
        ReferencedFilter(LobbyBan.lobby_id, Lobby.name, Lobby, title="Lobby"),
        ReferencedFilter(LobbyBan.user_id, User.username, User, title="User"),
    ]

    @action(name="lift", label="Lift ban", confirmation_message="Lift the selected bans?")
    async def lift_bans(self, request: Request) -> Response:
        res, actor = resources(request), admin_user(request)

        async def lift(ban_id: int) -> None:
            async with res.sessions() as session:
                ban = await session.get(models.LobbyBan, ban_id)
            if ban is None:
                raise NotFound("No such ban.")
            await moderation.unban(res, actor, ban.lobby_id, ban.user_id)

        return _back_to_list(request, self, await _each(request, lift))


class LogAdmin(ReadView, model=LobbyLogEntry):
    name, name_plural, icon = "Log entry", "Lobby log", "fa-solid fa-list"
    column_list = ["id", "lobby", "kind", "actor", "target", "reason", "created_at"]
    column_details_list = column_list
    column_sortable_list = ["id", "created_at"]
    column_filters = [
        ReferencedFilter(LobbyLogEntry.lobby_id, Lobby.name, Lobby, title="Lobby"),
        StaticValuesFilter(LobbyLogEntry.kind, [(kind.value, kind.value) for kind in models.LogKind]),
        ReferencedFilter(LobbyLogEntry.actor_id, User.username, User, title="Actor"),
    ]


class MuteAdmin(ReadView, model=LobbyMute):
    name, name_plural, icon = "Mute", "Mutes", "fa-solid fa-microphone-slash"
    column_list = ["id", "lobby", "user", "muted_by", "reason", "created_at", "expires_at"]
    column_details_list = column_list
    column_labels = {"expires_at": "Expires (empty: until lifted)"}
    column_filters = [
        ReferencedFilter(LobbyMute.lobby_id, Lobby.name, Lobby, title="Lobby"),
        ReferencedFilter(LobbyMute.user_id, User.username, User, title="User"),
        StateFilter(
            "state", "State", {"active": ("Active", _mute_active), "expired": ("Expired", _mute_expired)}
        ),
    ]

    @action(name="lift", label="Lift mute", confirmation_message="Lift the selected mutes?")
    async def lift_mutes(self, request: Request) -> Response:
        res, actor = resources(request), admin_user(request)

        async def lift(mute_id: int) -> None:
            async with res.sessions() as session:
                mute = await session.get(models.LobbyMute, mute_id)
            if mute is None:
                raise NotFound("No such mute.")
            await mutes.unmute(res, actor, mute.lobby_id, mute.user_id)

        return _back_to_list(request, self, await _each(request, lift))


class ReportAdmin(ReadView, model=MessageReport):
    name, name_plural, icon = "Report", "Reports", "fa-solid fa-flag"
    column_list = [
        "id",
        "message",
        "lobby",
        "sender",
        "reporter",
        "reason",
        "created_at",
        "resolved_at",
        "resolved_by",
    ]
    column_details_list = column_list
    column_labels = {"message": "Message", "resolved_at": "Resolved", "resolved_by": "Resolved by"}
    column_sortable_list = ["id", "created_at", "resolved_at"]
    column_searchable_list = ["reason", "message.content"]  # shows the search box; search_query searches
    column_filters = [
        ReferencedFilter(MessageReport.lobby_id, Lobby.name, Lobby, title="Lobby"),
        StateFilter(
            "state",
            "State",
            {
                "open": ("Open", lambda: MessageReport.resolved_at.is_(None)),
                "resolved": ("Resolved", lambda: MessageReport.resolved_at.is_not(None)),
            },
        ),
    ]
    column_formatters = {"message": lambda report, _: _reported_content(report, 80)}
    column_formatters_detail = {"message": lambda report, _: _reported_content(report)}

    def search_placeholder(self) -> str:
        return "reason or message"

    def search_query(self, stmt: Select[Any], term: str) -> Select[Any]:
        # The reason, or what the message says (not once deleted: that is gone for staff too).
        message = aliased(Message)
        pattern = f"%{term}%"
        return stmt.join(MessageReport.message.of_type(message)).where(
            or_(
                MessageReport.reason.ilike(pattern),
                and_(message.deleted.is_(False), message.content.ilike(pattern)),
            )
        )

    @action(
        name="resolve",
        label="Resolve",
        confirmation_message="Mark the selected reports resolved? Reports in a closed lobby stay open.",
    )
    async def resolve_reports(self, request: Request) -> Response:
        res, actor = resources(request), admin_user(request)

        async def resolve(report_id: int) -> None:
            await reports.resolve(res, actor, report_id)

        return _back_to_list(request, self, await _each(request, resolve))

    @action(
        name="delete-message",
        label="Delete message",
        confirmation_message="Delete the reported messages? Subscribers are told; the reports stay open.",
    )
    async def delete_messages(self, request: Request) -> Response:
        res, actor = resources(request), admin_user(request)

        async def delete(report_id: int) -> None:
            async with res.sessions() as session:
                report = await session.get(models.MessageReport, report_id)
            if report is None:
                raise NotFound("No such report.")
            await messages.delete(res, actor, report.message_id)

        return _back_to_list(request, self, await _each(request, delete))


VIEWS: tuple[type[ModelView], ...] = (
    UserAdmin,
    LobbyAdmin,
    MessageAdmin,
    ReportAdmin,
    BanAdmin,
    MuteAdmin,
    LogAdmin,
)
