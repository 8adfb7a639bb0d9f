"""The README's tour works as written, against a real server on loopback: it prints exactly the
output the README shows, on any day, and stops at a failure with the status and problem+json."""

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.servers import free_port, wait_until_healthy

pytestmark = pytest.mark.process  # a real server, and the tour's commands

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
Serve = Callable[..., dict[str, str]]


def _block(tag: str) -> str:
    match = re.search(rf"```{tag}\n(.*?)```", README, re.S)
    assert match, f"README has no ```{tag} block"
    return match.group(1)


def _expected_lines() -> list[str]:
    return _block("text tour-output").splitlines()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Starts `kap-journey serve` with extra settings; the environment to run the tour in."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(**settings: str) -> dict[str, str]:
        port = free_port()
        env = {
            **os.environ,
            "KAP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'tour.db'}",
            "KAP_URL": f"http://127.0.0.1:{port}",
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            **settings,
        }
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from app.cli import main; main()",
                "serve",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        wait_until_healthy(env["KAP_URL"], process)
        return env

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def _run_tour(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # As a reader runs it: pasted into a bash of its own (the block sets -e and pipefail).
    return subprocess.run(
        ["bash", "-c", _block("bash tour")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tour_prints_exactly_what_the_readme_shows(serve: Serve) -> None:
    result = _run_tour(serve())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == _expected_lines()
    # The prose after the output names the same hours.
    prose = README.split("```text tour-output", 1)[1].split("```", 2)[1].split("\n\n")[1]
    hours = re.findall(r"(\d+\.\d+) hours", prose)
    assert len(hours) == 2, prose
    for value in hours:
        assert value in result.stdout


def test_a_failing_step_stops_the_tour_with_the_status_and_problem(serve: Serve) -> None:
    # Four requests a minute: step 4's completion is the fifth, and is refused.
    result = _run_tour(serve(KAP_RATE_LIMIT_PER_MINUTE="4"))
    assert result.returncode != 0
    assert result.stdout.splitlines() == _expected_lines()[:2]  # step 3's two lines
    assert "Traceback" not in result.stderr
    match = re.fullmatch(
        r"HTTP 429 from POST preparation-sessions/[0-9a-f-]{36}/complete: (\{.*\})\n",
        result.stderr,
    )
    assert match, result.stderr
    problem = json.loads(match.group(1))
    assert problem["status"] == 429
    assert problem["code"] == "rate_limited"
