"""The Node tools the OpenAPI document is checked with, installed once into a cache.

`openapi-typescript`, `tsc` and Spectral with the OWASP ruleset are what frontend developers and
API reviewers run on our document, so the suite runs them too. npm installs the pinned major
versions into a folder outside the repository (KAP_NODE_TOOLS_CACHE, else
~/.cache/kap-journey-node), one subfolder per set of pins, reused while it is complete. Where
`npm` or `node` is missing the tests skip and say so; in CI (`CI=true`) they fail instead.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.databases import IN_CI

# Major versions: a new major is a deliberate bump here, which installs afresh.
PACKAGES = {
    "openapi-typescript": "7",
    "typescript": "5",
    "@stoplight/spectral-cli": "6",
    "@stoplight/spectral-owasp-ruleset": "2",
}
INSTALL_TIMEOUT_S = 600
DONE = ".installed"


def cache_root() -> Path:
    configured = os.environ.get("KAP_NODE_TOOLS_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kap-journey-node"


def node_tools() -> Path:
    """The folder whose node_modules holds PACKAGES, installing them first if needed."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        message = (
            f"{' and '.join(missing)} not found: the OpenAPI generator and lint tests need Node"
        )
        if IN_CI:
            pytest.fail(f"{message} (CI must have it)", pytrace=False)
        pytest.skip(message)
    pins = json.dumps(PACKAGES, sort_keys=True)
    folder = cache_root() / hashlib.sha256(pins.encode()).hexdigest()[:16]
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers install once, not each
        if not (folder / DONE).exists():
            _install(folder, pins)
    return folder


def _install(folder: Path, pins: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    specs = [f"{name}@{major}" for name, major in PACKAGES.items()]
    # --ignore-scripts: none of these needs an install script, so none runs.
    command = ["npm", "install", "--prefix", str(folder), "--ignore-scripts", "--no-audit"]
    result = subprocess.run(
        [*command, "--no-fund", "--loglevel=error", *specs],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"npm install {' '.join(specs)} failed:\n{result.stderr}", pytrace=False)
    (folder / DONE).write_text(pins)


def run_tool(
    folder: Path,
    tool: str,
    *args: str,
    cwd: Path | None = None,
    ok: frozenset[int] = frozenset({0}),
) -> str:
    """Run one of the installed tools; its output, or a failure showing what it printed when
    its exit status is not one of `ok`."""
    result = subprocess.run(
        [str(folder / "node_modules" / ".bin" / tool), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )
    if result.returncode not in ok:
        pytest.fail(f"{tool} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout
