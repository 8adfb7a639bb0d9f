"""A client row, its derived stage and medical clearance -> the read schema."""

from app.audit.trail import note_read
from app.clients.models import Client, ClientStage
from app.clients.schemas import ClientRead
from app.screenings.read_models import clearance_read
from app.screenings.rules import MedicalClearance


def to_read(client: Client, stage: ClientStage, clearance: MedicalClearance | None) -> ClientRead:
    """The client with its derived stage, noted in the audit trail as read; `clearance` is
    None for a caller who may not see it (the field is then absent)."""
    note_read("client", client.id)
    summary = clearance_read(clearance) if clearance is not None else None
    return ClientRead.model_validate(
        {**_columns(client), "stage": stage, "medical_clearance": summary}
    )


def _columns(client: Client) -> dict[str, object]:
    return {column.key: getattr(client, column.key) for column in Client.__table__.columns}
