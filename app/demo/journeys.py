"""`kap-journey demo`: a clinic filled with realistic, repeatable KAP journeys.

Everything is written through the service layer as the clinic's admin, so the demo obeys the same
rules as the API (no overlaps, preparation, screening and consent before doses, 12 h cap). Days
are counted from `now` in the clinic's time zone and never fall on today: past sessions are
completed (or cancelled, or no-shows), future ones stay scheduled (app.demo.booking). One journey
shape per helper below; the plan cycles through them so that any set of eight or more clients
covers every stage, route and window status.
"""

import random
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey
from app.auth.principal import Principal
from app.clients.models import Client
from app.clients.service import archive_client
from app.clinics.bootstrap import Bootstrapped, bootstrap_clinic
from app.demo.booking import SCREENING, DemoClinic
from app.demo.clinical import measure
from app.demo.outcomes import Showcase
from app.demo.people import PRESCRIBER, SCHEDULER, THERAPISTS, names
from app.demo.safety import Clearance
from app.demo.self_report import self_reports
from app.sessions.enums import PreparationTopic, Route
from app.staff.models import Role
from app.staff.schemas import StaffCreate
from app.staff.service import create_staff

INTENTIONS = [PreparationTopic.intentions, PreparationTopic.set_and_setting]
SAFETY = [PreparationTopic.set_and_setting, PreparationTopic.safety_plan]
POSTPONED = (
    "Client postponed: waiting on insurance pre-authorisation",
    "Client asked to start after a work trip",
)
BP_HIGH = "Blood pressure 158/96 at check-in; infusion moved to the next day"
SICK = "Clinician out sick; client chose not to rebook"


Journey = Callable[[DemoClinic, Client, int], Awaitable[None]]


async def _intake(d: DemoClinic, client: Client, variant: int) -> None:
    """New referrals; some booked a screening and cancelled it, which keeps them at intake."""
    if variant % 2 == 0:
        await d.prep(client, d.rng.randint(2, 6), SCREENING, cancel=d.rng.choice(POSTPONED))


async def _preparation(d: DemoClinic, client: Client, variant: int) -> None:
    """Screened, second preparation booked; some already have their first dose on the calendar."""
    first = -d.rng.randint(6, 12)
    if variant % 2 == 1:  # missed the first screening, came a few days later
        await d.prep(client, first - 4, SCREENING, no_show=True)
    # The first of them still waits on the prescriber's clearance: the dose booked below would
    # fail the dosing gate, which its journey shows before the day.
    clearance = Clearance.pending if variant == 0 else Clearance.cleared
    await d.prep(client, first, SCREENING, clearance=clearance)
    second = d.rng.randint(1, 4)
    await d.prep(client, second, INTENTIONS)
    if variant % 2 == 0:
        route = d.rng.choice((Route.iv, Route.im, Route.sublingual))
        dose = await d.dose(client, second + 3, route, d.weight())
        # Booked the day before the dose and linked to it by mistake: before_window, flagged.
        await d.integrate(client, second + 2, link=dose)


async def _iv_series(d: DemoClinic, client: Client, variant: int) -> None:
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


async def _intranasal(d: DemoClinic, client: Client, variant: int) -> None:
    """Esketamine nasal spray twice a week with a telehealth integration call after most doses."""
    last = -d.rng.choice((1, 2))
    weight = d.weight()
    await d.prep(client, last - 21, SCREENING, esketamine=True)
    await d.prep(client, last - 17, SAFETY)
    for n, day in enumerate([last - 14, last - 11, last - 7, last - 4, last, last + 3, last + 7]):
        dose = await d.dose(client, day, Route.intranasal, weight)
        if n == 6 or (n == 1 and variant % 2 == 1):
            continue  # the next dose is still unbooked; one window was missed
        after = (1 if last == -1 else -1) if day == last else day + 1
        await d.integrate(client, after, link=dose if n % 3 == 0 else None)


async def _sublingual(d: DemoClinic, client: Client, variant: int) -> None:
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


async def _maintenance_im(d: DemoClinic, client: Client, variant: int) -> None:
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


async def _maintenance_oral(d: DemoClinic, client: Client, variant: int) -> None:
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


async def _archived(d: DemoClinic, client: Client, variant: int) -> None:
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


# The client who answered a self-report link (app.demo.self_report).
SELF_REPORTER: tuple[Journey, int] = (_preparation, 0)


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
    demo = DemoClinic(db, await _principal(db, made), now, rng, zone, prescriber, therapists)
    people = names(rng, clients)
    with _progress(clients) as advance:
        for (journey, variant), (first, last) in zip(_plan(clients), people, strict=True):
            client = await demo.new_client(first, last)
            await journey(demo, client, variant)
            await measure(db, demo.admin, client, rng, now, shows=SHOWCASE.get((journey, variant)))
            if (journey, variant) == SELF_REPORTER:
                await self_reports(db, demo.admin, client, now)
            advance()
    return made
