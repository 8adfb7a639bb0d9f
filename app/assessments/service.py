"""Recording assessments and reading a client's trajectories.

A positive PHQ-9 item 9 opens a safety review (app/safety_reviews/, whose open reviews the
journey alert follows) and emits `assessment.self_harm_flag`, all in the recording transaction;
the events name the client and the assessment, never a score (minimum necessary).
"""

import uuid
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments import measures, repository, scoring
from app.assessments.models import Assessment, AssessmentSource
from app.assessments.schemas import (
    AssessmentCreate,
    MeasuresRead,
    Phq9TrajectoryRead,
    PointRead,
    Trajectories,
    TrajectoryRead,
)
from app.audit.trail import note_change, note_read
from app.auth.principal import Principal
from app.clients import repository as clients_repository
from app.clients.models import Client
from app.clinics.snapshot import ClinicSettings
from app.common.pagination import PageParams
from app.errors import NotFound, ValidationFailed, invalid_reference
from app.events.catalogue import EventType
from app.events.service import emit
from app.safety_reviews.service import open_for_assessment
from app.sessions import repository as sessions_repository


class ClientNotFound(NotFound):
    title = "Client not found"


async def client_of_clinic(db: AsyncSession, principal: Principal, client_id: uuid.UUID) -> Client:
    client = await clients_repository.client_row(db, principal.clinic_id, client_id)
    if client is None:
        raise ClientNotFound(f"No client {client_id} in this clinic.")
    return client


def _scored(body: AssessmentCreate, cutoff: int) -> scoring.Score:
    try:
        return scoring.score(body.instrument, body.item_scores, pcl5_cutoff=cutoff)
    except scoring.ItemScoresInvalid as exc:
        loc: tuple[str | int, ...] = ("body", "item_scores")
        if exc.item_index is not None:
            loc = (*loc, exc.item_index)
        raise ValidationFailed(str(exc), loc=loc, kind="invalid_item_scores") from exc


async def record(
    db: AsyncSession, principal: Principal, client: Client, body: AssessmentCreate, now: datetime
) -> Assessment:
    """Score and store one administration; a positive self-harm item opens a safety review."""
    if body.administered_at > now:
        raise ValidationFailed(
            "administered_at cannot be in the future.",
            loc=("body", "administered_at"),
            kind="in_the_future",
        )
    if body.session_id is not None:
        session = await sessions_repository.get(db, principal.clinic_id, body.session_id)
        if session is None or session.client_id != client.id:
            raise invalid_reference("session_id", "a session of this client")
    return await store(
        db,
        principal.clinic,
        client,
        body,
        recorded_by=principal.staff_id,
        source=AssessmentSource.staff,
        now=now,
    )


async def store(
    db: AsyncSession,
    clinic: ClinicSettings,
    client: Client,
    body: AssessmentCreate,
    *,
    recorded_by: uuid.UUID,
    source: AssessmentSource,
    now: datetime,
) -> Assessment:
    """Score and store an administration whose time and session are already checked: staff
    entry (`record`) and a client's self-report link both come through here, so both are
    scored alike and a positive self-harm item opens a safety review either way."""
    score = _scored(body, clinic.pcl5_cutoff)
    assessment = Assessment(
        clinic_id=clinic.id,
        client_id=client.id,
        session_id=body.session_id,
        instrument=score.instrument.value,
        administered_at=body.administered_at,
        item_scores=list(body.item_scores),
        total=score.total,
        severity=score.severity.value if score.severity else None,
        probable_ptsd=score.probable_ptsd,
        provisional_dsm5=score.provisional_dsm5,
        self_harm_item_positive=score.self_harm_item_positive,
        recorded_by=recorded_by,
        source=source.value,
        created_at=now,
    )
    db.add(assessment)
    await db.flush()
    note_change("assessment", assessment.id, sorted(body.model_fields_set))
    await open_for_assessment(db, assessment, now)
    if score.self_harm_item_positive:
        data = {
            "assessment_id": str(assessment.id),
            "client_id": str(client.id),
            "instrument": score.instrument.value,
            "administered_at": body.administered_at.isoformat().replace("+00:00", "Z"),
        }
        await emit(db, clinic.id, EventType.assessment_self_harm_flag, data, now)
    return assessment


class AssessmentNotFound(NotFound):
    title = "Assessment not found"


async def get_one(
    db: AsyncSession, principal: Principal, client: Client, assessment_id: uuid.UUID
) -> Assessment:
    assessment = await repository.get(db, principal.clinic_id, client.id, assessment_id)
    if assessment is None:
        raise AssessmentNotFound(f"No assessment {assessment_id} for this client.")
    return assessment


async def list_page(
    db: AsyncSession,
    principal: Principal,
    client: Client,
    page: PageParams,
    instrument: scoring.Instrument | None,
) -> Sequence[Assessment]:
    kind = instrument.value if instrument is not None else None
    return await repository.list_page(db, principal.clinic_id, client.id, page, kind)


def _point(point: scoring.Point) -> PointRead:
    return PointRead.model_validate(asdict(point))


def _line(line: scoring.Trajectory) -> dict[str, object]:
    """The trajectory's fields for its read model (points as read models)."""
    values = {f.name: getattr(line, f.name) for f in fields(line) if f.name != "instrument"}
    values["baseline"] = _point(line.baseline) if line.baseline else None
    values["latest"] = _point(line.latest) if line.latest else None
    values["points"] = [_point(p) for p in line.points]
    return values


async def trajectories(
    db: AsyncSession, principal: Principal, client: Client, now: datetime
) -> Trajectories:
    """Every instrument's snapshot values for the client, and the PHQ-9's twelve-month measures
    as of `now`."""
    found = await repository.for_client(db, principal.clinic_id, client.id)
    lines: dict[scoring.Instrument, scoring.Trajectory] = {}
    for instrument in scoring.Instrument:
        points = [
            scoring.Point(
                administered_at=a.administered_at,
                total=a.total,
                severity=scoring.Severity(a.severity) if a.severity else None,
                assessment_id=a.id,
                session_id=a.session_id,
            )
            for a in found
            if a.instrument == instrument.value
        ]
        lines[instrument] = scoring.trajectory(
            instrument, points, pcl5_cutoff=principal.clinic.pcl5_cutoff
        )
    phq9 = lines[scoring.Instrument.phq9]
    twelve_months = measures.twelve_month_measures(phq9.points, now)
    for assessment in found:
        note_read("assessment", assessment.id)
    return Trajectories(
        phq9=Phq9TrajectoryRead(
            **_line(phq9), measures=MeasuresRead.model_validate(asdict(twelve_months))
        ),
        gad7=TrajectoryRead(**_line(lines[scoring.Instrument.gad7])),
        pcl5=TrajectoryRead(**_line(lines[scoring.Instrument.pcl5])),
    )
