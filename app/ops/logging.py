"""Structured JSON logs and the request id that ties a log line, an audit row and a response.

Log lines carry ids, route templates, statuses and timings; never bodies, query strings or other
values a client sent, since those can be PHI. The one exception is a caller's own `X-Request-ID`,
bounded to 128 characters of `A-Za-z0-9._:-` and kept as `client_request_id`: the service always
makes its own `request_id`, so a caller can neither choose nor collide with the id an audit row
and a log line are joined on.
"""

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_NAME = REQUEST_ID_HEADER.encode()
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
request_log = logging.getLogger("kap.request")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; fields passed as `extra={"fields": {...}}` are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["error_type"] = record.exc_info[0].__name__
        return json.dumps(line, default=str)


# Libraries that log SQL parameters or URLs at DEBUG, i.e. PHI: never below WARNING.
PHI_LEAKING_LOGGERS = (
    "aiosqlite",
    "asyncpg",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "httpx",
    "httpcore",
)


def quiet_phi_leaking_loggers() -> None:
    """Pin the libraries that would echo patient data at WARNING, whatever the root level."""
    for name in PHI_LEAKING_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(level: str) -> None:
    """JSON lines on stderr for the whole process (the CLI calls this; tests do not)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_phi_leaking_loggers()


def _client_request_id(scope: Scope) -> str | None:
    """The caller's own X-Request-ID, when it is short and plain enough to keep; else None."""
    for name, value in scope.get("headers", ()):
        if name == _REQUEST_ID_NAME:
            candidate = bytes(value).decode("latin-1")
            return candidate if SAFE_REQUEST_ID.fullmatch(candidate) else None
    return None


def _outcome(status: int) -> str:
    if status < 400:
        return "success"
    return {401: "unauthenticated", 403: "denied", 404: "not_found"}.get(
        status, "client_error" if status < 500 else "server_error"
    )


class RequestContextMiddleware:
    """Makes the request id (sent back as X-Request-ID), keeps the caller's own beside it, and
    logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        client_request_id = _client_request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_request_id"] = client_request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((_REQUEST_ID_NAME, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if request_log.isEnabledFor(logging.INFO):  # the fields only for a line written
                _log_request(scope, state, status, time.perf_counter() - started)


def _log_request(scope: Scope, state: dict[str, Any], status: int, duration_s: float) -> None:
    principal = state.get("principal")
    route = scope.get("route")
    request_log.info(
        "request",
        extra={
            "fields": {
                "request_id": state["request_id"],
                "client_request_id": state["client_request_id"],
                "method": scope.get("method"),
                "route": getattr(route, "path", "unmatched"),
                "status": status,
                "outcome": _outcome(status),
                "duration_ms": round(duration_s * 1000, 2),
                "actor_id": getattr(principal, "staff_id", None),
                "actor_role": getattr(getattr(principal, "role", None), "value", None),
                "clinic_id": getattr(principal, "clinic_id", None),
            }
        },
    )
