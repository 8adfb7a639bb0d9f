"""The dosing gate: what must be on record before a dose is completed.

Completing a ketamine session checks, at the dose's `starts_at` and under the clinic's policy:
a medical clearance (`require_medical_clearance`); a `kap_treatment` consent in force and, for
esketamine, an `esketamine_rems_enrollment` consent in force (`require_consent`). Scheduling is
never refused by it: bookings arrive from schedulers and integrations, and staff see the doses
that would fail as journey alerts before the day. A prescriber may complete a dose anyway with
an `override_reason`; the dose then carries the safety flag `gate_overridden` for good.
Evidence and decisions: docs/clinical-evidence.md ("The dosing gate"), docs/decisions.md.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change
from app.auth.prescribers import require_prescriber
from app.auth.principal import Principal
from app.clinics.snapshot import ClinicSettings
from app.consents import rules as consent_rules
from app.consents import service as consents
from app.consents.rules import ConsentKind
from app.errors import Conflict, ValidationFailed
from app.screenings import rules as screening_rules
from app.screenings import service as screenings
from app.sessions.dosing.schemas import Medication
from app.sessions.enums import SessionKind, SessionStatus
from app.sessions.models import ClinicalSession


class GateCheck(StrEnum):
    """A failed gate check, named by the 409 code that refuses the completion."""

    medical_clearance_required = "medical_clearance_required"
    consent_required = "consent_required"
    rems_enrollment_required = "rems_enrollment_required"


class MedicalClearanceRequired(Conflict):
    code, title = "medical_clearance_required", "The client is not medically cleared for the dose"


class ConsentRequired(Conflict):
    code, title = "consent_required", "No treatment consent is in force for the dose"


class RemsEnrollmentRequired(Conflict):
    code, title = "rems_enrollment_required", "No esketamine REMS enrollment is in force"


class OverrideNotNeeded(ValidationFailed):
    code, title = "override_not_needed", "The dose passes the dosing gate: nothing to override"


REFUSAL: dict[GateCheck, type[Conflict]] = {
    GateCheck.medical_clearance_required: MedicalClearanceRequired,
    GateCheck.consent_required: ConsentRequired,
    GateCheck.rems_enrollment_required: RemsEnrollmentRequired,
}
WHAT_IS_MISSING = {
    GateCheck.medical_clearance_required: "a medical clearance (a cleared screening, still "
    "valid) at the dose's start: a prescriber records one with POST "
    "/api/v1/clients/{client_id}/screenings",
    GateCheck.consent_required: "a kap_treatment consent in force at the dose's start: record "
    "it with POST /api/v1/clients/{client_id}/consents",
    GateCheck.rems_enrollment_required: "an esketamine_rems_enrollment consent in force at the "
    "dose's start (esketamine is dispensed only under the REMS): record it with POST "
    "/api/v1/clients/{client_id}/consents",
}


@dataclass(frozen=True)
class GatePolicy:
    """The clinic's two gate settings (both true for a new clinic)."""

    require_medical_clearance: bool
    require_consent: bool

    @classmethod
    def of(cls, clinic: ClinicSettings) -> "GatePolicy":
        return cls(clinic.require_medical_clearance, clinic.require_consent)

    @property
    def active(self) -> bool:
        return self.require_medical_clearance or self.require_consent


def failed_checks(
    policy: GatePolicy, medication: str | None, cleared: bool, in_force: frozenset[ConsentKind]
) -> list[GateCheck]:
    """The checks a dose fails, in the order the contract lists them (the first is the 409)."""
    failed = []
    if policy.require_medical_clearance and not cleared:
        failed.append(GateCheck.medical_clearance_required)
    if policy.require_consent:
        if ConsentKind.kap_treatment not in in_force:
            failed.append(GateCheck.consent_required)
        esketamine = medication == Medication.esketamine
        if esketamine and ConsentKind.esketamine_rems_enrollment not in in_force:
            failed.append(GateCheck.rems_enrollment_required)
    return failed


