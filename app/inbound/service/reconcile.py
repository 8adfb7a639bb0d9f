"""Making a booking chain's session match what the provider says now.

Sessions are booked, moved and cancelled through the same service functions as the API, so
every rule (no overlaps, preparation first, 12-hour limit), every outbound event and every
audit row applies to them too. A booking that breaks a rule raises `CannotApply`; the caller
decides whether that is a 409 (a human resolving it) or an unmatched booking (the worker).
"""

import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.clinics.snapshot import ClinicSettings, ClinicSnapshot
from app.errors import AppError
from app.inbound import repository
from app.inbound.models import BookingChain, ProviderBooking, SchedulingIntegration
from app.inbound.service.chains import BookingDetails
from app.sessions import service as sessions
from app.sessions.enums import Location, SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from app.sessions.schemas import (
    IntegrationSessionCreate,
    IntegrationSessionUpdate,
    KetamineSessionCreate,
    KetamineSessionUpdate,
    PreparationSessionCreate,
    PreparationSessionUpdate,
    SessionCreate,
    SessionUpdate,
)
from app.staff.models import Role
from app.unit_of_work import savepoint

CREATE_BODIES: dict[SessionKind, type[SessionCreate]] = {
    SessionKind.preparation: PreparationSessionCreate,
    SessionKind.ketamine: KetamineSessionCreate,
    SessionKind.integration: IntegrationSessionCreate,
}
UPDATE_BODIES: dict[SessionKind, type[SessionUpdate]] = {
    SessionKind.preparation: PreparationSessionUpdate,
    SessionKind.ketamine: KetamineSessionUpdate,
    SessionKind.integration: IntegrationSessionUpdate,
}


Body = TypeVar("Body", SessionCreate, SessionUpdate)


