"""The clinical side of the demo: dosing records with vitals, and measures that improve.

Written through the same services as the API, so every value passes the API's validation.
A few records are meant to raise flags (a high pre-dose pressure, a short esketamine
monitoring that leaves the REMS record incomplete, a REMS form still due, a positive PHQ-9
item 9), and a few PHQ-9 histories show the twelve-month measures (app.demo.outcomes); the
other esketamine records are REMS-complete.
"""

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.schemas import AssessmentCreate
from app.assessments.scoring import ITEM_COUNT, ITEM_MAX, Instrument
from app.assessments.service import record
from app.auth.principal import Principal
from app.clients.models import Client, PresentingConcern
from app.demo.outcomes import Showcase, first_course, series_totals
from app.sessions.dosing.schemas import ConcomitantMedications, Medication
from app.sessions.enums import Route, SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from app.sessions.schemas import KetamineSessionUpdate
from app.sessions.service import update_session

MINUTE = timedelta(minutes=1)
REMS_SUBMITTED_AFTER = timedelta(days=4)  # older esketamine forms are in; the latest is due


def _vital(label: str, at: datetime, systolic: int, diastolic: int, rate: int, spo2: int) -> Any:
    return {
        "taken_at": at,
        "label": label,
        "systolic": systolic,
        "diastolic": diastolic,
        "heart_rate": rate,
        "spo2": spo2,
    }


NO_CONCOMITANT_MEDICATIONS = ConcomitantMedications(
    benzodiazepines=False,
    non_benzodiazepine_sedative_hypnotics=False,
    psychostimulants=False,
    maois=False,
)


def _rems_record(fields: dict[str, Any]) -> dict[str, Any]:
    """The rest of an esketamine dose's REMS monitoring record: ready to leave shortly before
    the discharge, and the concomitant-medication questions answered."""
    dosed, discharged = fields["dosed_at"], fields["discharged_at"]
    return {
        "ready_to_leave_at": max(discharged - 5 * MINUTE, dosed + (discharged - dosed) / 2),
        "concomitant_medications": NO_CONCOMITANT_MEDICATIONS,
    }


def _record(
    dose: ClinicalSession, rng: random.Random, now: datetime, monitoring: timedelta
) -> dict[str, Any]:
    esketamine = dose.route is Route.intranasal
    end = dose.ended_at or dose.ends_at
    systolic, diastolic = rng.randint(112, 136), rng.randint(70, 85)
    if rng.random() < 0.08:  # elevated at check-in, dosed after a recheck
        systolic, diastolic = 146, 93
    rate, spo2 = rng.randint(60, 82), rng.randint(97, 99)
    vitals = [
        _vital("pre_dose", dose.starts_at - 10 * MINUTE, systolic, diastolic, rate, spo2),
        _vital(
            "peak",
            dose.starts_at + 40 * MINUTE,
            systolic + rng.randint(8, 22),
            diastolic + rng.randint(4, 10),
            rate + rng.randint(4, 14),
            spo2 - rng.randint(0, 2),
        ),
        _vital("discharge", end, systolic + 2, diastolic + 1, rate + 2, spo2),
    ]
    discharged = min(end + 10 * MINUTE, now)  # a dose just completed is discharged now
    if esketamine and rng.random() < 0.15:  # left before the two REMS-required hours
        discharged = dose.starts_at + 105 * MINUTE
    fields: dict[str, Any] = {
        "medication": Medication.esketamine if esketamine else Medication.ketamine,
        "lot_number": f"{'SPR' if esketamine else 'KET'}-{rng.randint(10000, 99999)}",
        "vitals": vitals,
        "dosed_at": dose.starts_at + 5 * MINUTE,
        "discharged_at": discharged,
        "transport_confirmed": True,
    }
    if rng.random() < 0.25:
        onset = dose.starts_at + rng.randint(15, 50) * MINUTE
        fields["adverse_events"] = [{"kind": "nausea", "severity": "mild", "onset_at": onset}]
    if esketamine:
        fields |= _rems_record(fields)
        # The form goes in only for a REMS-complete record: a dose discharged under the
        # minimum keeps its form due and its record flagged.
        complete = discharged - fields["dosed_at"] >= monitoring
        if complete and dose.starts_at < now - REMS_SUBMITTED_AFTER:
            fields["rems_form_submitted_at"] = dose.starts_at + timedelta(days=2)
    return fields


