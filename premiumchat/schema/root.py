"""The root types, assembled from the resolver groups, and the Schema object."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from functools import partial

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types.execution import ExecutionContext

from premiumchat.config import Settings
from premiumchat.resolvers import accounts, extras, moderation
from premiumchat.resolvers import lobbies as lobby_resolvers
from premiumchat.resolvers import messages as message_resolvers
from premiumchat.schema.documents import DocumentStore, limit_rules
from premiumchat.schema.errors import log_unexpected
from premiumchat.schema.events import EVENT_TYPES, LobbyEvent, LobbyUpdatedEvent
from premiumchat.schema.execution import Executor
from premiumchat.schema.lobbies import (
    Lobby,
    LobbyBan,
    LobbyConnection,
    LobbyInvite,
    LobbyMember,
    LogEntryConnection,
)
from premiumchat.schema.messages import Message, MessageConnection
from premiumchat.schema.mutes import LobbyMute
from premiumchat.schema.operation import OperationExtension
from premiumchat.schema.reports import MessageReport, MessageReportConnection
from premiumchat.schema.scalars import DateTime
from premiumchat.schema.users import AuthPayload, User


@strawberry.type
class Query:
    me: User = strawberry.field(resolver=accounts.me, description="The caller.")
    lobbies: LobbyConnection = strawberry.field(
        resolver=lobby_resolvers.lobbies_,
        description="OPEN and IN_GAME lobbies the viewer may see (a status filter narrows, CLOSED included).",
    )
    lobby: Lobby | None = strawberry.field(
        resolver=lobby_resolvers.lobby, description="Null when not found or not visible."
    )
    lobby_log: LogEntryConnection = strawberry.field(
        resolver=lobby_resolvers.lobby_log, description="Owner, moderators and staff; oldest entry first."
    )
    messages: MessageConnection = strawberry.field(
        resolver=message_resolvers.messages_,
        description="Members and staff. Oldest to newest; with neither first nor last, the 50 newest.",
    )
    message_reports: MessageReportConnection = strawberry.field(
        resolver=extras.message_reports,
        description="Newest first. Staff: every lobby's (or one lobby's); owner and moderators: their "
        "lobby's (lobbyId required).",
    )


@strawberry.type
class Mutation:
    register: AuthPayload = strawberry.mutation(resolver=accounts.register)
    login: AuthPayload = strawberry.mutation(resolver=accounts.login)
    refresh_token: AuthPayload = strawberry.mutation(
        resolver=accounts.refresh_token,
        description="Spends the refresh token and returns a new pair; reusing a spent one "
        "revokes every refresh token of the user.",
    )
    logout: bool = strawberry.mutation(resolver=accounts.logout)

    create_lobby: Lobby = strawberry.mutation(resolver=lobby_resolvers.create_lobby)
    update_lobby: Lobby = strawberry.mutation(resolver=lobby_resolvers.update_lobby)
    join_lobby: Lobby = strawberry.mutation(resolver=lobby_resolvers.join_lobby)
    leave_lobby: bool = strawberry.mutation(resolver=lobby_resolvers.leave_lobby)
    start_game: Lobby = strawberry.mutation(resolver=lobby_resolvers.start_game)
    end_game: Lobby = strawberry.mutation(resolver=lobby_resolvers.end_game)
    close_lobby: Lobby = strawberry.mutation(resolver=lobby_resolvers.close_lobby)

    kick_user: bool = strawberry.mutation(resolver=moderation.kick_user)
    ban_user: LobbyBan = strawberry.mutation(resolver=moderation.ban_user)
    unban_user: bool = strawberry.mutation(resolver=moderation.unban_user)
    add_moderator: LobbyMember = strawberry.mutation(resolver=moderation.add_moderator)
    remove_moderator: LobbyMember = strawberry.mutation(resolver=moderation.remove_moderator)
    mute_user: LobbyMute = strawberry.mutation(resolver=moderation.mute_user)
    unmute_user: bool = strawberry.mutation(resolver=moderation.unmute_user)
    purge_messages: int = strawberry.mutation(
        resolver=moderation.purge_messages, description="How many messages were deleted."
    )

    send_message: Message = strawberry.mutation(resolver=message_resolvers.send_message)
    delete_message: Message = strawberry.mutation(resolver=message_resolvers.delete_message)
    edit_message: Message = strawberry.mutation(resolver=message_resolvers.edit_message)
    set_typing: bool = strawberry.mutation(resolver=message_resolvers.set_typing)

    create_invite: LobbyInvite = strawberry.mutation(
        resolver=extras.create_invite, description="Owner, moderators (and staff)."
    )
    revoke_invite: bool = strawberry.mutation(
        resolver=extras.revoke_invite, description="Its creator, the owner, moderators and staff."
    )
    join_by_invite: Lobby = strawberry.mutation(
        resolver=extras.join_by_invite, description="No password; private lobbies too."
    )
    set_ready: LobbyMember = strawberry.mutation(
        resolver=extras.set_ready, description="A member sets their own flag while the lobby is OPEN."
    )
    report_message: MessageReport = strawberry.mutation(resolver=extras.report_message)
    resolve_report: MessageReport = strawberry.mutation(resolver=extras.resolve_report)

    set_premium: User = strawberry.mutation(resolver=moderation.set_premium, description="Staff only.")
    set_user_active: User = strawberry.mutation(
        resolver=moderation.set_user_active, description="Staff only."
    )


@strawberry.type
class Subscription:
    lobby_events: AsyncGenerator[LobbyEvent, None] = strawberry.subscription(
        resolver=message_resolvers.lobby_events,
        description="Members (and staff) only. With `since` (a message cursor or id), first replays, in "
        "order, every ChatMessageEvent after it that the subscriber missed, then a ReplayCompletedEvent, "
        "then goes live with no gap and no duplicate.",
    )
    lobby_list_updates: AsyncGenerator[LobbyUpdatedEvent, None] = strawberry.subscription(
        resolver=message_resolvers.lobby_list_updates,
        description="The live room list: a LobbyUpdatedEvent whenever a public lobby is created, "
        "changes (status, participantCount, settings) or closes.",
    )


class Schema(strawberry.Schema):
    # Parsed and validated documents, shared by every request to this schema.
    documents: DocumentStore

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors (the contract's codes, invalid documents) are answers, not
        # faults: only unexpected ones are logged, with their traceback.
        log_unexpected(errors, execution_context)


def build_schema(settings: Settings | None = None) -> Schema:
    settings = settings or Settings()
    # The limits are fixed per schema: checked once per distinct document, when it is cached.
    # Introspection is off in production by default (INTROSPECTION setting): the SDL is
    # published as schema.graphql.
    rules = limit_rules(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_query_aliases,
        introspection=settings.introspection_enabled,
    )
    documents = DocumentStore(rules, max_tokens=settings.max_query_tokens)
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        scalar_overrides={datetime: DateTime},
        types=[*EVENT_TYPES],
        execution_context_class=Executor,
        config=StrawberryConfig(auto_camel_case=True),
        # One per operation: the document and its limits, the contract's errors, observability.
        extensions=[partial(OperationExtension, documents)],
    )
    schema.documents = documents
    return schema
