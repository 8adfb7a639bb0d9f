"""/fhir/R4: a read-only FHIR R4 view of clients, sessions, vitals, scores, consents and staff.

Errors are OperationOutcome (app.fhir.outcome). Searches take the parameters of
app.fhir.search.SEARCH_PARAMS (the same table feeds the CapabilityStatement and the OpenAPI);
unknown ones are ignored and left out of the `self` link, or a 400 under
`Prefer: handling=strict`. Every record a response exposes is noted in the audit trail.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from app.auth.dependencies import AnyStaff, Clinical
from app.auth.principal import Principal
from app.clock import Now
from app.common.urls import public_url_of
from app.db import DbSession
from app.fhir import search as fhir_search
from app.fhir.bundle import searchset
from app.fhir.capability import capability_statement
from app.fhir.http import SEARCH_ERRORS, FhirResponse, base_url, documented
from app.fhir.service import reads, records, searches
from app.unit_of_work import UnitOfWorkRoute

PREFIX = "/fhir/R4"
PreferHeader = Annotated[
    str | None,
    Header(
        description="`handling=strict` makes an unknown search parameter a 400 instead of "
        "being ignored.",
        examples=["handling=strict"],
    ),
]

# The CapabilityStatement is public, touches no database and exposes nobody: no unit of work.
metadata_router = APIRouter(prefix=PREFIX, tags=["fhir"])
router = APIRouter(prefix=PREFIX, tags=["fhir"], route_class=UnitOfWorkRoute)
routers = (metadata_router, router)


def _parameter(name: str, kind: str, doc: str, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": f"FHIR {kind} search parameter. {doc}",
        "schema": {"type": "string"},
    }


def search_parameters(resource_type: str) -> dict[str, Any]:
    """The OpenAPI query parameters of a search route, from SEARCH_PARAMS."""
    own = [
        _parameter(name, kind, doc)
        for name, (kind, doc) in fhir_search.SEARCH_PARAMS[resource_type].items()
    ]
    paging = [
        {
            "name": "_count",
            "in": "query",
            "description": f"Page size, default {fhir_search.DEFAULT_COUNT}; above "
            f"{fhir_search.MAX_COUNT} it is capped to {fhir_search.MAX_COUNT}; 0 answers the "
            "total alone.",
            "schema": {"type": "integer", "minimum": 0},
        },
        _parameter("_summary", "special", "`count` answers the total alone."),
        _parameter(fhir_search.CURSOR, "special", "The position in a `next` link; do not build."),
    ]
    return {"parameters": own + paging}


def _search(request: Request, resource_type: str, prefer: str | None) -> fhir_search.Search:
    return fhir_search.parse(
        resource_type,
        request.query_params.multi_items(),
        strict=fhir_search.is_strict(prefer),
    )


async def _bundle(
    request: Request,
    now: datetime,
    search: fhir_search.Search,
    found: searches.Found,
    db: DbSession,
    principal: Principal,
) -> FhirResponse:
    """The page as a searchset, `self` naming only the parameters applied."""
    found = await searches.echoes(db, principal, search, found)
    if not found.echo:
        return FhirResponse(searchset(base_url(request), found.resources, now, total=found.total))
    base = f"{base_url(request)}/{search.resource_type}"
    next_url = (
        None if found.next_cursor is None else f"{base}?{search.query(cursor=found.next_cursor)}"
    )
    query = search.query()
    bundle = searchset(
        base_url(request),
        found.resources,
        now,
        f"{base}?{query}" if query else base,
        total=found.total,
        next_url=next_url,
    )
    return FhirResponse(bundle)


@metadata_router.get(
    "/metadata",
    response_class=FhirResponse,
    summary="Get the FHIR CapabilityStatement",
    responses=documented("CapabilityStatement", "What this FHIR server serves", (422, 429)),
)
async def get_fhir_capability_statement(request: Request) -> FhirResponse:
    """The server's CapabilityStatement: FHIR 4.0.1 in JSON, its resources, searches and
    security. Public, like every FHIR server's."""
    statement = capability_statement(base_url(request), str(request.app.version))
    return FhirResponse(statement)


@router.get(
    "/Patient",
    response_class=FhirResponse,
    summary="Search the clinic's clients as FHIR Patients",
    responses=documented("Bundle", "A searchset of Patients", SEARCH_ERRORS),
    openapi_extra=search_parameters("Patient"),
)
async def list_fhir_patients(
    request: Request, principal: AnyStaff, db: DbSession, now: Now, prefer: PreferHeader = None
) -> FhirResponse:
    """The clinic's clients by family then given name (any staff role; a scheduler's have no
    birthDate and a scheduler may not search by it)."""
    search = _search(request, "Patient", prefer)
    found = await searches.patients(db, principal, search)
    return await _bundle(request, now, search, found, db, principal)


@router.get(
    "/Patient/{patient_id}",
    response_class=FhirResponse,
    summary="Get a client as a FHIR Patient",
    responses=documented("Patient", "The client", (401, 404, 422, 429)),
)
async def get_fhir_patient(patient_id: str, principal: AnyStaff, db: DbSession) -> FhirResponse:
    """A client as a Patient (any staff role); a scheduler's copy has no birthDate."""
    client = await records.client_or_404(db, principal, patient_id)
    resource = await records.patient(db, principal, client)
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
    client = await records.client_or_404(db, principal, patient_id)
    found = await records.everything(db, principal, client, now)
    return FhirResponse(searchset(base_url(request), found, now, public_url_of(request)))


