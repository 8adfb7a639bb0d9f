"""The two servers the read benchmark compares, each one uvicorn process on loopback, on CPU 0.

ours     `kap-journey serve --no-worker`, the app as it is deployed
ceiling  bench/scale/ceiling.py under uvicorn: the same SQL with nothing around it
"""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.machine import free_port, pinned
from bench.scale.capture import SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
OURS = [sys.executable, "-c", "from app.cli import main; main()", "serve", "--no-worker"]
CEILING = [sys.executable, "-m", "uvicorn", "bench.scale.ceiling:create_app", "--factory"]


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def start(name: str, command: list[str], database_url: str, folder: Path) -> Server:
    """Start `command` on a free port against `database_url`, logging to `folder`; returns once
    it accepts connections."""
    port = free_port()
    env = {
        **os.environ,
        "KAP_DATABASE_URL": database_url,
        "KAP_SECRET_KEY": SECRET_KEY,
        "KAP_RATE_LIMIT_PER_MINUTE": "0",  # one key sends thousands a second
        "KAP_LOG_LEVEL": "WARNING",
    }
    log = folder / f"{name}.log"
    args = [*command, "--host", "127.0.0.1", "--port", str(port)]
    if name.startswith("ceiling"):  # servers are named per size: ceiling-10k, ceiling-1m
        args += ["--log-level", "warning", "--no-access-log"]
    with log.open("wb") as out:
        process = subprocess.Popen(pinned(0, args), env=env, cwd=ROOT, stdout=out, stderr=out)
    server = Server(name, process, port, log)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.1)
