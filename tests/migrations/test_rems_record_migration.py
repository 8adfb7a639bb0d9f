"""The REMS-record revision derives, for doses stored before it, the facts the REMS-complete
filter reads from their vitals; downgrading drops the new columns and keeps the records."""

import asyncio
import uuid
import warnings
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import UTCDateTime
from app.migrate import downgrade, upgrade

pytestmark = pytest.mark.api  # migrations on each backend

BEFORE = "d14a5afe7e01"  # the revision before the REMS record
AFTER = "e14e5e7a4c0b"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DOSED = NOW - timedelta(hours=3)
MINUTE = timedelta(minutes=1)
STAMPS = {"created_at": NOW, "updated_at": NOW, "version": 1}
NEW_COLUMNS = {
    "ready_to_leave_at",
    "concomitant_benzodiazepines",
    "concomitant_non_benzodiazepine_sedative_hypnotics",
    "concomitant_psychostimulants",
    "concomitant_maois",
    "has_bp_30_to_60_min",
    "has_discharge_bp",
    "has_spo2_after_dose",
}

# The tables as they are at BEFORE, only the columns a row needs.
CLINICS = sa.table(
    "clinics",
    sa.column("id", sa.Uuid()),
    *(sa.column(n) for n in ("name", "timezone", "require_completed_preparation")),
    *(sa.column(f"window_{n}_s") for n in ("opens_after", "closes_iv", "closes_im")),
    *(sa.column(f"window_closes_{n}_s") for n in ("intranasal", "sublingual", "oral")),
    sa.column("closing_soon_s"),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
    sa.column("version"),
)
STAFF = sa.table(
    "staff",
    *(sa.column(n, sa.Uuid()) for n in ("id", "clinic_id")),
    *(sa.column(n) for n in ("email", "name", "role", "active", "version")),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
CLIENTS = sa.table(
    "clients",
    *(sa.column(n, sa.Uuid()) for n in ("id", "clinic_id")),
    *(sa.column(n) for n in ("first_name", "last_name", "archived")),
    sa.column("date_of_birth", sa.Date()),
    sa.column("presenting_concerns", sa.JSON()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
    sa.column("version"),
)
SESSIONS = sa.table(
    "sessions",
    sa.column("id", sa.Uuid()),
    *(sa.column(n, sa.Uuid()) for n in ("clinic_id", "client_id", "clinician_id")),
    *(sa.column(n) for n in ("kind", "status", "location", "route", "medication", "version")),
    *(sa.column(n, UTCDateTime()) for n in ("starts_at", "ends_at", "dosed_at")),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
    sa.column("vitals", sa.JSON()),
)


def reading(label: str, after_dose: timedelta, **values: int) -> dict[str, Any]:
    return {"taken_at": (DOSED + after_dose).isoformat(), "label": label, **values}


# The doses on file before the upgrade: what each is, and the facts the upgrade must derive.
DOSES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "rems_readings": (
        {
            "dosed_at": DOSED,
            "vitals": [
                reading("pre_dose", -10 * MINUTE, systolic=132, diastolic=84, spo2=98),
                # a bare time, as early rows may hold one: read as UTC
                {
                    "taken_at": (DOSED + 30 * MINUTE).replace(tzinfo=None).isoformat(),
                    "label": "other",
                    "systolic": 150,
                    "diastolic": 92,
                },
                reading("discharge", 121 * MINUTE, systolic=126, diastolic=80, spo2=97),
            ],
        },
        {
            "pre_dose_systolic_peak": 132,
            "pre_dose_diastolic_peak": 84,
            "has_bp_30_to_60_min": True,
            "has_discharge_bp": True,
            "has_spo2_after_dose": True,
        },
    ),
    "outside_the_window": (
        {
            "dosed_at": DOSED,
            "vitals": [
                reading("peak", 61 * MINUTE, systolic=150, diastolic=92),
                reading("discharge", 0 * MINUTE, spo2=97),
            ],
        },
        {
            "pre_dose_systolic_peak": None,
            "has_bp_30_to_60_min": False,
            "has_discharge_bp": False,
            "has_spo2_after_dose": False,
        },
    ),
    "no_dose_time": (
        {
            "dosed_at": None,
            "vitals": [reading("peak", 40 * MINUTE, systolic=140, diastolic=90, spo2=97)],
        },
        {"has_bp_30_to_60_min": False, "has_spo2_after_dose": False},
    ),
    "no_vitals": ({"dosed_at": DOSED, "vitals": None}, {"has_bp_30_to_60_min": False}),
}


async def _store_doses_before_the_upgrade(url: str) -> dict[str, uuid.UUID]:
    clinic_id, staff_id, client_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    windows = {f"window_{n}_s": 86_400 for n in ("closes_iv", "closes_im")} | {
        f"window_closes_{n}_s": 86_400 for n in ("intranasal", "sublingual", "oral")
    }
    ids = {name: uuid.uuid4() for name in DOSES}
    engine = create_async_engine(url)
    try:
        async with engine.begin() as db:
            await db.execute(
                sa.insert(CLINICS).values(
                    id=clinic_id,
                    name="Clinic",
                    timezone="UTC",
                    require_completed_preparation=False,
                    window_opens_after_s=0,
                    closing_soon_s=3600,
                    **windows,
                    **STAMPS,
                )
            )
            await db.execute(
                sa.insert(STAFF).values(
                    id=staff_id,
                    clinic_id=clinic_id,
                    email="a@a.example",
                    name="A",
                    role="admin",
                    active=True,
                    **STAMPS,
                )
            )
            await db.execute(
                sa.insert(CLIENTS).values(
                    id=client_id,
                    clinic_id=clinic_id,
                    first_name="M",
                    last_name="O",
                    archived=False,
                    date_of_birth=date(1988, 4, 17),
                    presenting_concerns=[],
                    **STAMPS,
                )
            )
            for n, (name, (record, _)) in enumerate(DOSES.items()):
                starts_at = DOSED - timedelta(days=n, minutes=5)
                await db.execute(
                    sa.insert(SESSIONS).values(
                        id=ids[name],
                        clinic_id=clinic_id,
                        client_id=client_id,
                        clinician_id=staff_id,
                        kind="ketamine",
                        status="completed",
                        location="in_person",
                        route="intranasal",
                        medication="esketamine",
                        starts_at=starts_at,
                        ends_at=starts_at + timedelta(hours=2),
                        **record,
                        **STAMPS,
                    )
                )
    finally:
        await engine.dispose()
    return ids


def _reflect_sessions(sync: sa.Connection) -> sa.Table:
    with warnings.catch_warnings():  # SQLite cannot reflect the expression index; no matter
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        return sa.Table("sessions", sa.MetaData(), autoload_with=sync)


async def _rows(url: str) -> dict[uuid.UUID, dict[str, Any]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as db:
            table = await db.run_sync(_reflect_sessions)
            rows = (await db.execute(sa.select(table))).all()
    finally:
        await engine.dispose()
    return {uuid.UUID(str(row.id)): dict(row._mapping) for row in rows}


async def test_doses_on_file_get_their_rems_facts_and_keep_their_records(
    scratch_url: str,
) -> None:
    await asyncio.to_thread(upgrade, scratch_url, BEFORE)
    ids = await _store_doses_before_the_upgrade(scratch_url)

    await asyncio.to_thread(upgrade, scratch_url, AFTER)
    upgraded = await _rows(scratch_url)
    for name, (record, facts) in DOSES.items():
        row = upgraded[ids[name]]
        assert {k: row[k] for k in facts} == facts, name
        assert (row["ready_to_leave_at"], row["concomitant_maois"]) == (None, None), name
        assert len(row["vitals"] or []) == len(record["vitals"] or []), name

    await asyncio.to_thread(downgrade, scratch_url, BEFORE)
    downgraded = await _rows(scratch_url)
    for name, (record, _) in DOSES.items():
        row = downgraded[ids[name]]
        assert not NEW_COLUMNS & row.keys(), name
        assert len(row["vitals"] or []) == len(record["vitals"] or []), name

    await asyncio.to_thread(upgrade, scratch_url, AFTER)
    again = await _rows(scratch_url)
    assert all(
        again[ids[name]]["has_bp_30_to_60_min"] is facts.get("has_bp_30_to_60_min")
        for name, (_, facts) in DOSES.items()
    )
