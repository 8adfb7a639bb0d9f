"""Replays the Idempotency-Key guard refuses (docs/decisions.md, "HTTP conventions")."""

from app.errors import Conflict


class IdempotentReplayRefused(Conflict):
    """A completed key whose stored response is not shown again; `Location` names what the
    first request created, so the caller can read it (or revoke it) under their current role."""

    def __init__(self, detail: str, location: str | None) -> None:
        super().__init__(detail, headers={"Location": location} if location else None)


class IdempotentSecretNotReplayed(IdempotentReplayRefused):
    code, title = (
        "idempotent_secret_not_replayed",
        "The first response held a secret that is shown only once",
    )

    def __init__(self, location: str | None) -> None:
        super().__init__(
            "This Idempotency-Key already created the resource at Location; its secret was shown "
            "once and is not stored, so it is not shown again. If it was lost, revoke or rotate "
            "it there.",
            location,
        )


class IdempotentRoleChanged(IdempotentReplayRefused):
    code, title = (
        "idempotent_role_changed",
        "Your role may no longer see the first response",
    )

    def __init__(self, location: str | None) -> None:
        super().__init__(
            "This Idempotency-Key already created the resource at Location, but its response "
            "showed more than your current role may see, so it is not replayed. GET the "
            "resource at Location instead.",
            location,
        )
