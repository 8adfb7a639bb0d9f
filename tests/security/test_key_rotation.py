"""Rotating KAP_SECRET_KEY: values sealed under the old key keep working while it is listed in
KAP_SECRET_KEY_PREVIOUS, `kap-journey reseal-secrets` moves them to the new key, and then the old
key is neither needed nor enough. Each run uses its own scratch database, since resealing
touches every clinic's rows."""

import asyncio
import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError
from sqlalchemy import LargeBinary, Table, select

from app.cli_reseal import SEALED_COLUMNS, Resealed, reseal_all, reseal_batch
from app.common.crypto import SecretBox, UnreadableSecret
from app.config import Settings
from app.db import Base, begin_write
from app.main import create_app
from app.migrate import upgrade
from app.models import load_all_models
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.models import WebhookEndpoint
from app.webhooks.ssrf import AllowedHosts
from tests.inbound.payloads import standard_body, standard_headers
from tests.inbound.support import SECRETS, drain, make_integration
from tests.support import databases
from tests.support.apps import exit_code_of_command
from tests.support.factories import Clinic, FakeClock, bootstrap
from tests.webhooks.support import Receiver, make_endpoint

CLI = [sys.executable, "-c", "from app.cli import main; main()"]
KEY_A = "rotation-key-a-7c1f0e9b2d4a"
KEY_B = "rotation-key-b-3e8d5a6f1c0b"
INBOUND_SECRET = SECRETS["standard"]
CLIENT = {"first_name": "Rena", "last_name": "Ito", "date_of_birth": "1979-11-02"}
EVERY_COLUMN = {f"{a.class_.__tablename__}.{a.key}" for a in SEALED_COLUMNS}


# --- The box and the setting -------------------------------------------------------------------


def test_the_box_seals_with_the_current_key_and_opens_with_previous_ones() -> None:
    old, rotating, new = SecretBox(KEY_A), SecretBox(KEY_B, [KEY_A]), SecretBox(KEY_B)
    sealed_before = old.seal("whsec_old")
    sealed_during = rotating.seal("whsec_new")
    assert rotating.open(sealed_before) == "whsec_old"
    assert new.open(sealed_during) == "whsec_new"
    with pytest.raises(UnreadableSecret, match="was KAP_SECRET_KEY changed"):
        old.open(sealed_during)
    resealed = rotating.reseal(sealed_before)
    assert resealed is not None
    assert new.open(resealed) == "whsec_old"
    assert rotating.reseal(sealed_during) is None  # already under the current key
    with pytest.raises(UnreadableSecret):
        new.reseal(old.seal("neither key of `new` opens this"))


def test_previous_keys_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    spelled = {
        "old-1": ["old-1"],
        " old-1 , old-2 ": ["old-1", "old-2"],
        '["has,a comma", " kept as written "]': ["has,a comma", " kept as written "],
        "": [],
    }
    for value, keys in spelled.items():
        monkeypatch.setenv("KAP_SECRET_KEY_PREVIOUS", value)
        settings = Settings()
        assert [key.get_secret_value() for key in settings.secret_key_previous] == keys
    assert "old-1" not in repr(Settings(secret_key_previous=[SecretStr("old-1")]))
    assert Settings().secret_key_previous == []


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ('["old-1", ', "not JSON"),
        ('["old-1", 2]', "JSON array of strings"),
        ('[{"key": "old-1"}]', "JSON array of strings"),
        ("old-1,,old-2", "empty key"),
        ("old-1,", "empty key"),
    ],
)
def test_a_malformed_previous_key_setting_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, complaint: str
) -> None:
    monkeypatch.setenv("KAP_SECRET_KEY_PREVIOUS", value)
    with pytest.raises(ValidationError, match=f"KAP_SECRET_KEY_PREVIOUS .*{complaint}"):
        Settings()


