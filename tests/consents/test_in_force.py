""" "In force at t" on each database: the service the dosing gate calls, and the list's SQL
filters, one second either side of every boundary (signed, expired, withdrawn)."""

import uuid
from datetime import datetime, timedelta

import pytest

from app.common.pagination import PageParams
from app.consents import repository, rules, service
from app.consents.models import Consent
from app.consents.repository import ConsentFilters
from app.consents.rules import ConsentKind, ConsentStatus
from app.consents.schemas import ConsentCreate
from tests.support.factories import T0
from tests.support.services import ClinicDb

S = timedelta(seconds=1)
SIGNED_A = T0 - timedelta(days=10)  # kap_treatment, open-ended
EXPIRES_B = T0 - timedelta(days=5)  # esketamine_rems_enrollment, signed earlier
WITHDRAWN_C = T0 - timedelta(days=2)  # telehealth, signed earlier, withdrawn then
EARLY = T0 - timedelta(days=20)

A, B, C = ConsentKind.kap_treatment, ConsentKind.esketamine_rems_enrollment, ConsentKind.telehealth
EXPECTED_IN_FORCE = [
    (SIGNED_A - S, {B, C}),
    (SIGNED_A, {A, B, C}),
    (SIGNED_A + S, {A, B, C}),
    (EXPIRES_B - S, {A, B, C}),
    (EXPIRES_B, {A, C}),
    (EXPIRES_B + S, {A, C}),
    (WITHDRAWN_C - S, {A, C}),
    (WITHDRAWN_C, {A}),
    (WITHDRAWN_C + S, {A}),
]


async def _three(clinic: ClinicDb) -> tuple[uuid.UUID, dict[ConsentKind, Consent]]:
    client = await clinic.client()
    admin = clinic.admin

    async def record(kind: ConsentKind, signed: datetime, expires: datetime | None) -> Consent:
        body = ConsentCreate(kind=kind, document_version="v1", signed_at=signed, expires_at=expires)
        return await service.record(clinic.db, admin, client, body, now=signed)

    made = {
        A: await record(A, SIGNED_A, None),
        B: await record(B, EARLY, EXPIRES_B),
        C: await record(C, EARLY, None),
    }
    await service.withdraw(clinic.db, admin, made[C], "Client asked", now=WITHDRAWN_C)
    return client.id, made


@pytest.mark.parametrize(
    ("at", "expected"), EXPECTED_IN_FORCE, ids=[at.isoformat() for at, _ in EXPECTED_IN_FORCE]
)
async def test_kinds_in_force_at_each_boundary(
    clinic_db: ClinicDb, at: datetime, expected: set[ConsentKind]
) -> None:
    client_id, _ = await _three(clinic_db)
    found = await service.kinds_in_force(clinic_db.db, clinic_db.clinic_id, client_id, at)
    assert found == expected
    # The list's `in_force_at` filter (SQL) gives the same consents.
    page = await repository.list_page(
        clinic_db.db, clinic_db.clinic_id, client_id, ConsentFilters(in_force_at=at),
        PageParams(limit=50), at,
    )  # fmt: skip
    assert {c.kind for c in page} == expected


async def test_the_status_filter_agrees_with_the_rule_at_each_boundary(
    clinic_db: ClinicDb,
) -> None:
    client_id, made = await _three(clinic_db)
    for at, _ in EXPECTED_IN_FORCE:
        for status in ConsentStatus:
            page = await repository.list_page(
                clinic_db.db, clinic_db.clinic_id, client_id, ConsentFilters(status=status),
                PageParams(limit=50), at,
            )  # fmt: skip
            by_rule = {k for k, c in made.items() if rules.status_at(c, at) is status}
            assert {c.kind for c in page} == by_rule, (at, status)
    # Spelled out at the last instant: one of each status.
    last = WITHDRAWN_C + S
    assert {k: rules.status_at(c, last) for k, c in made.items()} == {
        A: ConsentStatus.active,
        B: ConsentStatus.expired,
        C: ConsentStatus.withdrawn,
    }


async def test_another_clients_or_clinics_consents_do_not_count(clinic_db: ClinicDb) -> None:
    client_id, _ = await _three(clinic_db)
    other = await clinic_db.client()
    assert await service.kinds_in_force(clinic_db.db, clinic_db.clinic_id, other.id, T0) == set()
    elsewhere = uuid.uuid4()
    assert await service.kinds_in_force(clinic_db.db, elsewhere, client_id, T0) == set()
    assert await service.kinds_in_force(clinic_db.db, clinic_db.clinic_id, client_id, T0) == {A}
