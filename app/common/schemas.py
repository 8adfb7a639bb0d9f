"""Schema building blocks shared by every domain: strict inputs, UTC outputs, pages."""

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.common.scope import clinical_fields_hidden

T = TypeVar("T")


def _utc_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UTCTimestamp = Annotated[
    datetime,
    PlainSerializer(_utc_z, return_type=str, when_used="json"),
    # The serializer returns a plain str; say which kind, as the input side does.
    Field(examples=["2026-03-02T15:00:00Z"], json_schema_extra={"format": "date-time"}),
]
"""An output timestamp: always UTC, always with Z."""

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

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]


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


class OutputModel(BaseModel):
    """Responses are read from ORM objects or plain values.

    Fields named in `clinical_fields` are left out (absent, not null) for roles without clinical
    access, so they must have defaults: the OpenAPI schema then shows them as optional.
    """

    model_config = ConfigDict(from_attributes=True)
    clinical_fields: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _minimum_necessary(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if self.clinical_fields and isinstance(data, dict) and clinical_fields_hidden():
            for name in self.clinical_fields:
                data.pop(name, None)
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The wrap serializer above returns `Any`, which pydantic documents as `{}`: every
        # response schema would accept anything. It only ever drops fields, so describe the
        # fields themselves (the droppable ones have defaults, hence are optional).
        if schema.get("serialization", {}).get("type") == "function-wrap":
            schema = {key: value for key, value in schema.items() if key != "serialization"}
        return handler(schema)


class Page(BaseModel, Generic[T]):
    """One page of a list; pass next_cursor back as ?cursor= for the next one."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Opaque cursor for the next page; null on the last page."
    )
