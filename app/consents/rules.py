"""When a consent is in force: the one definition, as pure functions (docs/decisions.md, "Consent").

A consent is **in force at t** when it was signed at or before t, has not expired at t and was
not withdrawn at or before t. Its span is the half-open interval
`[signed_at, min(expires_at, withdrawn_at))`: at the instant `expires_at` it has expired, as an
API key has at its own `expires_at`, and at the instant of withdrawal it is withdrawn. Its
`status` (as of now) reads the same instants: `active` is "in force now".

`app.consents.sql` is the twin of both for the list's filters; a test holds the
two to the same answers at every boundary.
"""

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class ConsentKind(StrEnum):
    """What the client consented to."""

    kap_treatment = "kap_treatment"
    esketamine_rems_enrollment = "esketamine_rems_enrollment"
    telehealth = "telehealth"
    recording = "recording"
    data_sharing = "data_sharing"


class ConsentStatus(StrEnum):
    """A consent's standing at an instant (the API shows it as of now)."""

    active = "active"
    withdrawn = "withdrawn"
    expired = "expired"


class ConsentTerms(Protocol):
    """What the rule needs of a consent (a `Consent` row has it)."""

    @property
    def kind(self) -> ConsentKind: ...

    @property
    def signed_at(self) -> datetime: ...

    @property
    def expires_at(self) -> datetime | None: ...

    @property
    def withdrawn_at(self) -> datetime | None: ...


def withdrawn_by(consent: ConsentTerms, at: datetime) -> bool:
    """Withdrawn at or before `at`."""
    return consent.withdrawn_at is not None and consent.withdrawn_at <= at


def expired_by(consent: ConsentTerms, at: datetime) -> bool:
    """Expired at `at`: its `expires_at` is `at` or earlier (the end instant is not covered)."""
    return consent.expires_at is not None and consent.expires_at <= at


def status_at(consent: ConsentTerms, at: datetime) -> ConsentStatus:
    """Withdrawn before expired: a withdrawal is the client's own act and says more."""
    if withdrawn_by(consent, at):
        return ConsentStatus.withdrawn
    if expired_by(consent, at):
        return ConsentStatus.expired
    return ConsentStatus.active


def in_force_at(consent: ConsentTerms, at: datetime) -> bool:
    """Signed at or before `at`, not expired at `at`, not withdrawn at or before `at`."""
    return consent.signed_at <= at and status_at(consent, at) is ConsentStatus.active


def kinds_in_force(consents: Iterable[ConsentTerms], at: datetime) -> frozenset[ConsentKind]:
    """The kinds of which at least one of `consents` is in force at `at`."""
    return frozenset(ConsentKind(c.kind) for c in consents if in_force_at(c, at))
