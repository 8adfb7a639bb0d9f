"""The repository loads what the clearance rule needs: for any set of screenings, including
ties of time and decision, `service.clearances_at` equals the rule applied to every screening."""

import random
import uuid
from datetime import timedelta

import pytest

from app.screenings import rules, service
from app.screenings.models import Screening
from app.screenings.rules import Decision, ScreeningFact
from app.screenings.schemas import CONTRAINDICATION_CODES
from tests.support.factories import T0
from tests.support.services import ClinicDb

DAY = timedelta(days=1)


def _screening(clinic_db: ClinicDb, client_id: uuid.UUID, rng: random.Random) -> Screening:
    # Few distinct instants, so that ties of screened_at and of recorded time are common.
    screened_at = T0 + rng.randint(0, 4) * DAY
    decision = rng.choice(list(Decision))
    staff_id = clinic_db.admin.staff_id
    return Screening(
        clinic_id=clinic_db.clinic_id,
        client_id=client_id,
        screened_at=screened_at,
        screened_by=staff_id,
        contraindications=dict.fromkeys(CONTRAINDICATION_CODES, False),
        decision=decision,
        decided_by=None if decision is Decision.pending else staff_id,
        valid_until=rules.valid_until(screened_at, rng.choice([1, 2, 30])),
        created_at=screened_at + rng.randint(0, 1) * DAY,
    )


def _fact(row: Screening) -> ScreeningFact:
    return ScreeningFact(row.id, row.screened_at, row.created_at, row.decision, row.valid_until)


@pytest.mark.parametrize("seed", range(8))
async def test_the_repository_and_the_rule_agree(clinic_db: ClinicDb, seed: int) -> None:
    rng = random.Random(seed)
    clients = [(await clinic_db.client()).id for _ in range(6)]
    rows: dict[uuid.UUID, list[Screening]] = {client_id: [] for client_id in clients}
    for client_id in clients[1:]:  # the first has none
        rows[client_id] = [_screening(clinic_db, client_id, rng) for _ in range(rng.randint(1, 7))]
        clinic_db.db.add_all(rows[client_id])
    await clinic_db.db.flush()
    instants = [T0 - DAY, *(T0 + n * DAY / 2 for n in range(16))]
    for at in instants:
        found = await service.clearances_at(clinic_db.db, clinic_db.clinic_id, clients, at)
        expected = {
            client_id: rules.clearance_at([_fact(row) for row in rows[client_id]], at)
            for client_id in clients
        }
        assert found == expected, at
        one = await service.clearance_at(clinic_db.db, clinic_db.clinic_id, clients[-1], at)
        assert one == expected[clients[-1]]


async def test_other_clinics_screenings_never_count(clinic_db: ClinicDb) -> None:
    client = await clinic_db.client()
    rng = random.Random(1)
    row = _screening(clinic_db, client.id, rng)
    clinic_db.db.add(row)
    await clinic_db.db.flush()
    elsewhere = await service.clearance_at(clinic_db.db, uuid.uuid4(), client.id, T0 + 10 * DAY)
    assert elsewhere.status is rules.ClearanceStatus.missing