def test_the_command_names_a_malformed_setting_without_printing_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret = "do-not-print-9f2c"
    monkeypatch.setenv("KAP_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("KAP_SECRET_KEY_PREVIOUS", f'["{secret}"')
    assert exit_code_of_command(monkeypatch, "reseal-secrets") == 2
    printed = capsys.readouterr()
    assert "invalid settings: secret_key_previous" in printed.err
    assert "KAP_SECRET_KEY_PREVIOUS starts with [ but is not JSON" in printed.err
    assert secret not in printed.err + printed.out
    assert not (tmp_path / "x.db").exists()


def test_every_binary_column_of_the_schema_is_resealed() -> None:
    load_all_models()
    binary = {
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.c
        if isinstance(column.type, LargeBinary)
    }
    assert binary == EVERY_COLUMN


async def test_a_secret_rotated_while_resealing_is_not_overwritten(
    app: FastAPI, clinic: Clinic
) -> None:
    """The row is read, then rewritten by a request, then resealed: the request's value wins.
    Only this clinic's row is passed in, so the suite's shared database is otherwise untouched."""
    endpoint = await make_endpoint(clinic, "http://127.0.0.1:9/hooks")
    endpoint_id = uuid.UUID(endpoint["id"])
    table: Table = WebhookEndpoint.__table__  # type: ignore[assignment]
    column = table.c.secret_ciphertext
    async with app.state.sessionmaker() as db:
        read = (await db.execute(select(table.c.id, column).where(table.c.id == endpoint_id))).all()
    rotated = await clinic.ok("POST", f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")
    done = Resealed("webhook_endpoints.secret_ciphertext")
    box = SecretBox(KEY_B, [app.state.settings.secret_key.get_secret_value()])
    async with app.state.sessionmaker() as db:
        await begin_write(db)
        await reseal_batch(db, box, column, read, done)
        await db.commit()
        stored = (await db.execute(select(column).where(table.c.id == endpoint_id))).scalar_one()
    assert (done.resealed, done.changed) == (0, 1)
    assert app.state.secret_box.open(stored) == rotated["secret"]


# --- A rotation, end to end --------------------------------------------------------------------


def cli(url: str, current: str, previous: str | None = None) -> subprocess.CompletedProcess[str]:
    """`kap-journey reseal-secrets` in its own process, in batches of 2 to cross batches."""
    env = {**os.environ, "KAP_DATABASE_URL": url, "KAP_SECRET_KEY": current}
    env.pop("KAP_SECRET_KEY_PREVIOUS", None)
    if previous is not None:
        env["KAP_SECRET_KEY_PREVIOUS"] = previous
    return subprocess.run(
        [*CLI, "reseal-secrets", "--batch-size", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def counts(ran: subprocess.CompletedProcess[str]) -> dict[str, dict[str, int]]:
    """{"table.column": {"resealed": n, "already current": n, "unreadable": n}} from stdout."""
    found: dict[str, dict[str, int]] = {}
    for line in ran.stdout.splitlines():
        column, _, figures = line.partition(": ")
        found[column] = {
            label: int(number)
            for number, label in (figure.split(" ", 1) for figure in figures.split(", "))
        }
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
async def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'rotation.db'}"
        await asyncio.to_thread(upgrade, url)
        yield url
        return
    async with databases.scratch_postgres() as url:
        yield url


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    made = Receiver(tmp_path)
    yield made
    made.stop()


@dataclasses.dataclass
class World:
    """What the test made under key A, and how to reach it again after a restart."""

    url: str
    clock: FakeClock
    clinic: Clinic
    endpoint: dict[str, Any]
    secrets: list[str]  # the endpoint's current signing secret, then its previous one
    integration_id: str
    first_client: dict[str, Any]
    cursor: str


def settings_for(url: str, current: str, *previous: str) -> Settings:
    return Settings(
        database_url=url,
        secret_key=SecretStr(current),
        secret_key_previous=[SecretStr(key) for key in previous],
        webhook_allowed_hosts=["127.0.0.1"],
        rate_limit_per_minute=0,
    )


@dataclasses.dataclass
class Service:
    app: FastAPI
    clinic: Clinic  # the same admin, talking to this app


@asynccontextmanager
async def restarted(world: World, current: str, *previous: str) -> AsyncIterator[Service]:
    """The service started afresh with these keys."""
    app = create_app(settings_for(world.url, current, *previous), world.clock)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as http:
            yield Service(app, dataclasses.replace(world.clinic, http=http))
    finally:
        await app.state.engine.dispose()


async def post_booking(clinic: Clinic, world: World, booking_id: str) -> None:
    """A provider delivery, signed with the integration's secret, which the service verifies."""
    body = standard_body(
        "booking.created",
        booking_id=booking_id,
        start=world.clock.now,
        end=world.clock.now,
        attendee_email="nobody@example.org",
        kind="integration",
    )
    response = await clinic.http.post(
        f"/api/v1/inbound/{world.integration_id}",
        content=body,
        headers=standard_headers(INBOUND_SECRET, body, world.clock.now),
    )
    assert response.status_code == 202, response.text


async def replay_first_client(clinic: Clinic, world: World) -> None:
    again = await clinic.post(
        "/api/v1/clients", json=CLIENT, headers={"Idempotency-Key": "rotation-1"}
    )
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == world.first_client


async def deliver_events(app: FastAPI, world: World, receiver: Receiver, expected: int) -> None:
    """The worker signs pending events with the endpoint's secrets; the receiver checks them."""
    dispatcher = Dispatcher(
        app.state.sessionmaker, app.state.secret_box, AllowedHosts.parse(["127.0.0.1"]), world.clock
    )
    before = len(receiver.received())
    assert await dispatcher.run_once() == expected
    arrived = receiver.received()[before:]
    assert len(arrived) == expected
    assert all(one["verified_with"] == [0, 1] for one in arrived)


async def sealed_values(app: FastAPI) -> list[bytes]:
    async with app.state.sessionmaker() as db:
        found = []
        for attribute in SEALED_COLUMNS:
            query = select(attribute).where(attribute.is_not(None))
            rows = await db.execute(query.order_by(attribute.class_.id))
            found += [bytes(value) for value in rows.scalars()]
        return found


def opens(box: SecretBox, value: bytes) -> bool:
    try:
        box.open_bytes(value)
    except UnreadableSecret:
        return False
    return True


async def made_under_key_a(url: str, receiver: Receiver) -> World:
    # Real time: the receiver checks signature timestamps against its own clock.
    clock = FakeClock()
    clock.set(datetime.now(UTC).replace(microsecond=0))
    app = create_app(settings_for(url, KEY_A), clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as http:
        clinic = await bootstrap(app, http, clock)
        endpoint = await make_endpoint(clinic, receiver.url, "client.created")
        base = f"/api/v1/webhook-endpoints/{endpoint['id']}"
        rotated = await clinic.ok("POST", f"{base}/rotate-secret")
        integration = await make_integration(clinic, "standard", event_type_map={})
        first = await clinic.post(
            "/api/v1/clients", json=CLIENT, headers={"Idempotency-Key": "rotation-1"}
        )
        assert first.status_code == 201, first.text
        await clinic.client()
        page = await clinic.ok("GET", "/api/v1/clients?limit=1")
        world = World(
            url=url,
            clock=clock,
            clinic=clinic,
            endpoint=await clinic.ok("GET", base),
            secrets=[rotated["secret"], endpoint["secret"]],
            integration_id=integration["id"],
            first_client=first.json(),
            cursor=page["next_cursor"],
        )
        await post_booking(clinic, world, "booked-under-a")
    await app.state.engine.dispose()
    return world


@pytest.mark.process  # the command and a receiver
async def test_a_key_rotation_from_start_to_finish(scratch_url: str, receiver: Receiver) -> None:
    world = await made_under_key_a(scratch_url, receiver)
    receiver.start(world.secrets)

    # 1. Every process restarts with B as the key and A as a previous one: all still works.
    async with restarted(world, KEY_B, KEY_A) as service:
        clinic = service.clinic
        await replay_first_client(clinic, world)
        listed = await clinic.get("/api/v1/clients", params={"limit": 1, "cursor": world.cursor})
        assert listed.status_code == 200, listed.text
        await post_booking(clinic, world, "booked-during-rotation")
        assert await drain(service.app) == 2
        url = f"/api/v1/scheduling-integrations/{world.integration_id}/deliveries"
        deliveries = (await clinic.ok("GET", url))["items"]
        assert [one["status"] for one in deliveries] == ["unmatched", "unmatched"]
        await deliver_events(service.app, world, receiver, expected=2)

    # 2. reseal-secrets moves what A sealed to B; what B sealed already is left alone.
    ran = cli(scratch_url, KEY_B, KEY_A)
    assert ran.returncode == 0, ran.stderr
    assert counts(ran) == {
        column: {
            "resealed": 1,
            "already current": 1 if column == "inbound_deliveries.body_ciphertext" else 0,
            "unreadable": 0,
        }
        for column in EVERY_COLUMN
    }

    # 3. Without the previous key everything opens; a second run has nothing left to do.
    again = await reseal_all(settings_for(scratch_url, KEY_B), batch_size=2)
    assert {(one.resealed, len(one.unreadable), one.changed) for one in again} == {(0, 0, 0)}
    async with restarted(world, KEY_B) as service:
        clinic = service.clinic
        await replay_first_client(clinic, world)
        await post_booking(clinic, world, "booked-after-rotation")
        assert await drain(service.app) == 1
        await clinic.client(last_name="After")
        await deliver_events(service.app, world, receiver, expected=1)
        endpoint = await clinic.ok("GET", f"/api/v1/webhook-endpoints/{world.endpoint['id']}")
        assert endpoint == world.endpoint  # resealing is not a change of the resource
        values = await sealed_values(service.app)
    assert len(values) == 7
    assert all(opens(SecretBox(KEY_B), value) for value in values)
    assert not any(opens(SecretBox(KEY_A), value) for value in values)

    # 4. With A alone nothing opens: each value is reported and left as it is; the exit is 1.
    stale = cli(scratch_url, KEY_A)
    assert stale.returncode == 1
    assert sum(figures["unreadable"] for figures in counts(stale).values()) == 7
    assert f"unreadable: webhook_endpoints.secret_ciphertext id={world.endpoint['id']}\n" in (
        stale.stderr
    )
    assert f"scheduling_integrations.secret_ciphertext id={world.integration_id}\n" in stale.stderr
    assert "7 value(s) open with none of the keys" in stale.stderr
    async with restarted(world, KEY_B) as service:
        assert await sealed_values(service.app) == values
