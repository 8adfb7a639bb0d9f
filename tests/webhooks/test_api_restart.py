"""The embedded default end to end: `kap-journey serve` (API + in-process worker, SQLite) is
SIGKILLed right after its writes were acknowledged; after a restart every event still arrives."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port, wait_until_healthy
from tests.webhooks.support import Receiver

pytestmark = pytest.mark.process  # an API process killed and restarted

CLI = [sys.executable, "-c", "from app.cli import main; main()"]


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KAP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'embedded.db'}",
        "KAP_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "KAP_RATE_LIMIT_PER_MINUTE": "0",
        # A delivery in flight when the server is killed stays leased until the lease runs out.
        "KAP_WEBHOOK_LEASE_SECONDS": "3",
    }


class Server:
    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*CLI, "serve", "--port", str(self.port)],
            env=self.environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_healthy(self.url, self.process)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def server(environment: dict[str, str]) -> Iterator[Server]:
    made = Server(environment)
    yield made
    made.kill()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    made = Receiver(tmp_path)
    yield made
    made.stop()


def test_acknowledged_events_survive_a_killed_api(
    environment: dict[str, str], server: Server, receiver: Receiver
) -> None:
    made = subprocess.run(
        [
            *CLI,
            "bootstrap",
            "--clinic-name",
            "Embedded",
            "--timezone",
            "UTC",
            "--admin-email",
            "admin@embedded.example",
            "--json",
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    auth = {"Authorization": f"Bearer {json.loads(made.stdout)['api_key']}"}
    server.start()
    endpoint = httpx.post(
        f"{server.url}/api/v1/webhook-endpoints",
        json={"url": receiver.url, "event_types": ["client.created"]},
        headers=auth,
    ).json()
    created = [
        httpx.post(
            f"{server.url}/api/v1/clients",
            json={"first_name": "K", "last_name": f"Ill{n}", "date_of_birth": "1990-01-01"},
            headers=auth,
        )
        for n in range(5)
    ]
    assert [response.status_code for response in created] == [201] * 5
    server.kill()  # the receiver is down too: nothing can have been delivered yet
    assert receiver.received() == []
    receiver.start([endpoint["secret"]])
    server.start()
    deadline = time.monotonic() + 30
    while len(receiver.received()) < 5:
        assert time.monotonic() < deadline, f"only {len(receiver.received())} of 5 arrived"
        time.sleep(0.2)
    got = receiver.received()
    ids = {json.loads(r["body"])["data"]["client_id"] for r in got}
    assert ids == {response.json()["id"] for response in created}
    assert all(r["verified_with"] == [0] for r in got)
