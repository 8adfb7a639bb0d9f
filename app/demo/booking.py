"""The demo clinic's calendar: booking sessions through the service layer as the admin.

Days are counted from `now` in the clinic's time zone; a session in the past is completed unless
cancelled or a no-show. A screening preparation session that took place records the medical
screening and the consents signed at it (app.demo.safety), so doses pass the dosing gate.
"""

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.clients.models import Client, PresentingConcern
from app.clients.schemas import ClientCreate
from app.clients.service import create_client
from app.demo.clinical import record_dose
from app.demo.people import CONCERN_WEIGHTS, PREFERRED
from app.demo.safety import Clearance, screen_and_consent
from app.sessions.dosing.schemas import Medication
from app.sessions.enums import Location, PreparationTopic, Route, SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from app.sessions.schemas import (
    IntegrationSessionCreate,
    KetamineSessionCreate,
    PreparationSessionCreate,
    SessionCreate,
)
from app.sessions.service import cancel_session, complete_session, create_session, mark_no_show

DOSE_MINUTES = {
    Route.iv: 120,
    Route.im: 120,
    Route.intranasal: 120,
    Route.sublingual: 180,
    Route.oral: 180,
}
# Therapists see clients between 9 and 6 (doses run in parallel: the clinic has several chairs).
TALK_HOURS = [9.0, 10.5, 12.0, 13.5, 15.0, 16.5, 18.0]
SCREENING = [PreparationTopic.medical_screening, PreparationTopic.consent_review]
CREATE: dict[SessionKind, type[SessionCreate]] = {
    SessionKind.preparation: PreparationSessionCreate,
    SessionKind.ketamine: KetamineSessionCreate,
    SessionKind.integration: IntegrationSessionCreate,
}


@dataclass
class DemoClinic:
    """What every journey helper needs: the admin's principal, a clock, dice and the clinicians."""

    db: AsyncSession
    admin: Principal
    now: datetime
    rng: random.Random
    zone: ZoneInfo
    prescriber: uuid.UUID
    therapists: list[uuid.UUID]
    busy: dict[uuid.UUID | None, list[tuple[datetime, datetime]]] = field(default_factory=dict)

    def at(self, day: int, hour: float) -> datetime:
        """`hour` o'clock, clinic time, `day` days from today."""
        date = self.now.astimezone(self.zone).date() + timedelta(days=day)
        clock = time(int(hour), round(hour % 1 * 60))
        return datetime.combine(date, clock, tzinfo=self.zone).astimezone(UTC)

    async def new_client(self, first: str, last: str) -> Client:
        rng = self.rng
        concerns = list(CONCERN_WEIGHTS)
        primary = rng.choices(concerns, weights=list(CONCERN_WEIGHTS.values()))[0]
        others = [c for c in concerns if c not in (primary, PresentingConcern.other)]
        body = ClientCreate(
            first_name=first,
            last_name=last,
            preferred_name=PREFERRED.get(first),
            date_of_birth=self.now.date() - timedelta(days=rng.randint(23 * 365, 70 * 365)),
            email=f"{first}.{last}@example.com".lower(),
            phone=f"+1 503 555 01{rng.randint(0, 99):02d}",
            primary_clinician_id=rng.choice(self.therapists),
            presenting_concerns=[primary, *rng.sample(others, rng.randint(0, 2))],
        )
        return await create_client(self.db, self.admin, body, self.now)

    def slot(self, clinician: uuid.UUID | None, day: int, minutes: int) -> datetime:
        """A start that day when the therapist is free (double-booked only if the day is full)."""
        taken = self.busy.setdefault(clinician, [])
        starts = [self.at(day, hour) for hour in self.rng.sample(TALK_HOURS, len(TALK_HOURS))]
        for start in starts:
            end = start + timedelta(minutes=minutes)
            if all(end <= other_start or start >= other_end for other_start, other_end in taken):
                taken.append((start, end))
                return start
        return starts[0]

    async def book(
        self,
        client: Client,
        kind: SessionKind,
        starts_at: datetime,
        minutes: int,
        *,
        cancel: str | None = None,
        no_show: bool = False,
        **fields: Any,
    ) -> ClinicalSession:
        """Book a session; one in the past is then completed unless cancelled or a no-show."""
        fields.setdefault("clinician_id", client.primary_clinician_id)
        body = CREATE[kind](
            client_id=client.id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes),
            **fields,
        )
        session = await create_session(self.db, self.admin, kind, body, self.now)
        if cancel is not None:
            return await cancel_session(self.db, self.admin, session, cancel, self.now)
        if no_show:
            return await mark_no_show(self.db, self.admin, session, self.now)
        if starts_at <= self.now:
            ended_at = None
            if kind is SessionKind.ketamine:  # the recorded end: recovery ran short or long
                late = timedelta(minutes=self.rng.choice((-10, 0, 5, 15, 25)))
                ended_at = min(session.ends_at + late, self.now)
            await complete_session(self.db, self.admin, session, ended_at, self.now)
        if kind is SessionKind.ketamine:
            await record_dose(self.db, self.admin, session, self.rng, self.now)
        return session

    async def prep(
        self,
        client: Client,
        day: int,
        topics: list[PreparationTopic],
        *,
        clearance: Clearance = Clearance.cleared,
        esketamine: bool = False,
        **kw: Any,
    ) -> ClinicalSession:
        """A preparation session; a screening one that took place records the screening
        (`clearance` decides it) and the consents signed at it (REMS enrollment too for an
        esketamine client)."""
        starts_at = self.slot(client.primary_clinician_id, day, 75)
        kind = SessionKind.preparation
        session = await self.book(client, kind, starts_at, 75, topics=topics, **kw)
        if topics == SCREENING and session.status is SessionStatus.completed:
            at = min(starts_at + timedelta(minutes=60), self.now)
            await screen_and_consent(
                self.db, self.admin, client, at, self.now, clearance, esketamine=esketamine
            )
        return session

    async def dose(
        self, client: Client, day: int, route: Route, weight: float, **kw: Any
    ) -> ClinicalSession:
        rng = self.rng
        if route is Route.iv:  # 0.5 mg/kg over 40 minutes
            mg = round(0.5 * weight)
        elif route is Route.im:
            mg = round(rng.choice((0.75, 1.0)) * weight)
        elif route is Route.intranasal:  # esketamine nasal spray
            mg = rng.choice((56, 84))
        else:  # lozenges (troches) and oral solution
            mg = rng.choice((150, 200, 300))
        if route is Route.intranasal:  # named at booking: the gate asks for REMS enrollment
            kw.setdefault("medication", Medication.esketamine)
        return await self.book(
            client,
            SessionKind.ketamine,
            self.at(day, rng.choice((9, 9.5, 10, 10.5))),
            DOSE_MINUTES[route],
            clinician_id=self.prescriber,
            route=route,
            dose_mg=float(mg),
            weight_kg=weight,
            **kw,
        )

    async def integrate(
        self, client: Client, day: int, link: ClinicalSession | None = None, **kw: Any
    ) -> ClinicalSession:
        """An integration session; `link` anchors it explicitly, else the latest dose does."""
        return await self.book(
            client,
            SessionKind.integration,
            self.slot(client.primary_clinician_id, day, 50),
            50,
            location=self.rng.choice(list(Location)),
            ketamine_session_id=link.id if link is not None else None,
            **kw,
        )

    def weight(self) -> float:
        return round(self.rng.uniform(52, 112), 1)
