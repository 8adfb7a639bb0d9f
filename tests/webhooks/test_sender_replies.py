"""What one delivery attempt keeps of the receiver's reply: by default its status and header size
only; with an excerpt opted in, the start of the body and its declared size."""

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.servers import free_port
from tests.webhooks.sender_support import ThreadReceiver, deliver


@pytest.fixture
def receiver() -> Iterator[ThreadReceiver]:
    server = ThreadReceiver()
    yield server
    server.close()


async def test_once_the_status_has_arrived_a_stalled_body_only_shortens_the_excerpt(
    receiver: ThreadReceiver,
) -> None:
    result = await deliver(receiver.url(stall=30), timeout_s=0.3, excerpt_bytes=1024)
    assert result.status_code == 200
    assert result.succeeded
    assert result.error is None
    assert result.response_excerpt == "partial"
    assert 250 <= result.duration_ms < 3000


async def test_an_excerpt_is_at_most_the_first_kilobyte(receiver: ThreadReceiver) -> None:
    url = receiver.url(status=500, text="abcdefgh", repeat=10_000)
    assert (await deliver(url, excerpt_bytes=1024)).response_excerpt == "abcdefgh" * 128
    assert (await deliver(url, excerpt_bytes=5000)).response_excerpt == "abcdefgh" * 128
    assert (await deliver(url, excerpt_bytes=12)).response_excerpt == "abcdefghabcd"
    # A multi-byte character cut by the boundary is dropped, not mangled.
    result = await deliver(receiver.url(text="€", repeat=1000), excerpt_bytes=1024)
    assert result.response_excerpt == "€" * 341
    # Undecodable bytes are replaced.
    result = await deliver(receiver.url(hex="fffe41"), excerpt_bytes=1024)
    assert result.response_excerpt == "\ufffd\ufffdA"


async def test_by_default_only_the_status_and_the_header_size_are_kept(
    receiver: ThreadReceiver,
) -> None:
    reply: dict[str, Any] = {"status": 500, "text": "internal:", "repeat": 300}
    result = await deliver(receiver.url(**reply))
    assert (result.status_code, result.succeeded, result.error) == (500, False, None)
    # Not the body, nor the size it declares: which reply came back is not the clinic's to know.
    assert (result.response_excerpt, result.response_body_bytes) == (None, None)
    assert result.response_headers_bytes is not None
    # The header block is measured as received: a longer header makes it exactly that longer.
    longer = await deliver(receiver.url(**reply, location="/x" * 50))
    assert longer.response_headers_bytes == result.response_headers_bytes + len(
        "Location: " + "/x" * 50 + "\r\n"
    )
    # Nothing is read: an endless body does not hold the attempt.
    endless = await asyncio.wait_for(deliver(receiver.url(endless=1), timeout_s=10), timeout=20)
    assert (endless.status_code, endless.response_excerpt) == (200, None)
    assert endless.duration_ms < 5000


async def test_with_an_excerpt_the_declared_body_size_is_kept_too(
    receiver: ThreadReceiver,
) -> None:
    result = await deliver(receiver.url(status=500, text="internal:", repeat=300), excerpt_bytes=9)
    assert (result.response_excerpt, result.response_body_bytes) == ("internal:", 2700)
    # A chunked reply declares no size; the body is not read past the excerpt to count it.
    endless = await asyncio.wait_for(
        deliver(receiver.url(endless=1), timeout_s=10, excerpt_bytes=9), timeout=20
    )
    assert (endless.status_code, endless.response_body_bytes) == (200, None)
    assert endless.duration_ms < 5000


async def test_without_a_response_there_are_no_sizes() -> None:
    result = await deliver(f"http://127.0.0.1:{free_port()}/hook", excerpt_bytes=1024)
    assert result.error == "connection refused"
    assert (result.response_excerpt, result.response_headers_bytes) == (None, None)
    assert result.response_body_bytes is None


async def test_an_endless_body_is_not_read_to_the_end(receiver: ThreadReceiver) -> None:
    result = await asyncio.wait_for(
        deliver(receiver.url(endless=1), timeout_s=10, excerpt_bytes=1024), timeout=20
    )
    assert result.succeeded
    assert result.error is None
    assert result.response_excerpt == "x" * 1024
    assert result.duration_ms < 5000
    for _ in range(100):  # the server notices the closed connection
        if receiver.streamed:
            break
        await asyncio.sleep(0.05)
    assert receiver.streamed
    assert receiver.streamed[0] < 1 << 30
