"""Delivery to a real receiver on loopback that verifies every signature with standardwebhooks."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.config import Settings
from app.db import begin_write
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.models import DeliveryStatus, WebhookDelivery
from app.webhooks.ssrf import AllowedHosts
from app.worker import Worker
from tests.support.factories import Clinic, FakeClock
from tests.webhooks.support import Receiver, make_endpoint


@pytest.fixture
async def receivers(app: FastAPI, clinic: Clinic) -> AsyncIterator[list[Receiver]]:
    """Receivers to stop at the end; other tests' pending deliveries are set aside first, since
    the dispatcher serves every clinic of the shared test database."""
    async with app.state.sessionmaker() as db:
        await begin_write(db)
        await db.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.status == DeliveryStatus.pending.value,
                WebhookDelivery.clinic_id != uuid.UUID(clinic.id),
            )
            .values(status=DeliveryStatus.failed.value, last_error="set aside by a test")
        )
        await db.commit()
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.stop()


@pytest.fixture
def real_time(clock: FakeClock) -> FakeClock:
    """Receivers check signature timestamps against the real clock (5-minute tolerance)."""
    clock.set(datetime.now(UTC).replace(microsecond=0))
    return clock


def dispatcher(app: FastAPI, clock: FakeClock) -> Dispatcher:
    return Dispatcher(
        app.state.sessionmaker,
        app.state.secret_box,
        AllowedHosts.parse(["127.0.0.1"]),
        clock,
    )


def receiver(receivers: list[Receiver], tmp_path: Path, port: int | None = None) -> Receiver:
    made = Receiver(tmp_path, port)
    receivers.append(made)
    return made


async def deliveries(clinic: Clinic, endpoint_id: str) -> list[dict[str, object]]:
    page = await clinic.ok("GET", f"/api/v1/webhook-endpoints/{endpoint_id}/deliveries")
    items: list[dict[str, object]] = page["items"]
    return items


async def test_events_arrive_signed_and_verified(
    clinic: Clinic, app: FastAPI, real_time: FakeClock, receivers: list[Receiver], tmp_path: Path
) -> None:
    hook = receiver(receivers, tmp_path)
    endpoint = await make_endpoint(clinic, hook.url, "client.created", "session.scheduled")
    assert endpoint["secret"].startswith("whsec_")
    hook.start([endpoint["secret"]])
    client = await clinic.client()
    await clinic.prep(client["id"], real_time.now + timedelta(days=1))
    assert await dispatcher(app, real_time).run_once() == 2
    got = hook.received()
    # Unordered by contract: both arrive, concurrently.
    assert sorted(json.loads(r["body"])["type"] for r in got) == [
        "client.created",
        "session.scheduled",
    ]
    assert all(r["verified_with"] == [0] for r in got)
    listed = await deliveries(clinic, endpoint["id"])
    assert {d["status"] for d in listed} == {"succeeded"}
    assert {d["event_id"] for d in listed} == {r["webhook_id"] for r in got}
    bodies = {json.loads(r["body"])["type"]: (r, json.loads(r["body"])) for r in got}
    record, created = bodies["client.created"]
    assert created["id"] == record["webhook_id"]
    assert created["data"] == {"client_id": client["id"], "archived": False, "version": 1}


async def test_a_receiver_that_was_down_gets_it_later_with_the_same_id(
    clinic: Clinic, app: FastAPI, real_time: FakeClock, receivers: list[Receiver], tmp_path: Path
) -> None:
    hook = receiver(receivers, tmp_path)
    endpoint = await make_endpoint(clinic, hook.url)
    await clinic.client()
    worker = dispatcher(app, real_time)
    assert await worker.run_once() == 1
    [failed] = await deliveries(clinic, endpoint["id"])
    assert failed["status"] == "pending"
    assert failed["last_error"] == "connection refused"
    assert await worker.run_once() == 0  # not due before the retry delay
    hook.start([endpoint["secret"]])
    real_time.advance(timedelta(seconds=7))
    assert await worker.run_once() == 1
    [done] = await deliveries(clinic, endpoint["id"])
    assert done["status"] == "succeeded"
    assert done["attempt_count"] == 2
    assert [r["webhook_id"] for r in hook.received()] == [done["event_id"]]


async def test_gone_disables_the_endpoint_and_says_why(
    clinic: Clinic, app: FastAPI, real_time: FakeClock, receivers: list[Receiver], tmp_path: Path
) -> None:
    hook = receiver(receivers, tmp_path)
    endpoint = await make_endpoint(clinic, hook.url)
    hook.start([endpoint["secret"]], "--status=410")
    await clinic.client()
    await dispatcher(app, real_time).run_once()
    shown = await clinic.ok("GET", f"/api/v1/webhook-endpoints/{endpoint['id']}")
    assert shown["enabled"] is False
    assert "410" in shown["disabled_reason"]
    async with app.state.sessionmaker() as db:
        audit = (
            await db.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "webhook_endpoint.disabled")
                .where(AuditEvent.resource_id == endpoint["id"])
            )
        ).scalar_one()
    assert audit.actor_role == "system"
    await clinic.client()
    assert await dispatcher(app, real_time).run_once() == 0


async def test_five_days_of_failure_disable_the_endpoint(
    clinic: Clinic, app: FastAPI, real_time: FakeClock, receivers: list[Receiver], tmp_path: Path
) -> None:
    hook = receiver(receivers, tmp_path)
    endpoint = await make_endpoint(clinic, hook.url)
    hook.start([endpoint["secret"]], "--status=500")
    worker = dispatcher(app, real_time)
    started = real_time.now
    for _ in range(60):
        await clinic.client()  # events keep coming, and keep failing
        await worker.run_once()
        shown = await clinic.ok("GET", f"/api/v1/webhook-endpoints/{endpoint['id']}")
        if not shown["enabled"]:
            break
        real_time.advance(timedelta(hours=3))
    assert shown["enabled"] is False
    assert "5 days" in shown["disabled_reason"]
    assert real_time.now - started >= timedelta(days=5)
    first, *_ = await deliveries(clinic, endpoint["id"])
    assert first["status"] == "failed"
    assert first["attempt_count"] == 10  # the whole retry schedule, ~3.2 days


async def test_retry_after_is_honoured(
    clinic: Clinic, app: FastAPI, real_time: FakeClock, receivers: list[Receiver], tmp_path: Path
) -> None:
    hook = receiver(receivers, tmp_path)
    endpoint = await make_endpoint(clinic, hook.url)
    hook.start([endpoint["secret"]], "--status=429", "--retry-after=120")
    await clinic.client()
    await dispatcher(app, real_time).run_once()
    [delivery] = await deliveries(clinic, endpoint["id"])
    due = datetime.fromisoformat(str(delivery["next_attempt_at"]))
    assert due >= real_time.now + timedelta(seconds=120)
    assert delivery["attempts"][0]["status_code"] == 429  # type: ignore[index]


async def test_rotation_signs_with_old_and_new_for_a_day(
    clinic: Clinic, app: FastAPI, real_time: FakeClock, receivers: list[Receiver], tmp_path: Path
) -> None:
    hook = receiver(receivers, tmp_path)
    endpoint = await make_endpoint(clinic, hook.url)
    rotated = await clinic.ok("POST", f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")
    assert rotated["secret"] != endpoint["secret"]
    hook.start([endpoint["secret"], rotated["secret"]])
    await clinic.client()
    worker = dispatcher(app, real_time)
    await worker.run_once()
    [first] = hook.received()
    assert first["verified_with"] == [0, 1]
    assert len(first["signatures"]) == 2
    real_time.advance(timedelta(hours=24, seconds=1))
    await clinic.client()
    await worker.run_once()
    second = hook.received()[1]
    assert len(second["signatures"]) == 1


async def test_resend_and_test_events_reuse_the_pipeline(
    clinic: Clinic, app: FastAPI, real_time: FakeClock, receivers: list[Receiver], tmp_path: Path
) -> None:
    hook = receiver(receivers, tmp_path)
    endpoint = await make_endpoint(clinic, hook.url)
    hook.start([endpoint["secret"]])
    base = f"/api/v1/webhook-endpoints/{endpoint['id']}"
    queued = await clinic.ok("POST", f"{base}/test", 202)
    worker = dispatcher(app, real_time)
    await worker.run_once()
    again = await clinic.ok("POST", f"{base}/deliveries/{queued['id']}/resend")
    assert again["status"] == "pending"
    await worker.run_once()
    got = hook.received()
    assert [json.loads(r["body"])["type"] for r in got] == ["webhook.test", "webhook.test"]
    assert got[0]["webhook_id"] == got[1]["webhook_id"] == queued["event_id"]


async def test_payloads_carry_no_patient_details(
    clinic: Clinic, app: FastAPI, real_time: FakeClock, receivers: list[Receiver], tmp_path: Path
) -> None:
    hook = receiver(receivers, tmp_path)
    types = ["client.created", "client.updated", "client.archived", "session.scheduled",
             "session.rescheduled", "session.cancelled", "session.completed",
             "integration_session.outside_window"]  # fmt: skip
    endpoint = await make_endpoint(clinic, hook.url, *types)
    hook.start([endpoint["secret"]])
    phi = {"first_name": "Octavia", "last_name": "Vanderpuije", "email": "octavia.v@example.net",
           "phone": "+1 555 214 7788", "date_of_birth": "1966-06-16",
           "presenting_concerns": ["trauma"]}  # fmt: skip
    now = real_time.now
    client = await clinic.client(**phi)
    await clinic.ok("PATCH", f"/api/v1/clients/{client['id']}", json={"preferred_name": "Tavi"})
    prep = await clinic.prep(client["id"], now - timedelta(days=2), notes="Fears loss of control")
    await clinic.action("preparation", prep["id"], "complete")
    await clinic.clear_for_dosing(client["id"], now - timedelta(days=2))
    dose = await clinic.dose(client["id"], now - timedelta(hours=6), dose_mg=42.5, weight_kg=61.2,
                             notes="Octavia tolerated well")  # fmt: skip
    await clinic.action("ketamine", dose["id"], "complete")
    late = await clinic.integration(client["id"], now + timedelta(days=9), notes="Octavia journal")
    await clinic.action("integration", late["id"], "cancel", reason="moved")
    await dispatcher(app, real_time).run_once()
    bodies = " ".join(r["body"] for r in hook.received())
    assert {json.loads(r["body"])["type"] for r in hook.received()} >= {
        "client.created", "client.updated", "session.scheduled", "session.completed",
        "integration_session.outside_window", "session.cancelled",
    }  # fmt: skip
    for value in [*[v for v in phi.values() if isinstance(v, str)], "Tavi", "trauma", "42.5",
                  "61.2", "Fears", "Octavia", "tolerated", "journal", "moved"]:  # fmt: skip
        assert value not in bodies, value


async def test_old_attempts_are_cleaned_up(
    clinic: Clinic, app: FastAPI, real_time: FakeClock, receivers: list[Receiver], tmp_path: Path
) -> None:
    hook = receiver(receivers, tmp_path)
    endpoint = await make_endpoint(clinic, hook.url)
    hook.start([endpoint["secret"]])
    await clinic.client()
    worker = dispatcher(app, real_time)
    await worker.run_once()
    real_time.advance(timedelta(days=30, seconds=1))
    assert await worker.clean_up() >= 1
    [delivery] = await deliveries(clinic, endpoint["id"])
    assert delivery["attempts"] == []
    assert delivery["status"] == "succeeded"


# A reply an allow-listed internal service might give: not the clinic's admins' to read.
INTERNAL_REPLY = "internal-service-reply;" * 100


def worker_with(app: FastAPI, clock: FakeClock, **settings: object) -> Worker:
    """A worker built from the app's settings, as `kap-journey worker` builds one."""
    configured = app.state.settings.model_copy(update=settings)
    return Worker(app.state.sessionmaker, configured, app.state.secret_box, clock)


