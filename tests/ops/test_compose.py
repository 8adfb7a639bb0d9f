"""compose.yaml: the five services, real commands and checks, and settings that exist.

`docker compose config` validates the file where the Compose plugin is installed. The other
checks run everywhere on the file as PyYAML reads it, against the real CLI, app and Settings:
Settings ignores unknown KAP_ variables, so a misspelt one would otherwise pass unnoticed.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer.main
import yaml
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from app.cli import cli
from app.config import Settings
from app.main import create_app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
SERVICES = {"postgres", "redis", "migrate", "api", "worker"}
APP_SERVICES = ("migrate", "api", "worker")
# Compose interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}.
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
KAP_VARIABLE = re.compile(r"\bKAP_[A-Z0-9_]+\b")
OPERATOR_SECRETS = {"KAP_SECRET_KEY": "k" * 48, "POSTGRES_PASSWORD": "pw-from-the-operator"}


def _compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document


def _service(name: str) -> dict[str, Any]:
    service = _compose()["services"][name]
    assert isinstance(service, dict)
    return service


def _interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's substitution, strict: a required variable that is unset is an error."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"] or "", match["arg"] or ""
        present = env.get(name)
        if present is not None and (present or ":" not in op):
            return present
        if op.endswith("?"):
            raise LookupError(f"{name} is required: {arg}")
        return arg if op.endswith("-") else ""

    return VARIABLE.sub(substitute, value)


def _environment(service: str, env: Mapping[str, str]) -> dict[str, str]:
    raw = _service(service).get("environment", {})
    assert isinstance(raw, dict), f"{service}: environment must be a mapping"
    return {str(key): _interpolate(str(value), env) for key, value in raw.items()}


def _cli_params(command: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse a `kap-journey ...` command line with the real CLI; unknown options raise."""
    assert command[0] == "kap-journey", command
    group: Any = typer.main.get_command(cli)
    name, *args = command[1:]
    assert name in group.commands, f"no `kap-journey {name}` command"
    context = group.commands[name].make_context(name, list(args))
    params: dict[str, Any] = context.params
    return name, params


def test_the_stack_is_postgres_redis_migrate_api_and_worker() -> None:
    assert set(_compose()["services"]) == SERVICES


def test_postgres_is_the_official_image_with_a_volume_and_a_healthcheck() -> None:
    postgres = _service("postgres")
    assert re.fullmatch(r"postgres:\d+(\.\d+)?(-[a-z]+)?", postgres["image"])
    assert "pg_isready" in postgres["healthcheck"]["test"]
    volume, _, mount = postgres["volumes"][0].partition(":")
    assert mount == "/var/lib/postgresql/data"
    assert volume in _compose()["volumes"], "the data lives in a named volume"


def test_each_app_service_runs_a_real_cli_command() -> None:
    assert _cli_params(_service("migrate")["command"]) == ("migrate", {})
    assert _cli_params(_service("worker")["command"]) == ("worker", {})
    name, serve = _cli_params(_service("api")["command"])
    assert name == "serve"
    assert serve["host"] == "0.0.0.0"  # noqa: S104 - inside the container, so the port can publish
    assert serve["no_worker"], "workers run as their own service"
    published = [str(port).rsplit(":", 1)[-1] for port in _service("api")["ports"]]
    assert published == [str(serve["port"])]
    for service in APP_SERVICES:
        assert "build" in _service(service), f"{service} runs the project's Dockerfile"


def test_migration_runs_once_before_the_api_and_the_worker_start() -> None:
    migrate = _service("migrate")
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    migrated = {"migrate": {"condition": "service_completed_successfully"}}
    assert _service("worker")["depends_on"] == migrated
    # Only started: the API serves without Redis, counting its limits per process meanwhile.
    assert _service("api")["depends_on"] == {**migrated, "redis": {"condition": "service_started"}}


def test_the_api_counts_rate_limits_in_the_redis_service(monkeypatch: pytest.MonkeyPatch) -> None:
    redis = _service("redis")
    assert re.fullmatch(r"redis:\d+(\.\d+)*(-[a-z]+)?", redis["image"])
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "ports" not in redis, "only the API reaches Redis"
    for name in [name for name in os.environ if name.startswith("KAP_")]:
        monkeypatch.delenv(name)
    for name, value in _environment("api", OPERATOR_SECRETS).items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.rate_limit_storage_url == "redis://redis:6379/0"
    assert settings.rate_limit_per_minute > 0
    # The published port is loopback-only, so proxies are believed from private networks only.
    assert settings.trusted_proxies == "172.16.0.0/12,192.168.0.0/16,10.0.0.0/8"
    assert _service("api")["ports"] == ["127.0.0.1:8000:8000"]


