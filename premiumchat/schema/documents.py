"""Parse and validate each distinct document once per schema, not once per request.

Clients send the same few documents over and over (every sendMessage, every
lobbyEvents subscription); parsing and validating them was most of the CPU
spent per request. Strawberry's ParserCache and ValidationCache do each half,
but ValidationCache keys on the parsed document, which graphql-core hashes
field by field on every look-up, and on the validation rules, which the limiter
extensions rebuild per request. This keeps both results under the query text
itself, the parse options and the (fixed) rules, in one bounded LRU per schema.

Documents that fail to parse are not cached: Strawberry parses them again and
reports the error its usual way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from graphql import GraphQLError, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

if TYPE_CHECKING:
    from graphql import ASTValidationRule, DocumentNode

# Documents within the token limit; 512 distinct ones cover every client we ship many times over.
DEFAULT_MAXSIZE = 512

_Key = tuple[str, tuple[tuple[str, object], ...]]


class _Entry:
    __slots__ = ("document", "errors", "rules")

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self.rules: tuple[type[ASTValidationRule], ...] | None = None
        self.errors: tuple[GraphQLError, ...] = ()


class DocumentStore:
    """The bounded cache one schema's DocumentCache extensions share."""

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()

    def parsed(self, query: str, options: dict[str, object]) -> _Entry:
        key = (query, tuple(sorted(options.items())))
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry
        entry = _Entry(parse(query, **options))  # type: ignore[arg-type]
        self._entries[key] = entry
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return entry

    def __len__(self) -> int:
        return len(self._entries)


class DocumentCache(SchemaExtension):
    """Give Strawberry the cached document and validation errors (list it first among extensions)."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        self._entry: _Entry | None = None

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is None and ctx.query:
            try:
                self._entry = self.store.parsed(ctx.query, dict(ctx.parse_options))
            except GraphQLError:
                self._entry = None  # Strawberry parses it again and reports the error
            else:
                ctx.graphql_document = self._entry.document
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        entry = self._entry
        if entry is not None and ctx.pre_execution_errors is None and ctx.graphql_document is entry.document:
            rules = ctx.validation_rules
            if entry.rules != rules:
                entry.errors = tuple(validate_document(ctx.schema._schema, entry.document, rules))
                entry.rules = rules
            # A fresh list: later steps may replace or extend it.
            ctx.pre_execution_errors = list(entry.errors)
        yield
