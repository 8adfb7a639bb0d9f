"""Random journeys and an oracle for them, for tests/windows/test_sql_agrees_with_rules.py.

The oracle is written here from the rule in docs/architecture.md, on integer microseconds;
the generator makes sessions that may overlap, tie, or link to cancelled doses, inserted
straight into the table.
"""

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from app.db import begin_write
from app.sessions.enums import Location, Route, SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from tests.support.factories import Clinic

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
US_PER_S = 1_000_000
US_PER_H = 3600 * US_PER_S
ANCHORING = ("scheduled", "completed")
STATUS_WEIGHTS = {"scheduled": 35, "completed": 35, "cancelled": 15, "no_show": 15}


def us(value: datetime) -> int:
    return (value - EPOCH) // US


def instant(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def z(micros: int) -> str:
    return instant(micros).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Policy:
    opens_s: int
    closes_s: Mapping[str, int]

    def as_patch(self) -> dict[str, Any]:
        return {
            "opens_after_hours": self.opens_s / 3600,
            "closes_after_hours": {route: s / 3600 for route, s in self.closes_s.items()},
        }


@dataclass
class Session:
    id: uuid.UUID
    kind: str
    status: str
    starts: int
    ends: int
    route: str | None = None
    ended: int | None = None
    link: uuid.UUID | None = None

    @property
    def anchors(self) -> bool:
        return self.status in ANCHORING

    @property
    def anchor_time(self) -> int:
        return self.ended if self.ended is not None else self.ends


@dataclass
class Journey:
    client_id: str
    sessions: list[Session] = field(default_factory=list)

    def of(self, kind: str) -> list[Session]:
        return [s for s in self.sessions if s.kind == kind]


# --- The oracle: docs/architecture.md, "The window rule", on integer microseconds ---------------


def bounds(dose: Session, policy: Policy) -> tuple[int, int]:
    assert dose.route is not None
    anchor = dose.anchor_time
    return anchor + policy.opens_s * US_PER_S, anchor + policy.closes_s[dose.route] * US_PER_S


def anchor_of(integration: Session, journey: Journey) -> tuple[Session | None, bool]:
    anchoring = [d for d in journey.of("ketamine") if d.anchors]
    for dose in anchoring:
        if dose.id == integration.link:
            return dose, True
    earlier = [d for d in anchoring if d.starts <= integration.starts]
    if not earlier:
        return None, False
    return max(earlier, key=lambda d: (d.starts, d.id)), False


def expected_window(integration: Session, journey: Journey, policy: Policy) -> dict[str, Any]:
    anchor, linked = anchor_of(integration, journey)
    if anchor is None:
        return {
            "status": "no_ketamine_session",
            "ketamine_session_id": None,
            "linked": False,
            "hours_after_dose": None,
            "opens_at": None,
            "closes_at": None,
        }
    opens, closes = bounds(anchor, policy)
    starts = integration.starts
    status = (
        "before_window" if starts < opens else "in_window" if starts <= closes else "after_window"
    )
    return {
        "status": status,
        "ketamine_session_id": str(anchor.id),
        "linked": linked,
        "hours_after_dose": round((starts - anchor.anchor_time) / US_PER_H, 2),
        "opens_at": z(opens),
        "closes_at": z(closes),
    }


def expected_integration(
    dose: Session, journey: Journey, policy: Policy, now: int
) -> dict[str, Any]:
    if not dose.anchors:
        return {
            "status": "not_applicable",
            "window_opens_at": None,
            "window_closes_at": None,
            "integration_session_ids": [],
        }
    opens, closes = bounds(dose, policy)
    anchored = [
        (i, expected_window(i, journey, policy)) for i in journey.of("integration") if i.anchors
    ]
    mine = [(i, w) for i, w in anchored if w["ketamine_session_id"] == str(dose.id)]
    if any(w["status"] == "in_window" for _, w in mine):
        status = "booked_in_window"
    elif now <= closes:
        status = "unbooked"
    else:
        status = "missed"
    return {
        "status": status,
        "window_opens_at": z(opens),
        "window_closes_at": z(closes),
        "integration_session_ids": sorted(str(i.id) for i, _ in mine),
    }


def expected_stage(journey: Journey, policy: Policy, now: int) -> str:
    if not any(s.anchors for s in journey.sessions):
        return "intake"
    doses = journey.of("ketamine")
    completed = [d for d in doses if d.status == "completed"]
    if not completed:
        return "preparation"
    latest = max(completed, key=lambda d: (d.starts, d.id))
    if any(d.status == "scheduled" for d in doses) or bounds(latest, policy)[1] >= now:
        return "active_treatment"
    return "maintenance"


def expected_alerts(journey: Journey, policy: Policy, now: int) -> set[tuple[str, str]]:
    alerts: set[tuple[str, str]] = set()
    for dose in journey.of("ketamine"):
        status = expected_integration(dose, journey, policy, now)["status"]
        if status in ("unbooked", "missed"):
            alerts.add((f"integration_{status}", str(dose.id)))
    for integration in journey.of("integration"):
        window = expected_window(integration, journey, policy)
        if integration.status == "scheduled" and window["status"] != "in_window":
            alerts.add(("integration_outside_window", str(integration.id)))
    return alerts


# --- The generator ------------------------------------------------------------------------------


def random_policy(rng: random.Random) -> Policy:
    opens = rng.choice([0, 0, 3600, rng.randint(0, 48 * 3600)])
    closes = {
        route.value: opens + rng.choice([72 * 3600, 168 * 3600, rng.randint(1, 200 * 3600)])
        for route in Route
    }
    return Policy(opens, closes)


def status(rng: random.Random, inactive: bool = False) -> str:
    if inactive:
        return rng.choice(["cancelled", "no_show"])
    return rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]


