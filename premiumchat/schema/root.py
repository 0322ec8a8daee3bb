"""The root types, assembled from the resolver groups, and the Schema object."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types.execution import ExecutionContext

from premiumchat.config import Settings
from premiumchat.resolvers import accounts, moderation
from premiumchat.resolvers import lobbies as lobby_resolvers
from premiumchat.schema.errors import ContractErrors, SingleOperationPerRequest, log_unexpected
from premiumchat.schema.lobbies import (
    Lobby,
    LobbyBan,
    LobbyConnection,
    LobbyMember,
    LogEntryConnection,
    ModerationAction,
)
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

    set_premium: User = strawberry.mutation(resolver=moderation.set_premium, description="Staff only.")
    set_user_active: User = strawberry.mutation(
        resolver=moderation.set_user_active, description="Staff only."
    )


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors (the contract's codes, invalid documents) are answers, not
        # faults: only unexpected ones are logged, with their traceback.
        log_unexpected(errors, execution_context)


def build_schema(settings: Settings | None = None) -> Schema:
    settings = settings or Settings()
    return Schema(
        query=Query,
        mutation=Mutation,
        scalar_overrides={datetime: DateTime},
        types=[ModerationAction],  # used by the events of lobbyEvents
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_query_aliases),
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            SingleOperationPerRequest,
            ContractErrors,
        ],
    )
