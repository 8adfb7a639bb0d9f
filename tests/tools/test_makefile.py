"""`make run` installs what serving needs and `make test` the development tools, each under its
own stamp, and neither installs again what the other installed. Checked with `make -n` on a
copy of the Makefile, so nothing is installed."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.process  # runs make (which `make test` needs anyway)

ROOT = Path(__file__).resolve().parents[2]


def _planned(folder: Path, target: str) -> list[str]:
    """The commands `make target` would run, without running them."""
    result = subprocess.run(
        ["make", "-n", target], cwd=folder, capture_output=True, text=True, check=True
    )
    return result.stdout.splitlines()


def _installs(commands: list[str]) -> list[str]:
    return [command.split(" install ", 1)[1] for command in commands if " pip install " in command]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def _made(folder: Path, *stamps: str) -> None:
    """What a finished install leaves: the venv's python and the stamps, newer than pyproject."""
    python = folder / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True, exist_ok=True)
    python.touch()
    for stamp in stamps:
        (folder / ".venv" / stamp).touch()
    later = (folder / "pyproject.toml").stat().st_mtime + 10
    for path in [python, *(folder / ".venv" / stamp for stamp in stamps)]:
        os.utime(path, (later, later))


def test_a_fresh_clone_runs_with_the_runtime_dependencies_only(clone: Path) -> None:
    planned = _planned(clone, "run")
    assert any(" -m venv .venv" in command for command in planned)
    assert _installs(planned) == ["--quiet --disable-pip-version-check -e ."]
    assert planned[-1].endswith("kap-journey serve --host 127.0.0.1 --port 8000")


def test_a_fresh_clone_tests_with_the_development_tools(clone: Path) -> None:
    planned = _planned(clone, "test-fast")
    assert any(" -m venv .venv" in command for command in planned)
    assert _installs(planned) == ["--quiet --disable-pip-version-check -e '.[dev]'"]


def test_run_after_test_installs_nothing(clone: Path) -> None:
    _made(clone, ".installed", ".installed-run")  # what the .[dev] install leaves
    planned = _planned(clone, "run")
    assert _installs(planned) == []
    assert not any(" -m venv " in command for command in planned)


def test_test_after_run_adds_the_development_tools(clone: Path) -> None:
    _made(clone, ".installed-run")
    planned = _planned(clone, "test-fast")
    assert _installs(planned) == ["--quiet --disable-pip-version-check -e '.[dev]'"]
    assert not any(" -m venv " in command for command in planned)


def test_a_changed_pyproject_installs_again(clone: Path) -> None:
    _made(clone, ".installed", ".installed-run")
    later = (clone / ".venv" / ".installed").stat().st_mtime + 10
    os.utime(clone / "pyproject.toml", (later, later))
    assert _installs(_planned(clone, "run")) == ["--quiet --disable-pip-version-check -e ."]
