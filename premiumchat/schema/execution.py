"""graphql-core's execution, with a short path for scalar and enum fields that are plain attributes.

graphql-core resolves every field the same way: it builds a resolve-info object
(Strawberry's carries sixteen values), reads the field's arguments, calls the
resolver, checks twice whether the result is awaitable, then completes the value
through the type's wrappers. For a field with no resolver, no arguments and no
extensions (Strawberry's "basic" field) whose type is a scalar or an enum, the
answer is the attribute coerced by the type: nothing of that is needed. A list
page is mostly such fields (50 lobbies × id, name, status, counts…), and they
took about half of its CPU.

So those fields are answered here directly: Strawberry's default resolver
(`getattr`) on the source, then the type's `coerce_output_value`, as
`complete_leaf_value` does. Anything unusual goes the usual way, so that its
result or error is exactly graphql-core's: a value that is null (or an
exception) where the type allows none, a coercion that fails, resolver
middleware (a Strawberry extension with a `resolve` hook), any field with a
resolver.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLObjectType,
    Undefined,
    is_leaf_type,
    is_non_null_type,
)
from graphql.pyutils import Path
from strawberry.types.field import StrawberryField

from premiumchat.schema.sharing import SharedEventExecutor

# Where Strawberry keeps, on each graphql-core field, the StrawberryField it came from.
STRAWBERRY_DEFINITION = "strawberry-definition"


class _LeafAttribute(NamedTuple):
    field: GraphQLField  # identity check: plans are keyed by id()
    default_resolver: Any
    python_name: str
    leaf_type: GraphQLLeafType
    nullable: bool


# id(GraphQLField) -> its plan, or None when the field takes the usual path.
# GraphQLField defines __eq__ and so is unhashable; schemas live as long as the process
# (tests build a few), so this holds a handful of entries per schema.
_PLANS: dict[int, tuple[GraphQLField, _LeafAttribute | None]] = {}


def _plan(field_def: GraphQLField) -> _LeafAttribute | None:
    definition = (field_def.extensions or {}).get(STRAWBERRY_DEFINITION)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    if field_def.args or definition.python_name is None:
        return None
    field_type = field_def.type
    nullable = not is_non_null_type(field_type)
    if not nullable:
        field_type = field_type.of_type  # type: ignore[union-attr]
    if not is_leaf_type(field_type):
        return None
    return _LeafAttribute(
        field_def, definition.default_resolver, definition.python_name, field_type, nullable
    )


def leaf_attribute(field_def: GraphQLField) -> _LeafAttribute | None:
    entry = _PLANS.get(id(field_def))
    if entry is None or entry[0] is not field_def:
        entry = _PLANS[id(field_def)] = (field_def, _plan(field_def))
    return entry[1]


class Executor(SharedEventExecutor):
    """The schema's execution context: shared event results, and plain leaf fields answered directly."""

    # Whether resolver middleware wraps the fields (then every field takes the usual path).
    _middleware: bool | None = None

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        plan = leaf_attribute(field_def) if field_def is not None else None
        if plan is not None:
            if self._middleware is None:
                manager = self.middleware_manager
                self._middleware = manager is not None and bool(manager.middlewares)
            if not self._middleware:
                try:
                    value = plan.default_resolver(source, plan.python_name)
                    if value is None or value is Undefined:
                        if plan.nullable:
                            return None
                    elif not isinstance(value, Exception):
                        coerced = plan.leaf_type.coerce_output_value(value)
                        if coerced is not None and coerced is not Undefined:
                            return coerced
                except Exception:  # the usual path raises it again, and reports it
                    pass
        return super().execute_field(parent_type, source, field_details_list, path, position_context)
