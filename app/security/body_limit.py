"""A cap on request body size (OWASP API4: unrestricted resource consumption)."""

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.security.exceptions import PayloadTooLarge, respond


class _BodyTooLarge(Exception):
    """Raised into the app from `receive` when the streamed body passes the limit."""


class BodyLimitMiddleware:
    """413 `payload_too_large` for a body over `max_bytes`, before the app sees the excess.

    A declared Content-Length is checked before the app runs at all. A body without one
    (chunked) is counted as it streams; past the limit the app's next `receive` raises, so the
    request fails before any handler acts on it, and whatever the app answers is replaced by the
    413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._reject(scope, receive, send)
            return

        received = 0
        tripped = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, tripped
            if tripped:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    tripped = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if tripped:
                return  # the app's reaction to the aborted body is replaced by the 413 below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not tripped or started:
                raise
        if tripped:
            if started:
                # The app answered before reading its whole body; all we can do is abort.
                raise _BodyTooLarge
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"Request bodies are limited to {self.max_bytes} bytes.")
        # The client may still be sending: ask the server to close rather than drain it.
        # Under /fhir/ an OperationOutcome, like every other FHIR failure.
        await respond(scope, error)(scope, receive, _closing(send))


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None or not value.strip().isdigit():
        return None  # absent or malformed: the streamed byte count decides
    return int(value)


def _closing(send: Send) -> Send:
    async def send_with_close(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
        await send(message)

    return send_with_close
