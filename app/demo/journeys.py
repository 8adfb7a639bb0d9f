"""`kap-journey demo`: a clinic filled with realistic, repeatable KAP journeys.

Everything is written through the service layer as the clinic's admin, so the demo obeys the same
rules as the API (no overlaps, preparation before doses, 12 h cap). Days are counted from `now` in
the clinic's time zone and never fall on today: past sessions are completed (or cancelled, or
no-shows), future ones stay scheduled. One journey shape per helper below; the plan cycles through
them so that any set of eight or more clients covers every stage, route and window status.
"""

import random
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey
from app.auth.principal import Principal
from app.clients.models import Client, PresentingConcern
from app.clients.schemas import ClientCreate
from app.clients.service import archive_client, create_client
from app.clinics.bootstrap import Bootstrapped, bootstrap_clinic
from app.demo.clinical import measure, record_dose
from app.demo.outcomes import Showcase
from app.demo.people import (
    CONCERN_WEIGHTS,
    PREFERRED,
    PRESCRIBER,
    SCHEDULER,
    THERAPISTS,
    names,
)
from app.sessions.enums import Location, PreparationTopic, Route, SessionKind
from app.sessions.models import ClinicalSession
from app.sessions.schemas import (
    IntegrationSessionCreate,
    KetamineSessionCreate,
    PreparationSessionCreate,
    SessionCreate,
)
from app.sessions.service import cancel_session, complete_session, create_session, mark_no_show
from app.staff.models import Role
from app.staff.schemas import StaffCreate
from app.staff.service import create_staff

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
INTENTIONS = [PreparationTopic.intentions, PreparationTopic.set_and_setting]
SAFETY = [PreparationTopic.set_and_setting, PreparationTopic.safety_plan]
POSTPONED = (
    "Client postponed: waiting on insurance pre-authorisation",
    "Client asked to start after a work trip",
)
BP_HIGH = "Blood pressure 158/96 at check-in; infusion moved to the next day"
SICK = "Clinician out sick; client chose not to rebook"
CREATE: dict[SessionKind, type[SessionCreate]] = {
    SessionKind.preparation: PreparationSessionCreate,
    SessionKind.ketamine: KetamineSessionCreate,
    SessionKind.integration: IntegrationSessionCreate,
}


@dataclass
class _Demo:
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
        self, client: Client, day: int, topics: list[PreparationTopic], **kw: Any
    ) -> ClinicalSession:
        starts_at = self.slot(client.primary_clinician_id, day, 75)
        kind = SessionKind.preparation
        return await self.book(client, kind, starts_at, 75, topics=topics, **kw)

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


Journey = Callable[[_Demo, Client, int], Awaitable[None]]


async def _intake(d: _Demo, client: Client, variant: int) -> None:
    """New referrals; some booked a screening and cancelled it, which keeps them at intake."""
    if variant % 2 == 0:
        await d.prep(client, d.rng.randint(2, 6), SCREENING, cancel=d.rng.choice(POSTPONED))


async def _preparation(d: _Demo, client: Client, variant: int) -> None:
    """Screened, second preparation booked; some already have their first dose on the calendar."""
    first = -d.rng.randint(6, 12)
    if variant % 2 == 1:  # missed the first screening, came a few days later
        await d.prep(client, first - 4, SCREENING, no_show=True)
    await d.prep(client, first, SCREENING)
    second = d.rng.randint(1, 4)
    await d.prep(client, second, INTENTIONS)
    if variant % 2 == 0:
        route = d.rng.choice((Route.iv, Route.im, Route.sublingual))
        dose = await d.dose(client, second + 3, route, d.weight())
        # Booked the day before the dose and linked to it by mistake: before_window, flagged.
        await d.integrate(client, second + 2, link=dose)


