"""A worker task's unit of work: audited for what it touched, all or nothing, failure hooks in a
transaction of their own, and the current work published to code deep inside it."""

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.actors import Actor
from app.audit.models import TASK_STATUS, AuditEvent
from app.audit.trail import note_change, note_read
from app.common.pagination import decode_cursor, encode_cursor
from app.common.scope import clinical_fields_hidden, current_work
from app.unit_of_work import savepoint, worker_unit
from tests.support.factories import Clinic


async def rows_of(app: FastAPI, request_id: str) -> list[AuditEvent]:
    async with app.state.sessionmaker() as db:
        stmt = select(AuditEvent).where(AuditEvent.request_id == request_id)
        return list((await db.execute(stmt)).scalars())


async def test_a_worker_task_is_audited_for_what_it_touched_under_its_actor(
    app: FastAPI, clinic: Clinic
) -> None:
    actor = Actor(uuid.UUID(clinic.id), uuid.uuid4(), "integration")
    async with worker_unit(
        app.state.sessionmaker, app.state.clock, action="tidy", resource_type="x"
    ) as work:
        work.act_as(actor)
        note_change("client", "c-1", ["status"])
        note_read("session", "s-1")
        await work.finish_task()
    rows = sorted(await rows_of(app, work.trail.request_id), key=lambda r: r.resource_type)
    assert [(r.resource_type, r.resource_id, r.changed_fields) for r in rows] == [
        ("client", "c-1", ["status"]),
        ("session", "s-1", None),
    ]
    assert {(r.clinic_id, r.actor_id, r.actor_role, r.action, r.status_code) for r in rows} == {
        (actor.clinic_id, actor.id, "integration", "tidy", TASK_STATUS)
    }
    async with worker_unit(
        app.state.sessionmaker, app.state.clock, action="idle", resource_type="x"
    ) as quiet:
        await quiet.finish_task()
    assert await rows_of(app, quiet.trail.request_id) == []  # touched nothing: no row


async def test_a_failed_task_leaves_nothing_and_runs_its_failure_hooks_apart(
    app: FastAPI, clinic: Clinic
) -> None:
    ran: list[str] = []
    request_ids: list[str] = []

    async def remember(session: AsyncSession) -> None:
        ran.append("failure hook")
        assert session.in_transaction()

    async def failing_task() -> None:
        async with worker_unit(
            app.state.sessionmaker, app.state.clock, action="t", resource_type="x"
        ) as work:
            request_ids.append(work.trail.request_id)
            work.act_as(Actor(uuid.UUID(clinic.id), None, "system"))
            work.on_failure(remember)
            note_change("client", "c-2", ["status"])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await failing_task()
    assert ran == ["failure hook"]
    assert await rows_of(app, request_ids[0]) == []
    assert current_work.get() is None  # unpublished once it ended


async def test_a_savepoint_that_fails_forgets_what_it_noted(app: FastAPI, clinic: Clinic) -> None:
    async def undone_part(session: AsyncSession) -> None:
        async with savepoint(session):
            note_change("client", "undone", ["status"])
            raise ValueError("cannot")

    async with worker_unit(
        app.state.sessionmaker, app.state.clock, action="t", resource_type="x"
    ) as work:
        work.act_as(Actor(uuid.UUID(clinic.id), None, "system"))
        note_change("client", "kept", ["status"])
        with pytest.raises(ValueError, match="cannot"):
            await undone_part(work.session)
        await work.finish_task()
    assert [r.resource_id for r in await rows_of(app, work.trail.request_id)] == ["kept"]


async def test_the_current_work_carries_the_callers_role_and_the_cursor_key(app: FastAPI) -> None:
    plain = encode_cursor(["a", 1])
    async with worker_unit(
        app.state.sessionmaker, app.state.clock, action="t", resource_type="x"
    ) as work:
        work.act_as(Actor(None, None, "scheduler"))
        assert clinical_fields_hidden()
        assert encode_cursor(["a", 1]) == plain  # a worker has no key: no cursor leaves it
        assert decode_cursor(plain, 2) == ["a", 1]
    assert not clinical_fields_hidden()


async def test_clinical_fields_are_hidden_by_the_role_once_known_and_of_each_actor(
    app: FastAPI,
) -> None:
    async with worker_unit(
        app.state.sessionmaker, app.state.clock, action="t", resource_type="x"
    ) as work:
        assert not clinical_fields_hidden()  # no role yet: nothing to hide, nothing kept
        work.act_as(Actor(None, None, None))
        assert not clinical_fields_hidden()
        work.act_as(Actor(None, None, "scheduler"))
        assert clinical_fields_hidden()
        assert clinical_fields_hidden()  # kept, as asked for every field
        work.act_as(Actor(None, None, "clinician"))
        assert not clinical_fields_hidden()
        work.act_as(Actor(None, None, "scheduler"))
        assert clinical_fields_hidden()
