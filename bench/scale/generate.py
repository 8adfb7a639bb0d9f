"""Fills a migrated PostgreSQL database with clinics, staff, API keys, clients and sessions, fast.

    .venv/bin/python -m bench.scale.generate postgresql://postgres@127.0.0.1:5432/DB \
        [--sessions 1000000] [--seed 1]

The database grows the way a multi-clinic deployment does: every clinic takes in
INTAKE_PER_WEEK new clients a week, so its active load (open windows, upcoming bookings) is the
same at any size, and more sessions mean more clinics (one per SESSIONS_PER_CLINIC) and a longer
history (about five years at 1M sessions, half a year at 10k). The newest intakes are LEAD ahead
of `now`, so there are bookings in the future too. What a journey looks like is in
bench/scale/journeys.py.

Clinics, staff and keys go in through the ORM (so their defaults are the app's); clients,
sessions and assessments are drawn and expanded inside PostgreSQL by set-based SQL, with
foreign-key triggers off and the secondary indexes dropped, then rebuilt, then VACUUM ANALYZE.
For scratch databases only.
"""

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.auth.models import ApiKey
from app.auth.service import API_KEY
from app.clinics.models import Clinic
from app.db import create_sessionmaker
from app.staff.models import Role, Staff
from bench.scale.journeys import STEPS

SESSIONS_PER_CLINIC = 50_000
INTAKE_PER_WEEK = 20
CLINICIANS_PER_CLINIC = 8
LEAD = timedelta(weeks=4)  # the newest intakes are this far ahead of now
BULK_TABLES = ("clients", "sessions", "assessments")
OVERDRAW = 10  # clients drawn per clinic: quota / OVERDRAW + 20 (a journey averages ~11.6)
SESSION_SETTINGS = (
    "SET temp_buffers = '512MB'",  # before the first temporary table
    "SET TimeZone = 'UTC'",
    "SET session_replication_role = replica",  # no foreign-key triggers: rows are consistent
    "SET work_mem = '256MB'",
    "SET maintenance_work_mem = '512MB'",
    "SET synchronous_commit = off",
)
TIME_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")


@dataclass
class GeneratedClinic:
    clinic_id: uuid.UUID
    admin_id: uuid.UUID
    api_key: str  # the admin's, in plaintext
    clinician_ids: list[uuid.UUID]
    client_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class Generated:
    clinics: list[GeneratedClinic]
    now: datetime
    sessions: int = 0
    clients: int = 0
    assessments: int = 0
    seconds: float = 0.0


def driver_url(url: str) -> str:
    """A plain postgresql:// URL for asyncpg from a SQLAlchemy one."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def orm_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def clinic_count(sessions: int) -> int:
    return max(2, round(sessions / SESSIONS_PER_CLINIC))


async def make_clinics(url: str, count: int, now: datetime) -> list[GeneratedClinic]:
    """Clinics with default policies, each with an admin (and key), clinicians and a scheduler."""
    engine = create_async_engine(orm_url(url))
    made = []
    try:
        async with create_sessionmaker(engine)() as db:
            for n in range(count):
                clinic = Clinic(name=f"Scale clinic {n + 1}", timezone=TIME_ZONES[n % 4])
                db.add(clinic)
                await db.flush()

                def member(role: Role, name: str, clinic_id: uuid.UUID = clinic.id) -> Staff:
                    return Staff(
                        clinic_id=clinic_id, email=f"{name}@example.org", name=name, role=role
                    )

                admin = member(Role.admin, "admin")
                clinicians = [
                    member(Role.clinician, f"clinician{k + 1}")
                    for k in range(CLINICIANS_PER_CLINIC)
                ]
                db.add_all([admin, *clinicians, member(Role.scheduler, "scheduler")])
                await db.flush()
                key = API_KEY.generate()
                db.add(
                    ApiKey(
                        clinic_id=clinic.id,
                        staff_id=admin.id,
                        name="scale benchmark",
                        prefix=key.prefix,
                        secret_hash=key.secret_hash,
                        created_at=now,
                    )
                )
                made.append(
                    GeneratedClinic(clinic.id, admin.id, key.plaintext, [c.id for c in clinicians])
                )
            await db.commit()
    finally:
        await engine.dispose()
    return made


@dataclass(frozen=True)
class Keys:
    """The bulk tables' keys and indexes, dropped for the load and rebuilt after it: keeping a
    B-tree on random UUIDs up to date row by row costs more than building it once."""

    primary: list[tuple[str, str, str]]  # (table, name, definition)
    foreign: list[tuple[str, str, str]]  # every foreign key that points at a bulk table
    indexes: list[tuple[str, str]]  # (name, CREATE INDEX statement)

    @classmethod
    async def read(cls, connection: asyncpg.Connection) -> "Keys":
        constraints = await connection.fetch(
            """
            SELECT c.contype::text AS contype, c.conrelid::regclass::text AS tbl, c.conname,
                   pg_get_constraintdef(c.oid) AS definition
            FROM pg_constraint c
            WHERE (c.contype = 'p' AND c.conrelid::regclass::text = ANY($1::text[]))
               OR (c.contype = 'f' AND c.confrelid::regclass::text = ANY($1::text[]))
            ORDER BY c.conname
            """,
            list(BULK_TABLES),
        )
        indexes = await connection.fetch(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.schemaname = 'public' AND i.tablename = ANY($1::text[])
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            ORDER BY i.indexname
            """,
            list(BULK_TABLES),
        )
        by_kind: dict[str, list[tuple[str, str, str]]] = {"p": [], "f": []}
        for row in constraints:
            by_kind[row["contype"]].append((row["tbl"], row["conname"], row["definition"]))
        return cls(
            by_kind["p"], by_kind["f"], [(row["indexname"], row["indexdef"]) for row in indexes]
        )

    async def drop(self, connection: asyncpg.Connection) -> None:
        for table, name, _ in [*self.foreign, *self.primary]:
            await connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in self.indexes:
            await connection.execute(f'DROP INDEX "{name}"')

    async def rebuild(self, url: str, connection: asyncpg.Connection) -> None:
        """Primary keys one by one (each locks its table), the other indexes side by side,
        then the foreign keys, which check every row as they go back on."""
        for table, name, definition in self.primary:
            await connection.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        await asyncio.gather(*(_run(url, statement) for _, statement in self.indexes))
        for table, name, definition in self.foreign:
            await connection.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


