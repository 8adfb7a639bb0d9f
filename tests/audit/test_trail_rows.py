"""`AuditTrail.rows`: what the audit inserts rely on (app/audit/writes.py sends a read's further
resources with the event, time and clinic bound once, and each row's own position)."""

import uuid
from datetime import UTC, datetime

import pytest

from app.audit.models import Outcome
from app.audit.trail import AuditTrail

pytestmark = pytest.mark.unit

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _rows(trail: AuditTrail) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    rows = trail.rows(
        clinic_id=uuid.uuid4(),
        actor_id=uuid.uuid4(),
        actor_role="clinician",
        at=AT,
        outcome=Outcome.success,
        status_code=200,
    )
    return rows.events, rows.resources


def test_a_read_is_one_event_and_its_further_resources_share_it() -> None:
    trail = AuditTrail("get_journey", "client", request_id="r", ip=None)
    sessions = [uuid.uuid4() for _ in range(5)]
    for session_id in sessions:
        trail.read("session", session_id)
    events, resources = _rows(trail)
    assert len(events) == 1
    (event,) = events
    assert event["resource_id"] == str(sessions[0])
    assert [r["resource_id"] for r in resources] == [str(s) for s in sessions[1:]]
    assert [r["position"] for r in resources] == [1, 2, 3, 4]
    assert {(r["event_id"], r["at"], r["clinic_id"]) for r in resources} == {
        (event["id"], event["at"], event["clinic_id"])
    }


def test_changes_are_events_of_their_own_and_never_further_resources() -> None:
    trail = AuditTrail("update_session", "session", request_id="r", ip=None)
    changed = uuid.uuid4()
    trail.change("session", changed, ["notes"])
    trail.read("client", uuid.uuid4())
    events, resources = _rows(trail)
    assert [e["changed_fields"] for e in events] == [["notes"], None]
    assert resources == []
