"""Service-level tests: a real AsyncSession on the suite's database (each backend), a fresh clinic
in it, and principals of each role, with no HTTP in between. Everything a test writes stays in one
transaction that is rolled back at the end, so nothing it does is seen by another test.

The `clinic_db` fixture reaches every test through `pytest_plugins` in tests/conftest.py.
"""

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.clients.models import Client
from app.clients.schemas import ClientCreate
from app.clients.service import create_client
from app.consents import service as consents
from app.consents.rules import ConsentKind
from app.consents.schemas import ConsentCreate
from app.db import begin_write
from app.errors import AppError
from app.screenings import service as screenings
from app.screenings.schemas import CONTRAINDICATION_CODES, ScreeningCreate
from app.staff.models import Role
from app.staff.schemas import StaffCreate
from app.staff.service import create_staff
from tests.support.factories import T0, new_clinic


@dataclass
class ClinicDb:
    """One clinic on an open write transaction, and the principals its staff act as."""

    db: AsyncSession
    admin: Principal
    _made: list[int] = field(default_factory=lambda: [0])

    @property
    def clinic_id(self) -> uuid.UUID:
        return self.admin.clinic_id

    def _next(self) -> int:
        self._made[0] += 1
        return self._made[0]

    async def staff(self, role: Role, *, prescriber: bool = False) -> Principal:
        """A new staff member of the clinic with `role` (a prescriber if said), as the services
        see a caller."""
        number = self._next()
        body = StaffCreate(
            email=f"{role.value}{number}@clinic.example",
            name="Staff",
            role=role,
            prescriber=prescriber,
        )
        member = await create_staff(self.db, self.clinic_id, body)
        return Principal.of(member, self.admin.clinic, None)

    async def client(self, **overrides: Any) -> Client:
        body: dict[str, Any] = {
            "first_name": "Maya",
            "last_name": f"Okafor {self._next()}",
            "date_of_birth": date(1988, 4, 17),
        }
        made = ClientCreate.model_validate(body | overrides)
        return await create_client(self.db, self.admin, made, T0)

    async def clear_for_dosing(self, client: Client, at: datetime) -> None:
        """A cleared screening and a treatment consent at `at`, as the dosing gate asks."""
        screening = ScreeningCreate.model_validate(
            {
                "screened_at": at,
                "contraindications": dict.fromkeys(CONTRAINDICATION_CODES, False),
                "decision": "cleared",
            }
        )
        await screenings.record(self.db, self.admin, client, screening, T0)
        consent = ConsentCreate(kind=ConsentKind.kap_treatment, document_version="1", signed_at=at)
        await consents.record(self.db, self.admin, client, consent, T0)


@contextmanager
def refused(code: str, **extra: Any) -> Iterator[pytest.ExceptionInfo[AppError]]:
    """The block raises the AppError with this code (and these `extra` items): the rule is told
    by the code a caller would see, so it holds wherever the exception class lives."""
    with pytest.raises(AppError) as caught:
        yield caught
    assert caught.value.code == code, caught.value
    assert extra.items() <= caught.value.extra.items(), caught.value.extra


@pytest.fixture
async def clinic_db(app: FastAPI) -> AsyncIterator[ClinicDb]:
    """A fresh clinic on the suite's database, inside a transaction rolled back afterwards."""
    async with app.state.sessionmaker() as db:
        await begin_write(db)
        made = await new_clinic(db, T0)
        admin = Principal.of(made.admin, made.clinic, None)
        try:
            yield ClinicDb(db, admin)
        finally:
            await db.rollback()
