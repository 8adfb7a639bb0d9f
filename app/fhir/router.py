"""/fhir/R4: a read-only FHIR R4 view of clients, sessions, vitals, scores and consents.

Errors are OperationOutcome (app.fhir.outcome). Searches need `patient`; a patient outside the
caller's clinic matches nothing (an empty Bundle), and unknown parameters are ignored, as FHIR
servers do. Every record a response exposes is noted in the audit trail.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.auth.dependencies import AnyStaff, Clinical
from app.auth.principal import Principal
from app.clients.models import Client
from app.clock import Now
from app.common.urls import public_url_of
from app.db import DbSession
from app.fhir import service
from app.fhir.bundle import searchset
from app.fhir.capability import capability_statement
from app.fhir.common import Resource
from app.fhir.exceptions import SearchParameterMissing
from app.fhir.http import ERRORS, FhirResponse, base_url, documented
from app.unit_of_work import UnitOfWorkRoute

PREFIX = "/fhir/R4"
PatientParam = Annotated[
    str | None,
    Query(
        description="Required: the client's id, bare or as `Patient/<id>`. A patient outside "
        "your clinic matches nothing; without the parameter the search is a 400.",
        examples=["Patient/0b7c4f9e-2d1a-4c55-9d0e-6f1f3c2b8a10"],
    ),
]
CategoryParam = Annotated[
    str | None,
    Query(
        description="`vital-signs` or `survey` (also `system|code`; comma-separated = either).",
        examples=["vital-signs"],
    ),
]
ConsentStatusParam = Annotated[
    str | None,
    Query(
        description="`active` or `inactive` (FHIR consent-state-codes: a withdrawn or expired "
        "consent is `inactive`), also as `system|code`; comma-separated values match either.",
        examples=["active"],
    ),
]

# The CapabilityStatement is public, touches no database and exposes nobody: no unit of work.
metadata_router = APIRouter(prefix=PREFIX, tags=["fhir"])
router = APIRouter(prefix=PREFIX, tags=["fhir"], route_class=UnitOfWorkRoute, responses=ERRORS)
routers = (metadata_router, router)


async def _searched(db: DbSession, principal: Principal, patient: str | None) -> Client | None:
    if patient is None:
        raise SearchParameterMissing("Search by patient: add ?patient=<id>.")
    return await service.find_client(db, principal, service.patient_id(patient))


def _bundle(request: Request, now: datetime, resources: list[Resource] | None) -> FhirResponse:
    # No self link for a patient not in this clinic: it would only echo the caller's guess.
    self_url = None if resources is None else public_url_of(request)
    return FhirResponse(searchset(base_url(request), resources or [], now, self_url))


@metadata_router.get(
    "/metadata",
    response_class=FhirResponse,
    summary="Get the FHIR CapabilityStatement",
    responses=documented("CapabilityStatement", "What this FHIR server serves"),
)
async def get_fhir_capability_statement(request: Request) -> FhirResponse:
    """The server's CapabilityStatement: FHIR 4.0.1 in JSON, its resources, searches and
    security. Public, like every FHIR server's."""
    statement = capability_statement(base_url(request), str(request.app.version))
    return FhirResponse(statement)


@router.get(
    "/Patient/{patient_id}",
    response_class=FhirResponse,
    summary="Get a client as a FHIR Patient",
    responses=documented("Patient", "The client"),
)
async def get_fhir_patient(patient_id: str, principal: AnyStaff, db: DbSession) -> FhirResponse:
    """A client as a Patient (any staff role); a scheduler's copy has no birthDate."""
    client = await service.client_or_404(db, principal, patient_id)
    resource = await service.patient(db, principal, client)
    return FhirResponse(resource, headers={"ETag": f'W/"{client.version}"'})


@router.get(
    "/Patient/{patient_id}/$everything",
    response_class=FhirResponse,
    summary="Get everything about a client as a FHIR Bundle",
    responses=documented(
        "Bundle", "A searchset: Patient, Appointments, Encounters, Observations, Consents"
    ),
)
async def get_fhir_patient_everything(
    request: Request, patient_id: str, principal: Clinical, db: DbSession, now: Now
) -> FhirResponse:
    """The Patient with its Appointments, Encounters, Observations and Consents in one Bundle
    (clinical roles)."""
    client = await service.client_or_404(db, principal, patient_id)
    return _bundle(request, now, await service.everything(db, principal, client, now))


@router.get(
    "/Appointment",
    response_class=FhirResponse,
    summary="List a client's sessions as FHIR Appointments",
    responses=documented("Bundle", "A searchset of Appointments"),
)
async def list_fhir_appointments(
    request: Request, principal: AnyStaff, db: DbSession, now: Now, patient: PatientParam = None
) -> FhirResponse:
    """Every session of the client, any kind and status, as an Appointment (any staff role);
    integration sessions carry their window status in an extension."""
    client = await _searched(db, principal, patient)
    found = None if client is None else await service.appointment_search(db, principal, client, now)
    return _bundle(request, now, found)


@router.get(
    "/Encounter",
    response_class=FhirResponse,
    summary="List a client's completed sessions as FHIR Encounters",
    responses=documented("Bundle", "A searchset of Encounters"),
)
async def list_fhir_encounters(
    request: Request, principal: Clinical, db: DbSession, now: Now, patient: PatientParam = None
) -> FhirResponse:
    """The client's completed sessions as finished Encounters (clinical roles)."""
    client = await _searched(db, principal, patient)
    found = None if client is None else await service.encounter_search(db, principal, client)
    return _bundle(request, now, found)


@router.get(
    "/Observation",
    response_class=FhirResponse,
    summary="List a client's vitals and scores as FHIR Observations",
    responses=documented("Bundle", "A searchset of Observations"),
)
async def list_fhir_observations(
    request: Request,
    principal: Clinical,
    db: DbSession,
    now: Now,
    patient: PatientParam = None,
    category: CategoryParam = None,
) -> FhirResponse:
    """Dosing-session vitals (LOINC vital signs) and PHQ-9/GAD-7 totals (survey) of the
    client, oldest first (clinical roles)."""
    client = await _searched(db, principal, patient)
    codes = service.token_codes(category)
    found = (
        None if client is None else await service.observation_search(db, principal, client, codes)
    )
    return _bundle(request, now, found)


@router.get(
    "/Consent/{consent_id}",
    response_class=FhirResponse,
    summary="Get a consent as a FHIR Consent",
    responses=documented("Consent", "The consent"),
)
async def get_fhir_consent(
    consent_id: str, principal: Clinical, db: DbSession, now: Now
) -> FhirResponse:
    """One consent the client signed, its status as of now (clinical roles)."""
    found = await service.consent_or_404(db, principal, consent_id)
    resource = service.consent(found, now)
    return FhirResponse(resource, headers={"ETag": f'W/"{found.version}"'})


@router.get(
    "/Consent",
    response_class=FhirResponse,
    summary="List a client's consents as FHIR Consents",
    responses=documented("Bundle", "A searchset of Consents"),
)
async def list_fhir_consents(
    request: Request,
    principal: Clinical,
    db: DbSession,
    now: Now,
    patient: PatientParam = None,
    status: ConsentStatusParam = None,
) -> FhirResponse:
    """The client's consents, withdrawn and expired ones included (as `inactive`), in the order
    signed (clinical roles)."""
    client = await _searched(db, principal, patient)
    codes = service.token_codes(status)
    found = (
        None if client is None else await service.consent_search(db, principal, client, now, codes)
    )
    return _bundle(request, now, found)