async def record_dose(
    db: AsyncSession, admin: Principal, dose: ClinicalSession, rng: random.Random, now: datetime
) -> None:
    """Fill a dose's record: the full one once completed, transport ahead of a future one."""
    if dose.status is SessionStatus.completed:
        fields = _record(dose, rng, now, admin.dosing.esketamine_min_monitoring)
    elif dose.status is SessionStatus.scheduled:
        fields = {"transport_confirmed": rng.random() < 0.6}
    else:
        return
    body = KetamineSessionUpdate.model_validate(fields)
    await update_session(db, admin, dose, body, now)


def _items(instrument: Instrument, total: int, rng: random.Random, *, item9: int = 0) -> list[int]:
    """Item scores adding up to `total`, spread at random within each item's range."""
    count, ceiling = ITEM_COUNT[instrument], ITEM_MAX[instrument]
    scores = [0] * count
    fixed = {count - 1: item9} if instrument is Instrument.phq9 else {}
    for index, value in fixed.items():
        scores[index] = value
    free = [i for i in range(count) if i not in fixed]
    remaining = min(total - sum(fixed.values()), ceiling * len(free))
    while remaining > 0:
        index = rng.choice([i for i in free if scores[i] < ceiling])
        scores[index] += 1
        remaining -= 1
    return scores


async def measure(
    db: AsyncSession,
    admin: Principal,
    client: Client,
    rng: random.Random,
    now: datetime,
    *,
    shows: Showcase | None = None,
) -> None:
    """PHQ-9 and GAD-7 (and PCL-5 for trauma) at baseline and after each integration session,
    improving over the course, for a client who has been dosed; first the PHQ-9s carried over
    from an earlier course, for the clients that show the twelve-month measures."""
    for days_ago, total in first_course(shows):
        phq9 = Instrument.phq9
        at = now - timedelta(days=days_ago)
        body = AssessmentCreate(
            instrument=phq9, administered_at=at, item_scores=_items(phq9, total, rng)
        )
        await record(db, admin, client, body, now)
    sessions = (
        await db.execute(
            select(ClinicalSession)
            .where(ClinicalSession.client_id == client.id)
            .order_by(ClinicalSession.starts_at)
        )
    ).scalars()
    done = [s for s in sessions if s.status is SessionStatus.completed]
    if not any(s.kind is SessionKind.ketamine for s in done):
        return
    moments = [s for s in done if s.kind is SessionKind.preparation][:1]
    moments += [s for s in done if s.kind is SessionKind.integration]
    instruments = [Instrument.phq9, Instrument.gad7]
    if PresentingConcern.trauma.value in client.presenting_concerns:
        instruments.append(Instrument.pcl5)
    for instrument in instruments:
        await _series(db, admin, client, instrument, moments, rng, now, shows=shows)


async def _series(
    db: AsyncSession,
    admin: Principal,
    client: Client,
    instrument: Instrument,
    moments: Sequence[ClinicalSession],
    rng: random.Random,
    now: datetime,
    *,
    shows: Showcase | None,
) -> None:
    top = ITEM_COUNT[instrument] * ITEM_MAX[instrument]
    total = rng.randint(int(top * 0.55), int(top * 0.8))
    fixed = series_totals(shows, instrument, total, len(moments))
    for n, session in enumerate(moments):
        last = n == len(moments) - 1
        if fixed is not None:
            total = fixed[n]
        self_harm = shows is Showcase.self_harm and last and instrument is Instrument.phq9
        body = AssessmentCreate(
            instrument=instrument,
            administered_at=min(session.starts_at + 45 * MINUTE, now),
            item_scores=_items(instrument, total, rng, item9=1 if self_harm else 0),
            session_id=session.id,
        )
        await record(db, admin, client, body, now)
        total = max(2, total - rng.randint(1, max(2, top // 12)))
