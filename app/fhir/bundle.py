"""Search results and $everything as FHIR Bundles of type searchset."""

from collections.abc import Sequence
from datetime import datetime

from app.fhir.common import Resource, instant


def searchset(
    base_url: str, resources: Sequence[Resource], now: datetime, self_url: str | None = None
) -> Resource:
    """Every match in one page (a client's records are few): total equals len(entry)."""
    bundle: Resource = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": instant(now),
        "total": len(resources),
    }
    if self_url is not None:
        bundle["link"] = [{"relation": "self", "url": self_url}]
    if resources:  # FHIR JSON has no empty arrays
        bundle["entry"] = [
            {
                "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ]
    return bundle
