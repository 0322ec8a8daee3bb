"""The schema's executor (schema/execution.py) answers exactly as Strawberry's own execution does.

It answers plain scalar and enum fields without graphql-core's per-field
machinery: the results, values and errors alike, must not change, and the
machinery must really be skipped.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import orjson
import strawberry
from graphql import ExecutionResult, GraphQLSchema, execute, parse
from starlette.requests import Request
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from premiumchat.context import Context
from premiumchat.resources import Resources
from premiumchat.schema.execution import Executor
from premiumchat.schema.root import build_schema
from tests.graphql import GraphQLClient
from tests.lobbies import Api, make_users


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Label:
    """Not a builtin: String coerces it through str()."""

    def __str__(self) -> str:
        return "labelled"


class Oops(Exception):
    def __str__(self) -> str:
        return "an exception as a value"


@strawberry.type
class Item:
    id: strawberry.ID
    name: str
    nickname: str | None
    count: int
    ratio: float
    flag: bool
    colour: Colour
    maybe_colour: Colour | None
    when: datetime
    label: Any = strawberry.field(graphql_type=str)
    tags: list[str]

    @strawberry.field
    def shout(self, suffix: str = "!") -> str:
        return self.name.upper() + suffix


def _items() -> list[Item]:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    good = Item(
        id=strawberry.ID("1"),
        name="one",
        nickname=None,
        count=3,
        ratio=0.5,
        flag=True,
        colour=Colour.RED,
        maybe_colour=None,
        when=when,
        label=Label(),
        tags=["a", "b"],
    )
    broken = Item(
        id=2,  # type: ignore[arg-type]  # an int where an ID is declared: coerced to "2"
        name=None,  # type: ignore[arg-type]  # null in a non-null field
        nickname=Oops(),  # type: ignore[arg-type]  # an exception as the value
        count="many",  # type: ignore[arg-type]  # not an Int
        ratio=float("nan"),  # not a finite Float
        flag="yes",  # type: ignore[arg-type]  # not a Boolean
        colour="green",  # type: ignore[arg-type]  # not a Colour
        maybe_colour="blue",  # type: ignore[arg-type]  # a value, not the member
        when=when,
        label=object(),  # a builtin String refuses
        tags=[],
    )
    return [good, broken]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return _items()

    @strawberry.field
    def item(self) -> Item:
        return _items()[1]

    @strawberry.field
    def page(self) -> list[Item]:
        return [_items()[0]] * 50


ITEM_FIELDS = "id name nickname count ratio flag colour maybeColour when label tags".split()
DOCUMENTS = [
    "{ items { id name nickname count ratio flag colour maybeColour when label tags shout } }",
    "{ items { __typename id n: name c: count ...F } } fragment F on Item { colour when shout(suffix: '?') }",
    "query Q($skip: Boolean!) { items { id name @skip(if: $skip) count @include(if: $skip) } }",
    # One field of the broken item at a time: a non-null error ends its object's execution.
    *(f"{{ item {{ {field} }} }}" for field in ITEM_FIELDS),
]


def _run(schema: GraphQLSchema, executor: type, document: str, context: Any = None) -> bytes:
    result = execute(
        schema,
        parse(document.replace("'", '"')),
        variable_values={"skip": False},
        context_value=context,
        executor_class=executor,
        is_awaitable=optimized_is_awaitable,
    )
    assert isinstance(result, ExecutionResult), result
    return _encoded(result)


async def _run_async(schema: GraphQLSchema, executor: type, document: str, context: Any) -> bytes:
    result = execute(
        schema,
        parse(document),
        context_value=context,
        executor_class=executor,
        is_awaitable=optimized_is_awaitable,
    )
    if optimized_is_awaitable(result):
        result = await result
    assert isinstance(result, ExecutionResult), result
    return _encoded(result)


def _encoded(result: ExecutionResult) -> bytes:
    errors = [error.formatted for error in result.errors or ()]
    return orjson.dumps({"data": result.data, "errors": errors})


def test_plain_fields_answer_and_fail_as_in_strawberry() -> None:
    schema = strawberry.Schema(Query)._schema
    failed = set()
    for document in DOCUMENTS:
        expected = _run(schema, StrawberryGraphQLCoreExecutionContext, document)
        assert _run(schema, Executor, document) == expected, document
        failed |= {error["path"][-1] for error in orjson.loads(expected)["errors"]}
    # The broken item really exercises the errors.
    assert failed >= {"name", "nickname", "count", "ratio", "flag", "colour", "label"}, failed


class _Counting(Executor):
    built = 0

    def build_resolve_info(self, *args: Any, **kwargs: Any) -> Any:
        type(self).built += 1
        return super().build_resolve_info(*args, **kwargs)


def test_plain_leaf_fields_need_no_resolve_info() -> None:
    schema = strawberry.Schema(Query)._schema
    _Counting.built = 0
    result = orjson.loads(_run(schema, _Counting, "{ page { id name count colour when tags shout } }"))
    assert len(result["data"]["page"]) == 50
    # `page`, then per item `tags` (a list) and `shout` (a resolver): five leaves each go without.
    assert _Counting.built == 1 + 50 * 2


class _Upper(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        result = _next(root, info, *args, **kwargs)
        return result.upper() if isinstance(result, str) else result


def test_resolver_middleware_still_sees_every_field() -> None:
    schema = strawberry.Schema(Query, extensions=[_Upper], execution_context_class=Executor)
    result = schema.execute_sync("{ page { name colour } }")
    assert result.data is not None
    assert result.data["page"][0] == {"name": "ONE", "colour": "RED"}


LIST = """
query {
  lobbies(first: 50) {
    totalCount
    edges {
      cursor
      node {
        __typename id name isPublic hasPassword maxParticipants participantCount status createdAt
        startedAt closedAt slowModeSeconds isLocked tags readyCount myRole blockedTerms
        owner { __typename id username isPremium isStaff createdAt email }
        members { role joinedAt isReady isMuted mutedUntil user { id username email } }
      }
    }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
  me { id username email isPremium isStaff createdAt }
}
"""


def _http_context(resources: Resources, token: str) -> Context:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "query_string": b"",
    }
    return Context(resources=resources, request=Request(scope))


async def test_the_lobby_list_is_the_same_through_both_executors(
    gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    users = await make_users(
        gql, database_url, ["owner", "alice", "staff"], premium=["owner", "alice"], staff=["staff"]
    )
    api = Api(gql)
    first = await api.create_lobby(users["owner"], "First", tags=["ranked", "eu"], password="secret123")
    await api.join(users["alice"], first["id"], "secret123")
    second = await api.create_lobby(users["owner"], "Second", isPublic=False, slowModeSeconds=5)
    await api.start(users["owner"], second["id"])
    await api.create_lobby(users["alice"], "Third")
    schema = build_schema(resources.settings)._schema
    for name, account in users.items():
        expected = await _run_async(
            schema, StrawberryGraphQLCoreExecutionContext, LIST, _http_context(resources, account.token)
        )
        got = await _run_async(schema, Executor, LIST, _http_context(resources, account.token))
        assert got == expected, name
        assert b'"errors":[]' in got
        assert len(orjson.loads(got)["data"]["lobbies"]["edges"]) == (3 if name != "alice" else 2)
