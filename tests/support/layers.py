"""The suite's layers: every test carries exactly one of `unit`, `api`, `process`, `scale`,
`browser`, and a unit or API test that reaches past its layer fails.

A test's layer is the marker it (or its class or module) declares; failing that, its directory
(tests/faults starts processes, tests/scale seeds large databases), then the fixtures it uses
(some start processes; the app, its client and the clinic mean the API on a database);
anything else is a unit test. The fallback is checked while the test runs, not trusted: a unit
test may not start a process, open a database or connect to anything but a loopback server it
runs itself, and an API test may not start a process. Declare the layer where these rules
guess wrong: `pytestmark = pytest.mark.process` in the module, or on the test itself.
"""

import ipaddress
import socket
import sqlite3
import subprocess
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.databases import POSTGRES_ADMIN_URL
from tests.support.redis_store import REDIS_URL

LAYERS = ("unit", "api", "process", "scale", "browser")
DIRECTORIES = {"faults": "process", "scale": "scale"}
# `workers` (tests/support/worker_processes.py), `fleet` (tests/faults) and the `receivers` of the
# webhook delivery tests (tests/webhooks/support.Receiver) are processes.
PROCESS_FIXTURES = frozenset({"workers", "fleet", "receivers"})
API_FIXTURES = frozenset({"app", "http", "clinic", "make_app", "database_url", "sql_statements"})
# Unit tests may run servers of their own on loopback; these loopback ports are services.
SERVICE_PORTS = frozenset(
    {urlsplit(POSTGRES_ADMIN_URL).port or 5432, urlsplit(REDIS_URL).port or 6379}
)


def declared(item: pytest.Item) -> list[str]:
    """The layers the test, its class and its module declare, without repeats."""
    return sorted({mark.name for mark in item.iter_markers() if mark.name in LAYERS})


def inferred(item: pytest.Item) -> str:
    """The layer the test's directory or fixtures imply, for a test that declares none."""
    parts = item.path.relative_to(item.config.rootpath).parts
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in DIRECTORIES:
        return DIRECTORIES[parts[1]]
    fixtures = set(getattr(item, "fixturenames", ()))
    if fixtures & PROCESS_FIXTURES:
        return "process"
    if fixtures & API_FIXTURES:
        return "api"
    return "unit"


def assign(items: Iterable[pytest.Item]) -> list[str]:
    """Mark each test with its layer; the problems of tests that declare more than one."""
    problems = []
    for item in items:
        layers = declared(item)
        if not layers:
            item.add_marker(getattr(pytest.mark, inferred(item)))
            layers = declared(item)
        if len(layers) != 1:
            problems.append(f"{item.nodeid}: {', '.join(layers) or 'no layer'}")
    return problems


def layer_of(item: pytest.Item) -> str:
    [layer] = declared(item)
    return layer


def _refuse(layer: str, what: str) -> None:
    # pytest.fail raises a BaseException, so code that catches OSError cannot hide it.
    pytest.fail(
        f"a {layer} test {what}: declare its layer (see tests/support/layers.py)", pytrace=False
    )


def _is_own_loopback(address: Any) -> bool:
    if not isinstance(address, tuple) or len(address) < 2:
        return False  # a Unix socket: a local database or service
    try:
        loopback = ipaddress.ip_address(address[0]).is_loopback
    except ValueError:
        loopback = address[0] == "localhost"
    return loopback and address[1] not in SERVICE_PORTS


def confine(layer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """For the duration of one test, refuse what its layer may not do."""
    if layer not in {"unit", "api"}:
        return
    real_popen_init = subprocess.Popen.__init__

    def popen(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        _refuse(layer, f"started a process ({args!r})")
        real_popen_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", popen)
    if layer != "unit":
        return
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> None:
        if not _is_own_loopback(address):
            _refuse(layer, f"connected to {address!r}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_own_loopback(address):
            _refuse(layer, f"connected to {address!r}")
        return real_connect_ex(self, address)

    def sqlite_connect(*args: Any, **kwargs: Any) -> None:
        _refuse(layer, f"opened an SQLite database ({args[0] if args else kwargs!r})")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(sqlite3, "connect", sqlite_connect)
