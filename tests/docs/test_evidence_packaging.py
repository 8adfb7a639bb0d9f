"""The evidence page needs no repository checkout at run time.

A wheel, and so the Docker image, carries the page inside the package: setup.py's build step
copies docs/clinical-evidence.md there. These tests run that same build step over the app's
packages into a scratch directory laid out as site-packages, then import the app from there in a
child process, so that the checkout's docs/ is out of reach. Building a real wheel needs the
build backend from a package index, which a test must not depend on.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from setuptools import find_packages
from setuptools.dist import Distribution

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import app
from app.evidence.page import evidence_html
from app.evidence.source import find_page
print(app.__file__)
print(find_page())
print(len(evidence_html()))
"""


def _setup_script() -> ModuleType:
    """setup.py as a module: it calls setup() only when setuptools runs it as __main__."""
    spec = importlib.util.spec_from_file_location("kap_journey_setup", ROOT / "setup.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app's packages as the wheel build lays them out, in an empty site directory."""
    setup = _setup_script()
    monkeypatch.chdir(ROOT)  # build_py reads the packages relative to the project
    distribution = Distribution(
        {
            "name": "kap-journey",
            "script_name": str(ROOT / "setup.py"),
            "packages": find_packages(include=["app", "app.*"]),
        }
    )
    command = setup.BuildPyWithEvidence(distribution)
    command.build_lib = str(tmp_path / "site")
    command.ensure_finalized()
    command.run()
    return tmp_path / "site"


def _probe(site: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # -P: the working directory is not put on sys.path, as for an installed console script.
    return subprocess.run(
        [sys.executable, "-P", "-c", PROBE],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.process
def test_an_installed_package_serves_the_page_it_carries(site: Path, tmp_path: Path) -> None:
    packaged = site / "app" / "evidence" / "clinical-evidence.md"
    assert packaged.read_bytes() == (ROOT / "docs" / "clinical-evidence.md").read_bytes()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    probe = _probe(site, elsewhere)

    assert probe.returncode == 0, probe.stderr
    module, found, length = probe.stdout.split()
    assert Path(module).is_relative_to(site), "the probe imported the checkout, not the build"
    assert Path(found) == packaged
    assert int(length) > 10_000


@pytest.mark.process
def test_an_installed_package_without_the_page_fails_at_start_up(site: Path) -> None:
    (site / "app" / "evidence" / "clinical-evidence.md").unlink()

    # Started inside the checkout: the page must still not be taken from its docs/.
    probe = _probe(site, ROOT)

    assert probe.returncode != 0
    assert "EvidencePageMissing" in probe.stderr
    assert "setup.py" in probe.stderr


def test_the_docker_build_and_the_sdist_carry_what_the_build_step_needs() -> None:
    allowed = {
        line[1:].strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied = {
        source
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
        for source in line.split()[1:-1]
    }
    for needed in ("setup.py", "MANIFEST.in", "docs/clinical-evidence.md"):
        assert needed in allowed, f".dockerignore keeps {needed} out of the build context"
        assert needed in copied, f"the Dockerfile does not copy {needed}"
    manifest = (ROOT / "MANIFEST.in").read_text()
    assert re.search(r"^include docs/clinical-evidence\.md$", manifest, re.MULTILINE)


def test_the_repository_holds_one_copy_of_the_page() -> None:
    copies = [
        path.relative_to(ROOT)
        for path in ROOT.rglob("clinical-evidence.md")
        if not {".venv", "build", "dist"} & set(path.relative_to(ROOT).parts)
    ]
    assert copies == [Path("docs/clinical-evidence.md")]
