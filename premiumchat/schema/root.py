"""The root types, assembled from the resolver groups, and the Schema object."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types.execution import ExecutionContext

from premiumchat.config import Settings
from premiumchat.resolvers import accounts
from premiumchat.schema.errors import ContractErrors, SingleOperationPerRequest, log_unexpected
from premiumchat.schema.scalars import DateTime
from premiumchat.schema.users import AuthPayload, User


@strawberry.type
class Query:
    me: User = strawberry.field(resolver=accounts.me, description="The caller.")


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
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_query_aliases),
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            SingleOperationPerRequest,
            ContractErrors,
        ],
    )
