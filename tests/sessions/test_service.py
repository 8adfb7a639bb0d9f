"""The session service without HTTP: booking, rescheduling, cancelling and completing, with their
rules and conflicts, called with a real AsyncSession on each database.

Each rule is told by the error code a caller would see (tests/support/services.refused), and
every test works through the service's public functions only.
"""

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from app.auth.principal import Principal
from app.clients.models import Client
from app.clients.service import archive_client
from app.sessions import service
from app.sessions.enums import Route, SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from app.sessions.schemas import (
    IntegrationSessionCreate,
    KetamineSessionCreate,
    KetamineSessionUpdate,
    PreparationSessionCreate,
    PreparationSessionUpdate,
    SessionCreate,
)
from app.staff.models import Role
from tests.support.factories import T0
from tests.support.services import ClinicDb, refused

NOW = T0
CREATE: dict[SessionKind, type[SessionCreate]] = {
    SessionKind.preparation: PreparationSessionCreate,
    SessionKind.ketamine: KetamineSessionCreate,
    SessionKind.integration: IntegrationSessionCreate,
}


def at(hours: float) -> datetime:
    """An instant `hours` from now (negative: in the past)."""
    return NOW + timedelta(hours=hours)


async def book(
    clinic: ClinicDb,
    kind: SessionKind,
    client: Client,
    starts_at: datetime,
    hours: float = 1,
    principal: Principal | None = None,
    **fields: Any,
) -> ClinicalSession:
    if kind is SessionKind.ketamine:
        fields.setdefault("route", Route.iv)
    body: SessionCreate = CREATE[kind].model_validate(
        {
            "client_id": client.id,
            "starts_at": starts_at,
            "ends_at": starts_at + timedelta(hours=hours),
            **fields,
        }
    )
    return await service.create_session(clinic.db, principal or clinic.admin, kind, body, NOW)


def validation_error(caught: pytest.ExceptionInfo[Any]) -> tuple[list[str], str]:
    [error] = caught.value.extra["errors"]
    return error["loc"], error["type"]


# --- booking ---------------------------------------------------------------------------------


def waiving_preparation(principal: Principal) -> Principal:
    """The principal as if its clinic did not require a completed preparation before a dose."""
    clinic = dataclasses.replace(principal.clinic, require_completed_preparation=False)
    return dataclasses.replace(principal, clinic=clinic)


async def test_a_booking_is_scheduled_and_run_by_the_clinician_who_books_it(
    clinic_db: ClinicDb,
) -> None:
    clinician = await clinic_db.staff(Role.clinician)
    client = await clinic_db.client()

    session = await book(clinic_db, SessionKind.preparation, client, at(24), principal=clinician)

    assert (session.kind, session.status) == (SessionKind.preparation, SessionStatus.scheduled)
    assert (session.clinic_id, session.client_id) == (clinic_db.clinic_id, client.id)
    assert session.clinician_id == clinician.staff_id


async def test_a_scheduler_books_for_a_named_clinical_role(clinic_db: ClinicDb) -> None:
    scheduler = await clinic_db.staff(Role.scheduler)
    other_scheduler = await clinic_db.staff(Role.scheduler)
    clinician = await clinic_db.staff(Role.clinician)
    client = await clinic_db.client()

    with refused("validation_error") as unnamed:
        await book(clinic_db, SessionKind.preparation, client, at(24), principal=scheduler)
    for named in [other_scheduler.staff_id, uuid.uuid4()]:
        with refused("validation_error") as wrong:
            await book(
                clinic_db,
                SessionKind.preparation,
                client,
                at(24),
                principal=scheduler,
                clinician_id=named,
            )
        assert validation_error(wrong) == (["body", "clinician_id"], "invalid_reference")
    booked = await book(
        clinic_db,
        SessionKind.preparation,
        client,
        at(24),
        principal=scheduler,
        clinician_id=clinician.staff_id,
    )

    assert validation_error(unnamed) == (["body", "clinician_id"], "missing")
    assert booked.clinician_id == clinician.staff_id


async def test_only_a_clients_own_clinic_may_book_for_them_while_they_are_active(
    clinic_db: ClinicDb,
) -> None:
    client = await clinic_db.client()
    stranger = Client(id=uuid.uuid4(), clinic_id=uuid.uuid4())

    with refused("validation_error") as unknown:
        await book(clinic_db, SessionKind.preparation, stranger, at(24))
    await archive_client(clinic_db.db, client, NOW)
    with refused("client_archived"):
        await book(clinic_db, SessionKind.preparation, client, at(24))

    assert validation_error(unknown) == (["body", "client_id"], "invalid_reference")


