"""Waiting for a `kap-journey serve` subprocess to answer /healthz."""

import subprocess
import time

import httpx


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
