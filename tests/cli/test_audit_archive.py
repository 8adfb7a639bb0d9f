"""`kap-journey audit-archive` and `audit-restore` as an operator runs them (issue 17)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process

CLI = [sys.executable, "-c", "from app.cli import main; main()"]


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_audit_archive_refuses_part_of_a_month_and_says_when_there_is_nothing(
    tmp_path: Path,
) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    half = run(tmp_path, "audit-archive", "--before", "2025-03-15")
    assert half.returncode == 2
    assert "would cut 2025-03 in half" in half.stderr
    future = run(tmp_path, "audit-archive", "--before", "2999-01-01")
    assert (future.returncode, "current month" in future.stderr) == (2, True)
    garbage = run(tmp_path, "audit-archive", "--before", "March")
    assert (garbage.returncode, "is not a date" in garbage.stderr) == (2, True)
    out = tmp_path / "files"
    empty = run(tmp_path, "audit-archive", "--before", "2025-03-01", "--out", str(out))
    assert empty.returncode == 0, empty.stderr
    assert "nothing stored before 2025-03-01" in empty.stdout
    missing = run(tmp_path, "audit-restore", str(out / "audit-events-2025-01.ndjson"))
    assert (missing.returncode, "is not an audit-events" in missing.stderr) == (2, True)