async def _parameters(
    connection: asyncpg.Connection, clinics: Sequence[GeneratedClinic], sessions: int, now: datetime
) -> None:
    await connection.execute(
        "CREATE TEMP TABLE scale_params AS SELECT $1::timestamptz AS now, "
        "$2::timestamptz AS newest, $3::interval AS every",
        now,
        now + LEAD,
        timedelta(weeks=1) / INTAKE_PER_WEEK,
    )
    await connection.execute(
        "CREATE TEMP TABLE scale_clinics "
        "(n int, clinic_id uuid, clinicians uuid[], quota int, clients int)"
    )
    rows = []
    for n, clinic in enumerate(clinics):
        quota = sessions * (n + 1) // len(clinics) - sessions * n // len(clinics)
        rows.append((n, clinic.clinic_id, clinic.clinician_ids, quota, quota // OVERDRAW + 20))
    await connection.executemany("INSERT INTO scale_clinics VALUES ($1, $2, $3, $4, $5)", rows)


async def generate(
    url: str,
    sessions: int,
    *,
    now: datetime | None = None,
    seed: int = 1,
    progress: bool = False,
) -> Generated:
    """Fill the (migrated, empty) database at `url` with exactly `sessions` sessions."""
    began = time.monotonic()
    now = now or datetime.now(UTC)
    clinics = await make_clinics(url, clinic_count(sessions), now)
    connection = await asyncpg.connect(driver_url(url))
    try:
        for setting in SESSION_SETTINGS:
            await connection.execute(setting)
        await connection.fetchval("SELECT setseed($1)", (seed % 1000) / 1000)
        await _parameters(connection, clinics, sessions, now)
        keys = await Keys.read(connection)
        await keys.drop(connection)
        for name, statement in STEPS:
            step_began = time.monotonic()
            await connection.execute(statement)
            if progress:
                print(f"  {name}: {time.monotonic() - step_began:.1f} s", flush=True)
        step_began = time.monotonic()
        await keys.rebuild(url, connection)
        await connection.execute(f"VACUUM ANALYZE {', '.join(BULK_TABLES)}")
        if progress:
            print(f"  indexes, vacuum: {time.monotonic() - step_began:.1f} s", flush=True)
        counts = await connection.fetchrow(
            "SELECT (SELECT count(*) FROM sessions) AS sessions, "
            "(SELECT count(*) FROM clients) AS clients, "
            "(SELECT count(*) FROM assessments) AS assessments"
        )
        assert counts is not None
        for clinic in clinics:
            found = await connection.fetch(
                "SELECT id FROM clients WHERE clinic_id = $1 ORDER BY created_at DESC",
                clinic.clinic_id,
            )
            clinic.client_ids = [row["id"] for row in found]
    finally:
        await connection.close()
    return Generated(
        clinics,
        now,
        sessions=counts["sessions"],
        clients=counts["clients"],
        assessments=counts["assessments"],
        seconds=time.monotonic() - began,
    )


async def _run(url: str, statement: str) -> None:
    connection = await asyncpg.connect(driver_url(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale.generate", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("url", help="a migrated, empty PostgreSQL database")
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    made = asyncio.run(generate(options.url, options.sessions, seed=options.seed, progress=True))
    print(
        f"{made.sessions} sessions, {made.clients} clients, {made.assessments} assessments, "
        f"{len(made.clinics)} clinics in {made.seconds:.1f} s"
    )
    for clinic in made.clinics:
        print(f"clinic {clinic.clinic_id}: admin key {clinic.api_key}")


if __name__ == "__main__":
    main()
