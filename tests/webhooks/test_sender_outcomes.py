"""The outcome of one delivery attempt against a real HTTP receiver on loopback: what it sends,
how statuses, redirects and `Retry-After` are reported, and timeouts."""

import asyncio
import datetime as dt
from collections.abc import Iterator
from email.utils import format_datetime
from urllib.parse import urlsplit

import pytest

from app.webhooks import ssrf
from app.webhooks.sender import parse_retry_after, send
from tests.support.servers import free_port
from tests.webhooks.sender_support import BODY, HEADERS, LOCAL, ThreadReceiver, deliver


@pytest.fixture
def receiver() -> Iterator[ThreadReceiver]:
    server = ThreadReceiver()
    yield server
    server.close()


async def test_an_allow_listed_receiver_gets_the_post_over_plain_http(
    receiver: ThreadReceiver,
) -> None:
    headers = {**HEADERS, "Host": "evil.test", "Content-Length": "999"}
    result = await send(
        receiver.url(), headers=headers, body=BODY, allowed=LOCAL, excerpt_bytes=1024
    )
    assert result.succeeded
    assert result.status_code == 200
    assert result.error is None
    assert result.response_excerpt == "ok"
    assert result.retry_after_s is None
    assert 0 < result.duration_ms < 5000
    [seen] = receiver.requests
    assert seen.path == "/hook"
    assert seen.body == BODY
    assert seen.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert seen.headers["content-length"] == str(len(BODY))
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["webhook-id"] == "evt_1"
    assert seen.headers["user-agent"].startswith("KAP-Journey-Webhooks/")


@pytest.mark.parametrize(("status", "succeeded"), [(200, True), (201, True), (204, True)])
async def test_2xx_is_success(receiver: ThreadReceiver, status: int, succeeded: bool) -> None:
    result = await deliver(receiver.url(status=status))
    assert (result.status_code, result.succeeded, result.error) == (status, succeeded, None)


@pytest.mark.parametrize("status", [400, 404, 410, 500, 502])
async def test_4xx_and_5xx_are_failures(receiver: ThreadReceiver, status: int) -> None:
    result = await deliver(receiver.url(status=status, text="nope"), excerpt_bytes=1024)
    assert result.status_code == status
    assert not result.succeeded
    assert result.error is None
    assert result.response_excerpt == "nope"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirects_are_failures_and_never_followed(
    receiver: ThreadReceiver, status: int
) -> None:
    target = f"http://127.0.0.1:{receiver.port}/landed"
    result = await deliver(receiver.url(status=status, location=target))
    assert result.status_code == status
    assert not result.succeeded
    assert result.error == "redirect not followed"
    assert [urlsplit(seen.path).path for seen in receiver.requests] == ["/hook"]


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_in_seconds_is_reported_on_429_and_503(
    receiver: ThreadReceiver, status: int
) -> None:
    result = await deliver(receiver.url(status=status, retry_after="120"))
    assert result.status_code == status
    assert not result.succeeded
    assert result.retry_after_s == 120.0


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_as_an_http_date_is_reported_on_429_and_503(
    receiver: ThreadReceiver, status: int
) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)
    result = await deliver(receiver.url(status=status, retry_after=format_datetime(when, True)))
    assert result.retry_after_s is not None
    assert 85 <= result.retry_after_s <= 90


async def test_retry_after_is_ignored_on_other_statuses_and_when_malformed(
    receiver: ThreadReceiver,
) -> None:
    assert (await deliver(receiver.url(status=500, retry_after="120"))).retry_after_s is None
    assert (await deliver(receiver.url(status=429, retry_after="soon"))).retry_after_s is None
    assert (await deliver(receiver.url(status=429))).retry_after_s is None


def test_parse_retry_after() -> None:
    now = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after("0", now=now) == 0.0
    assert parse_retry_after(" 30 ", now=now) == 30.0
    assert parse_retry_after("Mon, 02 Mar 2026 12:02:00 GMT", now=now) == 120.0
    assert parse_retry_after("Monday, 02-Mar-26 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Mon Mar  2 12:00:05 2026", now=now) == 5.0
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:00 GMT", now=now) == 0.0
    for bad in ("", "-5", "1.5", "soon", "Mon, 99 Foo 2026 12:00:00 GMT", "٣"):
        assert parse_retry_after(bad, now=now) is None


async def test_a_receiver_slower_than_the_timeout_is_a_timeout(receiver: ThreadReceiver) -> None:
    result = await deliver(receiver.url(sleep=30), timeout_s=0.3)
    assert result.error == "timeout"
    assert result.status_code is None
    assert not result.succeeded
    assert 250 <= result.duration_ms < 3000
    assert len(receiver.requests) == 1


async def test_the_timeout_covers_name_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    async def slow_lookup(host: str, port: int) -> list[str]:
        await asyncio.sleep(30)
        return ["93.184.215.14"]

    monkeypatch.setattr(ssrf, "lookup", slow_lookup)
    result = await deliver("https://slow-dns.test/hook", timeout_s=0.2)
    assert result.error == "timeout"
    assert result.duration_ms < 3000


async def test_a_closed_port_is_connection_refused() -> None:
    result = await deliver(f"http://127.0.0.1:{free_port()}/hook")
    assert result.error == "connection refused"
    assert result.status_code is None
    assert not result.succeeded
