"""The fresh world each authorization-matrix call is built in, and the call itself."""

import itertools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from tests.support.factories import T0, Clinic


@dataclass
class Call:
    method: str
    path: str
    json: dict[str, Any] | None = None


@dataclass
class World:
    clinic: Clinic
    headers: dict[str, dict[str, str]]
    app: FastAPI
    clinician_id: str
    client_id: str
    slot: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def past(self) -> Any:
        """A distinct past hour for a new session of the world's client."""
        return T0 - timedelta(days=2, hours=3 * next(self.slot))

    async def session(self, kind: str) -> dict[str, Any]:
        extra: dict[str, Any] = {"route": "iv"} if kind == "ketamine" else {}
        return await self.clinic.session(kind, self.client_id, self.past(), **extra)

    async def client(self) -> str:
        return str((await self.clinic.client(last_name=f"M{next(self.slot)}"))["id"])


Make = Callable[[World], Awaitable[Call]]
