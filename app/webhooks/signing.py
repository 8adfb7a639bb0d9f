"""Standard Webhooks v1 wire format: the body, and the headers signed by the reference library."""

import json
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook


def body_of(event_id: str, event_type: str, occurred_at: datetime, data: dict[str, Any]) -> bytes:
    """`{id, type, timestamp, data}` as compact JSON bytes (the exact bytes that get signed)."""
    payload = {
        "id": event_id,
        "type": event_type,
        "timestamp": occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(
    event_id: str, body: bytes, secrets: list[str], sent_at: datetime
) -> dict[str, str]:
    """webhook-id/-timestamp/-signature; one `v1,` signature per live secret (rotation)."""
    # The library formats the timestamp as UTC whatever its tzinfo says, so hand it UTC.
    timestamp = sent_at.astimezone(UTC)
    signatures = [Webhook(secret).sign(event_id, timestamp, body.decode()) for secret in secrets]
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": "KAP-Journey-Webhooks/1",
    }
