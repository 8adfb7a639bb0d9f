"""Servers the tests start: a free loopback port for one, and waiting for a `kap-journey serve`
subprocess to answer /healthz."""

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    """A loopback port nothing listens on now (the caller binds it soon after)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_healthy(
    base_url: str, process: "subprocess.Popen[bytes] | None" = None, timeout_s: float = 30.0
) -> None:
    """Poll /healthz; fail if the process exits or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the server was not healthy within {timeout_s:.0f} s")
        time.sleep(0.2)