def random_instant(rng: random.Random, low: int, high: int) -> int:
    """Microsecond resolution: often on a whole second, sometimes just below one."""
    value = rng.randint(low, high)
    draw = rng.random()
    if draw < 0.5:
        return value
    if draw < 0.85:
        return value - value % US_PER_S
    return value - value % US_PER_S + US_PER_S - rng.randint(1, 1000)


def random_journey(rng: random.Random, client_id: str, base: int, policy: Policy) -> Journey:
    journey = Journey(client_id)
    day = 24 * US_PER_H
    inactive = rng.random() < 0.15  # everything cancelled or missed: still at intake
    for _ in range(rng.choice([0, 1, 1, 2])):
        starts = random_instant(rng, base - 14 * day, base + 7 * day)
        journey.sessions.append(
            Session(uuid.uuid4(), "preparation", status(rng, inactive), starts, starts + US_PER_H)
        )
    for _ in range(rng.choice([0, 1, 2, 2, 3, 4])):
        doses = journey.of("ketamine")
        if doses and rng.random() < 0.15:
            starts = rng.choice(doses).starts  # a tie on starts_at, broken by id
        else:
            starts = random_instant(rng, base, base + 21 * day)
        ends = starts + random_instant(rng, US_PER_S, 12 * US_PER_H)
        dose_status = status(rng, inactive)
        ended = None
        if rng.random() < (0.6 if dose_status == "completed" else 0.05):
            ended = starts + random_instant(rng, 1, 12 * US_PER_H)
        route = rng.choice(list(Route)).value
        journey.sessions.append(
            Session(uuid.uuid4(), "ketamine", dose_status, starts, ends, route, ended)
        )
    doses = journey.of("ketamine")
    for _ in range(rng.choice([0, 1, 2, 3, 4, 6])):
        if doses and rng.random() < 0.65:
            dose = rng.choice(doses)
            opens, closes = bounds(dose, policy)
            edge = rng.choice([opens, closes, dose.starts, dose.anchor_time])
            starts = edge + rng.choice([0, 0, 0, 1, -1, US_PER_S, -US_PER_S])
            if rng.random() < 0.2:
                starts = random_instant(rng, opens - day, closes + day)
        else:
            starts = random_instant(rng, base - 2 * day, base + 30 * day)
        link = rng.choice(doses).id if doses and rng.random() < 0.4 else None
        journey.sessions.append(
            Session(
                uuid.uuid4(),
                "integration",
                status(rng, inactive),
                starts,
                starts + random_instant(rng, US_PER_S, 2 * US_PER_H),
                link=link,
            )
        )
    return journey


