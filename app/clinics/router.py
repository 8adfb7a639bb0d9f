"""/api/v1/clinic: the caller's own clinic."""

from fastapi import APIRouter, Response

from app.auth.dependencies import Admin, AnyStaff
from app.clinics import service
from app.clinics.read_models import to_read
from app.clinics.schemas import ClinicRead, ClinicUpdate
from app.common.http import IfMatch, check_version, set_etag
from app.db import DbSession
from app.errors import Forbidden, Unauthorized, ValidationFailed, VersionConflict, responses_for
from app.unit_of_work import UnitOfWorkRoute

router = APIRouter(
    prefix="/api/v1/clinic",
    tags=["clinic"],
    route_class=UnitOfWorkRoute,
    responses=responses_for(Unauthorized),
)


@router.get("", response_model=ClinicRead)
async def get_clinic(principal: AnyStaff, response: Response) -> ClinicRead:
    """Your clinic, with the window policy every window is computed from."""
    set_etag(response, principal.clinic.version)
    return to_read(principal.clinic)


@router.patch(
    "",
    response_model=ClinicRead,
    responses=responses_for(Forbidden, ValidationFailed, VersionConflict),
)
async def update_clinic(
    body: ClinicUpdate,
    principal: Admin,
    db: DbSession,
    response: Response,
    if_match: IfMatch = None,
) -> ClinicRead:
    """Change the clinic's settings or window policy (admin). Windows re-evaluate at once."""
    # The entity, to change it (the principal carries a snapshot: app/clinics/snapshot.py); its
    # version is the one If-Match is checked against, and the UPDATE's guard from here on.
    clinic = await service.load(db, principal.clinic_id)
    check_version(if_match, clinic.version)
    clinic = await service.update_clinic(db, clinic, body)
    set_etag(response, clinic.version)
    return to_read(clinic)