async def test_a_booking_may_not_overlap_another_of_the_client(clinic_db: ClinicDb) -> None:
    client = await clinic_db.client()
    other_client = await clinic_db.client()
    first = await book(clinic_db, SessionKind.preparation, client, at(24))

    with refused("schedule_conflict", conflicting_session_id=str(first.id)):
        await book(clinic_db, SessionKind.integration, client, at(24.5))

    # Sessions are half-open: one may start as another ends; other clients are not in the way.
    await book(clinic_db, SessionKind.integration, client, at(25))
    await book(clinic_db, SessionKind.preparation, other_client, at(24))


async def test_a_cancelled_session_frees_its_time(clinic_db: ClinicDb) -> None:
    client = await clinic_db.client()
    first = await book(clinic_db, SessionKind.preparation, client, at(24))

    await service.cancel_session(clinic_db.db, clinic_db.admin, first, "Client unwell", NOW)
    again = await book(clinic_db, SessionKind.preparation, client, at(24))

    assert again.status is SessionStatus.scheduled


async def test_a_dose_is_booked_after_a_preparation_unless_the_clinic_waives_it(
    clinic_db: ClinicDb,
) -> None:
    client = await clinic_db.client()

    with refused("preparation_required"):
        await book(clinic_db, SessionKind.ketamine, client, at(48))
    await book(clinic_db, SessionKind.preparation, client, at(50))  # after the dose: no use
    with refused("preparation_required"):
        await book(clinic_db, SessionKind.ketamine, client, at(48))
    await book(clinic_db, SessionKind.preparation, client, at(24))  # booked, not yet held
    dose = await book(clinic_db, SessionKind.ketamine, client, at(48))
    waived = await book(
        clinic_db,
        SessionKind.ketamine,
        await clinic_db.client(),
        at(48),
        principal=waiving_preparation(clinic_db.admin),
    )

    assert (dose.route, waived.status) == (Route.iv, SessionStatus.scheduled)


async def test_an_integration_links_only_a_dose_of_its_own_client(clinic_db: ClinicDb) -> None:
    waiving = waiving_preparation(clinic_db.admin)
    client, other = await clinic_db.client(), await clinic_db.client()
    dose = await book(clinic_db, SessionKind.ketamine, client, at(24), principal=waiving)
    others_dose = await book(clinic_db, SessionKind.ketamine, other, at(24), principal=waiving)

    with refused("validation_error") as caught:
        await book(
            clinic_db, SessionKind.integration, client, at(48), ketamine_session_id=others_dose.id
        )
    linked = await book(
        clinic_db, SessionKind.integration, client, at(48), ketamine_session_id=dose.id
    )

    assert validation_error(caught) == (["body", "ketamine_session_id"], "invalid_reference")
    assert linked.ketamine_session_id == dose.id


# --- rescheduling ----------------------------------------------------------------------------


async def move(
    clinic: ClinicDb, session: ClinicalSession, starts_at: datetime, principal: Principal | None
) -> ClinicalSession:
    length = session.ends_at - session.starts_at
    fields = {"starts_at": starts_at, "ends_at": starts_at + length}
    update = (
        KetamineSessionUpdate if session.kind is SessionKind.ketamine else PreparationSessionUpdate
    )
    body = update.model_validate(fields)
    return await service.update_session(clinic.db, principal or clinic.admin, session, body, NOW)


async def test_a_session_moves_into_free_time_or_over_its_own(clinic_db: ClinicDb) -> None:
    client = await clinic_db.client()
    first = await book(clinic_db, SessionKind.preparation, client, at(24))
    second = await book(clinic_db, SessionKind.preparation, client, at(27))

    with refused("schedule_conflict", conflicting_session_id=str(first.id)):
        await move(clinic_db, second, at(24.5), None)
    moved = await move(clinic_db, first, at(24.5), None)  # overlaps only where it was

    assert (moved.starts_at, moved.ends_at) == (at(24.5), at(25.5))


async def test_a_dose_may_not_move_before_its_preparation(clinic_db: ClinicDb) -> None:
    client = await clinic_db.client()
    await book(clinic_db, SessionKind.preparation, client, at(24))
    dose = await book(clinic_db, SessionKind.ketamine, client, at(48))

    with refused("preparation_required"):
        await move(clinic_db, dose, at(12), None)


async def test_a_move_is_checked_on_the_times_it_leaves(clinic_db: ClinicDb) -> None:
    session = await book(clinic_db, SessionKind.preparation, await clinic_db.client(), at(24))
    body = PreparationSessionUpdate.model_validate({"ends_at": at(23)})

    with refused("validation_error") as caught:
        await service.update_session(clinic_db.db, clinic_db.admin, session, body, NOW)

    assert validation_error(caught) == (["body", "ends_at"], "invalid_times")


