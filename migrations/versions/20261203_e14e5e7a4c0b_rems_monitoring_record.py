"""rems monitoring record

Revision ID: e14e5e7a4c0b
Revises: d14a5afe7e01
Create Date: 2026-12-03 18:00:00.000000

Issue 14, the esketamine REMS monitoring record: the ready-to-leave time, the four
concomitant-medication answers, and the facts the REMS-complete filter reads from the vitals,
derived here for the rows already stored.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "e14e5e7a4c0b"
down_revision: str | None = "d14a5afe7e01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANSWERS = (
    "concomitant_benzodiazepines",
    "concomitant_non_benzodiazepine_sedative_hypnotics",
    "concomitant_psychostimulants",
    "concomitant_maois",
)
FACTS = ("has_bp_30_to_60_min", "has_discharge_bp", "has_spo2_after_dose")
BATCH = 1000

# The sessions table as this revision leaves it, only the columns the backfill reads or writes.
SESSIONS = sa.table(
    "sessions",
    sa.column("id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("vitals", sa.JSON()),
    sa.column("dosed_at", app.db.UTCDateTime()),
    sa.column("pre_dose_systolic_peak", sa.Integer()),
    sa.column("pre_dose_diastolic_peak", sa.Integer()),
    *(sa.column(name, sa.Boolean()) for name in FACTS),
)


def _instant(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _facts(vitals: list[dict[str, Any]] | None, dosed_at: datetime | None) -> dict[str, Any]:
    """The derived columns of one dose, as app/sessions/dosing/schemas.py (vitals_facts)
    computes them at this revision (frozen here, so a later change of the rule cannot change
    what this migration did)."""
    readings = [(_instant(v["taken_at"]), v) for v in vitals or []]
    pressures = [(at, v) for at, v in readings if v.get("systolic") is not None]
    pre = [v for _, v in pressures if v.get("label") == "pre_dose"]
    oximetry = [at for at, v in readings if v.get("spo2") is not None]
    window = (timedelta(minutes=30), timedelta(minutes=60))
    return {
        "pre_dose_systolic_peak": max((v["systolic"] for v in pre), default=None),
        "pre_dose_diastolic_peak": max((v["diastolic"] for v in pre), default=None),
        "has_bp_30_to_60_min": dosed_at is not None
        and any(window[0] <= at - dosed_at <= window[1] for at, _ in pressures),
        "has_discharge_bp": any(v.get("label") == "discharge" for _, v in pressures),
        "has_spo2_after_dose": dosed_at is not None and any(at > dosed_at for at in oximetry),
    }


def _doses_with_vitals(connection: sa.Connection) -> Iterator[Sequence[sa.Row[Any, Any, Any]]]:
    """Ketamine sessions that have vitals, a batch at a time in id order."""
    query = (
        sa.select(SESSIONS.c.id, SESSIONS.c.vitals, SESSIONS.c.dosed_at)
        .where(SESSIONS.c.kind == "ketamine", SESSIONS.c.vitals.is_not(None))
        .order_by(SESSIONS.c.id)
        .limit(BATCH)
    )
    rows = connection.execute(query).all()
    while rows:
        yield rows
        rows = connection.execute(query.where(SESSIONS.c.id > rows[-1].id)).all()


def _backfill(connection: sa.Connection) -> None:
    columns = ("pre_dose_systolic_peak", "pre_dose_diastolic_peak", *FACTS)
    update = (
        SESSIONS.update()
        .where(SESSIONS.c.id == sa.bindparam("row_id"))
        .values({name: sa.bindparam(name) for name in columns})
    )
    for rows in _doses_with_vitals(connection):
        values = [{"row_id": row.id, **_facts(row.vitals, row.dosed_at)} for row in rows]
        connection.execute(update, values)


def upgrade() -> None:
    # Nullable columns and columns with a server default are added in place on SQLite (no
    # table rebuild, which would lose the expression index on the anchor time).
    with op.batch_alter_table("sessions", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("ready_to_leave_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        for name in ANSWERS:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=True))
        for name in FACTS:
            batch_op.add_column(
                sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)
            )
    _backfill(op.get_bind())


def downgrade() -> None:
    # Dropped in place (SQLite 3.35+), never by a batch rebuild (see upgrade). The pre-dose
    # peaks the upgrade recomputed stay: the revision before keeps them too.
    with op.batch_alter_table("sessions", schema=None, recreate="never") as batch_op:
        for name in reversed(FACTS):
            batch_op.drop_column(name)
        for name in reversed(ANSWERS):
            batch_op.drop_column(name)
        batch_op.drop_column("ready_to_leave_at")
