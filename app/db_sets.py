"""Sets of values in SQL: `one_of` binds a list as one parameter, `among` writes the code's
enum members into the statement. Both render per dialect (app/db.py has the other helpers)."""

from collections.abc import Iterable
from enum import Enum
from typing import Any

from sqlalchemy import Boolean, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql import operators
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement, Grouping, UnaryExpression
from sqlalchemy.sql.visitors import InternalTraversal


def _element(column: ColumnElement[Any] | QueryableAttribute[Any]) -> ColumnElement[Any]:
    return column if isinstance(column, ColumnElement) else column.__clause_element__()


class _Membership(ColumnElement[bool]):
    """A condition `column IN (...)` that renders itself per dialect: standing as a condition
    where SQL wants one (no `= 1` around it on SQLite), negated as `NOT (...)`, and reading
    from the column's table."""

    inherit_cache = True
    type = Boolean()
    column: ColumnElement[Any]

    @property
    def _from_objects(self) -> list[Any]:
        return self.column._from_objects

    def self_group(self, against: Any = None) -> ColumnElement[Any]:
        if against in (None, operators.and_, operators.or_, operators._asbool):
            return self
        return Grouping(self)

    def _negate(self) -> ColumnElement[Any]:
        return UnaryExpression(self.self_group(against=operators.inv), operator=operators.inv)


class one_of(_Membership):  # noqa: N801 - reads like the SQL it stands for
    """`column IN (values)` with the values bound as the one parameter `name` (a list).

    On PostgreSQL it is `column = ANY($n)` with an array: one statement text, prepared once by
    the driver, whatever the number of values, where an expanding IN list is a new text (and a
    new prepared statement) per length, rebuilt in Python per execution. SQLite has no arrays
    and gets the expanding IN list."""

    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any] | QueryableAttribute[Any], name: str) -> None:
        self.column = _element(column)
        self.name = name


@compiles(one_of, "postgresql")
def _one_of_postgresql(element: one_of, compiler: SQLCompiler, **kw: Any) -> str:
    values = bindparam(element.name, type_=ARRAY(element.column.type))
    return compiler.process(element.column == any_(values), **kw)


@compiles(one_of)
def _one_of_default(element: one_of, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


class among(_Membership):  # noqa: N801 - reads like the SQL it stands for
    """`column IN ('a', 'b')` for a fixed set of values from the code (enum members), written
    into the SQL text: a bound IN list is expanded again in Python on every execution, and
    these never change. Never for values from a request: only enum members are taken."""

    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_plain_obj),
    ]

    def __init__(
        self, column: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Enum]
    ) -> None:
        self.column = _element(column)
        self.values = tuple(values)
        if not self.values or not all(isinstance(v, Enum) for v in self.values):
            raise ValueError("among() takes one or more enum members")


@compiles(among)
def _among(element: among, compiler: SQLCompiler, **kw: Any) -> str:
    kind = element.column.type
    values = ", ".join(compiler.render_literal_value(v, kind) for v in element.values)
    return f"{compiler.process(element.column, **kw)} IN ({values})"