async def checks_failed_by(
    db: AsyncSession, principal: Principal, dose: ClinicalSession
) -> list[GateCheck]:
    """What `dose` fails at its `starts_at`, read from the screenings and consents on record."""
    policy = GatePolicy.of(principal.clinic)
    clinic_id, client_id, at = principal.clinic_id, dose.client_id, dose.starts_at
    cleared = True
    if policy.require_medical_clearance:
        cleared = (await screenings.clearance_at(db, clinic_id, client_id, at)).cleared
    in_force: frozenset[ConsentKind] = frozenset()
    if policy.require_consent:
        in_force = await consents.kinds_in_force(db, clinic_id, client_id, at)
    return failed_checks(policy, dose.medication, cleared, in_force)


async def pass_gate(
    db: AsyncSession,
    principal: Principal,
    dose: ClinicalSession,
    override_reason: str | None,
    now: datetime,
) -> None:
    """Refuse the completion of a dose that fails the gate (409, the first failed check, with
    every one in `failed_checks`), or record the prescriber's override on it."""
    if override_reason is not None:
        require_prescriber(principal, "complete a dose that fails the dosing gate")
    failed = await checks_failed_by(db, principal, dose)
    if not failed:
        if override_reason is not None:
            raise OverrideNotNeeded(
                "This dose passes the dosing gate; complete it without override_reason.",
                loc=("body", "override_reason"),
                kind="override_not_needed",
            )
        return
    codes = [check.value for check in failed]
    if override_reason is None:
        missing = "; ".join(WHAT_IS_MISSING[check] for check in failed)
        raise REFUSAL[failed[0]](
            "The dose cannot be completed without "
            + missing.format(client_id=dose.client_id)
            + ". A prescriber may complete it anyway with override_reason.",
            extra={"failed_checks": codes},
        )
    dose.gate_overridden_at = now
    dose.gate_overridden_by = principal.staff_id
    dose.gate_override_reason = override_reason
    dose.gate_override_checks = codes
    note_change(
        "session",
        dose.id,
        [
            "gate_override_checks",
            "gate_override_reason",
            "gate_overridden_at",
            "gate_overridden_by",
        ],
    )


async def recheck_late_esketamine(
    db: AsyncSession, principal: Principal, dose: ClinicalSession, medication_before: str | None
) -> None:
    """A completed dose recorded as esketamine only afterwards meets the REMS-enrollment check
    then (409 `rems_enrollment_required`), unless its completion was already overridden: the
    gate cannot be passed by naming the medication late."""
    esketamine = Medication.esketamine.value
    late = medication_before != esketamine and dose.medication == esketamine
    if not late or dose.status is not SessionStatus.completed or dose.gate_overridden_at:
        return
    failed = await checks_failed_by(db, principal, dose)
    if GateCheck.rems_enrollment_required in failed:
        raise RemsEnrollmentRequired(
            "This completed dose becomes esketamine only with "
            + WHAT_IS_MISSING[GateCheck.rems_enrollment_required].format(client_id=dose.client_id)
            + ".",
            extra={"failed_checks": [GateCheck.rems_enrollment_required.value]},
        )


@dataclass(frozen=True)
class ScheduledGate:
    """A scheduled dose and the checks it would fail if completed as things stand."""

    dose: ClinicalSession
    failed: list[GateCheck]


async def scheduled_doses_failing(
    db: AsyncSession,
    principal: Principal,
    client_id: uuid.UUID,
    sessions: Sequence[ClinicalSession],
) -> list[ScheduledGate]:
    """The client's scheduled doses (among `sessions`) that would fail the gate, each judged
    at its own start: two statements (screenings, consents) whatever the number of doses,
    none when there is no scheduled dose or the gate is off."""
    policy = GatePolicy.of(principal.clinic)
    doses = [
        s
        for s in sessions
        if s.kind is SessionKind.ketamine and s.status is SessionStatus.scheduled
    ]
    if not doses or not policy.active:
        return []
    clinic_id = principal.clinic_id
    facts = await screenings.client_screening_facts(db, clinic_id, client_id)
    signed = await consents.client_consents(db, clinic_id, client_id)
    found = []
    for dose in doses:
        cleared = screening_rules.clearance_at(facts, dose.starts_at).cleared
        in_force = consent_rules.kinds_in_force(signed, dose.starts_at)
        failed = failed_checks(policy, dose.medication, cleared, in_force)
        if failed:
            found.append(ScheduledGate(dose, failed))
    return found
