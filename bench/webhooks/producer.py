"""The benchmark's side of the outbox: a migrated scratch database with one clinic and endpoint,
and events emitted into it as the API's writes emit them (`app.events.service.emit`)."""

import asyncio
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clinics.models import Clinic
from app.common.crypto import SecretBox
from app.db import begin_write
from app.events.catalogue import EventType
from app.events.service import emit
from app.migrate import upgrade
from app.webhooks.models import WebhookEndpoint
from app.webhooks.secrets import new_signing_secret
from bench.scratch_database import create_scratch

SECRET_KEY = "bench-secret-key"  # noqa: S105 - seals a scratch database's endpoint secret


async def migrated_scratch() -> str:
    """A new scratch database at the app's latest schema; its URL."""
    url = await create_scratch("kap_bench")
    await asyncio.to_thread(upgrade, url)
    return url


async def make_endpoint(
    sessions: async_sessionmaker[AsyncSession], url: str
) -> tuple[uuid.UUID, str]:
    """A clinic with one enabled endpoint subscribed to client.created; its plaintext secret."""
    secret = new_signing_secret()
    async with sessions() as db:
        await begin_write(db)
        clinic = Clinic(name="Bench clinic", timezone="America/New_York")
        db.add(clinic)
        await db.flush()
        db.add(
            WebhookEndpoint(
                clinic_id=clinic.id,
                url=url,
                event_types=[EventType.client_created.value],
                secret_ciphertext=SecretBox(SECRET_KEY).seal(secret),
            )
        )
        await db.commit()
    return clinic.id, secret


async def produce(
    sessions: async_sessionmaker[AsyncSession],
    clinic_id: uuid.UUID,
    count: int,
    batch: int,
    rate: float | None = None,
) -> dict[str, float]:
    """Emit `count` events, `batch` per transaction, optionally paced at `rate` events/s;
    returns event id -> the time its commit returned."""
    committed: dict[str, float] = {}
    started = time.monotonic()
    made = 0
    while made < count:
        if rate is not None:
            await asyncio.sleep(max(0.0, started + made / rate - time.monotonic()))
        size = min(batch, count - made)
        async with sessions() as db:
            await begin_write(db)
            ids = []
            for _ in range(size):
                data = {"client_id": str(uuid.uuid4()), "archived": False, "version": 1}
                event = await emit(db, clinic_id, EventType.client_created, data, datetime.now(UTC))
                assert event is not None
                ids.append(str(event.id))
            await db.commit()
        at = time.time()
        committed.update((event_id, at) for event_id in ids)
        made += size
    return committed
