"""The feed's content: sessions and integration windows, in UTC, with initials only."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.calendar.support import events, issue, read_feed
from tests.support.factories import T0, Clinic, FakeClock
from tests.support.statements import StatementCounter

PHI = {
    "first_name": "Maya",
    "last_name": "Okafor",
    "email": "maya.okafor@example.org",
    "phone": "+1 555 0134",
}
NOTES = "Discussed the divorce and sleep"


async def _clinician_with_sessions(clinic: Clinic) -> tuple[str, dict[str, Any]]:
    """A clinician with a completed dose, a future dose and integration, and a cancellation."""
    staff_id, _ = await clinic.staff("clinician")
    client = await clinic.prepared_client(prep_at=T0 - timedelta(days=20), **PHI)
    cid = client["id"]
    mine: dict[str, Any] = {"clinician_id": staff_id}
    past_dose = await clinic.dose(cid, T0 - timedelta(days=3), notes=NOTES, dose_mg=37.25, **mine)
    await clinic.action("ketamine", past_dose["id"], "complete")
    dose = await clinic.dose(cid, T0 + timedelta(days=7), location="telehealth", **mine)
    integration = await clinic.integration(cid, T0 + timedelta(days=8), notes=NOTES, **mine)
    cancelled = await clinic.integration(cid, T0 + timedelta(days=12), **mine)
    await clinic.action("integration", cancelled["id"], "cancel", reason="Client asked")
    sessions = {
        "past_dose": past_dose,
        "dose": dose,
        "integration": integration,
        "cancelled": cancelled,
    }
    return staff_id, sessions


def _utc(value: str) -> datetime:
    """An API timestamp at iCalendar's resolution (whole seconds)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return parsed.replace(microsecond=0)


