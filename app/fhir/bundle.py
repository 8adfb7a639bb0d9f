"""Search results and $everything as FHIR Bundles of type searchset."""

from collections.abc import Sequence
from datetime import datetime

from app.fhir.common import Resource, instant


def searchset(
    base_url: str,
    resources: Sequence[Resource],
    now: datetime,
    self_url: str | None = None,
    *,
    total: int | None = None,
    next_url: str | None = None,
) -> Resource:
    """One page of matches; `total` counts every match (all of them are here when not given)."""
    bundle: Resource = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": instant(now),
        "total": len(resources) if total is None else total,
    }
    links = [("self", self_url), ("next", next_url)]
    if self_url is not None:
        bundle["link"] = [{"relation": rel, "url": url} for rel, url in links if url is not None]
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
