"""Kept-alive connections: reused for the same checked destination, never for another one."""

from collections.abc import AsyncIterator

import pytest

from app.webhooks.connections import Connections
from app.webhooks.sender import send
from app.webhooks.ssrf import AllowedHosts
from tests.webhooks.keepalive import KeepAliveReceiver
from tests.webhooks.sender_support import BODY, HEADERS, fake_getaddrinfo


@pytest.fixture
async def receiver() -> AsyncIterator[KeepAliveReceiver]:
    made = KeepAliveReceiver(hosts=("127.0.0.1", "127.0.0.2"))
    await made.start()
    yield made
    await made.stop()


async def test_a_connection_is_kept_for_its_checked_addresses_only(
    receiver: KeepAliveReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The name resolves to one loopback address twice, then to another.
    answers = [["127.0.0.1"], ["127.0.0.1"], ["127.0.0.2"]]
    fake_getaddrinfo(monkeypatch, {"hooks.clinic.lan": answers})
    allowed = AllowedHosts.parse("hooks.clinic.lan")
    url = f"http://hooks.clinic.lan:{receiver.port}/hooks"
    connections = Connections(per_host=4)
    for _ in range(3):
        result = await send(
            url, headers=HEADERS, body=BODY, allowed=allowed, connections=connections
        )
        assert result.status_code == 200
    await connections.aclose()
    # The second attempt rode the first one's connection; the third, checked to another
    # address, was dialled to that address.
    assert receiver.connections == 2
    assert receiver.local_addresses == ["127.0.0.1", "127.0.0.1", "127.0.0.2"]


async def test_without_a_pool_each_attempt_has_a_connection_of_its_own(
    receiver: KeepAliveReceiver,
) -> None:
    url = f"http://127.0.0.1:{receiver.port}/hooks"
    allowed = AllowedHosts.parse("127.0.0.1")
    for _ in range(2):
        result = await send(url, headers=HEADERS, body=BODY, allowed=allowed)
        assert result.status_code == 200
    assert receiver.connections == 2
