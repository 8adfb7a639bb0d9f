"""Redis for the rate-limit tests: the shared one at 127.0.0.1:6379, or one a test starts itself.

The shared Redis is mandatory when CI is set; elsewhere its tests are skipped, with the reason.
Tests never stop it: a test that needs Redis to go away starts its own `redis-server`.
"""

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.databases import IN_CI
from tests.support.servers import free_port

REDIS_URL = os.environ.get("KAP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique_prefix() -> str:
    """A key prefix of one test's own, so that runs and tests never share counters."""
    return f"kap-test-{uuid.uuid4().hex[:12]}"


def _answers(host: str, port: int, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def require_redis(purpose: str) -> str:
    """The shared Redis's URL; skip (outside CI) or fail (in CI) when it does not answer."""
    host_port = REDIS_URL.split("://", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    if _answers(host or "127.0.0.1", int(port or 6379)):
        return REDIS_URL
    message = f"Redis unreachable at {REDIS_URL}"
    if IN_CI:
        pytest.fail(f"{message}: it is mandatory in CI", pytrace=False)
    pytest.skip(f"{message}: {purpose} skipped")


class OwnRedis:
    """A `redis-server` of one test's own on a loopback port, started and stopped at will."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if IN_CI:
                pytest.fail("redis-server is not installed: it is mandatory in CI", pytrace=False)
            pytest.skip("redis-server is not installed: a Redis that goes away cannot be tried")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _answers("127.0.0.1", self.port, 0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the test's own redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@contextmanager
def own_redis(folder: Path) -> Iterator[OwnRedis]:
    redis = OwnRedis(folder)
    try:
        yield redis
    finally:
        redis.stop()
