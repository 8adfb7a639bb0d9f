"""Helpers for inbound tests: an integration made through the API, posting, and the worker."""

import base64
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from app.inbound.processor import InboundProcessor
from tests.inbound.payloads import CALENDLY_EVENT_TYPE
from tests.support.factories import Clinic

SECRETS = {
    "calcom": "calcom-test-secret-5f2b9c",
    "calendly": "calendly-signing-key-8d41e7",
    "standard": "whsec_" + base64.b64encode(bytes(range(32))).decode(),
}
CLIENT_EMAIL = "maya.okafor@example.org"
DEFAULT_MAP = {
    "41": "integration",
    "integration-60": "integration",
    CALENDLY_EVENT_TYPE: "integration",
    "Preparation 90": "preparation",
    "ketamine-iv": "ketamine",
}


async def make_integration(clinic: Clinic, provider: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "provider": provider,
        "name": f"Test {provider}",
        "signing_secret": SECRETS[provider],
        "event_type_map": DEFAULT_MAP,
        "default_route": "iv",
        "default_clinician_id": clinic.admin_id,
        **overrides,
    }
    return await clinic.ok("POST", "/api/v1/scheduling-integrations", 201, json=body)


@dataclass
class Inbound:
    """One integration of a test clinic: post signed bodies to it, then let the worker run."""

    app: FastAPI
    clinic: Clinic
    integration: dict[str, Any]

    @property
    def url(self) -> str:
        return f"/api/v1/inbound/{self.integration['id']}"

    async def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        # No bearer token: providers cannot send one.
        return await self.clinic.http.post(
            self.url, content=body, headers={"content-type": "application/json", **headers}
        )

    async def accept(self, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        response = await self.post(body, headers)
        assert response.status_code == 202, response.text
        accepted: dict[str, Any] = response.json()
        return accepted

    async def drain(self) -> int:
        return await drain(self.app)

    async def sessions(self, kind: str = "integration") -> list[dict[str, Any]]:
        page = await self.clinic.ok("GET", f"/api/v1/{kind}-sessions?limit=200")
        items: list[dict[str, Any]] = page["items"]
        return items

    async def unmatched(self, status: str | None = "open") -> list[dict[str, Any]]:
        query = f"?integration_id={self.integration['id']}" + (
            f"&status={status}" if status else ""
        )
        page = await self.clinic.ok("GET", f"/api/v1/unmatched-bookings{query}")
        items: list[dict[str, Any]] = page["items"]
        return items

    async def deliveries(self) -> list[dict[str, Any]]:
        url = f"/api/v1/scheduling-integrations/{self.integration['id']}/deliveries?limit=200"
        items: list[dict[str, Any]] = (await self.clinic.ok("GET", url))["items"]
        return items


async def drain(app: FastAPI) -> int:
    """Apply every pending inbound delivery now, as the worker would."""
    processor = InboundProcessor(
        app.state.sessionmaker, app.state.secret_box, app.state.clock, settle=timedelta(0)
    )
    total = 0
    while taken := await processor.run_once():
        total += taken
    return total


async def inbound_for(app: FastAPI, clinic: Clinic, provider: str, **overrides: Any) -> Inbound:
    """An integration of `provider`, and a client it can book for."""
    return Inbound(app, clinic, await make_integration(clinic, provider, **overrides))
