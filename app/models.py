"""Imports every model module so Base.metadata is complete (for Alembic and tests)."""


def load_all_models() -> None:
    """Import for side effects: each module registers its tables on Base.metadata."""
    import app.assessments.models
    import app.audit.models
    import app.auth.models
    import app.calendar.models
    import app.clients.models
    import app.clinics.models
    import app.consents.models
    import app.events.models
    import app.idempotency.models
    import app.inbound.models
    import app.safety_reviews.models
    import app.screenings.models
    import app.self_report.models
    import app.sessions.models
    import app.staff.models
    import app.webhooks.models
    import app.windows.models  # noqa: F401
