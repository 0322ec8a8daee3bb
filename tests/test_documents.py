"""Each distinct document is parsed and validated once; the limits and errors stay as they were."""

from __future__ import annotations

from typing import Any

import pytest

from premiumchat.schema import documents
from premiumchat.schema.documents import DocumentStore
from premiumchat.schema.root import build_schema
from tests.conftest import make_settings


async def test_a_repeated_document_is_parsed_once_and_answered_the_same() -> None:
    schema = build_schema(make_settings("sqlite+aiosqlite://"))
    first = await schema.execute("query A { __typename }")
    document = schema.documents._entries[next(iter(schema.documents._entries))].document
    second = await schema.execute("query A { __typename }")
    assert first.data == second.data == {"__typename": "Query"}
    assert len(schema.documents) == 1
    assert schema.documents._entries[next(iter(schema.documents._entries))].document is document


async def test_invalid_documents_get_the_same_errors_every_time() -> None:
    schema = build_schema(make_settings("sqlite+aiosqlite://", max_query_depth=1, max_query_aliases=1))
    cases = {
        "{ nope }": "Cannot query field 'nope' on type 'Query'.",
        "{ a: __typename b: __typename }": "2 aliases found. Allowed: 1",
        'mutation { login(username: "a", password: "b") { user { id } } }': "exceeds maximum operation depth",
        "query A { __typename } query B { __typename }": "Must provide operation name",
    }
    for query, message in cases.items():
        for _ in range(2):
            result = await schema.execute(query)
            assert result.errors, query
            assert message in result.errors[0].message, (query, result.errors)
            assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}


async def test_each_document_is_validated_once_whatever_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    validated: list[object] = []
    validate_document = documents.validate_document

    def counting_validate(*args: Any) -> Any:
        validated.append(args[1])
        return validate_document(*args)

    monkeypatch.setattr(documents, "validate_document", counting_validate)
    schema = build_schema(make_settings("sqlite+aiosqlite://", debug=False))
    query = "query A { __typename } query B { __typename }"
    # The several-operations check depends on the request, not on what was cached first.
    for name, expected in (("B", None), (None, "Must provide operation name"), ("A", None), (None, "Must")):
        result = await schema.execute(query, operation_name=name)
        if expected is None:
            assert result.errors is None, result.errors
            assert result.data == {"__typename": "Query"}
        else:
            assert result.errors
            assert expected in result.errors[0].message
            assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    # Introspection is refused from the cache too, with the rule's own message.
    for _ in range(3):
        result = await schema.execute("{ __schema { queryType { name } } }")
        assert result.errors
        assert "introspection has been disabled" in result.errors[0].message
    assert len(validated) == len(schema.documents) == 2


async def test_documents_that_do_not_parse_are_reported_and_not_kept() -> None:
    schema = build_schema(make_settings("sqlite+aiosqlite://", max_query_tokens=5))
    cases = {
        "{ __typename": "Syntax Error: Expected Name, found <EOF>.",
        "{ a b c d e f g }": "Syntax Error: Document contains more than 5 tokens. Parsing aborted.",
    }
    for query, message in cases.items():
        for _ in range(2):
            result = await schema.execute(query)
            assert result.errors
            assert result.errors[0].message == message
            assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    assert len(schema.documents) == 0


def test_the_store_is_bounded_and_keeps_the_most_recent() -> None:
    schema = build_schema(make_settings("sqlite+aiosqlite://"))
    store = DocumentStore(maxsize=2)
    for query in ("{ a }", "{ b }", "{ a }", "{ c }"):
        store.get(query, schema._schema)
    assert len(store) == 2
    assert set(store._entries) == {"{ a }", "{ c }"}
