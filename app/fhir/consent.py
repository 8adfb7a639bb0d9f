"""Consent -> FHIR R4 Consent (docs/decisions.md, "Consent": the FHIR mapping).

`status` uses the R4 consent-state-codes: an active consent is `active`; a withdrawn or expired
one is `inactive` ("terminated or replaced"), not `rejected` (which is a consent never given).
The finer status (withdrawn or expired) travels in an extension, with the withdrawal. The
signed terms are kept as signed: `dateTime` and `provision.period.start` are `signed_at`,
`provision.period.end` is `expires_at` (the instant it is no longer in force).
"""

from datetime import datetime
from urllib.parse import quote

from app.consents.models import Consent
from app.consents.rules import ConsentKind, ConsentStatus, status_at
from app.fhir.common import LOINC, OURS, Resource, coding, instant, meta, reference

CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_STATE = "http://hl7.org/fhir/consent-state-codes"
CONSENT_ID_SYSTEM = f"{OURS}/consent-id"
CONSENT_KIND_SYSTEM = f"{OURS}/CodeSystem/consent-kind"
CONSENT_DOCUMENT_BASE = f"{OURS}/consent-document"
CONSENT_STATUS_URL = f"{OURS}/StructureDefinition/consent-status"
CONSENT_WITHDRAWAL_URL = f"{OURS}/StructureDefinition/consent-withdrawal"

TREATMENT = coding(CONSENT_SCOPE, "treatment", "Treatment")
PRIVACY = coding(CONSENT_SCOPE, "patient-privacy", "Privacy Consent")
PATIENT_CONSENT = coding(LOINC, "59284-0", "Patient Consent")
RELEASE_OF_INFORMATION = coding(LOINC, "64292-6", "Release of information consent")
# kind: (scope, LOINC category, label). Recording and data sharing govern what happens to the
# client's information (privacy); the other three govern the care itself (treatment).
KINDS: dict[ConsentKind, tuple[Resource, Resource, str]] = {
    ConsentKind.kap_treatment: (TREATMENT, PATIENT_CONSENT, "KAP treatment consent"),
    ConsentKind.esketamine_rems_enrollment: (
        TREATMENT,
        PATIENT_CONSENT,
        "Esketamine (Spravato) REMS patient enrollment",
    ),
    ConsentKind.telehealth: (TREATMENT, PATIENT_CONSENT, "Telehealth consent"),
    ConsentKind.recording: (PRIVACY, PATIENT_CONSENT, "Session recording consent"),
    ConsentKind.data_sharing: (PRIVACY, RELEASE_OF_INFORMATION, "Data sharing consent"),
}
FHIR_STATUS = {
    ConsentStatus.active: "active",
    ConsentStatus.withdrawn: "inactive",
    ConsentStatus.expired: "inactive",
}


def fhir_status(consent: Consent, now: datetime) -> str:
    """The consent-state-code of the consent as of now."""
    return FHIR_STATUS[status_at(consent, now)]


def _extensions(consent: Consent, status: ConsentStatus) -> list[Resource]:
    found: list[Resource] = [{"url": CONSENT_STATUS_URL, "valueCode": status.value}]
    if consent.withdrawn_at is not None:
        parts = [
            {"url": "withdrawnAt", "valueDateTime": instant(consent.withdrawn_at)},
            {"url": "reason", "valueString": consent.withdrawal_reason},
        ]
        found.append({"url": CONSENT_WITHDRAWAL_URL, "extension": parts})
    return found


def to_consent(consent: Consent, now: datetime) -> Resource:
    """The Consent resource for one consent, its status as of `now`."""
    kind = ConsentKind(consent.kind)
    scope, category, label = KINDS[kind]
    status = status_at(consent, now)
    period: Resource = {"start": instant(consent.signed_at)}
    if consent.expires_at is not None:
        period["end"] = instant(consent.expires_at)
    patient = reference("Patient", consent.client_id)
    document = quote(consent.document_version, safe="")
    return {
        "resourceType": "Consent",
        "id": str(consent.id),
        "meta": meta(consent.version, consent.updated_at),
        "extension": _extensions(consent, status),
        "identifier": [{"system": CONSENT_ID_SYSTEM, "value": str(consent.id)}],
        "status": FHIR_STATUS[status],
        "scope": {"coding": [scope]},
        "category": [
            {"coding": [category]},
            {"coding": [coding(CONSENT_KIND_SYSTEM, kind.value, label)], "text": label},
        ],
        "patient": patient,
        "dateTime": instant(consent.signed_at),
        "performer": [patient],
        "sourceAttachment": {"title": consent.document_version},
        "policy": [{"uri": f"{CONSENT_DOCUMENT_BASE}/{kind.value}/{document}"}],
        "provision": {"type": "permit", "period": period},
    }