async def _iv_series(d: _Demo, client: Client, variant: int) -> None:
    """A series of six IV infusions, 2-3 a week; the latest one has no integration yet."""
    last = -d.rng.choice((1, 2))
    weight = d.weight()
    await d.prep(client, last - 14, SCREENING)
    await d.prep(client, last - 10, INTENTIONS)
    days = [last - 7, last - 5, last - 2, last, last + 3, last + 5]
    for n, day in enumerate(days):
        if n == 1 and variant % 2 == 0:  # turned away at check-in, infused the next day
            await d.dose(client, day, Route.iv, weight, cancel=BP_HIGH)
            day += 1
        dose = await d.dose(client, day, Route.iv, weight)
        if day == last or n == len(days) - 1:
            continue  # unbooked: the window is (or will be) open with nothing in it
        await d.integrate(client, day + 1, link=dose if n % 2 == 0 else None)


async def _intranasal(d: _Demo, client: Client, variant: int) -> None:
    """Esketamine nasal spray twice a week with a telehealth integration call after most doses."""
    last = -d.rng.choice((1, 2))
    weight = d.weight()
    await d.prep(client, last - 21, SCREENING)
    await d.prep(client, last - 17, SAFETY)
    for n, day in enumerate([last - 14, last - 11, last - 7, last - 4, last, last + 3, last + 7]):
        dose = await d.dose(client, day, Route.intranasal, weight)
        if n == 6 or (n == 1 and variant % 2 == 1):
            continue  # the next dose is still unbooked; one window was missed
        after = (1 if last == -1 else -1) if day == last else day + 1
        await d.integrate(client, after, link=dose if n % 3 == 0 else None)


async def _sublingual(d: _Demo, client: Client, variant: int) -> None:
    """Weekly lozenge sessions in the office, integration 1-5 days later (168 h window)."""
    last = -d.rng.randint(2, 5)
    weight = d.weight()
    await d.prep(client, last - 28, SCREENING)
    await d.prep(client, last - 24, INTENTIONS)
    for day in (last - 21, last - 14, last - 7, last, last + 14):
        if day == last - 7 and variant % 2 == 1:
            await d.dose(client, day, Route.sublingual, weight, cancel="Client had a fever")
            day += 1
        dose = await d.dose(client, day, Route.sublingual, weight)
        if day > 0:
            continue
        after = max(1, last + 3) if day == last else day + d.rng.randint(1, 5)
        await d.integrate(client, after, link=dose if variant % 2 == 0 else None)


async def _maintenance_im(d: _Demo, client: Client, variant: int) -> None:
    """A finished weekly IM series, a booster weeks ago integrated too late, nothing dosed since."""
    start = -d.rng.randint(56, 70)
    weight = d.weight()
    await d.prep(client, start - 7, SCREENING)
    await d.prep(client, start - 3, INTENTIONS)
    for day in (start, start + 7, start + 14, start + 21):
        dose = await d.dose(client, day, Route.im, weight)
        await d.integrate(client, day + d.rng.randint(1, 2), link=dose)
    booster = -d.rng.randint(20, 30)
    dose = await d.dose(client, booster, Route.im, weight)
    await d.integrate(client, booster + 5, link=dose)  # after_window: the booster is missed
    if variant % 2 == 0:  # a check-in weeks after the booster: after_window, flagged
        await d.integrate(client, d.rng.randint(3, 10))


async def _maintenance_oral(d: _Demo, client: Client, variant: int) -> None:
    """Oral doses every two weeks, finished a few weeks ago; one integration fell through."""
    start = -d.rng.randint(45, 60)
    weight = d.weight()
    await d.prep(client, start - 10, SCREENING)
    await d.prep(client, start - 5, SAFETY)
    for n, day in enumerate((start, start + 14, start + 28)):
        dose = await d.dose(client, day, Route.oral, weight)
        if n != 1:
            await d.integrate(client, day + d.rng.randint(2, 5))
        elif variant % 2 == 0:  # a no-show leaves the window missed
            await d.integrate(client, day + 3, link=dose, no_show=True)
        else:  # came back nine days later: after the 168 h window
            await d.integrate(client, day + 9)


