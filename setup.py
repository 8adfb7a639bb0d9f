"""The one build step pyproject.toml cannot declare: the wheel carries the evidence page.

`docs/clinical-evidence.md` stays the only copy in the repository; building the wheel copies it
into the package as `app/evidence/clinical-evidence.md`, where `app.evidence.source` looks first.
Editable installs skip the copy and read docs/ in place. setuptools runs this file as __main__;
tests/docs/test_evidence_packaging.py imports it to run the same build step.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

EVIDENCE_PAGE = Path(__file__).resolve().parent / "docs" / "clinical-evidence.md"
PACKAGED_AS = Path("app", "evidence", "clinical-evidence.md")


class BuildPyWithEvidence(build_py):
    """build_py, plus the evidence page copied into the built package."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            target = Path(self.build_lib) / PACKAGED_AS
            self.mkpath(str(target.parent))
            self.copy_file(str(EVIDENCE_PAGE), str(target))


if __name__ == "__main__":
    setup(cmdclass={"build_py": BuildPyWithEvidence})