@pytest.mark.api  # on SQLite
async def test_the_api_healthcheck_asks_readiness_on_the_served_port(tmp_path: Path) -> None:
    api = _service("api")
    _, serve = _cli_params(api["command"])
    check = " ".join(api["healthcheck"]["test"])
    assert f"http://127.0.0.1:{serve['port']}/readyz" in check
    database = f"sqlite+aiosqlite:///{tmp_path / 'ready.db'}"
    app = create_app(Settings(database_url=database, secret_key=SecretStr("k")))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as http:
            assert (await http.get("/readyz")).json()["status"] == "ready"
    finally:
        await app.state.engine.dispose()


def test_services_without_http_turn_off_the_images_healthcheck() -> None:
    # The image's HEALTHCHECK asks port 8000: a worker (or a finished migration) would look sick.
    assert "HEALTHCHECK" in (ROOT / "Dockerfile").read_text()
    for service in ("migrate", "worker"):
        assert _service(service)["healthcheck"] == {"disable": True}, service


def test_every_kap_variable_named_is_a_setting() -> None:
    named = set(KAP_VARIABLE.findall(COMPOSE_FILE.read_text()))
    assert "KAP_DATABASE_URL" in named
    unknown = {name for name in named if name[4:].lower() not in Settings.model_fields}
    assert not unknown, f"not Settings fields (Settings ignores them): {sorted(unknown)}"


def test_secrets_come_from_the_operator_and_are_required() -> None:
    for service in APP_SERVICES:
        secret = _service(service)["environment"]["KAP_SECRET_KEY"]
        assert re.fullmatch(r"\$\{KAP_SECRET_KEY:\?[^}]+\}", secret), service
        with pytest.raises(LookupError, match="KAP_SECRET_KEY"):
            _environment(service, {"POSTGRES_PASSWORD": "pw"})
    password = _service("postgres")["environment"]["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", password)


@pytest.mark.parametrize("service", APP_SERVICES)
def test_the_environment_makes_settings_that_reach_the_postgres_service(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [name for name in os.environ if name.startswith("KAP_")]:
        monkeypatch.delenv(name)
    for name, value in _environment(service, OPERATOR_SECRETS).items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == OPERATOR_SECRETS["KAP_SECRET_KEY"]
    url = make_url(settings.database_url)
    postgres = _environment("postgres", OPERATOR_SECRETS)
    assert url.drivername == "postgresql+asyncpg"
    assert (url.host, url.port) == ("postgres", 5432)
    assert url.database == postgres["POSTGRES_DB"]
    assert url.username == postgres["POSTGRES_USER"]
    assert url.password == OPERATOR_SECRETS["POSTGRES_PASSWORD"]


def _docker_compose_missing() -> str | None:
    if shutil.which("docker") is None:
        return "the docker client is not installed"
    probe = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, check=False
    )
    return None if probe.returncode == 0 else "the Docker Compose plugin is not installed"


@pytest.mark.process  # docker compose
def test_docker_compose_accepts_the_file_and_insists_on_the_secret(tmp_path: Path) -> None:
    missing = _docker_compose_missing()
    if missing:
        pytest.skip(f"{missing}; the PyYAML checks above still ran")
    empty_env_file = tmp_path / "empty.env"  # so a developer's own .env cannot mask the check
    empty_env_file.write_text("")
    base = [
        "docker",
        "compose",
        "--file",
        str(COMPOSE_FILE),
        "--env-file",
        str(empty_env_file),
        "config",
        "--quiet",
    ]
    env = {key: value for key, value in os.environ.items() if key not in OPERATOR_SECRETS}
    valid = subprocess.run(
        base, env={**env, **OPERATOR_SECRETS}, capture_output=True, text=True, check=False
    )
    assert valid.returncode == 0, valid.stderr
    refused = subprocess.run(
        base,
        env={**env, "POSTGRES_PASSWORD": "pw"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    assert "KAP_SECRET_KEY" in refused.stderr
