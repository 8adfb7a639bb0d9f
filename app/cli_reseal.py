"""Sealing every stored secret again with the current KAP_SECRET_KEY (`kap-journey
reseal-secrets`), after a key rotation: batch by batch, resumable, safe beside live traffic."""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Row, Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from app.common.crypto import SecretBox, UnreadableSecret, secret_box_for
from app.config import Settings
from app.db import begin_write, create_engine, create_sessionmaker
from app.idempotency.models import IdempotencyRecord
from app.inbound.models import InboundDelivery, SchedulingIntegration
from app.webhooks.models import WebhookEndpoint

# Every column sealed with KAP_SECRET_KEY. tests/security/test_key_rotation.py fails when the
# schema gains a binary column that is not listed here.
SEALED_COLUMNS: tuple[InstrumentedAttribute[Any], ...] = (
    WebhookEndpoint.secret_ciphertext,
    WebhookEndpoint.previous_secret_ciphertext,
    SchedulingIntegration.secret_ciphertext,
    InboundDelivery.body_ciphertext,
    IdempotencyRecord.response_body,
)


@dataclass
class Resealed:
    """What reseal-secrets did to one sealed column."""

    column: str
    resealed: int = 0
    current: int = 0  # already sealed with the current key
    changed: int = 0  # rewritten or deleted by the service between our read and our write
    unreadable: list[uuid.UUID] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.column}: {self.resealed} resealed, {self.current} already current, "
        text += f"{len(self.unreadable)} unreadable"
        return text + (f", {self.changed} changed meanwhile" if self.changed else "")


async def reseal_batch(
    db: AsyncSession,
    box: SecretBox,
    sealed: Column[Any],
    rows: Sequence[Row[Any, Any]],
    done: Resealed,
) -> None:
    """Reseal the (id, value) rows read in this transaction, counting each outcome in `done`."""
    table = sealed.table
    row_id = table.c.id
    changes = []
    for key, value in rows:
        try:
            fresh = box.reseal(bytes(value))
        except UnreadableSecret:
            done.unreadable.append(key)
            continue
        if fresh is None:
            done.current += 1
        else:
            changes.append({"row": key, "read": value, "fresh": fresh})
    if not changes:
        return
    # Resealing changes no resource: updated_at (an onupdate column) keeps its value.
    unchanged = {column.name: column for column in table.c if column.onupdate is not None}
    # Only where the value is still the one read: never undo a secret rotated meanwhile.
    await db.execute(
        update(table)
        .where(row_id == bindparam("row"), sealed == bindparam("read"))
        .values({sealed.name: bindparam("fresh"), **unchanged}),
        changes,
    )
    # One statement for the batch; asyncpg reports no row count for it, so look instead.
    query = select(row_id, sealed).where(row_id.in_([change["row"] for change in changes]))
    stored = dict((await db.execute(query)).all())
    landed = sum(stored.get(change["row"]) == change["fresh"] for change in changes)
    done.resealed += landed
    done.changed += len(changes) - landed


async def _reseal_column(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    attribute: InstrumentedAttribute[Any],
    batch_size: int,
) -> Resealed:
    """Reseal one column in id order, one committed transaction per batch."""
    table: Table = attribute.class_.__table__
    sealed, row_id = table.c[attribute.key], table.c.id
    done = Resealed(f"{table.name}.{sealed.name}")
    after: uuid.UUID | None = None
    while True:
        async with sessions() as db:
            await begin_write(db)
            query = select(row_id, sealed).where(sealed.is_not(None)).order_by(row_id)
            if after is not None:
                query = query.where(row_id > after)
            rows = (await db.execute(query.limit(batch_size))).all()
            await reseal_batch(db, box, sealed, rows, done)
            await db.commit()
        if len(rows) < batch_size:
            return done
        after = rows[-1][0]


async def reseal_all(
    settings: Settings,
    batch_size: int = 200,
    on_column: Callable[[Resealed], None] = lambda _: None,
) -> list[Resealed]:
    """Reseal every sealed column of the configured database with the current key; `on_column`
    hears of each column as soon as it is done."""
    box = secret_box_for(settings)
    engine = create_engine(settings)
    results = []
    try:
        sessions = create_sessionmaker(engine)
        for attribute in SEALED_COLUMNS:
            results.append(await _reseal_column(sessions, box, attribute, batch_size))
            on_column(results[-1])
    finally:
        await engine.dispose()
    return results
