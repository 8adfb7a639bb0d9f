"""A private PostgreSQL cluster, made with initdb in a temporary folder, for tests that stop and
start the server: the shared one at 127.0.0.1:5432 must keep running for everything else.

It needs the server binaries (initdb, pg_ctl); without them the test is skipped, saying so, or
fails in CI, as with tests/databases.require_postgres. initdb refuses to run as root, so under
root the cluster belongs to, and runs as, the `postgres` OS user.
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.databases import IN_CI
from tests.support.servers import free_port

SERVER_USER = "postgres"


def _version(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in bindir.parent.name.split(".") if part.isdigit())


def find_bindir() -> Path | None:
    """The newest Debian-style /usr/lib/postgresql/<ver>/bin, else wherever PATH has pg_ctl."""
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    on_path = shutil.which("pg_ctl")
    candidates = [*installed, *([Path(on_path).parent] if on_path else [])]
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    return None


def _server_account() -> pwd.struct_passwd | None:
    """Who runs the cluster: None for the current user, the postgres user under root."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(SERVER_USER)


def require_bindir() -> Path:
    """The binaries, or a skip (a failure in CI) that says what is missing."""
    bindir = find_bindir()
    reason = None
    if bindir is None:
        reason = "no initdb/pg_ctl (looked in /usr/lib/postgresql/<ver>/bin and on PATH)"
    elif os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            reason = f"running as root and there is no {SERVER_USER!r} user to run initdb as"
        if shutil.which("runuser") is None:
            reason = "running as root and there is no runuser to run initdb as another user"
    if reason is None:
        assert bindir is not None
        return bindir
    if IN_CI:
        pytest.fail(f"a private PostgreSQL cluster is mandatory in CI: {reason}", pytrace=False)
    pytest.skip(f"private PostgreSQL cluster unavailable: {reason}")


@dataclass(frozen=True)
class PrivateCluster:
    bindir: Path
    folder: Path
    port: int
    account: pwd.struct_passwd | None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def server_log(self) -> Path:
        return self.folder / "server.log"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> "subprocess.CompletedProcess[str]":
        command = [str(self.bindir / tool), *args]
        if self.account is not None:
            command = ["runuser", "-u", self.account.pw_name, "--", *command]
        return subprocess.run(
            command, cwd=self.folder, capture_output=True, text=True, timeout=120, check=False
        )

    def _must(self, tool: str, *args: str) -> None:
        done = self._run(tool, *args)
        if done.returncode != 0:
            log = self.server_log.read_text()[-2000:] if self.server_log.exists() else ""
            raise AssertionError(f"{tool} {args[-1]} failed: {done.stdout}{done.stderr}\n{log}")

    def init(self) -> None:
        # Trust auth on loopback and a socket in our own folder; nothing outside it is touched.
        self._must(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "--encoding=UTF8",
            "--locale=C",
        )

    def start(self) -> None:
        # fsync off only spares the disk: a stopped or crashed server loses nothing the OS has.
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._must(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.server_log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str) -> None:
        """`fast` disconnects sessions and shuts down cleanly; `immediate` is a crash."""
        self._must("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0

    def tear_down(self) -> None:
        """Stop the server if it runs (killing its postmaster if pg_ctl cannot), then delete."""
        try:
            if self.running():
                self.stop("immediate")
        except (AssertionError, subprocess.TimeoutExpired):
            with suppress(FileNotFoundError, ValueError, ProcessLookupError, IndexError):
                postmaster = int((self.data / "postmaster.pid").read_text().splitlines()[0])
                os.kill(postmaster, signal.SIGKILL)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A running cluster of our own on a free loopback port; stopped and deleted afterwards."""
    bindir = require_bindir()
    account = _server_account()
    # Not under pytest's tmp_path: the postgres user could not reach into root's folders.
    folder = Path(tempfile.mkdtemp(prefix="kap-pg-"))
    cluster = PrivateCluster(bindir, folder, free_port(), account)
    try:
        if account is not None:
            os.chown(folder, account.pw_uid, account.pw_gid)
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.tear_down()