class CannotApply(Exception):
    """The booking cannot become (or move) a session until a human decides."""

    def __init__(self, reason: str, detail: str, error: AppError | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.error = error


@dataclass(frozen=True)
class Applied:
    session_id: uuid.UUID | None
    summary: str


@dataclass
class Reconciler:
    """Applies chains of one integration. `acting` is the staff member resolving a booking;
    without one the integration itself acts (with a scheduler's powers)."""

    db: AsyncSession
    integration: SchedulingIntegration
    clinic: ClinicSettings
    now: datetime
    acting: Principal | None = None

    def principal(self, clinician_id: uuid.UUID) -> Principal:
        if self.acting is not None:
            return self.acting
        clinic = ClinicSnapshot.of(self.clinic)
        return Principal(clinician_id, clinic.id, Role.scheduler, None, clinic)

    async def retire_duplicates(self, chain: BookingChain, duplicates: list[uuid.UUID]) -> None:
        """Sessions of chains that turned out to be this one are cancelled, not kept twice."""
        for session_id in duplicates:
            session = await repository.session(self.db, session_id)
            if session.status is SessionStatus.scheduled:
                reason = (
                    f"Duplicate of session {chain.session_id}: the provider's reschedule "
                    "history showed both were one booking."
                )
                await sessions.cancel_session(
                    self.db, self.principal(session.clinician_id), session, reason, self.now
                )

    async def apply(self, chain: BookingChain) -> Applied:
        """Book, move or cancel the chain's session to match its head booking."""
        head = await repository.chain_head(self.db, chain)
        if head is None:
            return Applied(chain.session_id, "nothing to apply")
        details = BookingDetails.from_json(head.details) if head.details else None
        session = (
            await repository.session(self.db, chain.session_id)
            if chain.session_id is not None
            else None
        )
        if head.cancelled:
            return await self._cancel(chain, head, session, details)
        if details is None:
            return Applied(chain.session_id, "waiting for the booking that replaced it")
        if session is None or await self._rebooked(chain, session):
            session = await self._book(chain, head, details)
            return Applied(session.id, f"booked {session.kind.value} session")
        return await self._move(session, head, details)

    async def _rebooked(self, chain: BookingChain, session: ClinicalSession) -> bool:
        """The provider cancelled this booking and has now booked it again (Cal.com's "request
        reschedule"): the cancelled session stays history and a new one is booked."""
        if session.status is not SessionStatus.cancelled:
            return False
        return await repository.has_cancelled_booking(self.db, chain)

    async def _cancel(
        self,
        chain: BookingChain,
        head: ProviderBooking,
        session: ClinicalSession | None,
        details: BookingDetails | None,
    ) -> Applied:
        reason = f"Cancelled in {self.integration.name}."
        if head.cancellation_reason:
            reason = f"Cancelled in {self.integration.name}: {head.cancellation_reason}"[:500]
        if session is None and details is not None:
            # Cancelled before its booking was applied: book and cancel it, as the in-order
            # sequence would have; if it could never have been booked, nothing is owed.
            try:
                async with self.db.begin_nested():
                    session = await self._book(chain, head, details)
            except CannotApply:
                return Applied(None, "cancelled before it could be booked")
        if session is None:
            return Applied(None, "cancelled before it was described")
        if session.status is not SessionStatus.scheduled:
            return Applied(session.id, f"already {session.status.value}")
        if details is not None:
            # As in order: the session first follows the booking that was cancelled.
            # If it cannot move, it is cancelled where it stands: the move did not happen.
            with contextlib.suppress(CannotApply):
                async with savepoint(self.db):
                    await self._move(session, head, details)
        await sessions.cancel_session(
            self.db, self.principal(session.clinician_id), session, reason, self.now
        )
        return Applied(session.id, "cancelled the session")

    async def _book(
        self, chain: BookingChain, head: ProviderBooking, details: BookingDetails
    ) -> ClinicalSession:
        kind = self._kind(chain, details)
        client_id = chain.client_id or await self._client_id(details)
        clinician_id = chain.clinician_id or await self._clinician_id(details)
        fields: dict[str, object] = {
            "client_id": client_id,
            "clinician_id": clinician_id,
            "starts_at": details.starts_at,
            "ends_at": details.ends_at,
            "location": details.location or Location.in_person,
            "external_ref": {"source": self.integration.provider, "id": head.booking_id},
        }
        if kind is SessionKind.ketamine:
            if self.integration.default_route is None:
                raise CannotApply(
                    "no_default_route",
                    "Doses need a route: set the integration's default_route.",
                )
            fields["route"] = self.integration.default_route
        body = _validated(CREATE_BODIES[kind], fields)
        try:
            session = await sessions.create_session(
                self.db, self.principal(clinician_id), kind, body, self.now
            )
        except AppError as error:
            raise _cannot(error) from error
        chain.session_id = session.id
        await self.db.flush()
        return session

    async def _move(
        self, session: ClinicalSession, head: ProviderBooking, details: BookingDetails
    ) -> Applied:
        moved = (session.starts_at, session.ends_at) != (details.starts_at, details.ends_at)
        renamed = session.external_id != head.booking_id
        if not moved and not renamed:
            return Applied(session.id, "no change")
        if moved and session.status is not SessionStatus.scheduled:
            raise CannotApply(
                "invalid_transition",
                f"The provider moved a booking whose session is {session.status.value}.",
            )
        fields: dict[str, object] = {
            "external_ref": {"source": self.integration.provider, "id": head.booking_id}
        }
        if moved:
            fields |= {"starts_at": details.starts_at, "ends_at": details.ends_at}
        body = _validated(UPDATE_BODIES[session.kind], fields)
        try:
            await sessions.update_session(
                self.db, self.principal(session.clinician_id), session, body, self.now
            )
        except AppError as error:
            raise _cannot(error) from error
        return Applied(session.id, "moved the session" if moved else "followed the new booking id")

    def _kind(self, chain: BookingChain, details: BookingDetails) -> SessionKind:
        if chain.kind is not None:
            return SessionKind(chain.kind)
        if details.kind is not None:
            return details.kind
        for key in details.event_type_keys:
            if key in self.integration.event_type_map:
                return SessionKind(self.integration.event_type_map[key])
        named = ", ".join(details.event_type_keys) or "none"
        raise CannotApply(
            "unmapped_event_type",
            f"No session kind is mapped for this event type (event types: {named}).",
        )

    async def _client_id(self, details: BookingDetails) -> uuid.UUID:
        if not details.attendee_email:
            raise CannotApply("unknown_client", "The booking names no attendee email.")
        matches = await repository.client_ids_by_email(
            self.db, self.clinic.id, details.attendee_email, limit=2
        )
        if not matches:
            raise CannotApply(
                "unknown_client", "No client of this clinic has the attendee's email."
            )
        if len(matches) > 1:
            raise CannotApply("ambiguous_client", "Several clients share the attendee's email.")
        return matches[0]

    async def _clinician_id(self, details: BookingDetails) -> uuid.UUID:
        if details.organizer_email:
            found = await repository.clinician_id_by_email(
                self.db, self.clinic.id, details.organizer_email
            )
            if found is not None:
                return found
        default = self.integration.default_clinician_id
        if default is not None:
            found = await repository.clinician_id(self.db, self.clinic.id, default)
            if found is not None:
                return found
        raise CannotApply(
            "unknown_clinician",
            "The organizer is not an active clinician here and the integration has no usable "
            "default_clinician_id.",
        )


def _cannot(error: AppError) -> CannotApply:
    # A rule's own code names the reason; a plain 422 means the booking itself is not valid.
    reason = "invalid_booking" if error.code == "validation_error" else error.code
    return CannotApply(reason, error.detail, error)


def _validated(model: type[Body], fields: dict[str, object]) -> Body:
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        raise CannotApply("invalid_booking", f"{first['msg']} ({first['loc']})") from error
