"""The processes of one configuration: the loopback receiver and real `kap-journey worker`s.

The receiver (bench/webhooks/receiver.py) records every request it gets, with the time it read
it and whether its signature verified; `arrivals` reads that record back.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.machine import cpu_seconds, free_port
from bench.webhooks.producer import SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
WORKER = [sys.executable, "-c", "from app.cli import main; main()", "worker"]
RECEIVER = [sys.executable, "-m", "bench.webhooks.receiver"]


class Processes:
    """The receiver and workers of one configuration; everything is stopped by `close`."""

    def __init__(self, folder: Path, database_url: str) -> None:
        self.folder = folder
        self.database_url = database_url
        self.workers: list[subprocess.Popen[bytes]] = []
        self.receiver: subprocess.Popen[bytes] | None = None
        self.received = folder / "received.tsv"
        self.port = free_port()
        self._started = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start_receiver(self, secret: str) -> None:
        args = [*RECEIVER, str(self.port), str(self.received), f"--secret={secret}"]
        self.receiver = subprocess.Popen(args, cwd=ROOT)
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the receiver did not start") from None
                time.sleep(0.05)

    def start_workers(self, count: int) -> None:
        env = {
            **os.environ,
            "KAP_DATABASE_URL": self.database_url,
            "KAP_SECRET_KEY": SECRET_KEY,
            "KAP_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "KAP_LOG_LEVEL": "WARNING",
        }
        for _ in range(count):
            self._started += 1
            with (self.folder / f"worker-{self._started}.log").open("wb") as log:
                self.workers.append(
                    subprocess.Popen(
                        WORKER, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log
                    )
                )

    def check_alive(self) -> None:
        """Fail fast, rather than wait for deliveries that a crashed worker will never make."""
        dead = [p for p in self.workers if p.poll() is not None]
        if dead or (self.receiver is not None and self.receiver.poll() is not None):
            raise RuntimeError(f"a process exited early (see the worker logs): {dead}")

    def worker_cpu_seconds(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.workers if p.poll() is None)

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.workers = []

    def dump_logs(self) -> None:
        for log in sorted(self.folder.glob("worker-*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}", file=sys.stderr)

    def close(self) -> None:
        self.stop_workers()
        if self.receiver is not None:
            self.receiver.kill()
            self.receiver.wait(timeout=10)
            self.receiver = None

    def arrivals(self) -> dict[str, list[tuple[float, bool]]]:
        """Every request the receiver got: webhook-id -> [(unix time, verified)]."""
        seen: dict[str, list[tuple[float, bool]]] = {}
        if not self.received.exists():
            return seen
        for line in self.received.read_text().splitlines():
            webhook_id, at, verified = line.split("\t")
            seen.setdefault(webhook_id, []).append((float(at), verified == "1"))
        return seen