def random_now(rng: random.Random, journeys: list[Journey], policy: Policy, base: int) -> int:
    doses = [d for j in journeys for d in j.of("ketamine") if d.anchors]
    if doses and rng.random() < 0.5:
        closes = bounds(rng.choice(doses), policy)[1]
        return closes + rng.choice([0, 0, 1, -1, US_PER_S])
    return random_instant(rng, base - 5 * 24 * US_PER_H, base + 40 * 24 * US_PER_H)


def describe(journey: Journey, policy: Policy, now: int) -> str:
    lines = [f"policy={policy} now={z(now)} client={journey.client_id}"]
    for s in sorted(journey.sessions, key=lambda s: (s.starts, s.id)):
        lines.append(
            f"  {s.kind:11} {s.status:9} {z(s.starts)} .. {z(s.ends)} id={s.id}"
            f" route={s.route} ended={s.ended and z(s.ended)} link={s.link}"
        )
    return "\n".join(lines)


# --- Talking to the app -------------------------------------------------------------------------


async def insert(app: FastAPI, clinic: Clinic, journey: Journey) -> None:
    """Rows straight into the table: no overlap or preparation checks, any status."""

    def row(s: Session) -> ClinicalSession:
        return ClinicalSession(
            id=s.id,
            clinic_id=uuid.UUID(clinic.id),
            client_id=uuid.UUID(journey.client_id),
            clinician_id=uuid.UUID(clinic.admin_id),
            kind=SessionKind(s.kind),
            status=SessionStatus(s.status),
            starts_at=instant(s.starts),
            ends_at=instant(s.ends),
            ended_at=instant(s.ended) if s.ended is not None else None,
            location=Location.in_person,
            route=Route(s.route) if s.route is not None else None,
            ketamine_session_id=s.link,
            topics=[] if s.kind == "preparation" else None,
        )

    async with app.state.sessionmaker() as db:
        await begin_write(db)
        for kind in ("preparation", "ketamine", "integration"):  # doses before their links
            db.add_all([row(s) for s in journey.of(kind)])
            await db.flush()
        await db.commit()


async def walk(clinic: Clinic, url: str, limit: int = 200, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query: dict[str, str | int] = {**params, "limit": limit}
        if cursor is not None:
            query["cursor"] = cursor
        page = await clinic.ok("GET", url, params=query)
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def filtered(clinic: Clinic, url: str, name: str, values: tuple[str, ...]) -> dict[str, str]:
    """id -> the one filter value whose list holds it (a row listed twice fails here).

    Small pages, so keyset pagination runs over the filter's join and over ties on starts_at.
    """
    placed: dict[str, str] = {}
    for value in values:
        for item in await walk(clinic, url, 16, **{name: value}):
            assert item["id"] not in placed, (item["id"], placed[item["id"]], value)
            placed[item["id"]] = value
    return placed


def evaluation(item: dict[str, Any]) -> dict[str, Any]:
    """The kind-specific evaluation of a session as the API shows it (ids sorted)."""
    if item["kind"] == "ketamine":
        result = dict(item["integration"])
        result["integration_session_ids"] = sorted(result["integration_session_ids"])
        return result
    window: dict[str, Any] = item["window"]
    return window
