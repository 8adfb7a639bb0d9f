"""The in-force rule as pure functions: every boundary, one second either side of it."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from app.consents.rules import (
    ConsentKind,
    ConsentStatus,
    in_force_at,
    kinds_in_force,
    status_at,
)
from tests.support.factories import T0

S = timedelta(seconds=1)
SIGNED = T0 - timedelta(days=30)
EXPIRES = T0 + timedelta(days=30)
WITHDRAWN = T0


@dataclass(frozen=True)
class Terms:
    kind: ConsentKind = ConsentKind.kap_treatment
    signed_at: datetime = SIGNED
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None


@pytest.mark.parametrize(
    ("terms", "at", "in_force", "status"),
    [
        # Signed at or before t: not before the signature, from its instant on.
        (Terms(), SIGNED - S, False, ConsentStatus.active),
        (Terms(), SIGNED, True, ConsentStatus.active),
        (Terms(), SIGNED + S, True, ConsentStatus.active),
        # Not expired at t: in force until the instant before expires_at.
        (Terms(expires_at=EXPIRES), EXPIRES - S, True, ConsentStatus.active),
        (Terms(expires_at=EXPIRES), EXPIRES, False, ConsentStatus.expired),
        (Terms(expires_at=EXPIRES), EXPIRES + S, False, ConsentStatus.expired),
        # Not withdrawn at or before t.
        (Terms(withdrawn_at=WITHDRAWN), WITHDRAWN - S, True, ConsentStatus.active),
        (Terms(withdrawn_at=WITHDRAWN), WITHDRAWN, False, ConsentStatus.withdrawn),
        (Terms(withdrawn_at=WITHDRAWN), WITHDRAWN + S, False, ConsentStatus.withdrawn),
        # Withdrawn, then past its expiry: it stays `withdrawn`, the client's own act.
        (
            Terms(expires_at=EXPIRES, withdrawn_at=WITHDRAWN),
            EXPIRES + S,
            False,
            ConsentStatus.withdrawn,
        ),
        # Signed and withdrawn in the same instant: never in force.
        (Terms(withdrawn_at=SIGNED), SIGNED, False, ConsentStatus.withdrawn),
        # A one-second consent is in force for its first second only.
        (Terms(expires_at=SIGNED + S), SIGNED, True, ConsentStatus.active),
        (Terms(expires_at=SIGNED + S), SIGNED + S, False, ConsentStatus.expired),
    ],
)
def test_in_force_and_status_at_each_boundary(
    terms: Terms, at: datetime, in_force: bool, status: ConsentStatus
) -> None:
    assert in_force_at(terms, at) is in_force
    assert status_at(terms, at) is status


def test_a_microsecond_counts_at_the_expiry() -> None:
    terms = Terms(expires_at=EXPIRES)
    micro = timedelta(microseconds=1)
    assert in_force_at(terms, EXPIRES - micro)
    assert not in_force_at(terms, EXPIRES)


def test_kinds_in_force_names_each_kind_with_one_consent_in_force() -> None:
    consents = [
        Terms(ConsentKind.kap_treatment, withdrawn_at=WITHDRAWN),
        Terms(ConsentKind.kap_treatment, signed_at=WITHDRAWN + S),  # signed again later
        Terms(ConsentKind.esketamine_rems_enrollment, expires_at=WITHDRAWN),
        Terms(ConsentKind.telehealth),
    ]
    assert kinds_in_force(consents, WITHDRAWN - S) == {
        ConsentKind.kap_treatment,
        ConsentKind.esketamine_rems_enrollment,
        ConsentKind.telehealth,
    }
    # At the withdrawal instant the first is gone and the second not yet signed.
    assert kinds_in_force(consents, WITHDRAWN) == {ConsentKind.telehealth}
    assert kinds_in_force(consents, WITHDRAWN + S) == {
        ConsentKind.kap_treatment,
        ConsentKind.telehealth,
    }
    assert kinds_in_force([], T0) == frozenset()
