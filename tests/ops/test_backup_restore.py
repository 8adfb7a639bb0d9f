"""The backup drill of docs/operations.md, run once: data written through the API is dumped with
`pg_dump --format=custom`, the database is dropped, `pg_restore` fills a new one, and the API
serves the same records from it with the same keys."""

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from pydantic import SecretStr

from app.common.crypto import SecretBox
from app.config import Settings
from app.main import create_app
from app.migrate import alembic_config
from tests.support import databases
from tests.support.factories import T0, Clinic, FakeClock, bootstrap

pytestmark = pytest.mark.process  # pg_dump and pg_restore, then the API

SECRET_KEY = "backup-drill-secret-key"
POSTGRES_BIN = Path("/usr/lib/postgresql")


@dataclass(frozen=True)
class Written:
    """What the API wrote before the backup, and what it answered when read."""

    admin_key: str
    endpoint_id: str
    endpoint_secret: str
    reads: dict[str, Any]
    audit_ids: set[str]


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _major_version(tool: str) -> int:
    process = await asyncio.create_subprocess_exec(
        tool, "--version", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    found = re.search(rb"\) (\d+)", out)
    assert found, out
    return int(found[1])


def _client_tool(name: str) -> str:
    """The newest installed `name`: pg_dump cannot dump a server newer than itself."""
    versioned = sorted(
        POSTGRES_BIN.glob(f"*/bin/{name}"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    tool = str(versioned[-1]) if versioned else shutil.which(name)
    if tool is None:
        message = f"{name} is not installed (PATH or {POSTGRES_BIN}/*/bin)"
        if databases.IN_CI:
            pytest.fail(f"{message}: the backup drill is mandatory in CI", pytrace=False)
        pytest.skip(f"{message}: backup drill skipped")
    return tool


async def _run(*argv: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, (argv[0], out.decode(), err.decode())


@asynccontextmanager
async def _api(
    database_url: str, clock: FakeClock
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = Settings(
        database_url=database_url,
        secret_key=SecretStr(SECRET_KEY),
        webhook_allowed_hosts=["127.0.0.1"],
        rate_limit_per_minute=0,
    )
    app = create_app(settings, clock=clock)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as http:
            yield app, http
    finally:
        await app.state.engine.dispose()


async def _get(http: httpx.AsyncClient, key: str, url: str) -> Any:
    response = await http.get(url, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, (url, response.status_code, response.text)
    return response.json()


async def _audit_ids(http: httpx.AsyncClient, key: str) -> set[str]:
    page = await _get(http, key, "/api/v1/audit-events?limit=200")
    assert page["next_cursor"] is None, "the drill writes less than a page of audit events"
    return {event["id"] for event in page["items"]}


async def _read_back(http: httpx.AsyncClient, key: str, urls: list[str]) -> dict[str, Any]:
    return {url: await _get(http, key, url) for url in urls}


async def _write_through_the_api(database_url: str, clock: FakeClock) -> Written:
    async with _api(database_url, clock) as (app, http):
        clinic: Clinic = await bootstrap(app, http, clock)
        client = await clinic.prepared_client()
        dose = await clinic.dose(client["id"], T0 + timedelta(days=1))
        integration = await clinic.integration(client["id"], T0 + timedelta(days=2))
        clock.set(T0 + timedelta(days=1, hours=3))
        await clinic.action("ketamine", dose["id"], "complete")
        endpoint = await clinic.ok(
            "POST",
            "/api/v1/webhook-endpoints",
            201,
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["session.scheduled"]},
        )
        urls = [
            "/api/v1/clinic",
            f"/api/v1/clients/{client['id']}",
            f"/api/v1/clients/{client['id']}/journey",
            f"/api/v1/ketamine-sessions/{dose['id']}",
            f"/api/v1/integration-sessions/{integration['id']}",
            "/api/v1/integration-sessions",
            "/api/v1/webhook-endpoints",
        ]
        reads = await _read_back(http, clinic.admin_key, urls)
        assert reads[f"/api/v1/integration-sessions/{integration['id']}"]["window"]["status"] == (
            "in_window"
        )
        audit_ids = await _audit_ids(http, clinic.admin_key)
    return Written(clinic.admin_key, endpoint["id"], endpoint["secret"], reads, audit_ids)


async def _assert_schema_at_head(database_url: str) -> None:
    heads = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    connection = await asyncpg.connect(_libpq(database_url))
    try:
        versions = await connection.fetch("SELECT version_num FROM alembic_version")
    finally:
        await connection.close()
    assert sorted(row["version_num"] for row in versions) == sorted(heads)
    # ... and the restored tables, indexes and constraints are exactly what the models declare.
    await asyncio.to_thread(command.check, alembic_config(database_url))


async def _assert_sealed_and_append_only(database_url: str, written: Written) -> None:
    connection = await asyncpg.connect(_libpq(database_url))
    try:
        sealed = await connection.fetchval(
            "SELECT secret_ciphertext FROM webhook_endpoints WHERE id = $1::uuid",
            written.endpoint_id,
        )
        assert SecretBox(SECRET_KEY).open(bytes(sealed)) == written.endpoint_secret
        with pytest.raises(RuntimeError, match="KAP_SECRET_KEY"):
            SecretBox("a-different-key").open(bytes(sealed))  # the key is part of the backup
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await connection.execute("UPDATE audit_events SET action = 'tampered'")
    finally:
        await connection.close()


async def test_a_custom_format_dump_restores_into_a_database_the_api_serves(
    tmp_path: Path, clock: FakeClock
) -> None:
    pg_dump, pg_restore = _client_tool("pg_dump"), _client_tool("pg_restore")
    dump = tmp_path / "kap-journey.dump"
    async with databases.scratch_postgres() as source_url:
        connection = await asyncpg.connect(_libpq(source_url))
        server_major = int(await connection.fetchval("SHOW server_version_num")) // 10_000
        await connection.close()
        if await _major_version(pg_dump) < server_major:
            pytest.skip(f"{pg_dump} is older than the PostgreSQL {server_major} server")
        written = await _write_through_the_api(source_url, clock)
        await _run(pg_dump, "--format=custom", f"--file={dump}", f"--dbname={_libpq(source_url)}")
    # The source database is gone now, as after losing the server: only the dump remains.
    target = await databases.create_postgres_database()
    try:
        await _run(
            pg_restore,
            "--exit-on-error",
            "--no-owner",
            f"--dbname={_libpq(target.url)}",
            str(dump),
        )
        await _assert_schema_at_head(target.url)
        await _assert_sealed_and_append_only(target.url, written)
        async with _api(target.url, clock) as (_, http):
            again = await _read_back(http, written.admin_key, list(written.reads))
            assert again == written.reads
            assert written.audit_ids <= await _audit_ids(http, written.admin_key)
            created = await http.post(
                "/api/v1/clients",
                headers={"Authorization": f"Bearer {written.admin_key}"},
                json={"first_name": "Ada", "last_name": "Restored", "date_of_birth": "1990-02-03"},
            )
            assert created.status_code == 201, created.text
    finally:
        await databases.drop_postgres_database(target)