async def test_sessions_appear_with_initials_times_and_status(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    staff_id, made = await _clinician_with_sessions(clinic)
    raw, calendar = await read_feed(http, (await issue(clinic, staff_id))["feed_url"])

    assert str(calendar["version"]) == "2.0"
    assert str(calendar["prodid"]).startswith("-//KAP Journey//")
    assert str(calendar["x-published-ttl"]) == "PT15M"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT15M" in raw
    found = events(calendar)
    integration = found[f"{made['integration']['id']}@kap-journey"]
    assert str(integration["summary"]) == "Integration session · M.O."
    assert str(integration["location"]) == "In person"
    assert integration.decoded("dtstart") == T0 + timedelta(days=8)
    assert integration.decoded("dtend") == T0 + timedelta(days=8, hours=1)
    assert b"DTSTART:20260310T120000Z" in raw  # UTC, never floating or zoned
    assert str(integration["status"]) == "CONFIRMED"
    assert integration.decoded("sequence") == made["integration"]["version"]
    assert integration.decoded("last-modified") == _utc(made["integration"]["updated_at"])
    assert integration.decoded("dtstamp") == T0

    dose = found[f"{made['dose']['id']}@kap-journey"]
    assert str(dose["summary"]) == "Dosing session · M.O."
    assert str(dose["location"]) == "Telehealth"
    cancelled = found[f"{made['cancelled']['id']}@kap-journey"]
    assert str(cancelled["status"]) == "CANCELLED"
    assert f"{made['past_dose']['id']}@kap-journey" in found


async def test_the_feed_holds_no_names_contacts_notes_or_doses(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    staff_id, _ = await _clinician_with_sessions(clinic)
    raw, _ = await read_feed(http, (await issue(clinic, staff_id))["feed_url"])
    unfolded = raw.replace(b"\r\n ", b"")
    for value in [*PHI.values(), NOTES, "Client asked", "37.25", "mg", "1988"]:
        assert value.encode() not in unfolded, value
    assert b"M.O." in unfolded


async def test_each_live_dose_has_its_integration_window(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    staff_id, made = await _clinician_with_sessions(clinic)
    _, calendar = await read_feed(http, (await issue(clinic, staff_id))["feed_url"])
    found = events(calendar)

    # An IV dose's window opens when it ends and closes 72 h later (default clinic policy).
    window = found[f"{made['dose']['id']}-window@kap-journey"]
    dose_ends = T0 + timedelta(days=7, hours=2)
    assert window.decoded("dtstart") == dose_ends
    assert window.decoded("dtend") == dose_ends + timedelta(hours=72)
    assert str(window["summary"]) == "Integration window · M.O."
    assert str(window["transp"]) == "TRANSPARENT"
    assert "booked" in str(window["description"]).lower()
    assert "no integration" not in str(window["description"]).lower()

    past = found[f"{made['past_dose']['id']}-window@kap-journey"]
    assert past.decoded("dtend") == T0 - timedelta(days=3) + timedelta(hours=2 + 72)
    assert "no integration session is booked" in str(past["description"]).lower()
    # The cancelled integration session opens no window of its own.
    assert f"{made['cancelled']['id']}-window@kap-journey" not in found


async def test_a_cancelled_dose_loses_its_window(clinic: Clinic, http: httpx.AsyncClient) -> None:
    staff_id, made = await _clinician_with_sessions(clinic)
    await clinic.action("ketamine", made["dose"]["id"], "cancel", reason="Unwell")
    _, calendar = await read_feed(http, (await issue(clinic, staff_id))["feed_url"])
    found = events(calendar)
    assert str(found[f"{made['dose']['id']}@kap-journey"]["status"]) == "CANCELLED"
    assert f"{made['dose']['id']}-window@kap-journey" not in found


async def test_only_that_clinicians_sessions_within_the_range(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    staff_id, _ = await clinic.staff("clinician")
    other_id, _ = await clinic.staff("clinician")
    client = await clinic.client()
    mine: dict[str, Any] = {"clinician_id": staff_id}
    old = await clinic.prep(client["id"], T0 - timedelta(days=31), **mine)
    recent = await clinic.prep(client["id"], T0 - timedelta(days=29), **mine)
    soon = await clinic.prep(client["id"], T0 + timedelta(days=179), **mine)
    far = await clinic.prep(client["id"], T0 + timedelta(days=181), **mine)
    theirs = await clinic.prep(client["id"], T0 + timedelta(days=1), clinician_id=other_id)
    _, calendar = await read_feed(http, (await issue(clinic, staff_id))["feed_url"])
    uids = set(events(calendar))
    assert {f"{recent['id']}@kap-journey", f"{soon['id']}@kap-journey"} == uids
    for absent in (old, far, theirs):
        assert f"{absent['id']}@kap-journey" not in uids


async def test_a_feed_read_is_audited_as_its_staff_member(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    staff_id, made = await _clinician_with_sessions(clinic)
    issued = await issue(clinic, staff_id)
    await read_feed(http, issued["feed_url"])
    await http.get(issued["feed_url"][:-3] + "xyz")  # a wrong secret on a real token

    audit, action = "/api/v1/audit-events", {"action": "get_calendar_feed", "limit": 200}
    rows = (await clinic.ok("GET", audit, params={**action, "actor_id": staff_id}))["items"]
    assert {row["actor_role"] for row in rows} == {"clinician"}
    assert {row["outcome"] for row in rows} == {"success"}
    sessions = {row["resource_id"] for row in rows if row["resource_type"] == "session"}
    assert sessions == {session["id"] for session in made.values()}
    assert [row["resource_type"] for row in rows].count("calendar_feed_token") == 1
    # The refused read is filed under the clinic, with no actor: the secret did not match.
    refused = await clinic.ok("GET", audit, params={**action, "outcome": "not_found"})
    assert len(refused["items"]) == 1
    assert refused["items"][0]["actor_id"] is None


async def test_the_feed_query_does_not_grow_with_its_sessions(
    clinic: Clinic, http: httpx.AsyncClient, clock: FakeClock, sql_statements: StatementCounter
) -> None:
    staff_id, _ = await clinic.staff("clinician")
    url = (await issue(clinic, staff_id))["feed_url"]
    mine: dict[str, Any] = {"clinician_id": staff_id}
    first = await clinic.prepared_client()
    await clinic.dose(first["id"], T0 + timedelta(days=1), **mine)

    async def statements() -> int:
        clock.advance(timedelta(minutes=2))  # so every read records its use
        before = sql_statements.count
        await read_feed(http, url)
        return sql_statements.count - before

    baseline = await statements()
    for n in range(5):
        client = await clinic.prepared_client(last_name=f"Client{n}")
        at = T0 + timedelta(days=2 + n)
        await clinic.dose(client["id"], at, **mine)
        await clinic.integration(client["id"], at + timedelta(hours=4), **mine)
    assert await statements() == baseline
