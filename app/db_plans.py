"""Statements compiled once for the driver: the plans app/db_direct.py sends (issue 17).

A plan is a statement compiled for the dialect once: its SQL text, the order of its
parameters with their bind processors, and the result processors of its columns, the ones
SQLAlchemy's execution would apply. A plan is kept per statement object for as long as the
statement lives (the statements are module constants or cached per clinic policy); a statement
whose text or values change per execution (an expanding IN list, a default computed at
execution) has none, and SQLAlchemy executes it.
"""

import collections
import functools
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from sqlalchemy import Dialect, Enum, Executable
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any]

_MISSING = object()


@dataclass(slots=True)
class _Argument:
    name: str
    process: Processor | None
    required: bool  # no value in the statement: the caller must pass one
    default: Any  # the value bound in the statement itself, for parameters not passed


@dataclass(slots=True)
class Plan:
    sql: str
    arguments: tuple[_Argument, ...]
    row: type[NamedTuple]
    result_types: list[TypeEngine[Any]]
    # The columns that have a result processor, by index: known after the first execution.
    results: list[tuple[int, Processor]] | None = None

    def bind(self, parameters: Mapping[str, Any]) -> list[Any]:
        values = []
        for argument in self.arguments:
            value = parameters.get(argument.name, _MISSING)
            if value is _MISSING:
                if argument.required:  # as SQLAlchemy refuses it, rather than send NULL
                    raise InvalidRequestError(
                        f"A value is required for bind parameter {argument.name!r}"
                    )
                value = argument.default
            values.append(value if argument.process is None else argument.process(value))
        return values

    def rows(
        self,
        records: Sequence[Any],
        attributes: Sequence[Any],
        dialect: Dialect,
        *,
        named: bool,
    ) -> Any:
        if not attributes:  # a statement without rows
            return []
        if self.results is None:
            # Result processors depend on the column's type as the server describes it.
            processors = [
                _result_processor(kind, dialect, attribute.type.oid)
                for kind, attribute in zip(self.result_types, attributes, strict=True)
            ]
            self.results = [(i, p) for i, p in enumerate(processors) if p is not None]
        if self.results:
            # Only the columns that have one (a session's enums: 4 of its 44 columns).
            processed = []
            for record in records:
                values = list(record)
                for index, process in self.results:
                    values[index] = process(values[index])
                processed.append(values)
            records = processed
        # The driver's records index and unpack as tuples do; only names need a tuple made.
        return list(map(self.row._make, records)) if named else records


def _result_processor(kind: TypeEngine[Any], dialect: Dialect, oid: int) -> Processor | None:
    """The column's result processor as SQLAlchemy's execution runs it, but for an enum that
    SQLAlchemy's own Enum processor reads: that processor's lookup from stored value to member
    (None to None), called directly. It wraps the lookup in two Python calls per value, and a
    worklist reads some 270 enum values. An enum type that changes how values are read (its own
    processor or lookup, or a string processor beneath) keeps SQLAlchemy's way."""
    processor = kind._cached_result_processor(dialect, oid)
    impl = kind.dialect_impl(dialect)
    if processor is None or not isinstance(impl, Enum):
        return processor
    own = type(impl)
    if (
        own.result_processor is not Enum.result_processor
        or own._object_value_for_elem is not Enum._object_value_for_elem
        or super(Enum, impl).result_processor(dialect, oid) is not None
    ):
        return processor
    return _Members(impl).__getitem__


class _Members(dict[Any, Any]):
    """An enum type's stored values and their members; a value it does not know is refused by
    the type itself, with SQLAlchemy's message naming the enum and what it allows."""

    def __init__(self, enum: Enum) -> None:
        super().__init__(enum._object_lookup)
        self._enum = enum

    def __missing__(self, value: Any) -> Any:
        return self._enum._object_value_for_elem(value)  # raises its LookupError


PLANS: weakref.WeakKeyDictionary[Executable, Plan | None] = weakref.WeakKeyDictionary()
"""Plan per statement, gone with the statement; None for one SQLAlchemy must render each time."""


def _compiled(statement: Executable, dialect: Dialect) -> Plan | None:
    compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect))
    if compiled.post_compile_params or compiled.literal_execute_params:
        return None  # its text changes per execution: SQLAlchemy renders it each time
    binds = compiled.binds
    if (
        compiled.insert_prefetch
        or compiled.update_prefetch
        or any(bind.callable is not None for bind in binds.values())
    ):
        return None  # a value computed at each execution (a column default too)
    processors = compiled._bind_processors
    arguments = tuple(
        _Argument(
            name,
            cast(Processor | None, processors.get(name)),
            binds[name].required,
            binds[name].effective_value,
        )
        for name in compiled.positiontup or []
    )
    columns = compiled._result_columns
    row = named_row(tuple(column[0] for column in columns))
    return Plan(compiled.string, arguments, row, [column[3] for column in columns])


@functools.cache
def named_row(fields: tuple[str, ...]) -> type[NamedTuple]:
    return cast(type[NamedTuple], collections.namedtuple("Row", fields))


def plan_of(statement: Executable, dialect: Dialect) -> Plan | None:
    try:
        return PLANS[statement]
    except KeyError:
        plan = PLANS[statement] = _compiled(statement, dialect)
        return plan
