"""The vocabularies of sessions, shared by the window rule and clinic policy."""

from enum import StrEnum


class SessionKind(StrEnum):
    preparation = "preparation"
    ketamine = "ketamine"
    integration = "integration"


class SessionStatus(StrEnum):
    scheduled = "scheduled"
    completed = "completed"
    cancelled = "cancelled"
    no_show = "no_show"


class Location(StrEnum):
    in_person = "in_person"
    telehealth = "telehealth"


class Route(StrEnum):
    """How the dose is given; the route decides how long the window stays open."""

    iv = "iv"
    im = "im"
    sublingual = "sublingual"
    oral = "oral"
    intranasal = "intranasal"


class PreparationTopic(StrEnum):
    intentions = "intentions"
    set_and_setting = "set_and_setting"
    consent_review = "consent_review"
    medical_screening = "medical_screening"
    safety_plan = "safety_plan"
    other = "other"


ANCHORING_STATUSES = (SessionStatus.scheduled, SessionStatus.completed)
"""A dose anchors a window, and an integration books one, only in these statuses."""
