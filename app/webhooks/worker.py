"""The worker: outbox dispatcher, inbound bookings, window scanner and clean-up in one loop.

`kap-journey worker` runs it as its own process (any number of them on PostgreSQL);
`kap-journey serve` runs one in-process unless --no-worker.
"""

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.common.crypto import SecretBox
from app.config import Settings
from app.db import begin_write
from app.idempotency.service import purge_expired
from app.inbound.processor import InboundProcessor
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.ssrf import AllowedHosts
from app.windows.events import scan_windows

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.2
SCAN_EVERY_S = 30.0
CLEAN_EVERY_S = 3600.0
ERROR_BACKOFF_S = 2.0


class Worker:
    """Polls the outbox; scans windows and cleans up on slower timers."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        box: SecretBox,
        clock: Clock,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.dispatcher = Dispatcher(
            sessionmaker,
            box,
            AllowedHosts.parse(settings.webhook_allowed_hosts),
            clock,
            lease=timedelta(seconds=settings.webhook_lease_seconds),
            excerpt_bytes=settings.webhook_response_excerpt_bytes,
        )
        self.inbound = InboundProcessor(
            sessionmaker, box, clock, settle=timedelta(seconds=settings.inbound_settle_seconds)
        )

    async def scan(self) -> int:
        async with self.sessionmaker() as db:
            await begin_write(db)
            emitted = await scan_windows(db, self.clock())
            await db.commit()
        return emitted

    async def clean_up(self) -> int:
        """Old delivery attempts and expired idempotency records; returns how many went."""
        removed = await self.dispatcher.clean_up()
        async with self.sessionmaker() as db:
            await begin_write(db)
            removed += await purge_expired(db, self.clock())
            await db.commit()
        return removed

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; errors (a database restart, say) are logged and retried."""
        next_scan = next_clean = 0.0
        while not stop.is_set():
            try:
                sent = await self.dispatcher.run_once() + await self.inbound.run_once()
                if time.monotonic() >= next_scan:
                    await self.scan()
                    next_scan = time.monotonic() + SCAN_EVERY_S
                if time.monotonic() >= next_clean:
                    await self.clean_up()
                    next_clean = time.monotonic() + CLEAN_EVERY_S
                pause = 0.0 if sent else IDLE_POLL_S
            except Exception as error:  # keep the worker alive through outages
                log.warning(
                    "worker cycle failed", extra={"fields": {"error": type(error).__name__}}
                )
                pause = ERROR_BACKOFF_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause or 0.001)
