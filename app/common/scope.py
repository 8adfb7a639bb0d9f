"""The unit of work in progress, as code deep inside it sees it without being handed it.

A request or a worker task runs in one unit of work (app/unit_of_work.py), which publishes itself
here for its duration: the one piece of request state that travels implicitly. Read models note
what they expose and services what they change (the audit trail), serialisers ask whether the
caller may see clinical fields, and cursors are sealed with its key. This module sits below the
unit of work, so it names only what those callers need of it.

Minimum necessary: schedulers see scheduling facts only (docs/architecture.md, Roles).
"""

import uuid
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import Protocol

from app.common.crypto import SecretBox

ROLES_WITHOUT_CLINICAL_ACCESS = frozenset({"scheduler"})


class WorkInProgress(Protocol):
    """What code running inside a unit of work may ask of it."""

    @property
    def cursor_box(self) -> SecretBox | None:
        """The key cursors are sealed with; None where no cursor leaves the process."""

    @property
    def hides_clinical_fields(self) -> bool:
        """Whether whom the work is done for may not see clinical fields: False until their
        role is known (a request's caller after authentication, a worker's own role)."""

    def note_read(self, resource_type: str, resource_id: uuid.UUID | str) -> None:
        """Record that the work exposed a resource."""

    def note_change(
        self, resource_type: str, resource_id: uuid.UUID | str, fields: list[str] | None
    ) -> None:
        """Record that the work changed a resource, naming the fields (never their values)."""

    def notes_undone_on_error(self) -> AbstractContextManager[None]:
        """Forget what is noted inside the block if it raises (its savepoint rolled back)."""


current_work: ContextVar[WorkInProgress | None] = ContextVar("current_work", default=None)


def clinical_fields_hidden(_value: object = None) -> bool:
    """True while serving a caller whose role must not see clinical fields. Also each clinical
    field's `exclude_if` (app/common/schemas.py), which passes the field's value: not looked at,
    and taken here rather than by a wrapper, a call less per field serialised."""
    work = current_work.get()
    return work is not None and work.hides_clinical_fields
