"""The root types, assembled from the resolver groups, and the Schema object."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types.execution import ExecutionContext

from premiumchat.config import Settings
from premiumchat.observability import Observability
from premiumchat.resolvers import accounts, moderation
from premiumchat.resolvers import lobbies as lobby_resolvers
from premiumchat.resolvers import messages as message_resolvers
from premiumchat.schema.documents import DocumentCache, DocumentStore
from premiumchat.schema.errors import ContractErrors, SingleOperationPerRequest, log_unexpected
from premiumchat.schema.events import EVENT_TYPES, LobbyEvent, LobbyUpdatedEvent
from premiumchat.schema.lobbies import (
    Lobby,
    LobbyBan,
    LobbyConnection,
    LobbyMember,
    LogEntryConnection,
)
from premiumchat.schema.messages import Message, MessageConnection
from premiumchat.schema.scalars import DateTime
from premiumchat.schema.sharing import SharedEventExecutor
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

    send_message: Message = strawberry.mutation(resolver=message_resolvers.send_message)
    delete_message: Message = strawberry.mutation(resolver=message_resolvers.delete_message)
    set_typing: bool = strawberry.mutation(resolver=message_resolvers.set_typing)

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
    # The limiters' validation rules are built once, so that every request validates
    # with the same rules and DocumentCache can reuse the result.
    limit_rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_query_aliases).validation_rules,
    ]
    documents = DocumentStore()
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        scalar_overrides={datetime: DateTime},
        types=[*EVENT_TYPES],
        execution_context_class=SharedEventExecutor,
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            lambda: AddValidationRules(limit_rules),
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            lambda: DocumentCache(documents),
            SingleOperationPerRequest,
            ContractErrors,
            Observability,  # access log, operation metrics, error counter
        ],
    )
    schema.documents = documents
    return schema
