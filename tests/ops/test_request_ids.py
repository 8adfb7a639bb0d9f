"""The service makes every request id itself; a caller's own X-Request-ID is kept beside it as
`client_request_id`, in the audit rows and the log line, never in its place."""

import logging
from typing import Any

import pytest

from tests.support.factories import Clinic


async def _read_client(clinic: Clinic, client_id: str, sent: str | None) -> str:
    headers = {"X-Request-ID": sent} if sent is not None else {}
    response = await clinic.get(f"/api/v1/clients/{client_id}", headers=headers)
    assert response.status_code == 200
    made: str = response.headers["x-request-id"]
    return made


async def _audited(clinic: Clinic, request_id: str) -> list[dict[str, Any]]:
    page = await clinic.ok("GET", "/api/v1/audit-events", params={"action": "get_client"})
    return [event for event in page["items"] if event["request_id"] == request_id]


async def test_a_callers_request_id_is_kept_beside_the_services_own(
    clinic: Clinic, caplog: pytest.LogCaptureFixture
) -> None:
    client = await clinic.client()
    with caplog.at_level(logging.INFO, logger="kap.request"):
        first = await _read_client(clinic, client["id"], "trace-42.a")
        second = await _read_client(clinic, client["id"], "trace-42.a")
    # The caller cannot choose the id: the same one sent twice gives two ids of the service's.
    assert first != second
    assert "trace-42.a" not in (first, second)
    assert len(first) == 32
    [event] = await _audited(clinic, first)
    assert (event["request_id"], event["client_request_id"]) == (first, "trace-42.a")
    [line] = [r for r in caplog.records if getattr(r, "fields", {}).get("request_id") == first]
    assert line.fields["client_request_id"] == "trace-42.a"  # type: ignore[attr-defined]


@pytest.mark.parametrize("sent", [None, "", "bad id with spaces", "x" * 129, "trace/42"])
async def test_a_missing_or_malformed_client_request_id_is_not_kept(
    clinic: Clinic, sent: str | None
) -> None:
    client = await clinic.client()
    made = await _read_client(clinic, client["id"], sent)
    assert made != sent
    assert len(made) == 32
    [event] = await _audited(clinic, made)
    assert event["client_request_id"] is None
