"""Render unexpected exceptions inside the middleware stack (OWASP API8: no stack traces)."""

import inspect
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class UnhandledErrorMiddleware:
    """Answers an exception no handler took with the app's own 500 handler, right here.

    Starlette renders that 500 in its outermost layer, past every user middleware, so it would
    leave without security headers and without CORS headers (a browser could not even read it).
    The handler (app.errors) logs the exception with its traceback and answers with a generic
    problem+json, so the exception stops here. Without a 500 handler it propagates unchanged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            handlers: dict[Any, Any] = getattr(scope.get("app"), "exception_handlers", {})
            handler = handlers.get(500) or handlers.get(Exception)
            if started or handler is None:
                raise
            response = handler(Request(scope, receive), exc)
            if inspect.isawaitable(response):
                response = await response
            assert isinstance(response, Response)
            await response(scope, receive, send)
