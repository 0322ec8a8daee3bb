"""Parse and validate each distinct document once per schema, not once per request.

Clients send the same few documents over and over (every sendMessage, every
lobbyEvents subscription); parsing and validating them was most of the CPU
spent per request. Strawberry's ParserCache and ValidationCache do each half,
but ValidationCache keys on the parsed document, which graphql-core hashes
field by field on every look-up. This keeps both results under the query text
itself, in one bounded LRU per schema.

The limits are fixed per schema, so they belong to the store rather than to an
extension per request: the token limit is a parse option (graphql-core stops
parsing past it), the depth and alias limits and the introspection ban are
validation rules, and the check that a document with several operations names
the one to run (GraphQL spec 6.1) depends only on the document and on whether
the request named an operation. All of them run once, when a document is
first cached.

Documents that fail to parse are not cached: Strawberry parses them again, with
the same token limit, and reports the error its usual way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from graphql import GraphQLError, parse, specified_rules
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.schema import validate_document

if TYPE_CHECKING:
    from graphql import ASTValidationRule, DocumentNode, GraphQLSchema
    from strawberry.types.execution import ExecutionContext

# Documents within the token limit; 512 distinct ones cover every client we ship many times over.
DEFAULT_MAXSIZE = 512

SEVERAL_OPERATIONS_MESSAGE = "Must provide operation name if query contains multiple operations."


class _Entry:
    __slots__ = ("document", "errors", "several_operations")

    def __init__(self, document: DocumentNode, errors: Sequence[GraphQLError]) -> None:
        self.document = document
        self.errors: tuple[GraphQLError, ...] = tuple(errors)
        self.several_operations = sum(1 for d in document.definitions if d.kind == "operation_definition") > 1


def limit_rules(
    *, max_depth: int, max_aliases: int, introspection: bool
) -> tuple[type[ASTValidationRule], ...]:
    """graphql-core's rules, the limiters' and the introspection ban, in the order Strawberry adds them."""
    return (
        *specified_rules,
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
        *(() if introspection else (NoSchemaIntrospectionCustomRule,)),
    )


class DocumentStore:
    """One schema's parsed and validated documents, with its limits."""

    def __init__(
        self,
        rules: tuple[type[ASTValidationRule], ...] = tuple(specified_rules),
        max_tokens: int | None = None,
        maxsize: int = DEFAULT_MAXSIZE,
    ) -> None:
        self.rules = rules
        self.max_tokens = max_tokens
        self.maxsize = maxsize
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def get(self, query: str, schema: GraphQLSchema) -> _Entry:
        """The cached entry, parsed and validated now if new; a document that does not parse raises."""
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
            return entry
        document = parse(query, max_tokens=self.max_tokens)
        entry = _Entry(document, validate_document(schema, document, self.rules))
        self._entries[query] = entry
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return entry

    def prepare(self, ctx: ExecutionContext) -> None:
        """Give Strawberry the operation's document and its validation errors, before it parses."""
        # As the limiter extensions did: a document Strawberry parses or validates itself
        # (one that does not parse, and is reported) gets the same limits.
        if self.max_tokens is not None:
            ctx.parse_options["max_tokens"] = self.max_tokens
        ctx.validation_rules = self.rules
        if ctx.graphql_document is not None or not ctx.query:
            return  # Strawberry reports a missing query
        try:
            entry = self.get(ctx.query, ctx.schema._schema)
        except GraphQLError:
            return  # Strawberry parses it again and reports the error
        ctx.graphql_document = entry.document
        # Set, Strawberry's own validation is skipped. A fresh list: later steps may replace or extend it.
        # Strawberry would fall back to the first operation when no name is given.
        if entry.several_operations and getattr(ctx, "_provided_operation_name", None) is None:
            ctx.pre_execution_errors = [GraphQLError(SEVERAL_OPERATIONS_MESSAGE)]
        else:
            ctx.pre_execution_errors = list(entry.errors)

    def __len__(self) -> int:
        return len(self._entries)
