"""Which included router serves a request, found by its path before FastAPI asks them in turn.

FastAPI (0.165) keeps each included router as one entry of the app's routes and asks the entries
in order whether they serve a request; asking a router that does not costs about 20 µs here (it
walks its routes and their contexts), so a route in the twentieth router paid ~400 µs before its
work began, a quarter of an authenticated request that does nothing else (docs/performance.md,
eighth pass). `RouterIndex` is the first entry: it asks only the routers that have a route whose
path pattern matches, in their order, and hands the request to the one that serves it. The
routers stay where they were, for the OpenAPI document and for what the index does not claim
(a path no route matches falls through to FastAPI's walk, its 404 and its slash redirect).
"""

import re
from collections.abc import Iterable

# Starlette's routes match this path (the request's, below the app's root path); the index asks
# the same question of the same string, so it calls the same function.
from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

# Starlette names a path parameter's group; a router's patterns are joined into one, where the
# same name may appear twice, and only whether it matches is asked.
_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
_SERVED_BY = "kap.route_index.router"


def paths_pattern(routes: Iterable[BaseRoute]) -> re.Pattern[str]:
    """One pattern matching every path one of `routes` serves; a route without a path pattern
    (a mount, a host) makes it match every path, so the router is always asked."""
    alternatives = []
    for route in routes:
        pattern = getattr(route, "path_regex", None)
        if not isinstance(pattern, re.Pattern):
            return re.compile("")
        alternatives.append(f"(?:{_NAMED_GROUP.sub('(?:', pattern.pattern)})")
    return re.compile("|".join(alternatives) or r"(?!)")


class RouterIndex(BaseRoute):
    """The included routers of an app, each with the pattern of the paths it serves."""

    def __init__(self) -> None:
        self._routers: list[tuple[re.Pattern[str], BaseRoute]] = []

    def add(self, routes: Iterable[BaseRoute], included: BaseRoute) -> None:
        """`included` is the app's entry for a router whose own routes are `routes`."""
        self._routers.append((paths_pattern(routes), included))

    @property
    def entries(self) -> list[BaseRoute]:
        """The app's entries for the routers indexed, in the app's order."""
        return [included for _, included in self._routers]

    def candidates(self, path: str) -> list[BaseRoute]:
        """The entries with a route whose path pattern matches `path`, in the app's order."""
        return [included for pattern, included in self._routers if pattern.match(path)]

    def router_for(self, scope: Scope) -> tuple[Match, BaseRoute | None]:
        """The entry FastAPI would hand this request to, as it would find it: the first that
        serves path and method, else the first that serves the path (its 405), else none."""
        match, _, included = self._select(scope)
        return match, included

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope, included = self._select(scope)
        return match, child_scope if included is None else {**child_scope, _SERVED_BY: included}

    def _select(self, scope: Scope) -> tuple[Match, Scope, BaseRoute | None]:
        if scope["type"] != "http":
            return Match.NONE, {}, None
        partial: tuple[Scope, BaseRoute] | None = None
        for included in self.candidates(get_route_path(scope)):
            match, child_scope = included.matches(scope)
            if match is Match.FULL:
                return match, child_scope, included
            if match is Match.PARTIAL and partial is None:
                partial = (child_scope, included)
        if partial is None:
            return Match.NONE, {}, None
        return Match.PARTIAL, *partial

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        included: BaseRoute = scope.pop(_SERVED_BY)
        await included.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: object) -> URLPath:
        raise NoMatchFound(name, path_params)  # the routers themselves answer, after this one
