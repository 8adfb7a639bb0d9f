"""A client row and its derived stage -> the read schema."""

from app.audit.trail import note_read
from app.clients.models import Client, ClientStage
from app.clients.schemas import ClientRead


def to_read(client: Client, stage: ClientStage) -> ClientRead:
    """The client with its derived stage, noted in the audit trail as read."""
    note_read("client", client.id)
    return ClientRead.model_validate({**_columns(client), "stage": stage})


def _columns(client: Client) -> dict[str, object]:
    return {column.key: getattr(client, column.key) for column in Client.__table__.columns}
