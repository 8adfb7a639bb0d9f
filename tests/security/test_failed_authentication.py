"""Failed authentications (API2, API4) are counted per client address where they are decided,
so that no way of failing is free: bad keys sent all at once, bad inbound-webhook signatures and
calendar-feed tokens, and requests with credentials answered before they were checked. Past the
budget a failure answers 429 and writes no audit row.

The in-memory counters run on `wall`, a clock moved by hand, so windows pass without sleeping.
"""

import asyncio
import base64
import json
import uuid

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from tests.inbound.payloads import calcom_headers
from tests.inbound.provider_support import calcom_event
from tests.inbound.support import SECRETS, make_integration
from tests.security.support import CLINIC, count_statements, fields, limited
from tests.support.apps import HandClock, MakeApp, assert_problem, client_of
from tests.support.factories import FakeClock, bearer, bootstrap
from tests.support.servers import free_port


async def test_credentials_that_fail_before_authentication_count_as_failed_authentications(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    """Answered before `authenticate` runs (a body that is not JSON, a NUL in the query), a
    request with credentials is still an unverified one: the next ones from its address are
    refused once it has spent the failed-authentication budget."""
    app = limited(make_app, per_minute=50, failed_auth=3)
    junk = bearer(f"kap_junk_{'z' * 43}")
    async with client_of(app, ip="192.0.2.60") as http, client_of(app, ip="192.0.2.61") as other:
        broken = [
            await http.post(
                "/api/v1/clients",
                content=b"{",
                headers={**junk, "content-type": "application/json"},
            )
            for _ in range(20)
        ]
        assert [r.status_code for r in broken[:3]] == [422] * 3
        assert "ratelimit" not in broken[0].headers  # counted after the answer had gone out
        refused = broken[3:]
        assert {r.status_code for r in refused} == {429}
        assert fields(refused[0])["policy"] == "failed-auth"
        assert "retry-after" in refused[0].headers
        # The same through another check that runs before authentication.
        answers = [(await other.get(f"{CLINIC}?q=%00", headers=junk)).status_code for _ in range(5)]
        assert answers == [422, 422, 422, 429, 429]
        # Without credentials a request was counted before the answer: its address's quota.
        assert fields(await other.get("/openapi.json"))["policy"] == "address"


async def test_tokens_the_unreachable_identity_provider_cannot_check_count_as_failures(
    make_app: MakeApp, wall: HandClock
) -> None:
    """A 503 leaves the token unverified: JWT-shaped junk cannot be sent without limit while
    the provider is down (or made to look down)."""
    app = make_app(
        rate_limit_per_minute=50,
        rate_limit_failed_auth_per_minute=3,
        oidc_issuer="https://idp.test",
        oidc_audience="kap",
        oidc_jwks_url=f"http://127.0.0.1:{free_port()}/jwks",  # nothing listens
    )
    header = {"alg": "RS256", "kid": "k1", "typ": "JWT"}
    claims = {"iss": "https://idp.test", "aud": "kap", "email": "a@b.example"}
    token = ".".join([*(_segment(part) for part in (header, claims)), "c2ln"])
    async with client_of(app, ip="192.0.2.80") as http:
        answers = [await http.get(CLINIC, headers=bearer(token)) for _ in range(5)]
    assert [a.json()["code"] for a in answers] == ["identity_provider_unavailable"] * 3 + [
        "rate_limited"
    ] * 2


def _segment(part: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


async def test_a_parallel_burst_of_bad_keys_gets_no_more_401s_than_the_budget(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    """Sent at once, every request passes the early look at the budget before any failure is
    counted; the count at the failure itself is what holds: 3 answers of 401 (and 3 audit rows
    under the key's clinic), the rest 429 with nothing written."""
    app = limited(make_app, per_minute=100, failed_auth=3)
    async with (
        client_of(app, ip="198.51.100.30") as victim_http,
        client_of(app, ip="203.0.113.30") as attacker,
    ):
        victim = await bootstrap(app, victim_http, clock)
        forged = bearer(f"kap_{victim.admin_key.split('_')[1]}_{'v' * 43}")
        answers = await asyncio.gather(
            *(attacker.get("/api/v1/clients", headers=forged) for _ in range(60))
        )
    statuses = [answer.status_code for answer in answers]
    assert sorted(statuses) == [401] * 3 + [429] * 57
    for answer in answers:
        if answer.status_code == 429:
            assert_problem(answer, 429, "rate_limited")
            assert int(answer.headers["retry-after"]) >= 1
        assert fields(answer)["policy"] == "failed-auth"
    async with app.state.sessionmaker() as db:
        filed = await db.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.clinic_id == uuid.UUID(victim.id))
            .where(AuditEvent.outcome == "unauthenticated")
        )
    assert filed == 3


async def test_bad_inbound_signatures_and_feed_tokens_count_as_failed_authentications(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    """Their credentials are in the request: a sender who keeps getting them wrong is refused
    like one with bad API keys, before anything is looked up, and others are not."""
    app = limited(make_app, per_minute=50, failed_auth=3)
    statements = count_statements(app)
    async with (
        client_of(app, ip="198.51.100.40") as clinic_http,
        client_of(app, ip="203.0.113.41") as forger,
        client_of(app, ip="203.0.113.42") as guesser,
    ):
        clinic = await bootstrap(app, clinic_http, clock)
        integration = await make_integration(clinic, "calcom")
        inbound = f"/api/v1/inbound/{integration['id']}"
        body = calcom_event()
        signed = calcom_headers(SECRETS["calcom"], body)
        wrong = calcom_headers("not-the-secret", body)
        answers = [(await forger.post(inbound, content=body, headers=wrong)).status_code]
        unknown = f"/api/v1/inbound/{uuid.uuid4()}"  # a made-up integration is no better
        answers.append((await forger.post(unknown, content=body, headers=signed)).status_code)
        answers.append((await forger.post(inbound, content=body, headers=wrong)).status_code)
        assert answers == [401, 404, 401]
        statements.clear()
        refused = await forger.post(inbound, content=body, headers=signed)
        assert_problem(refused, 429, "rate_limited")
        assert fields(refused)["policy"] == "failed-auth"
        assert statements == []  # refused before the integration was looked up
        assert (await clinic_http.post(inbound, content=body, headers=signed)).status_code == 202

        token = (await clinic.ok("POST", f"/api/v1/staff/{clinic.admin_id}/calendar-token", 201))[
            "token"
        ]
        feed = f"/api/v1/staff/{clinic.admin_id}/calendar.ics?token="
        forged = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
        tries = [(await guesser.get(feed + forged)).status_code for _ in range(3)]
        assert tries == [404, 404, 404]
        assert_problem(await guesser.get(feed + token), 429, "rate_limited")
        assert (await clinic_http.get(feed + token)).status_code == 200
