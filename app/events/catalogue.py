"""The event types, and what each one means (docs/webhooks.md lists their payloads)."""

from enum import StrEnum


class EventType(StrEnum):
    client_created = "client.created"
    client_updated = "client.updated"
    client_archived = "client.archived"
    session_scheduled = "session.scheduled"
    session_rescheduled = "session.rescheduled"
    session_cancelled = "session.cancelled"
    session_completed = "session.completed"
    session_no_show = "session.no_show"
    window_opened = "integration_window.opened"
    window_closing_unbooked = "integration_window.closing_unbooked"
    window_missed = "integration_window.missed"
    integration_outside_window = "integration_session.outside_window"
    assessment_self_harm_flag = "assessment.self_harm_flag"
    safety_review_opened = "safety_review.opened"
    assessment_request_completed = "assessment_request.completed"
    webhook_test = "webhook.test"


DESCRIPTIONS: dict[EventType, str] = {
    EventType.client_created: "A client was registered.",
    EventType.client_updated: "A client's details changed (fetch them through the API).",
    EventType.client_archived: "A client was archived.",
    EventType.session_scheduled: "A session of any kind was booked.",
    EventType.session_rescheduled: "A session moved in time.",
    EventType.session_cancelled: "A session was cancelled.",
    EventType.session_completed: "A session was completed.",
    EventType.session_no_show: "The client did not come to a session.",
    EventType.window_opened: "A dose ended: its integration window is open.",
    EventType.window_closing_unbooked: "A window closes soon with no integration booked in it.",
    EventType.window_missed: "A window closed with no integration in it.",
    EventType.integration_outside_window: "An integration session was booked or moved outside "
    "its window.",
    EventType.assessment_self_harm_flag: "A PHQ-9 was recorded with item 9 (thoughts of "
    "self-harm) above 0: review the client. Carries ids only, never a score.",
    EventType.safety_review_opened: "A safety review was opened for a PHQ-9 with item 9 above "
    "0; it stays open until a clinician resolves it. Carries ids and the version only.",
    EventType.assessment_request_completed: "A client submitted a self-report link's form: "
    "the assessment is recorded. Carries ids and the link's version only, never an answer.",
    EventType.webhook_test: "Sent by POST /webhook-endpoints/{id}/test.",
}
