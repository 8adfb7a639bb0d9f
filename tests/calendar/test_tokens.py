"""Feed links: who may issue and revoke them, and which links open which feed."""

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.calendar.models import CalendarFeedToken
from tests.calendar.support import feed_url, fetch, issue, read_feed, token_url
from tests.support.factories import T0, Clinic, FakeClock, bootstrap


async def test_an_issued_link_opens_the_feed_and_is_shown_once(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    staff_id, headers = await clinic.staff("clinician")
    issued = await clinic.post(token_url(staff_id), headers=headers)
    assert issued.status_code == 201
    assert issued.headers["location"] == token_url(staff_id)
    body = issued.json()
    assert body["token"].startswith("kapcal_")
    assert body["feed_url"] == "http://kap.test" + feed_url(staff_id, body["token"])
    assert body["created_at"] == "2026-03-02T12:00:00Z"
    _, calendar = await read_feed(http, body["feed_url"])
    assert str(calendar["x-wr-calname"]).startswith("KAP Journey — clinician")
    # Nothing else ever shows the token again.
    listed = await clinic.get(f"/api/v1/staff/{staff_id}")
    assert body["token"] not in listed.text


async def test_self_and_admin_may_manage_a_link_other_staff_may_not(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    alice, alice_headers = await clinic.staff("clinician")
    bob, bob_headers = await clinic.staff("clinician")
    scheduler, scheduler_headers = await clinic.staff("scheduler")

    assert (await clinic.post(token_url(bob), headers=alice_headers)).status_code == 403
    assert (await clinic.post(token_url(bob), headers=scheduler_headers)).status_code == 403
    await issue(clinic, scheduler, scheduler_headers)  # any role, for themself
    by_admin = await issue(clinic, bob)
    assert (await fetch(http, by_admin["feed_url"])).status_code == 200

    assert (await clinic.delete(token_url(bob), headers=alice_headers)).status_code == 403
    assert (await fetch(http, by_admin["feed_url"])).status_code == 200
    assert (await clinic.delete(token_url(bob), headers=bob_headers)).status_code == 204
    assert (await clinic.post(token_url(alice), headers=alice_headers)).status_code == 201
    unknown = await clinic.post(token_url("00000000-0000-4000-8000-000000000000"))
    assert unknown.status_code == 404


async def test_revoking_closes_the_feed_and_a_second_revoke_is_404(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    staff_id, headers = await clinic.staff("clinician")
    issued = await issue(clinic, staff_id, headers)
    assert (await clinic.delete(token_url(staff_id), headers=headers)).status_code == 204
    closed = await fetch(http, issued["feed_url"])
    assert closed.status_code == 404
    assert closed.headers["content-type"] == "application/problem+json"
    again = await clinic.delete(token_url(staff_id), headers=headers)
    assert (again.status_code, again.json()["code"]) == (404, "not_found")


async def test_issuing_again_revokes_the_previous_link(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    staff_id, headers = await clinic.staff("clinician")
    first = await issue(clinic, staff_id, headers)
    second = await issue(clinic, staff_id)
    assert first["token"] != second["token"]
    assert (await fetch(http, first["feed_url"])).status_code == 404
    assert (await fetch(http, second["feed_url"])).status_code == 200


async def test_only_the_exact_live_token_of_that_staff_member_opens_their_feed(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    alice, alice_headers = await clinic.staff("clinician")
    bob, _ = await clinic.staff("clinician")
    token = (await issue(clinic, alice))["token"]
    scheme_and_prefix = "_".join(token.split("_")[:2])
    api_key = alice_headers["Authorization"].removeprefix("Bearer ")
    wrong = [
        feed_url(bob, token),  # someone else's feed
        feed_url(alice, token[:-1] + ("A" if token[-1] != "A" else "B")),  # wrong secret
        feed_url(alice, f"{scheme_and_prefix}_guess"),
        feed_url(alice, "kapcal_000000000000_guess"),  # no such prefix
        feed_url(alice, api_key),  # an API key is not a feed token
    ]
    bodies = set()
    for url in wrong:
        response = await fetch(http, url)
        assert response.status_code == 404, url
        bodies.add(response.text)
    assert len(bodies) == 1, "every refusal must read the same"
    # A bearer key (even the owner's, even an admin's) does not stand in for the token.
    for headers in (alice_headers, clinic.headers):
        response = await http.get(feed_url(alice, "kapcal_000000000000_guess"), headers=headers)
        assert response.status_code == 404
        no_token = await http.get(f"/api/v1/staff/{alice}/calendar.ics", headers=headers)
        assert no_token.status_code == 422
    # And the feed token is no bearer key.
    response = await http.get(
        f"/api/v1/staff/{alice}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


async def test_other_clinics_see_nothing(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    staff_id, _ = await clinic.staff("clinician")
    issued = await issue(clinic, staff_id)
    other = await bootstrap(app, http, clinic.clock)
    other_staff, _ = await other.staff("clinician")
    assert (await other.post(token_url(staff_id))).status_code == 404
    assert (await other.delete(token_url(staff_id))).status_code == 404
    assert (await fetch(http, feed_url(other_staff, issued["token"]))).status_code == 404
    assert (await fetch(http, issued["feed_url"])).status_code == 200


async def test_an_inactive_member_has_no_feed(clinic: Clinic, http: httpx.AsyncClient) -> None:
    staff_id, _ = await clinic.staff("clinician")
    issued = await issue(clinic, staff_id)
    await clinic.ok("PATCH", f"/api/v1/staff/{staff_id}", json={"active": False})
    assert (await fetch(http, issued["feed_url"])).status_code == 404
    refused = await clinic.post(token_url(staff_id))
    assert (refused.status_code, refused.json()["code"]) == (409, "staff_inactive")


async def _last_used(app: FastAPI, token: str) -> object:
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    prefix = token.split("_")[1]
    async with sessionmaker() as db:
        stmt = select(CalendarFeedToken.last_used_at).where(CalendarFeedToken.prefix == prefix)
        return (await db.execute(stmt)).scalar_one()


async def test_last_used_at_is_recorded_at_most_once_a_minute(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    staff_id, _ = await clinic.staff("clinician")
    issued = await issue(clinic, staff_id)
    assert await _last_used(app, issued["token"]) is None
    await read_feed(http, issued["feed_url"])
    assert await _last_used(app, issued["token"]) == T0
    clock.advance(timedelta(seconds=30))
    await read_feed(http, issued["feed_url"])
    assert await _last_used(app, issued["token"]) == T0
    clock.advance(timedelta(seconds=45))
    await read_feed(http, issued["feed_url"])
    assert await _last_used(app, issued["token"]) == T0 + timedelta(seconds=75)
