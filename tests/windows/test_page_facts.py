"""A page is evaluated on what can decide it, not on its clients' whole history
(app/windows/repository.py `facts_for_page`): the first cases have the session that decides the
answer before the page's earliest dose, where a history read from that dose on would miss it;
the last, that each client is read from its own earliest dose on the page, not another's.
The random journeys of test_sql_agrees_with_rules.py cover the rest."""

import uuid
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select

from app.sessions.models import ClinicalSession
from app.windows.repository import ClientFacts, facts_for_page
from tests.support.factories import Clinic
from tests.windows.support import DAY, dose_integration, window

HOURS_26 = timedelta(hours=26)


async def test_a_later_integration_linked_to_an_earlier_dose_does_not_book_a_dose_between(
    clinic: Clinic,
) -> None:
    client = await clinic.prepared_client()
    now = clinic.clock.now
    earlier = await clinic.dose(client["id"], now + DAY)
    dose = await clinic.dose(client["id"], now + 10 * DAY)
    # In the later dose's window, but linked to the earlier dose: it belongs to that one.
    linked = await clinic.integration(
        client["id"], now + 10 * DAY + HOURS_26, ketamine_session_id=earlier["id"]
    )

    evaluated = await dose_integration(clinic, dose["id"])  # a page of that one dose
    assert (evaluated["status"], evaluated["integration_session_ids"]) == ("unbooked", [])
    assert (await window(clinic, linked["id"]))["ketamine_session_id"] == earlier["id"]


async def test_an_integration_after_a_long_gap_is_measured_against_the_last_dose(
    clinic: Clinic,
) -> None:
    client = await clinic.prepared_client()
    now = clinic.clock.now
    old = await clinic.dose(client["id"], now + DAY)
    await clinic.integration(client["id"], now + DAY + HOURS_26)  # booked: off the worklist
    late = await clinic.integration(client["id"], now + 40 * DAY)
    other = await clinic.prepared_client()
    unbooked = await clinic.dose(other["id"], now + 5 * DAY)  # the page's earliest dose

    page = await clinic.ok("GET", "/api/v1/worklists/integration")
    assert [d["id"] for d in page["unbooked"]] == [unbooked["id"]]
    (item,) = [i for i in page["outside_window"] if i["id"] == late["id"]]
    assert (item["window"]["status"], item["window"]["ketamine_session_id"]) == (
        "after_window",
        old["id"],
    )


async def test_each_client_is_read_from_its_own_earliest_dose_on_the_page(
    app: FastAPI, clinic: Clinic
) -> None:
    now = clinic.clock.now
    early_client = await clinic.prepared_client()
    early = await clinic.dose(early_client["id"], now + 5 * DAY)
    late_client = await clinic.prepared_client()
    history = [
        await clinic.dose(late_client["id"], now + 10 * DAY),
        await clinic.integration(late_client["id"], now + 10 * DAY + HOURS_26),
    ]
    late = await clinic.dose(late_client["id"], now + 30 * DAY)
    # A client with only an integration on the page needs only that integration's anchor.
    booking_client = await clinic.prepared_client()
    anchor = await clinic.dose(booking_client["id"], now + 6 * DAY)
    booked = await clinic.integration(booking_client["id"], now + 20 * DAY)
    await clinic.dose(booking_client["id"], now + 21 * DAY)

    facts = await _page_facts(app, clinic, [early["id"], late["id"], booked["id"]])

    read = {
        client: {str(f.id) for f in facts[uuid.UUID(client)].doses}
        | {str(f.id) for f in facts[uuid.UUID(client)].integrations}
        for client in (early_client["id"], late_client["id"], booking_client["id"])
    }
    assert read[early_client["id"]] == {early["id"]}
    # Not from the page's earliest dose (another client's): this client's history before its
    # own dose on the page cannot decide that dose.
    assert read[late_client["id"]] == {late["id"]}, [s["id"] for s in history]
    assert read[booking_client["id"]] == {anchor["id"]}


async def _page_facts(app: FastAPI, clinic: Clinic, ids: list[str]) -> dict[uuid.UUID, ClientFacts]:
    async with app.state.sessionmaker() as db:
        query = select(ClinicalSession).where(ClinicalSession.id.in_([uuid.UUID(i) for i in ids]))
        page = (await db.scalars(query)).all()
        return await facts_for_page(db, uuid.UUID(clinic.id), page)