@router.get(
    "/Practitioner/{practitioner_id}",
    response_class=FhirResponse,
    summary="Get a staff member as a FHIR Practitioner",
    responses=documented("Practitioner", "The staff member: name and role", (401, 404, 422, 429)),
)
async def get_fhir_practitioner(
    practitioner_id: str, principal: AnyStaff, db: DbSession
) -> FhirResponse:
    """A staff member of the clinic: name and role, no contact data (any staff role)."""
    return FhirResponse(await reads.practitioner(db, principal, practitioner_id))


@router.get(
    "/Appointment",
    response_class=FhirResponse,
    summary="Search sessions as FHIR Appointments",
    responses=documented("Bundle", "A searchset of Appointments", SEARCH_ERRORS),
    openapi_extra=search_parameters("Appointment"),
)
async def list_fhir_appointments(
    request: Request, principal: AnyStaff, db: DbSession, now: Now, prefer: PreferHeader = None
) -> FhirResponse:
    """Sessions of any kind and status as Appointments, by start (any staff role); without
    `patient` the whole clinic's. Integration sessions carry their window in an extension."""
    search = _search(request, "Appointment", prefer)
    found = await searches.sessions(db, principal, search, now, encounters=False)
    return await _bundle(request, now, search, found, db, principal)


@router.get(
    "/Appointment/{appointment_id}",
    response_class=FhirResponse,
    summary="Get a session as a FHIR Appointment",
    responses=documented("Appointment", "The session", (401, 404, 422, 429)),
)
async def get_fhir_appointment(
    appointment_id: str, principal: AnyStaff, db: DbSession, now: Now
) -> FhirResponse:
    """One session of any kind and status as an Appointment (any staff role)."""
    return FhirResponse(await reads.appointment(db, principal, appointment_id, now))


@router.get(
    "/Encounter",
    response_class=FhirResponse,
    summary="Search completed sessions as FHIR Encounters",
    responses=documented("Bundle", "A searchset of Encounters", SEARCH_ERRORS),
    openapi_extra=search_parameters("Encounter"),
)
async def list_fhir_encounters(
    request: Request, principal: Clinical, db: DbSession, now: Now, prefer: PreferHeader = None
) -> FhirResponse:
    """Completed sessions as finished Encounters, by start (clinical roles); without `patient`
    the whole clinic's."""
    search = _search(request, "Encounter", prefer)
    found = await searches.sessions(db, principal, search, now, encounters=True)
    return await _bundle(request, now, search, found, db, principal)


@router.get(
    "/Encounter/{encounter_id}",
    response_class=FhirResponse,
    summary="Get a completed session as a FHIR Encounter",
    responses=documented("Encounter", "The completed session"),
)
async def get_fhir_encounter(encounter_id: str, principal: Clinical, db: DbSession) -> FhirResponse:
    """A completed session as a finished Encounter (clinical roles)."""
    return FhirResponse(await reads.encounter(db, principal, encounter_id))


@router.get(
    "/Observation",
    response_class=FhirResponse,
    summary="Search a client's vitals and scores as FHIR Observations",
    responses=documented("Bundle", "A searchset of Observations", SEARCH_ERRORS),
    openapi_extra=search_parameters("Observation"),
)
async def list_fhir_observations(
    request: Request, principal: Clinical, db: DbSession, now: Now, prefer: PreferHeader = None
) -> FhirResponse:
    """Dosing-session vitals (LOINC vital signs) and PHQ-9, GAD-7 and PCL-5 totals (survey)
    of a client, oldest first (clinical roles). `patient` or `subject` is required."""
    search = _search(request, "Observation", prefer)
    found = await searches.observations(db, principal, search)
    return await _bundle(request, now, search, found, db, principal)


@router.get(
    "/Observation/{observation_id}",
    response_class=FhirResponse,
    summary="Get a vitals reading or a score as a FHIR Observation",
    responses=documented("Observation", "The reading or score"),
)
async def get_fhir_observation(
    observation_id: str, principal: Clinical, db: DbSession
) -> FhirResponse:
    """One vitals reading or assessment total (clinical roles)."""
    return FhirResponse(await reads.observation(db, principal, observation_id))


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
    found = await records.consent_or_404(db, principal, consent_id)
    resource = records.consent(found, now)
    return FhirResponse(resource, headers={"ETag": f'W/"{found.version}"'})


@router.get(
    "/Consent",
    response_class=FhirResponse,
    summary="Search consents as FHIR Consents",
    responses=documented("Bundle", "A searchset of Consents", SEARCH_ERRORS),
    openapi_extra=search_parameters("Consent"),
)
async def list_fhir_consents(
    request: Request, principal: Clinical, db: DbSession, now: Now, prefer: PreferHeader = None
) -> FhirResponse:
    """Consents, withdrawn and expired ones included (as `inactive`), in the order signed
    (clinical roles); without `patient` the whole clinic's."""
    search = _search(request, "Consent", prefer)
    found = await searches.consents(db, principal, search, now)
    return await _bundle(request, now, search, found, db, principal)