async def _archived(d: _Demo, client: Client, variant: int) -> None:
    """A course finished months ago; the client moved away and was archived."""
    start = -d.rng.randint(120, 150)
    weight = d.weight()
    await d.prep(client, start - 6, SCREENING)
    for n, day in enumerate((start, start + 7, start + 14)):
        await d.dose(client, day, Route.sublingual, weight)
        await d.integrate(client, day + 2, cancel=SICK if n == 2 else None)
    await archive_client(d.db, client, d.now)


CYCLE: tuple[Journey, ...] = (
    _iv_series,
    _preparation,
    _intake,
    _maintenance_im,
    _intranasal,
    _sublingual,
    _maintenance_oral,
)

# Clients that show what a random set may miss (a positive PHQ-9 item 9, CMS159 remission
# `met` and `open`): see app.demo.outcomes.
SHOWCASE: dict[tuple[Journey, int], Showcase] = {
    (_iv_series, 0): Showcase.self_harm,
    (_maintenance_im, 0): Showcase.remission_met,
    (_preparation, 0): Showcase.remission_open,
}


def _plan(clients: int) -> list[tuple[Journey, int]]:
    """Each client's journey shape and how many of that shape came before (its variant)."""
    shapes = [CYCLE[i % len(CYCLE)] for i in range(clients - 1)] + [_archived]
    return [(shape, shapes[:i].count(shape)) for i, shape in enumerate(shapes)]


async def _principal(db: AsyncSession, made: Bootstrapped) -> Principal:
    key_id = (
        await db.execute(select(ApiKey.id).where(ApiKey.staff_id == made.admin.id))
    ).scalar_one()
    return Principal.of(made.admin, made.clinic, key_id)


async def _hire(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    who: tuple[str, str],
    role: Role,
    *,
    prescriber: bool = False,
) -> uuid.UUID:
    body = StaffCreate(name=who[0], email=who[1], role=role, prescriber=prescriber)
    staff = await create_staff(db, clinic_id, body)
    return staff.id


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr; yields the function that advances it by one client."""
    columns = (TextColumn("[bold]demo journeys"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task: TaskID = progress.add_task("demo", total=total)
        yield lambda: progress.advance(task)


async def fill_demo_clinic(
    db: AsyncSession, *, clinic_name: str, timezone: str, clients: int, seed: int, now: datetime
) -> Bootstrapped:
    """A new clinic, its staff and `clients` journeys; one seed (and `now`) gives one set."""
    if clients < 1:
        raise ValueError("clients must be at least 1")
    zone = ZoneInfo(timezone)
    rng = random.Random(seed)  # noqa: S311 - repeatable demo data, not a secret
    made = await bootstrap_clinic(
        db,
        name=clinic_name,
        timezone=timezone,
        admin_email="admin@example.com",
        admin_name="Dr. Lena Hart, MD (medical director)",
        now=now,
        prescriber=True,  # the medical director, who writes the orders the demo's doses carry
    )
    clinic_id = made.clinic.id
    prescriber = await _hire(db, clinic_id, PRESCRIBER, Role.clinician, prescriber=True)
    therapists = [await _hire(db, clinic_id, who, Role.clinician) for who in THERAPISTS]
    await _hire(db, clinic_id, SCHEDULER, Role.scheduler)
    demo = _Demo(db, await _principal(db, made), now, rng, zone, prescriber, therapists)
    people = names(rng, clients)
    with _progress(clients) as advance:
        for (journey, variant), (first, last) in zip(_plan(clients), people, strict=True):
            client = await demo.new_client(first, last)
            await journey(demo, client, variant)
            await measure(db, demo.admin, client, rng, now, shows=SHOWCASE.get((journey, variant)))
            advance()
    return made
