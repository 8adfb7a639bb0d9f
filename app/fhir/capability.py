"""The CapabilityStatement: what this FHIR server can do, for clients to discover."""

from app.fhir.common import Resource
from app.fhir.search import DEFAULT_COUNT, MAX_COUNT, SEARCH_PARAMS

FHIR_VERSION = "4.0.1"
# When this statement last changed (CapabilityStatement.date); bump it with the capabilities.
STATEMENT_DATE = "2026-12-04"
SECURITY = {
    "service": [{"text": "Bearer"}],
    "description": "Send `Authorization: Bearer <API key>` (or the identity provider's access "
    "token where single sign-on is configured). A missing or bad token is a 401 with "
    "`WWW-Authenticate: Bearer`. Any staff role reads Patient, Appointment and Practitioner (a "
    "scheduler's Patient has no birthDate); Encounter, Observation, Consent and $everything need a "
    "clinical role. "
    "Only your clinic's patients exist for you. Every read is recorded in the audit trail.",
}


READS = ("Patient", "Appointment", "Encounter", "Observation", "Consent", "Practitioner")
EVERYTHING = {
    "name": "everything",
    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
}


def _resource(resource_type: str) -> Resource:
    """One type: `read` for each, `search-type` with its parameters where it is searchable."""
    entry: Resource = {"type": resource_type, "interaction": [{"code": "read"}]}
    params = SEARCH_PARAMS.get(resource_type)
    if params is not None:
        entry["interaction"].append({"code": "search-type"})
        entry["searchParam"] = [
            {"name": name, "type": kind, "documentation": doc}
            for name, (kind, doc) in params.items()
        ]
    if resource_type == "Patient":
        entry["operation"] = [EVERYTHING]
    return entry


def capability_statement(base_url: str, software_version: str) -> Resource:
    """The server's CapabilityStatement (kind instance: this deployment)."""
    return {
        "resourceType": "CapabilityStatement",
        "id": "kap-journey",
        "status": "active",
        "date": STATEMENT_DATE,
        "publisher": "KAP Journey",
        "kind": "instance",
        "software": {"name": "KAP Journey", "version": software_version},
        "implementation": {"description": "KAP Journey FHIR R4 read API", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read-only. Searches page with `_count` (default "
                f"{DEFAULT_COUNT}, at most {MAX_COUNT}: more is capped) and `Bundle.link` "
                "`next`; `_summary=count` answers the total alone. Unknown search parameters "
                "are ignored and left out of the `self` link; with `Prefer: handling=strict` "
                "they are a 400. Observation searches need `patient` or `subject`.",
                "security": SECURITY,
                "resource": [_resource(resource_type) for resource_type in READS],
            }
        ],
    }
