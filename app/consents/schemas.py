"""Consent schemas: the signed terms in; the record with its status as of now out."""

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.common.schemas import ONE_LINE, Id, InputModel, InputTimestamp, UTCTimestamp
from app.consents.models import DOCUMENT_VERSION_LENGTH, REASON_LENGTH
from app.consents.rules import ConsentKind, ConsentStatus

EVIDENCE = "Evidence: [consent](/docs/clinical-evidence#consent)"
GATE_EVIDENCE = "Evidence: [dosing-gate](/docs/clinical-evidence#dosing-gate)"
IN_FORCE = (
    "A consent is in force at an instant t when `signed_at` ≤ t, t is before `expires_at` (at "
    "`expires_at` it has expired) and it was not withdrawn at or before t."
)
KIND = (
    "What the client consented to: `kap_treatment` (ketamine-assisted psychotherapy; the dosing "
    "gate needs one in force at a dose's start), `esketamine_rems_enrollment` (the patient's "
    "enrollment in the Spravato REMS, needed for an esketamine dose; "
    f"{GATE_EVIDENCE}), `telehealth`, `recording` (audio or video of sessions), "
    f"`data_sharing` (release of records to others). {EVIDENCE}"
)
STATUS = (
    "As of now: `withdrawn` once withdrawn, else `expired` from `expires_at` on, else `active` "
    f"(in force). {IN_FORCE} {EVIDENCE}"
)

DocumentVersion = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=DOCUMENT_VERSION_LENGTH),
    ONE_LINE,
    Field(
        description="Which version of the clinic's consent form was signed, as the clinic names "
        "it (one line, up to 100 characters).",
        examples=["KAP consent v3.2 (2026-01)"],
    ),
]
WithdrawalReason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=REASON_LENGTH),
    ONE_LINE,
    Field(
        description="Why, as the client put it or staff recorded it (one line, up to 500).",
        examples=["Client withdrew consent by phone"],
    ),
]


class ConsentCreate(InputModel):
    """Record a consent the client signed. It is never deleted; withdraw it instead."""

    kind: ConsentKind = Field(description=KIND)
    document_version: DocumentVersion
    signed_at: Annotated[
        InputTimestamp,
        Field(description="When the client signed; not in the future. " + EVIDENCE),
    ]
    expires_at: Annotated[
        InputTimestamp | None,
        Field(
            description="When the consent lapses, if the form says so; after `signed_at`. "
            "At this instant it is no longer in force. May be in the past, to record a "
            "consent that has already lapsed. " + EVIDENCE
        ),
    ] = None


class ConsentWithdraw(InputModel):
    """The client withdraws the consent: from now on it is not in force."""

    reason: WithdrawalReason


class ConsentRead(BaseModel):
    id: Id
    client_id: Id
    kind: ConsentKind = Field(description=KIND)
    document_version: str
    signed_at: UTCTimestamp
    expires_at: UTCTimestamp | None
    recorded_by: Id = Field(description="The staff member who recorded it.")
    status: ConsentStatus = Field(description=STATUS)
    withdrawn_at: UTCTimestamp | None = Field(
        description="When the withdrawal was recorded (the server's clock); it is not in force "
        "from this instant on."
    )
    withdrawn_by: Id | None = Field(description="The staff member who recorded it.")
    withdrawal_reason: str | None
    version: int
    created_at: UTCTimestamp
    updated_at: UTCTimestamp
