"""The client events' payload: ids, the archived flag and the version, never names or contacts."""

from typing import Any

from app.clients.models import Client


def client_data(client: Client) -> dict[str, Any]:
    return {"client_id": str(client.id), "archived": client.archived, "version": client.version}
