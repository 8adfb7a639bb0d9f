"""Minimum necessary: what the current caller may see of clinical data.

The unit of work publishes the request's state here; authentication has put the principal on it
by the time responses are serialised. Schedulers see scheduling facts only (API.md, Roles).
"""

from contextvars import ContextVar
from typing import Any

ROLES_WITHOUT_CLINICAL_ACCESS = frozenset({"scheduler"})

current_request_state: ContextVar[Any] = ContextVar("current_request_state", default=None)


def clinical_fields_hidden() -> bool:
    """True while serving a caller whose role must not see clinical fields."""
    principal = getattr(current_request_state.get(), "principal", None)
    role = getattr(getattr(principal, "role", None), "value", None)
    return role in ROLES_WITHOUT_CLINICAL_ACCESS
