"""HTTP conventions shared by routers: ETag / If-Match and Location."""

from typing import Annotated

from fastapi import Header, Response

from app.errors import VersionConflict


def set_etag(response: Response, version: int) -> None:
    """Expose the resource version as a strong ETag."""
    response.headers["ETag"] = f'"{version}"'


def check_version(if_match: str | None, current: int) -> None:
    """412 version_conflict unless If-Match is absent, `*`, or names the current version."""
    if if_match is None:
        return
    candidates = [tag.strip() for tag in if_match.split(",")]
    for tag in candidates:
        if tag == "*":
            return
        if tag.removeprefix("W/").strip('"') == str(current):
            return
    raise VersionConflict(f"If-Match does not match the current version ({current}).")


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag you last read, e.g. "3"; the write fails with 412 if it has changed.',
    ),
]
