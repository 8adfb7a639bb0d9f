"""Where the evidence page's markdown is: inside the installed package, else in the checkout.

`docs/clinical-evidence.md` is the one copy in the repository. A wheel, and so the Docker image,
carries it inside this package: `setup.py` copies it beside this module when the wheel is built.
An editable install or a source checkout has no such copy and reads docs/ directly. Nothing is
looked up relative to the working directory, so the page is found wherever the service starts.
"""

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

PAGE_NAME = "clinical-evidence.md"
PACKAGE = __name__.rpartition(".")[0]
CHECKOUT_PAGE = Path(__file__).resolve().parents[2] / "docs" / PAGE_NAME


class EvidencePageMissing(RuntimeError):
    """The build left the page out: a packaging defect, reported at start-up."""


def find_page(package: Traversable | None = None, checkout: Path = CHECKOUT_PAGE) -> Traversable:
    """The packaged copy when there is one, else the checkout's docs/ file."""
    packaged = (package or resources.files(PACKAGE)).joinpath(PAGE_NAME)
    for candidate in (packaged, checkout):
        if candidate.is_file():
            return candidate
    raise EvidencePageMissing(
        f"{PAGE_NAME} is neither in the installed package ({packaged}) nor in a checkout "
        f"({checkout}); build the wheel with setup.py so that it ships the page"
    )


def read_page() -> str:
    return find_page().read_text(encoding="utf-8")
