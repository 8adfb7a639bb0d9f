"""Schema building blocks shared by every domain: strict inputs, UTC outputs, pages."""

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from app.common.scope import clinical_fields_hidden

T = TypeVar("T")


def _in_utc(value: datetime) -> datetime:
    return value if value.tzinfo is UTC else value.astimezone(UTC)


UTCTimestamp = Annotated[
    datetime,
    # Made UTC when the read model is built, so pydantic-core writes it itself, with `Z`: a
    # Python serializer per timestamp cost more than the rest of a worklist's JSON.
    AfterValidator(_in_utc),
    Field(examples=["2026-03-02T15:00:00Z"]),
]
"""An output timestamp: always UTC, always with Z."""


class _WrittenAsItsOwnText:
    """A UUID written to JSON by its own `str()`, documented as the UUID it is.

    The ids a read returns on PostgreSQL are asyncpg's UUID, a subclass that pydantic-core's
    UUID writer reaches only after a chain of type checks, one of them a call into Python:
    about 1 µs per id, some 300 ids in a worklist. Its `str()` is asyncpg's C code (0.2 µs).
    The standard library's `str()` is Python code, about 0.6-0.8 µs more per id than
    pydantic-core's own writer: paid for the ids a write's response shows, and on SQLite, whose
    reads return the standard library's UUIDs, for every id (+0.2 ms per worklist there)."""

    def __get_pydantic_core_schema__(
        self, _source: Any, _handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.uuid_schema(
            serialization=core_schema.to_string_ser_schema(when_used="json")
        )

    def __get_pydantic_json_schema__(
        self, _schema: CoreSchema, _handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "uuid"}  # a UUID, however it is written


Id = Annotated[uuid.UUID, _WrittenAsItsOwnText()]
"""An output id: a UUID, written as its text."""

EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2200, 1, 1, tzinfo=UTC)


def _plausible_instant(value: datetime) -> datetime:
    # Bounded so that window arithmetic (up to a year of hours) can never overflow a datetime.
    if not EARLIEST_INSTANT <= value < LATEST_INSTANT:
        raise ValueError("timestamps must fall between 1900 and 2200")
    return value


InputTimestamp = Annotated[
    AwareDatetime,
    AfterValidator(_plausible_instant),
    Field(
        description="RFC 3339 with an offset (Z or ±hh:mm); naive timestamps are refused.",
        examples=["2026-03-02T09:00:00-05:00"],
    ),
]


@dataclass(frozen=True)
class RefusedCharacters:
    """`Annotated` metadata: a text field refuses these characters anywhere in what was sent
    (422, type `control_characters`), before any trimming; the OpenAPI schema shows the rule as
    a `pattern`."""

    characters: str  # the inside of a regex character class
    allowed: str  # what the message says the field may hold
    _found: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _runs: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_found", re.compile(f"[{self.characters}]"))
        object.__setattr__(self, "_runs", re.compile(f"[{self.characters}]+"))

    def scrub(self, value: str) -> str:
        """`value` with each run of these characters replaced by one space, for text that was
        stored before the rule (or comes from a system we must not refuse) and is written out."""
        return self._runs.sub(" ", value)

    def _check(self, value: Any) -> Any:
        if isinstance(value, str) and self._found.search(value):
            raise PydanticCustomError(
                "control_characters",
                "must not contain control characters; {allowed}",
                {"allowed": self.allowed},
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault("pattern", f"^[^{self.characters}]*$")
        return json_schema


# A short field (a name, title, reason, id) is one line: C0 and C1 controls (tab, CR and LF
# included), DEL and the Unicode line and paragraph separators are refused. They have no place
# in a name, and they break every line-based format the value is copied into: a bare CR in a
# staff name once injected lines into the iCalendar feed.
ONE_LINE = RefusedCharacters(
    r"\x00-\x1f\x7f-\x9f\u2028\u2029", "this field is a single line (no tabs or line breaks)"
)
# Free text (notes) keeps its tabs and line breaks (CR, LF); the other controls are refused.
FREE_TEXT = RefusedCharacters(
    r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f", "tabs and line breaks are fine"
)

ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), ONE_LINE
]
LongText = Annotated[str, StringConstraints(max_length=20_000), FREE_TEXT]


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


class InputModel(BaseModel):
    """Request bodies: unknown fields are an error, never silently dropped.

    `clinical_fields` names the fields a role without clinical access may not write (403).
    """

    model_config = ConfigDict(extra="forbid")
    clinical_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        # PostgreSQL cannot store U+0000 in text; refuse it everywhere rather than only there.
        if _holds_nul(data):
            raise ValueError("text must not contain NUL (U+0000) characters")
        return data

    def clinical_fields_sent(self) -> set[str]:
        return set(self.clinical_fields & self.model_fields_set)


class PatchModel(InputModel):
    """PATCH bodies: every field optional, applied with exclude_unset.

    Fields listed in `required_fields` may be omitted but not set to null.
    """

    required_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> "PatchModel":
        for name in self.required_fields & self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent."""
        return self.model_dump(exclude_unset=True)


# For a response model that is not an OutputModel: every field is in each answer, so its
# schema lists them all as required (a default, or null, is still sent).
ALWAYS_PRESENT = ConfigDict(json_schema_serialization_defaults_required=True)


class OutputModel(BaseModel):
    """Responses are read from ORM objects or plain values.

    Fields named in `clinical_fields` are left out (absent, not null) for roles without clinical
    access, so they must have defaults: the OpenAPI schema then shows them as optional.
    """

    # A response carries every field, defaulted or not: its schema says so (client generators
    # then type them as present), except for the clinical fields, which may be left out.
    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )
    clinical_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # Each clinical field is left out by pydantic-core itself (`exclude_if`), asked per
        # field while serialising: a wrap serializer around the whole model made pydantic build
        # every response as Python objects before writing its JSON (docs/performance.md).
        super().__pydantic_init_subclass__(**kwargs)
        if cls.clinical_fields:
            for name in cls.clinical_fields & cls.model_fields.keys():
                cls.model_fields[name].exclude_if = clinical_fields_hidden
            cls.model_rebuild(force=True)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if handler.mode == "serialization" and cls.clinical_fields:
            # Fields that may be left out are not required (pydantic says so already for
            # `exclude_if`); and left out means "not yours to see", never "the default".
            described = handler.resolve_ref_schema(json_schema)
            required = [
                name for name in described.get("required", []) if name not in cls.clinical_fields
            ]
            described["required"] = required
            for name in cls.clinical_fields:
                described.get("properties", {}).get(name, {}).pop("default", None)
        return json_schema


class Page(BaseModel, Generic[T]):
    """One page of a list; pass next_cursor back as ?cursor= for the next one."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Opaque cursor for the next page; null on the last page."
    )
