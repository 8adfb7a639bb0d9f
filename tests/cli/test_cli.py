"""The kap-journey command as a user runs it: a real process on a fresh SQLite file."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.main import create_app

pytestmark = pytest.mark.process  # every test runs the command in a process of its own

CLI = [sys.executable, "-c", "from app.cli import main; main()"]


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def bootstrapped(tmp_path: Path) -> dict[str, str]:
    result = run(
        tmp_path,
        "bootstrap",
        "--clinic-name",
        "Cedar KAP",
        "--timezone",
        "America/Denver",
        "--admin-email",
        "Owner@Cedar.example",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    payload: dict[str, str] = json.loads(result.stdout)
    return payload


async def test_bootstrap_json_prints_one_object_with_a_working_key(
    tmp_path: Path, bootstrapped: dict[str, str]
) -> None:
    assert set(bootstrapped) == {"clinic_id", "admin_id", "api_key"}
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as http:
        headers = {"Authorization": f"Bearer {bootstrapped['api_key']}"}
        clinic = (await http.get("/api/v1/clinic", headers=headers)).json()
        staff = (
            await http.get(f"/api/v1/staff/{bootstrapped['admin_id']}", headers=headers)
        ).json()
    await app.state.engine.dispose()
    assert clinic["id"] == bootstrapped["clinic_id"]
    assert clinic["timezone"] == "America/Denver"
    assert staff["role"] == "admin"
    assert staff["email"] == "owner@cedar.example"
    assert staff["prescriber"] is False


async def test_bootstrap_prescriber_makes_the_first_admin_a_prescriber(tmp_path: Path) -> None:
    made = run(
        tmp_path,
        "bootstrap",
        "--clinic-name",
        "Cedar KAP",
        "--timezone",
        "America/Denver",
        "--admin-email",
        "director@cedar.example",
        "--prescriber",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    payload = json.loads(made.stdout)
    assert set(payload) == {"clinic_id", "admin_id", "api_key"}
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as http:
        headers = {"Authorization": f"Bearer {payload['api_key']}"}
        staff = (await http.get(f"/api/v1/staff/{payload['admin_id']}", headers=headers)).json()
    await app.state.engine.dispose()
    assert (staff["role"], staff["prescriber"]) == ("admin", True)


def test_create_api_key_for_existing_staff(tmp_path: Path, bootstrapped: dict[str, str]) -> None:
    result = run(tmp_path, "create-api-key", "--staff-id", bootstrapped["admin_id"], "--json")
    assert result.returncode == 0, result.stderr
    issued = json.loads(result.stdout)
    assert issued["api_key"].startswith("kap_")
    assert issued["api_key"] != bootstrapped["api_key"]
    missing = run(tmp_path, "create-api-key", "--staff-id", "00000000-0000-4000-8000-000000000000")
    assert missing.returncode == 2
    assert "no active staff member" in missing.stderr


def test_bootstrap_refuses_bad_input_without_writing(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "bootstrap",
        "--clinic-name",
        "X",
        "--timezone",
        "Nowhere/City",
        "--admin-email",
        "a@x.example",
        "--json",
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "timezone" in result.stderr
    assert not (tmp_path / "cli.db").exists()


def test_migrate_is_repeatable(tmp_path: Path) -> None:
    for _ in range(2):
        result = run(tmp_path, "migrate")
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli.db").exists()


def test_demo_refuses_an_unknown_time_zone(tmp_path: Path) -> None:
    result = run(tmp_path, "demo", "--timezone", "Mars/Olympus_Mons")
    assert result.returncode == 2
    assert "timezone" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_prints_a_working_admin_key(tmp_path: Path) -> None:
    result = run(tmp_path, "demo", "--clients", "8")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("kap_")
