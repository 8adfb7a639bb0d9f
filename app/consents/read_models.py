"""A consent row -> its read schema with its status as of now, noted in the audit trail as read."""

from datetime import datetime

from app.audit.trail import note_read
from app.consents.models import Consent
from app.consents.rules import status_at
from app.consents.schemas import ConsentRead


def to_read(consent: Consent, now: datetime) -> ConsentRead:
    note_read("consent", consent.id)
    columns = {column.key: getattr(consent, column.key) for column in Consent.__table__.columns}
    return ConsentRead.model_validate({**columns, "status": status_at(consent, now)})
