"""One webhook delivery attempt over HTTP: check, connect to the checked address, POST, report.

`send` never raises for network or HTTP trouble; it returns an `AttemptResult` for the attempt
log. Each attempt re-runs the SSRF guard (`resolve_destination`) and connects through a network
backend that dials only the addresses that passed the check, whatever the host name would
resolve to now: on a connection of its own, or on a kept-alive one of the pool for exactly that
checked destination (app/webhooks/connections.py). TLS still verifies the certificate for, and
sends SNI of, the real host name, and the Host header carries it too. Redirects are never
followed.

Of the reply, only the status and the size of its header block are kept by default: an
allow-listed receiver may be an internal service, and its body, or even the body's size, would
otherwise tell the clinic's admins something about its answers. An operator may opt in to an
excerpt of the body (at most `MAX_EXCERPT_BYTES`; only that much is ever read), and with it the
body size the receiver declared. To keep a pooled connection open for the next attempt, a
reply body declared short (`Content-Length` up to `DRAIN_BYTES`) is read and discarded; nothing
of it is kept.
"""

import asyncio
import codecs
import contextlib
import functools
import ssl
import time
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpcore

from app.webhooks.connections import Connections
from app.webhooks.ssrf import (
    AllowedHosts,
    Destination,
    UnresolvableDestination,
    UnsafeDestination,
    resolve_destination,
)

MAX_EXCERPT_BYTES = 1024
# A reply body up to this size (as declared) is read and dropped so that its connection can be
# kept; a longer one, or one that takes longer than DRAIN_S, closes the connection instead.
DRAIN_BYTES = 1024
DRAIN_S = 1.0
DEFAULT_TIMEOUT_S = 15.0
USER_AGENT = "KAP-Journey-Webhooks/1"
# The caller may not set these: they describe the connection, which is ours to describe.
_CONNECTION_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """The outcome of one delivery attempt, as the attempt log stores it."""

    status_code: int | None
    duration_ms: float
    error: str | None
    response_excerpt: str | None
    retry_after_s: float | None
    succeeded: bool
    response_headers_bytes: int | None = None
    response_body_bytes: int | None = None


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Dials the pre-checked addresses of one host, in order, whatever host name it is given.

    Only the TCP destination changes: the connection above still uses the real host name for
    SNI, certificate verification and the Host header.
    """

    def __init__(
        self, host: str, addresses: Sequence[str], inner: httpcore.AsyncNetworkBackend
    ) -> None:
        self._host = host
        self._addresses = tuple(addresses)
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if host != self._host or not self._addresses:
            raise httpcore.ConnectError(f"refusing to connect to unchecked host {host!r}")
        failure: httpcore.ConnectError | None = None
        for address in self._addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are never sent over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """Built once: loading the CA bundle costs milliseconds."""
    return httpcore.default_ssl_context()


def parse_retry_after(value: str, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value (delay-seconds or HTTP-date), or None.

    A date in the past means 0; anything unparseable means None.
    """
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" or an obsolete zone: RFC 9110 dates are always GMT
        when = when.replace(tzinfo=UTC)
    delay = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delay)


class _Exchange:
    """What the attempt got before it ended: kept if the body read is cut short."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()


async def _exchange(
    destination: Destination,
    headers: dict[str, str],
    body: bytes,
    *,
    timeout_s: float,
    ssl_context: ssl.SSLContext,
    progress: _Exchange,
    excerpt_bytes: int,
    connections: Connections | None,
) -> None:
    origin = httpcore.Origin(
        scheme=destination.scheme.encode("ascii"),
        host=destination.host.encode("ascii"),
        port=destination.port,
    )
    url = httpcore.URL(
        scheme=origin.scheme, host=origin.host, port=origin.port, target=destination.target
    )
    request_headers = [("Host", destination.host_header)]
    if not any(name.lower() == "user-agent" for name in headers):
        request_headers.append(("User-Agent", USER_AGENT))
    request_headers += [
        (name, value) for name, value in headers.items() if name.lower() not in _CONNECTION_HEADERS
    ]
    backend = _PinnedBackend(destination.host, destination.addresses, httpcore.AnyIOBackend())
    timeouts = {"connect": timeout_s, "read": timeout_s, "write": timeout_s, "pool": timeout_s}
    async with contextlib.AsyncExitStack() as stack:
        if connections is None:  # a connection of its own, closed on leaving
            connection = await stack.enter_async_context(
                httpcore.AsyncHTTPConnection(
                    origin, ssl_context=ssl_context, network_backend=backend
                )
            )
        else:  # kept for the destination's next attempt if the reply is read to its end
            connection = await stack.enter_async_context(
                connections.connection(destination, origin, ssl_context, backend)
            )
        response = await stack.enter_async_context(
            connection.stream(
                "POST",
                url,
                headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in request_headers],
                content=body,
                extensions={"timeout": timeouts},
            )
        )
        await _read_reply(response, progress, excerpt_bytes, drain=connections is not None)


async def _read_reply(
    response: httpcore.Response, progress: _Exchange, excerpt_bytes: int, *, drain: bool
) -> None:
    """Note the status and headers, and read the excerpt (or, when `drain`, a short body to
    drop)."""
    progress.status = response.status
    progress.headers = list(response.headers)
    if excerpt_bytes <= 0:
        if drain:
            await _drain(response)
        return  # the body is not ours to read: closing the connection discards it
    chunks = response.aiter_stream()
    try:
        async for chunk in chunks:
            progress.body += chunk
            if len(progress.body) >= excerpt_bytes:
                break
    finally:
        if isinstance(chunks, AsyncGenerator):
            await chunks.aclose()


async def _drain(response: httpcore.Response) -> None:
    """Read and drop a short declared body, so that the pool may keep the connection."""
    declared = _declared_length(response.headers)
    if declared is None or declared > DRAIN_BYTES:
        return
    chunks = response.aiter_stream()
    try:
        async with asyncio.timeout(DRAIN_S):
            async for _ in chunks:
                pass
    except (TimeoutError, httpcore.NetworkError, httpcore.ProtocolError, OSError):
        return  # the connection is closed rather than kept
    finally:
        if isinstance(chunks, AsyncGenerator):
            await chunks.aclose()


def _failure(exc: BaseException) -> str:
    """A short description of a network failure, from the exception and its causes."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    found: list[BaseException] = []
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
        if isinstance(current, BaseExceptionGroup):
            pending += list(current.exceptions)
    for kind, description in (
        (ssl.SSLCertVerificationError, "tls certificate verification failed"),
        (ssl.SSLError, "tls error"),
        (ConnectionRefusedError, "connection refused"),
        (ConnectionResetError, "connection reset"),
        (TimeoutError, "timeout"),
    ):
        if any(isinstance(e, kind) for e in found):
            return description
    if isinstance(exc, httpcore.ConnectError):
        return "connection failed"
    if isinstance(exc, httpcore.LocalProtocolError):
        return "invalid request"
    if isinstance(exc, httpcore.RemoteProtocolError):
        return "invalid response"
    return "network error"


