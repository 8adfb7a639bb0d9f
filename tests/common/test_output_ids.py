"""`Id`, the output id (app/common/schemas.py): a UUID written as its own text, whichever UUID
class holds it, documented as the UUID it is. On PostgreSQL the ids a read returns are asyncpg's
UUID subclass, which pydantic-core's own UUID writer reaches only through a chain of type checks,
one of them a call into Python; the read models must not go back to it."""

import abc
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, get_args, get_origin

import pytest
from asyncpg.pgproto import pgproto
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter
from starlette.routing import BaseRoute

from app.common.schemas import Id
from app.config import Settings
from app.main import create_app
from app.sessions.enums import Location, SessionKind, SessionStatus
from app.sessions.schemas import DoseIntegrationRead, IntegrationSessionRead
from app.windows.rules import IntegrationStatus, WindowStatus

AN_ID = uuid.UUID("0f5b2c1e-8d3a-4f6b-9c7d-2e1a0b3c4d5e")


class Written(BaseModel):
    one: Id
    many: list[Id]
    maybe: Id | None


class Plain(BaseModel):
    one: uuid.UUID
    many: list[uuid.UUID]
    maybe: uuid.UUID | None


@pytest.mark.parametrize("value", [AN_ID, pgproto.UUID(str(AN_ID))], ids=["uuid", "asyncpg"])
def test_an_id_is_written_as_its_canonical_text(value: uuid.UUID) -> None:
    model = Written(one=value, many=[value, value], maybe=None)
    expected = Plain(one=AN_ID, many=[AN_ID, AN_ID], maybe=None)
    assert model.model_dump_json() == expected.model_dump_json()
    assert model.model_dump()["one"] == AN_ID  # Python callers still get a UUID


def test_an_id_is_documented_and_validated_as_a_uuid() -> None:
    for mode in ("validation", "serialization"):
        written = TypeAdapter(Written).json_schema(mode=mode)
        plain = TypeAdapter(Plain).json_schema(mode=mode)
        assert written["properties"] == plain["properties"], mode
    assert Written.model_validate({"one": str(AN_ID), "many": [], "maybe": None}).one == AN_ID
    with pytest.raises(ValueError, match="UUID"):
        Written.model_validate({"one": "not-an-id", "many": [], "maybe": None})


@pytest.fixture
def abc_checks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[type, type]]:
    """isinstance() against an abstract base class: a call into Python each time."""
    seen: list[tuple[type, type]] = []
    real = abc.ABCMeta.__instancecheck__

    def counted(cls: abc.ABCMeta, instance: Any) -> bool:
        seen.append((cls, type(instance)))
        return real(cls, instance)

    monkeypatch.setattr(abc.ABCMeta, "__instancecheck__", counted)
    return seen


def test_a_read_models_ids_from_the_driver_are_written_without_a_type_check_each(
    abc_checks: list[tuple[type, type]],
) -> None:
    driver_id = pgproto.UUID(str(AN_ID))
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    session = IntegrationSessionRead.model_validate(
        {
            "id": driver_id,
            "kind": SessionKind.integration,
            "client_id": driver_id,
            "clinician_id": driver_id,
            "starts_at": at,
            "ends_at": at,
            "status": SessionStatus.scheduled,
            "ended_at": None,
            "cancellation_reason": None,
            "location": Location.in_person,
            "external_ref": None,
            "version": 1,
            "created_at": at,
            "updated_at": at,
            "ketamine_session_id": driver_id,
            "window": {
                "status": WindowStatus.in_window,
                "ketamine_session_id": driver_id,
                "linked": True,
                "hours_after_dose": 26.0,
                "opens_at": at,
                "closes_at": at,
            },
        }
    )
    dose = DoseIntegrationRead(
        status=IntegrationStatus.booked_in_window,
        window_opens_at=at,
        window_closes_at=at,
        integration_session_ids=[driver_id, driver_id],
    )
    abc_checks.clear()
    written = session.model_dump_json() + dose.model_dump_json()
    assert written.count(str(AN_ID)) == 7
    assert abc_checks == []


def _plain_uuids(annotation: Any, metadata: list[Any], seen: set[type]) -> list[str]:
    """Where `annotation` holds a uuid.UUID that is not an `Id`, by field path."""
    if get_origin(annotation) is Annotated:
        inner, *marks = get_args(annotation)
        return _plain_uuids(inner, marks, seen)
    if annotation is uuid.UUID:
        return [] if any(isinstance(mark, type(ID_MARK)) for mark in metadata) else ["<uuid>"]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return []
        seen.add(annotation)
        found = []
        for name, field in annotation.model_fields.items():
            for path in _plain_uuids(field.annotation, field.metadata, seen):
                found.append(f"{annotation.__name__}.{name}" + ("" if path == "<uuid>" else path))
        return found
    return [path for arg in get_args(annotation) for path in _plain_uuids(arg, [], seen)]


ID_MARK = get_args(Id)[1]


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(
            route, "original_router", None
        )  # an included router, as FastAPI keeps it
        if included is not None:
            yield from _api_routes(included.routes)


def test_every_response_model_writes_its_ids_as_ids() -> None:
    seen: set[type] = set()
    plain = [
        path
        for route in _api_routes(create_app(Settings()).routes)
        if route.response_model is not None
        for path in _plain_uuids(route.response_model, [], seen)
    ]
    assert len(seen) > 30  # the walk reached the app's response models
    assert plain == []
