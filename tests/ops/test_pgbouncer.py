"""Behind PgBouncer in transaction mode, with KAP_DATABASE_STATEMENT_CACHE=false, the API works.

Transaction mode hands each transaction whichever server connection is free, so a statement
prepared on one is missing on the next. The test runs a real PgBouncer (Debian's `pgbouncer`;
skipped, saying so, where it is not installed: it is an optional part of a deployment) with two
server connections in front of a scratch database, and many concurrent callers through it.
"""

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from tests.support.databases import scratch_postgres
from tests.support.factories import FakeClock, bootstrap
from tests.support.servers import free_port

pytestmark = pytest.mark.process  # a PgBouncer process before PostgreSQL

SERVER_CONNECTIONS = 2
CALLERS = 10
ROUNDS = 6


def _pgbouncer() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if found is None:
        pytest.skip("PgBouncer is not installed (Debian: apt-get install pgbouncer)")
    return found


@pytest.fixture
def bouncer_port() -> Iterator[int]:
    """A PgBouncer in transaction mode in front of the shared PostgreSQL, stopped afterwards."""
    binary = _pgbouncer()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="kap-pgbouncer-") as folder:
        config = Path(folder) / "pgbouncer.ini"
        (Path(folder) / "users.txt").write_text('"postgres" ""\n')
        config.write_text(
            "[databases]\n* = host=127.0.0.1 port=5432\n[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {folder}/users.txt\n"
            f"pool_mode = transaction\ndefault_pool_size = {SERVER_CONNECTIONS}\n"
            f"max_client_conn = 200\nlogfile = {folder}/pgbouncer.log\n"
        )
        command = [binary, str(config)]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            account = pwd.getpwnam("postgres")
            os.chown(folder, account.pw_uid, account.pw_gid)
            command = ["runuser", "-u", "postgres", "--", *command]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            _wait_for_port(port, process)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_for_port(port: int, process: "subprocess.Popen[bytes]") -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"pgbouncer exited: {output[-1000:]}")
        try:
            subprocess.run(
                ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)], check=True, timeout=5
            )
            return
        except (subprocess.CalledProcessError, FileNotFoundError):
            time.sleep(0.1)
    raise AssertionError("pgbouncer did not start listening within 10 s")


async def test_the_api_works_through_transaction_pooling(bouncer_port: int) -> None:
    async with scratch_postgres() as direct_url:
        database = direct_url.rsplit("/", 1)[1]
        settings = Settings(
            database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{bouncer_port}/{database}",
            database_statement_cache=False,
            secret_key=SecretStr("test-secret-key"),
            rate_limit_per_minute=0,
        )
        clock = FakeClock()
        app = create_app(settings, clock=clock)
        statuses: Counter[int] = Counter()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as http:
                clinic = await bootstrap(app, http, clock)

                async def caller(number: int) -> None:
                    for round_ in range(ROUNDS):
                        made = await clinic.post(
                            "/api/v1/clients",
                            json={
                                "first_name": "Pooled",
                                "last_name": f"C{number}-{round_}",
                                "date_of_birth": "1984-05-06",
                            },
                        )
                        listed = await clinic.get("/api/v1/clients?limit=5")
                        ready = await clinic.get("/readyz")
                        statuses.update([made.status_code, listed.status_code, ready.status_code])

                await asyncio.gather(*(caller(n) for n in range(CALLERS)))
                clients = await clinic.ok("GET", "/api/v1/clients?limit=200")
        finally:
            await app.state.engine.dispose()
    assert statuses == {201: CALLERS * ROUNDS, 200: 2 * CALLERS * ROUNDS}
    assert len(clients["items"]) == CALLERS * ROUNDS
