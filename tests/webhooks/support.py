"""Helpers for webhook tests: a receiver process on loopback and an endpoint made via the API."""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.factories import Clinic
from tests.support.servers import free_port


class Receiver:
    """tests/webhooks/receiver.py in a subprocess; it verifies every signature it gets."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log = folder / f"receiver-{self.port}.jsonl"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self, secrets: list[str], *options: str) -> "Receiver":
        args = [str(self.port), str(self.log), *(f"--secret={s}" for s in secrets), *options]
        self.process = subprocess.Popen([sys.executable, "-m", "tests.webhooks.receiver", *args])
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                assert time.monotonic() < deadline, "receiver did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def received(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


async def make_endpoint(clinic: Clinic, url: str, *event_types: str) -> dict[str, Any]:
    body = {"url": url, "event_types": list(event_types) or ["client.created"]}
    return await clinic.ok("POST", "/api/v1/webhook-endpoints", 201, json=body)
