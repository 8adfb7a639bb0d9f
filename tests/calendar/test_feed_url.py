"""The issued feed link is absolute, as calendar apps need it: on KAP_PUBLIC_URL when it is set
(a forged Host header never reaches it), else on the address the request reached."""

import httpx

from tests.calendar.support import feed_url, read_feed, token_url
from tests.support.apps import MakeApp, client_of
from tests.support.factories import Clinic

PUBLIC = "https://kap.example.org/ehr"


async def test_without_a_public_url_the_link_is_on_the_request_base(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    staff_id, headers = await clinic.staff("clinician")
    issued = await clinic.post(
        token_url(staff_id), headers={**headers, "Host": "calendar.clinic.test:8443"}
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["feed_url"] == "http://calendar.clinic.test:8443" + feed_url(
        staff_id, body["token"]
    )
    # The path and token in it open the feed.
    await read_feed(http, httpx.URL(body["feed_url"]).raw_path.decode())


async def test_with_a_public_url_the_link_is_on_it_whatever_the_host(
    clinic: Clinic, make_app: MakeApp
) -> None:
    staff_id, headers = await clinic.staff("clinician")
    async with client_of(make_app(public_url=f"{PUBLIC}/")) as public:
        issued = await public.post(
            token_url(staff_id),
            headers={**headers, "Host": "attacker.example", "X-Forwarded-Host": "x.example"},
        )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["feed_url"] == PUBLIC + feed_url(staff_id, body["token"])
