"""What the benchmarks read of this machine, and how they place processes on it.

CPU time of one process and of the whole machine (Linux /proc; zeros elsewhere), the CPU model
and memory for the report, a free loopback port, and CPU pinning where `taskset` exists.
"""

import os
import shutil
import socket
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc), 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(idle, total) CPU ticks of the whole machine since boot (Linux /proc/stat), else zeros."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0, 0
    ticks = [int(value) for value in first]
    return ticks[3] + ticks[4], sum(ticks[:8])


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs spent busy since boot."""
    idle, total = machine_ticks()
    return (total - idle) / os.sysconf("SC_CLK_TCK")


class MachineBusy:
    """The share of all CPUs busy (anything, not only the benchmark) since `start`."""

    def start(self) -> None:
        self._idle, self._total = machine_ticks()

    def share(self) -> float:
        idle, total = machine_ticks()
        return 1 - (idle - self._idle) / max(1, total - self._total)


def cpu_and_memory() -> tuple[str, str]:
    """(CPU model, total memory) from /proc, or question marks elsewhere."""
    memory = cpu = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return cpu, memory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def pinned(cpu: int, command: list[str]) -> list[str]:
    """`command` run on CPU `cpu` only, where taskset exists and the machine has that CPU."""
    if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > cpu:  # type: ignore[operator]
        return ["taskset", "-c", str(cpu), *command]
    return command
