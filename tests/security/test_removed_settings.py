"""Settings this release removed or replaced stop every command at start, naming what replaces
them: left set, they would otherwise be ignored without a word (KAP_RATE_LIMIT_BURST=0 used to
turn rate limiting off; FORWARDED_ALLOW_IPS used to choose the trusted proxies)."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings
from tests.support.apps import exit_code_of_command


@pytest.mark.parametrize("value", ["0", "120"])
def test_the_removed_burst_setting_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("KAP_RATE_LIMIT_BURST", value)
    with pytest.raises(ValidationError, match=r"KAP_RATE_LIMIT_BURST was removed.*PER_MINUTE=0"):
        Settings()


def test_uvicorns_proxy_variable_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    with pytest.raises(ValidationError, match=r"FORWARDED_ALLOW_IPS .*KAP_TRUSTED_PROXIES"):
        Settings()


def test_left_empty_they_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAP_RATE_LIMIT_BURST", "")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", " ")
    settings = Settings()
    assert (settings.rate_limit_burst, settings.forwarded_allow_ips) == (None, None)


@pytest.mark.parametrize(
    ("variable", "value", "named", "replacement"),
    [
        ("FORWARDED_ALLOW_IPS", "10.9.8.7", "FORWARDED_ALLOW_IPS", "KAP_TRUSTED_PROXIES"),
        ("KAP_RATE_LIMIT_BURST", "4242", "rate_limit_burst", "KAP_RATE_LIMIT_PER_MINUTE=0"),
    ],
)
def test_the_command_stops_and_names_the_replacement(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    variable: str,
    value: str,
    named: str,
    replacement: str,
) -> None:
    monkeypatch.setenv("KAP_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv(variable, value)
    assert exit_code_of_command(monkeypatch, "migrate") == 2
    printed = capsys.readouterr()
    assert f"invalid settings: {named}: " in printed.err
    assert replacement in printed.err
    assert value not in printed.err + printed.out
    assert not (tmp_path / "x.db").exists()
