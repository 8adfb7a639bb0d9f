"""Test factories: a settable clock and a clinic that talks to the API as its admin."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.clinics.bootstrap import Bootstrapped, bootstrap_clinic
from app.db import begin_write
from app.screenings.schemas import CONTRAINDICATION_CODES

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DOSING_CONSENTS = ("kap_treatment", "esketamine_rems_enrollment")


class FakeClock:
    """The app's clock in tests: moved by hand, never slept on."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def set(self, value: datetime) -> None:
        self.now = value

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def iso(value: datetime) -> str:
    return value.isoformat()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Clinic:
    """One tenant, with helpers that make API calls as its admin (or with other headers)."""

    id: str
    admin_id: str
    admin_key: str
    http: httpx.AsyncClient
    clock: Any
    _counter: list[int] = field(default_factory=lambda: [0])

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.admin_key)

    async def request(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return await self.http.request(
            method, url, headers={**self.headers, **(headers or {})}, **kwargs
        )

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)

    async def ok(self, method: str, url: str, status: int = 200, **kwargs: Any) -> dict[str, Any]:
        response = await self.request(method, url, **kwargs)
        assert response.status_code == status, (response.status_code, response.text)
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    async def staff(
        self, role: str = "clinician", *, prescriber: bool = False
    ) -> tuple[str, dict[str, str]]:
        """A new staff member of this clinic (a prescriber if said) and headers carrying their
        own key."""
        self._counter[0] += 1
        member = await self.ok(
            "POST",
            "/api/v1/staff",
            201,
            json={
                "email": f"{role}{self._counter[0]}@clinic.example",
                "name": f"{role} {self._counter[0]}",
                "role": role,
                "prescriber": prescriber,
            },
        )
        key = await self.ok(
            "POST", "/api/v1/api-keys", 201, json={"staff_id": member["id"], "name": "test"}
        )
        return member["id"], bearer(key["key"])

    async def client(self, **overrides: Any) -> dict[str, Any]:
        body = {"first_name": "Maya", "last_name": "Okafor", "date_of_birth": "1988-04-17"}
        return await self.ok("POST", "/api/v1/clients", 201, json={**body, **overrides})

    async def session(
        self,
        kind: str,
        client_id: str,
        starts_at: datetime,
        hours: float = 1,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        body = {
            "client_id": client_id,
            "starts_at": iso(starts_at),
            "ends_at": iso(starts_at + timedelta(hours=hours)),
            **extra,
        }
        return await self.ok("POST", f"/api/v1/{kind}-sessions", 201, json=body, headers=headers)

    async def prep(self, client_id: str, starts_at: datetime, **extra: Any) -> dict[str, Any]:
        return await self.session("preparation", client_id, starts_at, **extra)

    async def dose(
        self, client_id: str, starts_at: datetime, route: str = "iv", hours: float = 2, **extra: Any
    ) -> dict[str, Any]:
        return await self.session("ketamine", client_id, starts_at, hours, route=route, **extra)

    async def integration(
        self, client_id: str, starts_at: datetime, **extra: Any
    ) -> dict[str, Any]:
        return await self.session("integration", client_id, starts_at, **extra)

    async def action(
        self,
        kind: str,
        session_id: str,
        action: str,
        headers: dict[str, str] | None = None,
        **body: Any,
    ) -> dict[str, Any]:
        url = f"/api/v1/{kind}-sessions/{session_id}/{action}"
        return await self.ok("POST", url, json=body, headers=headers)

    async def prepared_client(
        self, prep_at: datetime | None = None, **overrides: Any
    ) -> dict[str, Any]:
        """A client ready to be dosed: a completed preparation session, and at its end a
        cleared screening and the treatment and REMS-enrollment consents (the dosing gate)."""
        client = await self.client(**overrides)
        at = prep_at or (self.clock.now - timedelta(days=10))
        prep = await self.prep(client["id"], at)
        saved = self.clock.now
        self.clock.set(max(saved, at + timedelta(hours=1)))
        await self.action("preparation", prep["id"], "complete")
        await self.clear_for_dosing(client["id"], at + timedelta(hours=1))
        self.clock.set(saved)
        return client

    async def clear_for_dosing(
        self, client_id: str, at: datetime, consents: tuple[str, ...] = DOSING_CONSENTS
    ) -> None:
        """A cleared screening and signed `consents` at `at` (not after the clock)."""
        await self.ok(
            "POST",
            f"/api/v1/clients/{client_id}/screenings",
            201,
            json={
                "screened_at": iso(at),
                "contraindications": dict.fromkeys(CONTRAINDICATION_CODES, False),
                "decision": "cleared",
            },
        )
        for kind in consents:
            await self.ok(
                "POST",
                f"/api/v1/clients/{client_id}/consents",
                201,
                json={"kind": kind, "document_version": "2026-01", "signed_at": iso(at)},
            )


async def new_clinic(db: AsyncSession, now: datetime) -> Bootstrapped:
    """A new clinic with its first admin and key, written the way the CLI does it (in `db`'s
    write transaction, not committed). The admin is a prescriber, as a clinic's medical
    director is (`kap-journey bootstrap --prescriber`)."""
    return await bootstrap_clinic(
        db,
        name=f"Clinic {uuid.uuid4().hex[:8]}",
        timezone="America/New_York",
        admin_email="admin@clinic.example",
        admin_name="Admin",
        now=now,
        prescriber=True,
    )


async def bootstrap(app: FastAPI, http: httpx.AsyncClient, clock: Any) -> Clinic:
    """A new clinic with its first admin and key, committed, seen through the HTTP API."""
    async with app.state.sessionmaker() as db:
        await begin_write(db)
        made = await new_clinic(db, clock.now)
        await db.commit()
    return Clinic(str(made.clinic.id), str(made.admin.id), made.api_key, http, clock)
