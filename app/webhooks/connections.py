"""Keep-alive connections for webhook attempts, kept per checked destination.

A kept connection belongs to one host name, port, scheme and the exact set of addresses the SSRF
guard passed for it (app/webhooks/ssrf.py), and was dialled to one of those addresses. Every
attempt still checks its URL afresh; when the host now resolves differently (or not at all, or
unsafely), the attempt takes another connection or none, so a kept connection never outlives
the check that allowed it. An idle connection closes after `KEEPALIVE_S` (or when the receiver
closes it); the least recently used destinations beyond `MAX_DESTINATIONS` are dropped between
batches (`trim`).

This is a plain stack of idle HTTP/1.1 connections per destination rather than httpcore's
connection pool, whose every request scans every connection of the pool (quadratic in a batch
sent at once).
"""

import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpcore

from app.webhooks.ssrf import Destination

# Shorter than the idle timeouts receivers' servers commonly use (5 s and up), so that we close
# an idle connection before the receiver does, rather than race it with the next request.
KEEPALIVE_S = 4.0
MAX_DESTINATIONS = 64
Key = tuple[str, str, int, tuple[str, ...], ssl.SSLContext]


class Connections:
    """The worker's idle connections; at most `per_host` are kept for one destination."""

    def __init__(self, *, per_host: int = 50, max_destinations: int = MAX_DESTINATIONS) -> None:
        self.per_host = per_host
        self.max_destinations = max_destinations
        self._idle: OrderedDict[Key, list[httpcore.AsyncHTTPConnection]] = OrderedDict()

    @asynccontextmanager
    async def connection(
        self,
        destination: Destination,
        origin: httpcore.Origin,
        ssl_context: ssl.SSLContext,
        backend: httpcore.AsyncNetworkBackend,
    ) -> AsyncIterator[httpcore.AsyncHTTPConnection]:
        """An idle connection to `destination` as checked just now, or a new one dialled by
        `backend` (pinned to its addresses); kept afterwards if its exchange ended cleanly."""
        key = (
            destination.scheme,
            destination.host,
            destination.port,
            destination.addresses,
            ssl_context,
        )
        idle = self._idle.setdefault(key, [])
        self._idle.move_to_end(key)
        connection: httpcore.AsyncHTTPConnection | None = None
        while idle and connection is None:
            candidate = idle.pop()
            if candidate.is_idle() and not candidate.has_expired():
                connection = candidate
            else:
                await candidate.aclose()
        if connection is None:
            connection = httpcore.AsyncHTTPConnection(
                origin,
                ssl_context=ssl_context,
                keepalive_expiry=KEEPALIVE_S,
                network_backend=backend,
            )
        try:
            yield connection
        except BaseException:
            await connection.aclose()
            raise
        # A reply not read to its end left the connection closed, not idle.
        if connection.is_idle() and len(idle) < self.per_host:
            idle.append(connection)
        else:
            await connection.aclose()

    async def trim(self) -> None:
        """Drop the least recently used destinations beyond `max_destinations`."""
        while len(self._idle) > self.max_destinations:
            _, idle = self._idle.popitem(last=False)
            for connection in idle:
                await connection.aclose()

    async def aclose(self) -> None:
        """Close every kept connection."""
        while self._idle:
            _, idle = self._idle.popitem()
            for connection in idle:
                await connection.aclose()