async def test_attempts_keep_no_reply_body_by_default(
    clinic: Clinic, app: FastAPI, real_time: FakeClock, receivers: list[Receiver], tmp_path: Path
) -> None:
    hook = receiver(receivers, tmp_path)
    endpoint = await make_endpoint(clinic, hook.url)
    hook.start([endpoint["secret"]], "--status=500", f"--reply={INTERNAL_REPLY}")
    await clinic.client()
    assert await worker_with(app, real_time).dispatcher.run_once() == 1
    page = await clinic.ok("GET", f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries")
    [attempt] = page["items"][0]["attempts"]
    assert attempt["status_code"] == 500
    # Neither the body nor its declared size: either would tell one reply from another.
    assert (attempt["response_excerpt"], attempt["response_body_bytes"]) == (None, None)
    assert attempt["response_headers_bytes"] > 0
    assert "internal-service" not in json.dumps(page)


async def test_an_operator_may_opt_in_to_a_capped_excerpt(
    clinic: Clinic, app: FastAPI, real_time: FakeClock, receivers: list[Receiver], tmp_path: Path
) -> None:
    hook = receiver(receivers, tmp_path)
    endpoint = await make_endpoint(clinic, hook.url)
    hook.start([endpoint["secret"]], f"--reply={INTERNAL_REPLY}")
    for excerpt_bytes in (1024, 40):
        await clinic.client()
        worker = worker_with(app, real_time, webhook_response_excerpt_bytes=excerpt_bytes)
        assert await worker.dispatcher.run_once() == 1
    page = await clinic.ok("GET", f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries")
    attempts = [a for d in page["items"] for a in d["attempts"]]
    excerpts = sorted(a["response_excerpt"] for a in attempts)
    assert excerpts == [INTERNAL_REPLY[:40], INTERNAL_REPLY[:1024]]
    # With the excerpt comes the size the receiver declared.
    assert [a["response_body_bytes"] for a in attempts] == [len(INTERNAL_REPLY)] * 2


@pytest.mark.parametrize("value", [-1, 1025, 65536])
def test_the_excerpt_setting_is_bounded(value: int) -> None:
    with pytest.raises(ValidationError, match="webhook_response_excerpt_bytes"):
        Settings(webhook_response_excerpt_bytes=value)
