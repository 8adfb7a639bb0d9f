"""A bound on the audit rows of denied requests whose sender proved nothing.

A denial without a verified caller (no credentials, a malformed or unknown key, a wrong secret
for a real key's prefix, a bad inbound-webhook signature, a wrong calendar-feed token) costs its
sender nothing, so an anonymous flood of them would grow the append-only trail without bound and
slow every write beside it; filed under a clinic (the real key's, integration's or token's), it
would also bury that clinic's trail. Such rows are admitted per client address, and per clinic
(or, for rows no clinic owns, for all of those together) per minute, in the rate-limit store
(shared between replicas when it is Redis), whether or not rate limiting is on. The rest are
counted in `kap_audit_denials_unwritten_total` and summed up in a warning at most once a minute.
Denials of verified callers (403, 404, refused writes) are always written: the caller's own
quota bounds them.
"""

import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from limits import RateLimitItemPerMinute
from prometheus_client import CollectorRegistry, Counter

if TYPE_CHECKING:  # app.security builds this gate: a runtime import would be circular
    from app.security.limit_store import LimitStore

log = logging.getLogger(__name__)
SUMMARY_SECONDS = 60.0


class UnverifiedDenials:
    """Admits denied requests without a verified caller to the audit trail at a bounded rate;
    counts the rest."""

    def __init__(
        self,
        store: "LimitStore",
        per_address: int,
        per_clinic: int,
        registry: CollectorRegistry,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.per_address = RateLimitItemPerMinute(per_address)
        self.per_clinic = RateLimitItemPerMinute(per_clinic)
        self.clock = clock
        self.unwritten = Counter(
            "kap_audit_denials_unwritten_total",
            "Denied requests without a verified caller that were left out of the audit trail "
            "because their address, or their clinic (or all those without one), passed the "
            "per-minute bound.",
            registry=registry,
        )
        self._since_summary = 0
        self._summarised_at = -math.inf

    async def admit(self, address: str, clinic_id: uuid.UUID | None) -> bool:
        """Whether this denied request gets its audit row; counted when it does not."""
        clinic = str(clinic_id) if clinic_id is not None else "none"
        by_address = await self.store.hit(self.per_address, f"audit-denials:address:{address}")
        admitted = by_address.allowed
        if admitted:
            by_clinic = await self.store.hit(self.per_clinic, f"audit-denials:clinic:{clinic}")
            admitted = by_clinic.allowed
        if not admitted:
            self._left_out()
        return admitted

    def _left_out(self) -> None:
        self.unwritten.inc()
        self._since_summary += 1
        now = self.clock()
        if now - self._summarised_at >= SUMMARY_SECONDS:
            log.warning(
                "denied requests without a verified caller left out of the audit trail",
                extra={"fields": {"unwritten": self._since_summary}},
            )
            self._since_summary = 0
            self._summarised_at = now
