"""`make run` installs what serving needs and `make test` the development tools, each under its
own stamp, and neither installs again what the other installed. Checked on a copy of the
Makefile, with `make -n` or a venv whose python does nothing, so nothing is installed."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.process  # runs make (which `make test` needs anyway)

ROOT = Path(__file__).resolve().parents[2]


def _alone() -> dict[str, str]:
    """The environment without the calling make's own (`make test` runs this suite): a nested
    make would print "make[1]: Entering directory" lines and inherit the caller's flags."""
    return {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}


def _planned(folder: Path, target: str) -> list[str]:
    """The commands `make target` would run, without running them."""
    result = subprocess.run(
        ["make", "-n", target], cwd=folder, capture_output=True, text=True, check=True, env=_alone()
    )
    return result.stdout.splitlines()


def _installs(commands: list[str]) -> list[str]:
    """What each planned `pip install` installs (its options left out)."""
    return [command.split(" -e ", 1)[1] for command in commands if " pip install " in command]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def _fake_venv(folder: Path) -> None:
    """A venv whose python accepts every command (so `pip install` does nothing, quickly)."""
    python = folder / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\nexit 0\n")
    python.chmod(0o755)


def _make(folder: Path, target: str) -> None:
    subprocess.run(
        ["make", target], cwd=folder, capture_output=True, text=True, check=True, env=_alone()
    )


def test_a_fresh_clone_runs_with_the_runtime_dependencies_only(clone: Path) -> None:
    planned = _planned(clone, "run")
    assert any(" -m venv .venv" in command for command in planned)
    assert _installs(planned) == ["."]
    assert planned[-1].endswith("kap-journey serve --host 127.0.0.1 --port 8000")


def test_a_fresh_clone_tests_with_the_development_tools(clone: Path) -> None:
    planned = _planned(clone, "test-fast")
    assert any(" -m venv .venv" in command for command in planned)
    assert _installs(planned) == ["'.[dev]'"]


def test_run_after_test_installs_nothing(clone: Path) -> None:
    _fake_venv(clone)
    _make(clone, ".venv/.installed")  # what `make test` installs first
    planned = _planned(clone, "run")
    assert _installs(planned) == []
    assert not any(" -m venv " in command for command in planned)


def test_test_after_run_adds_the_development_tools(clone: Path) -> None:
    _fake_venv(clone)
    _make(clone, ".venv/.installed-run")  # what `make run` installs first
    planned = _planned(clone, "test-fast")
    assert _installs(planned) == ["'.[dev]'"]
    assert not any(" -m venv " in command for command in planned)


def test_a_changed_pyproject_installs_again(clone: Path) -> None:
    _fake_venv(clone)
    _make(clone, ".venv/.installed")
    later = (clone / ".venv" / ".installed").stat().st_mtime + 10
    os.utime(clone / "pyproject.toml", (later, later))
    assert _installs(_planned(clone, "run")) == ["."]
