"""The CapabilityStatement: what this FHIR server can do, for clients to discover."""

from app.fhir.common import Resource

FHIR_VERSION = "4.0.1"
# When this statement last changed (CapabilityStatement.date); bump it with the capabilities.
STATEMENT_DATE = "2026-12-03"
PATIENT_PARAM = {
    "name": "patient",
    "type": "reference",
    "documentation": "Required. The client's id, bare or as `Patient/<id>`; a patient outside "
    "your clinic matches nothing. Without it the search is a 400.",
}
CATEGORY_PARAM = {
    "name": "category",
    "type": "token",
    "documentation": "`vital-signs` (dosing-session vitals) or `survey` (PHQ-9 and GAD-7 totals);"
    " comma-separated values match either.",
}
CONSENT_STATUS_PARAM = {
    "name": "status",
    "type": "token",
    "documentation": "`active` or `inactive` (a withdrawn or expired consent is `inactive`); "
    "comma-separated values match either.",
}
SECURITY = {
    "service": [{"text": "Bearer"}],
    "description": "Send `Authorization: Bearer <API key>` (or the identity provider's access "
    "token where single sign-on is configured). A missing or bad token is a 401 with "
    "`WWW-Authenticate: Bearer`. Any staff role reads Patient and Appointment (a scheduler's "
    "Patient has no birthDate); Encounter, Observation, Consent and $everything need a "
    "clinical role. "
    "Only your clinic's patients exist for you. Every read is recorded in the audit trail.",
}


def _searchable(resource_type: str, *params: Resource) -> Resource:
    return {
        "type": resource_type,
        "interaction": [{"code": "search-type"}],
        "searchParam": list(params),
    }


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
                "documentation": "Read-only. Search results come in one page (a Bundle of type "
                "searchset with every match); unknown search parameters are ignored.",
                "security": SECURITY,
                "resource": [
                    {
                        "type": "Patient",
                        "interaction": [{"code": "read"}],
                        "operation": [
                            {
                                "name": "everything",
                                "definition": "http://hl7.org/fhir/OperationDefinition/"
                                "Patient-everything",
                            }
                        ],
                    },
                    _searchable("Appointment", PATIENT_PARAM),
                    _searchable("Encounter", PATIENT_PARAM),
                    _searchable("Observation", PATIENT_PARAM, CATEGORY_PARAM),
                    {
                        "type": "Consent",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [PATIENT_PARAM, CONSENT_STATUS_PARAM],
                    },
                ],
            }
        ],
    }
