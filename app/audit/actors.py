"""Whom a unit of work acts for, and the audit trail a request opens: read off the request.

The unit of work (app/unit_of_work.py) names its actor on every audit row it writes and asks,
for every clinical field a response serialises, whether the actor may see it; a request's actor
is whoever authentication left on the request's state.
"""

import functools
import ipaddress
import re
import uuid
from dataclasses import dataclass

from fastapi import Request
from fastapi.routing import APIRoute

from app.audit.models import IP_LENGTH, RESOURCE_ID_LENGTH
from app.audit.trail import TAG_RESOURCES, AuditTrail

# What a path id can be when it names a resource: a UUID, a FHIR id. A path is read before its
# ids are validated (a denied request is audited first), so anything else, of any length, is
# left out of the trail rather than written into it.
PLAIN_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{RESOURCE_ID_LENGTH}}}")


@dataclass(frozen=True)
class Actor:
    """Whom a unit of work acts for, as its audit rows name them."""

    clinic_id: uuid.UUID | None
    id: uuid.UUID | None
    role: str | None


class RequestCaller:
    """The verified caller, else whom a failed authentication was about (a real key's clinic).

    Kept once verified: authentication happens once per request and is never undone.
    """

    __slots__ = ("_request", "_verified")

    def __init__(self, request: Request) -> None:
        self._request = request
        self._verified: Actor | None = None

    def __call__(self) -> Actor | None:
        if self._verified is not None:
            return self._verified
        state = self._request.state
        principal = getattr(state, "principal", None)
        if principal is not None:
            self._verified = Actor(principal.clinic_id, principal.staff_id, principal.role.value)
            return self._verified
        subject = getattr(state, "auth_subject", None)
        if subject is None:
            return None
        role = subject.role.value if subject.role else None
        return Actor(subject.clinic_id, subject.staff_id, role)


def audited_address(host: str) -> str | None:
    """The client's address as the trail keeps it: an IP address (without an IPv6 zone, which
    can be any text), else None. Behind a trusted proxy it is what X-Forwarded-For said, and a
    proxy that passes a caller's header on unchecked passes any text."""
    return _ip_address(host) if len(host) <= IP_LENGTH else None  # nothing longer is cached


@functools.lru_cache(maxsize=4096)  # callers come back: one parse per address, not per request
def _ip_address(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.partition("%")[0]))
    except ValueError:
        return None


def request_trail(route: APIRoute, request: Request) -> AuditTrail:
    """The audit trail of one request: its route's action and resource type, its ids."""
    tag = str(route.tags[0]) if route.tags else ""
    request_id = getattr(request.state, "request_id", None) or str(uuid.uuid4())
    path_ids = [str(v) for k, v in request.path_params.items() if k.endswith("_id")]
    subject_id = path_ids[0] if path_ids and PLAIN_ID.fullmatch(path_ids[0]) else None
    return AuditTrail(
        action=route.name,
        resource_type=TAG_RESOURCES.get(tag, tag or "api"),
        request_id=request_id,
        ip=audited_address(request.client.host) if request.client else None,
        client_request_id=getattr(request.state, "client_request_id", None),
        subject_id=subject_id,
    )
