"""The README's tour works as written, against a real server on loopback."""

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import free_port, wait_until_healthy

pytestmark = pytest.mark.process  # a real server, and the tour's commands

ROOT = Path(__file__).resolve().parents[2]


def _tour() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"```bash tour\n(.*?)```", readme, re.S)
    assert match, "README has no ```bash tour block"
    return match.group(1)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "KAP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'tour.db'}",
        "KAP_URL": f"http://127.0.0.1:{port}",
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_healthy(env["KAP_URL"], process)
        yield env["KAP_URL"], env
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_readme_tour_runs_and_shows_the_flags(server: tuple[str, dict[str, str]]) -> None:
    _, env = server
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _tour()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "2027-01-05T15:30:00Z" in out  # the screening's valid_until: cleared for a year
    assert "active" in out  # the consent, in force
    assert "'status': 'in_window'" in out
    assert "'hours_after_dose': 24.92" in out
    assert "after_window" in out
    assert "integration_outside_window" in out
    assert "2026-01-15T18:00:00Z" in out
