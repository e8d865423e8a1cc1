"""Fixed Core statements compiled once per dialect and run on the driver's cursor.

A vend runs six short statements. For each, SQLAlchemy's ``Connection.execute``
(cache key, compiled-cache lookup, parameter set-up, a result object with its
column metadata) costs more than the database's own work. A :class:`Prepared`
statement is still written with SQLAlchemy Core, and still runs on the vend's
connection inside its transaction, but it keeps, for each dialect it has met,
the SQL text, the parameter order and the column types' bind and result
processors, and sends the text straight to a DBAPI cursor of that connection.
Values go in and come out converted as ``Connection.execute`` converts them,
and a driver error is raised as SQLAlchemy's wrapper of it (an ``IntegrityError``
is still :class:`sqlalchemy.exc.IntegrityError`).

The engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners
still see every statement (with no execution context, and a ``before`` listener
cannot replace the statement); the engine's ``echo`` log does not. Only fixed
statements belong here: no expanding ``IN`` parameters, no statement built per call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any] | None


def _impl(type_: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    """The type as this dialect implements it (e.g. psycopg's JSON), as SQLAlchemy uses it."""
    return type_.dialect_impl(dialect)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]  # bind names, in the driver's order when positional
    defaults: dict[str, Any]  # values given in the statement (e.g. the 1 of "seq + 1")
    bind: tuple[Processor, ...]  # per name
    keys: tuple[str, ...]  # result column names
    result: tuple[Processor, ...]  # per result column


class Prepared:
    """One fixed Core statement; ``column_keys`` names an INSERT's columns."""

    def __init__(self, statement: Executable, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._by_dialect: WeakKeyDictionary[Dialect, _Compiled] = WeakKeyDictionary()

    def _compiled(self, dialect: Dialect) -> _Compiled:
        compiled = self._by_dialect.get(dialect)
        if compiled is not None:
            return compiled
        sql = self.statement.compile(dialect=dialect, column_keys=self.column_keys)
        names = tuple(sql.positiontup) if sql.positional else tuple(sql.binds)
        columns = getattr(self.statement, "exported_columns", ())
        compiled = _Compiled(
            sql=sql.string,
            positional=bool(sql.positional),
            names=names,
            defaults={
                name: bind.effective_value for name, bind in sql.binds.items() if not bind.required
            },
            bind=tuple(
                _impl(sql.binds[name].type, dialect).bind_processor(dialect) for name in names
            ),
            keys=tuple(column.key for column in columns),
            result=tuple(
                _impl(column.type, dialect).result_processor(dialect, None) for column in columns
            ),
        )
        self._by_dialect[dialect] = compiled
        return compiled

    def _driver_params(self, compiled: _Compiled, params: Mapping[str, Any]) -> Any:
        values = []
        for name, process in zip(compiled.names, compiled.bind, strict=True):
            value = params[name] if name in params else compiled.defaults[name]
            values.append(value if process is None else process(value))
        if compiled.positional:
            return tuple(values)
        return dict(zip(compiled.names, values, strict=True))

    def run(
        self, connection: Connection, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Execute with ``params`` (a list of them runs it once per item); the rows returned."""
        compiled = self._compiled(connection.dialect)
        if isinstance(params, Mapping):
            driver_params = self._driver_params(compiled, params)
        else:
            driver_params = [self._driver_params(compiled, p) for p in params]
        if not connection.in_transaction():
            connection.begin()  # as Connection.execute would: never outside a transaction
        many = not isinstance(params, Mapping)
        dispatch = connection.dispatch
        cursor = connection.connection.cursor()
        try:
            dispatch.before_cursor_execute(
                connection, cursor, compiled.sql, driver_params, None, many
            )
            if many:
                cursor.executemany(compiled.sql, driver_params)
            else:
                cursor.execute(compiled.sql, driver_params)
            dispatch.after_cursor_execute(
                connection, cursor, compiled.sql, driver_params, None, many
            )
            rows = cursor.fetchall() if compiled.keys else []
        except connection.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                compiled.sql, driver_params, exc, connection.dialect.loaded_dbapi.Error
            ) from exc
        finally:
            cursor.close()
        return [
            {
                key: value if process is None else process(value)
                for key, process, value in zip(compiled.keys, compiled.result, row, strict=True)
            }
            for row in rows
        ]
