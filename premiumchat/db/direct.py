"""Statements run straight on the driver's connection, for the one path where SQLAlchemy's own cost shows.

Sending a message is a few small statements, and per execution SQLAlchemy spends
more CPU than the round trip itself (cache keys, coercions, result rows, ORM
loading, a greenlet switch each time). Here a Core statement is compiled once
per dialect, and each execution only converts the parameters and the row
values with the columns' own bind and result processors, those SQLAlchemy
applies itself; so a value reads and writes as it does through a session
(UTC datetimes on SQLite, JSON on both). The same code serves PostgreSQL
(asyncpg) and SQLite (aiosqlite); what differs is how the driver is called
and how a transaction starts (on PostgreSQL, with the lobby's advisory lock in
the same round trip).

The transaction is the driver's own, outside SQLAlchemy's bookkeeping, so
`DirectConnection.end()` must run whatever happened: it rolls back what is
still open and, if even that fails, invalidates the pooled connection rather
than let it go back to the pool in an unknown state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import class_mapper
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

Row = tuple[Any, ...]
Processor = Callable[[Any], Any] | None
Entity = TypeVar("Entity")


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the bind parameters, in the driver's positional order
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]


class Statement:
    """A Core statement with named bind parameters, compiled once per dialect on first use."""

    def __init__(self, statement: ClauseElement, columns: Sequence[ColumnElement[Any]]) -> None:
        self._statement = statement
        self._columns = tuple(columns)
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            sql = cast(SQLCompiler, self._statement.compile(dialect=dialect))
            names = tuple(sql.positiontup or ())
            compiled = _Compiled(
                sql=str(sql),
                names=names,
                binds=tuple(sql.binds[name].type._cached_bind_processor(dialect) for name in names),
                results=tuple(
                    column.type._cached_result_processor(dialect, None) for column in self._columns
                ),
            )
            self._compiled[dialect.name] = compiled
        return compiled


class DirectConnection:
    """The driver connection under a checked-out SQLAlchemy connection, with a transaction of its own."""

    def __init__(self, connection: AsyncConnection, driver: Any) -> None:
        self._connection = connection
        self._driver = driver
        self._dialect = connection.dialect
        self._postgresql = self._dialect.name == "postgresql"
        self._lock: tuple[int, int] | None = None
        self._open = False
        self._integrity_errors = _integrity_errors(self._postgresql)

    @property
    def writes_in_cte(self) -> bool:
        """Whether a WITH clause may insert (PostgreSQL): a read and a write then share a round trip."""
        return self._postgresql

    @classmethod
    async def of(cls, connection: AsyncConnection) -> DirectConnection:
        return cls(connection, (await connection.get_raw_connection()).driver_connection)

    async def begin(self, lock: tuple[int, int] | None = None) -> None:
        """Start a transaction, after taking the advisory lock `lock` on PostgreSQL (one round trip).

        The lock is held by the connection, not the transaction: it outlives the commit until `end()`.
        SQLite has no such lock (it serves one process) and takes its write lock up front
        (BEGIN IMMEDIATE, as the engine does for every transaction).
        """
        assert not self._open
        assert self._lock is None
        # Marked before the round trip: if it fails half-way, `end()` still cleans up.
        self._open = True
        if not self._postgresql:
            await self._driver.execute("BEGIN IMMEDIATE")
        elif lock is None:
            await self._driver.execute("BEGIN")
        else:
            space, key = self._lock = (int(lock[0]), int(lock[1]))
            # The simple protocol carries both statements in one round trip (two ints: nothing to quote).
            await self._driver.execute(f"SELECT pg_advisory_lock({space}, {key}); BEGIN")

    async def fetch(self, statement: Statement, **params: Any) -> list[Row]:
        compiled = statement.compiled(self._dialect)
        args = [
            value if process is None else process(value)
            for value, process in zip((params[name] for name in compiled.names), compiled.binds, strict=True)
        ]
        try:
            if self._postgresql:
                records = await self._driver.fetch(compiled.sql, *args)
            else:
                cursor = await self._driver.execute(compiled.sql, args)
                records = await cursor.fetchall()
                await cursor.close()
        except self._integrity_errors as error:
            # As SQLAlchemy raises it, so that callers catch one exception on either database.
            raise exc.IntegrityError(compiled.sql, args, error) from error
        results = compiled.results
        if not any(results):
            return [tuple(record) for record in records]
        return [
            tuple(
                value if process is None or value is None else process(value)
                for value, process in zip(record, results, strict=True)
            )
            for record in records
        ]

    async def commit(self) -> None:
        assert self._open
        self._open = False
        await self._driver.execute("COMMIT")

    async def end(self) -> None:
        """Roll back what is still open and release the lock; the pooled connection is clean again."""
        rollback, self._open = self._open, False
        lock, self._lock = self._lock, None
        statements = []
        if rollback:
            statements.append("ROLLBACK")
        if lock is not None:
            statements.append(f"SELECT pg_advisory_unlock({lock[0]}, {lock[1]})")
        if not statements:
            return
        try:
            if self._postgresql:
                await self._driver.execute("; ".join(statements))
            else:
                await self._driver.rollback()
        except BaseException:
            # Lost, or cancelled mid-way: closing the connection ends its transaction and its locks.
            await self._connection.invalidate()
            raise


def _integrity_errors(postgresql: bool) -> tuple[type[BaseException], ...]:
    # Imported here: only the driver in use is installed for sure.
    if postgresql:
        import asyncpg  # type: ignore[import-untyped]

        return (asyncpg.IntegrityConstraintViolationError,)
    import sqlite3

    return (sqlite3.IntegrityError,)


def load(cls: type[Entity], keys: Sequence[str], values: Sequence[Any]) -> Entity:
    """A table model from a row's values, as the ORM loads it: its identity set, bound to no session."""
    mapper = class_mapper(cls)
    entity: Entity = mapper.class_manager.new_instance()
    entity.__dict__.update(zip(keys, values, strict=True))
    instance_state(entity).key = mapper.identity_key_from_instance(entity)
    return entity