async def test_a_scheduler_does_not_move_a_dose_about_to_start(clinic_db: ClinicDb) -> None:
    scheduler = await clinic_db.staff(Role.scheduler)
    client = await clinic_db.client()
    await book(clinic_db, SessionKind.preparation, client, at(-48))
    soon = await book(clinic_db, SessionKind.ketamine, client, at(1))
    later = await book(clinic_db, SessionKind.ketamine, client, at(24))

    with refused("dose_under_way"):
        await move(clinic_db, soon, at(5), scheduler)
    moved = await move(clinic_db, later, at(30), scheduler)
    moved_by_clinician = await move(clinic_db, soon, at(5), await clinic_db.staff(Role.clinician))

    assert (moved.starts_at, moved_by_clinician.starts_at) == (at(30), at(5))


# --- cancelling, completing, no-shows ---------------------------------------------------------


async def test_a_cancelled_session_keeps_its_reason_and_takes_no_further_step(
    clinic_db: ClinicDb,
) -> None:
    session = await book(clinic_db, SessionKind.preparation, await clinic_db.client(), at(-2))
    db, admin = clinic_db.db, clinic_db.admin

    cancelled = await service.cancel_session(db, admin, session, "Client unwell", NOW)

    assert (cancelled.status, cancelled.cancellation_reason) == (
        SessionStatus.cancelled,
        "Client unwell",
    )
    with refused("invalid_transition"):
        await service.cancel_session(db, admin, session, "Again", NOW)
    with refused("invalid_transition"):
        await service.complete_session(db, admin, session, None, NOW)
    with refused("invalid_transition"):
        await service.mark_no_show(db, admin, session, NOW)


@pytest.mark.parametrize("step", ["complete", "no_show"])
async def test_a_session_is_closed_only_once_it_has_started(clinic_db: ClinicDb, step: str) -> None:
    client = await clinic_db.client()
    future = await book(clinic_db, SessionKind.preparation, client, at(1))
    past = await book(clinic_db, SessionKind.preparation, client, at(-3))

    async def close(session: ClinicalSession) -> ClinicalSession:
        if step == "complete":
            return await service.complete_session(clinic_db.db, clinic_db.admin, session, None, NOW)
        return await service.mark_no_show(clinic_db.db, clinic_db.admin, session, NOW)

    with refused("invalid_transition"):
        await close(future)
    closed = await close(past)
    with refused("invalid_transition"):
        await close(past)

    expected = SessionStatus.completed if step == "complete" else SessionStatus.no_show
    assert (closed.status, closed.ended_at) == (expected, None)


@pytest.mark.parametrize(
    ("ended_at", "kind"),
    [
        (at(-3), "invalid_times"),  # at its start
        (at(-3) + timedelta(hours=12, seconds=1), "invalid_times"),
        (at(0) + timedelta(seconds=1), "in_the_future"),
    ],
)
async def test_a_recorded_end_falls_inside_the_session_and_not_in_the_future(
    clinic_db: ClinicDb, ended_at: datetime, kind: str
) -> None:
    session = await book(clinic_db, SessionKind.preparation, await clinic_db.client(), at(-3))

    with refused("validation_error") as caught:
        await service.complete_session(clinic_db.db, clinic_db.admin, session, ended_at, NOW)

    assert validation_error(caught) == (["body", "ended_at"], kind)


async def test_a_session_may_not_run_over_into_the_next(clinic_db: ClinicDb) -> None:
    client = await clinic_db.client()
    first = await book(clinic_db, SessionKind.preparation, client, at(-4))
    after = await book(clinic_db, SessionKind.integration, client, at(-2.5))
    db, admin = clinic_db.db, clinic_db.admin

    with refused("schedule_conflict", conflicting_session_id=str(after.id)):
        await service.complete_session(db, admin, first, at(-2.25), NOW)
    completed = await service.complete_session(db, admin, first, at(-2.75), NOW)

    assert (completed.status, completed.ended_at) == (SessionStatus.completed, at(-2.75))


async def test_a_dose_is_completed_only_after_a_completed_preparation(clinic_db: ClinicDb) -> None:
    client = await clinic_db.client()
    prep = await book(clinic_db, SessionKind.preparation, client, at(-48))
    dose = await book(clinic_db, SessionKind.ketamine, client, at(-3))
    db, admin = clinic_db.db, clinic_db.admin

    with refused("preparation_required"):
        await service.complete_session(db, admin, dose, None, NOW)
    await service.complete_session(db, admin, prep, None, NOW)
    await clinic_db.clear_for_dosing(client, at(-47))
    completed = await service.complete_session(db, admin, dose, None, NOW)

    assert completed.status is SessionStatus.completed


async def test_a_session_is_found_only_in_its_clinic_and_kind(clinic_db: ClinicDb) -> None:
    session = await book(clinic_db, SessionKind.preparation, await clinic_db.client(), at(24))
    db, clinic_id = clinic_db.db, clinic_db.clinic_id

    found = await service.get_session(db, clinic_id, session.id, SessionKind.preparation)
    with refused("not_found"):
        await service.get_session(db, clinic_id, session.id, SessionKind.integration)
    with refused("not_found"):
        await service.get_session(db, uuid.uuid4(), session.id, SessionKind.preparation)

    assert found.id == session.id
