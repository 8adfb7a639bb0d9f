"""Inbound rows as API responses."""

from app.inbound.models import SchedulingIntegration
from app.inbound.schemas import IntegrationRead


def integration_read(integration: SchedulingIntegration) -> IntegrationRead:
    """The integration with the address its provider posts to."""
    return IntegrationRead.model_validate(
        {
            **{c.key: getattr(integration, c.key) for c in SchedulingIntegration.__table__.columns},
            "inbound_url": f"/api/v1/inbound/{integration.id}",
        }
    )