def _excerpt(body: bytes | bytearray, limit: int) -> str | None:
    """The first `limit` bytes as text, None when excerpts are off; a character cut in half at
    the end is dropped."""
    if limit <= 0:
        return None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(bytes(body[:limit]), final=False)


def _headers_size(headers: list[tuple[bytes, bytes]]) -> int:
    """The header block's size on the wire: `name: value` and CRLF per field."""
    return sum(len(name) + len(value) + 4 for name, value in headers)


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The body size the receiver announced in Content-Length, None without a valid one."""
    raw = _header(headers, b"content-length")
    if raw is None:
        return None
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def send(
    url: str,
    *,
    headers: dict[str, str],
    body: bytes,
    allowed: AllowedHosts,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    ssl_context: ssl.SSLContext | None = None,
    excerpt_bytes: int = 0,
    connections: Connections | None = None,
) -> AttemptResult:
    """POST `body` to `url` once and report what happened; never raises for network trouble.

    `timeout_s` bounds the whole attempt: resolution, connection, TLS, request and response.
    Once a status line has arrived the outcome is that status; a failure while reading the
    body afterwards only shortens the excerpt. `ssl_context` replaces the default CA bundle
    (tests, private CAs). `excerpt_bytes` (0 to `MAX_EXCERPT_BYTES`) is how much of the body to
    keep; with 0 the body is not read at all and its declared size is not reported either.
    `connections`: keep-alive pools to send through (a connection of its own, closed after the
    attempt, without).
    """
    excerpt_bytes = max(0, min(excerpt_bytes, MAX_EXCERPT_BYTES))
    started = time.perf_counter()
    progress = _Exchange()
    error: str | None = None
    try:
        async with asyncio.timeout(timeout_s):
            destination = await resolve_destination(url, allowed)
            await _exchange(
                destination,
                headers,
                body,
                timeout_s=timeout_s,
                ssl_context=ssl_context or _default_ssl_context(),
                progress=progress,
                excerpt_bytes=excerpt_bytes,
                connections=connections,
            )
    except UnresolvableDestination:
        error = "host does not resolve"
    except UnsafeDestination as exc:
        error = f"unsafe destination: {exc.reason}"
    except (TimeoutError, httpcore.TimeoutException):
        error = "timeout"
    except (httpcore.NetworkError, httpcore.ProtocolError, OSError) as exc:
        error = _failure(exc)
    duration_ms = round((time.perf_counter() - started) * 1000, 3)

    status = progress.status
    if status is not None:
        error = "redirect not followed" if 300 <= status < 400 else None
    retry_after: float | None = None
    if status in (429, 503):
        raw = _header(progress.headers, b"retry-after")
        retry_after = parse_retry_after(raw) if raw is not None else None
    return AttemptResult(
        status_code=status,
        duration_ms=duration_ms,
        error=error,
        response_excerpt=_excerpt(progress.body, excerpt_bytes) if status is not None else None,
        retry_after_s=retry_after,
        succeeded=status is not None and 200 <= status < 300,
        response_headers_bytes=_headers_size(progress.headers) if status is not None else None,
        # The declared size is a small oracle too (which reply came back): opt-in like the body.
        response_body_bytes=_declared_length(progress.headers) if excerpt_bytes > 0 else None,
    )
