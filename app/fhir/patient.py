"""Client -> FHIR Patient."""

from app.clients.models import Client
from app.fhir.common import CLIENT_ID_SYSTEM, Resource, meta, reference


def to_patient(
    client: Client, primary_clinician_name: str | None, *, include_birth_date: bool
) -> Resource:
    """The Patient for a client; `birthDate` only for callers who may see clinical fields."""
    names: list[Resource] = [
        {"use": "official", "family": client.last_name, "given": [client.first_name]}
    ]
    if client.preferred_name:
        names.append({"use": "usual", "given": [client.preferred_name]})
    telecom = [
        {"system": system, "value": value}
        for system, value in (("email", client.email), ("phone", client.phone))
        if value
    ]
    patient: Resource = {
        "resourceType": "Patient",
        "id": str(client.id),
        "meta": meta(client.version, client.updated_at),
        "identifier": [{"use": "usual", "system": CLIENT_ID_SYSTEM, "value": str(client.id)}],
        "active": not client.archived,
        "name": names,
    }
    if telecom:
        patient["telecom"] = telecom
    if include_birth_date:
        patient["birthDate"] = client.date_of_birth.isoformat()
    if client.primary_clinician_id is not None:
        patient["generalPractitioner"] = [
            reference("Practitioner", client.primary_clinician_id, primary_clinician_name)
        ]
    return patient
