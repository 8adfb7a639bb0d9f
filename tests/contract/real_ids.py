"""Schemathesis hooks that put seeded ids (and a few other plausible values) into requests.

Random UUIDs only ever reach the 404 path, and random time ranges are nearly always refused.
Each hook offers Hypothesis a choice between the generated value and the same value with its
id fields replaced by seeded ones (and, for bodies, a plausible hour-long slot), so both the
refusals and the successes are explored, deterministically under a fixed seed.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st
from schemathesis import BaseSchema, HookContext

from tests.contract.seed import SeededClinic
from tests.support.factories import T0

SESSION_COLLECTIONS = ("preparation-sessions", "ketamine-sessions", "integration-sessions")


def _collection(path: str) -> str:
    """`/api/v1/ketamine-sessions/{session_id}` -> `ketamine-sessions`."""
    parts = path.split("/")
    return parts[3] if len(parts) > 3 and parts[1:3] == ["api", "v1"] else ""


def pools_for(method: str, path: str, seeded: SeededClinic | None) -> dict[str, list[str]]:
    """Which seeded values each parameter or field name of one operation may take.

    Empty before seeding: Schemathesis draws its explicit examples while pytest collects.
    """
    if seeded is None:
        return {}
    ids = seeded.ids
    every_session = [one for kind in SESSION_COLLECTIONS for one in ids[kind]]
    collection = _collection(path)
    clinicians = ids["clinician_id"]
    pools = {
        **ids,
        "session_id": ids[collection] if collection in SESSION_COLLECTIONS else every_session,
        "ketamine_session_id": ids["ketamine-sessions"],
        "primary_clinician_id": clinicians,
        "default_clinician_id": clinicians,
        "actor_id": clinicians,
        "resource_id": ids["client_id"] + every_session,
        "patient": ids["client_id"] + [f"Patient/{one}" for one in ids["client_id"]],
    }
    if method.upper() == "DELETE":
        pools.update(seeded.disposable)
    return pools


def _with_pooled_values(value: Any, pools: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    if not isinstance(value, dict):
        return st.just(value)
    swappable = {name: pools[name] for name in value if pools.get(name)}
    if not swappable:
        return st.just(value)
    pooled = st.fixed_dictionaries(
        {name: st.sampled_from(choices) for name, choices in swappable.items()}
    )
    return st.one_of(pooled.map(lambda chosen: {**value, **chosen}), st.just(value))


def _with_plausible_slot(value: Any) -> st.SearchStrategy[Any]:
    """Bodies that carry a time range may also get one the app accepts: an hour, on the hour."""
    if not (isinstance(value, dict) and {"starts_at", "ends_at"} <= value.keys()):
        return st.just(value)

    def slot(hours_ahead: int) -> dict[str, Any]:
        starts = T0 + timedelta(hours=hours_ahead)
        return {
            **value,
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
        }

    return st.one_of(st.integers(-240, 2400).map(slot), st.just(value))


class SeededHooks:
    """Hooks registered on one schema; `seeded` is set once the role's clinic exists."""

    def __init__(self) -> None:
        self.seeded: SeededClinic | None = None

    def _pools(self, context: HookContext) -> dict[str, list[str]]:
        operation = context.operation
        if operation is None:
            return {}
        return pools_for(operation.method, operation.path, self.seeded)

    def install(self, schema: BaseSchema) -> None:
        def pooled(context: HookContext, value: Any) -> st.SearchStrategy[Any]:
            return _with_pooled_values(value, self._pools(context))

        def body(context: HookContext, value: Any) -> st.SearchStrategy[Any]:
            return _with_plausible_slot(value).flatmap(lambda slotted: pooled(context, slotted))

        hooks: dict[str, Callable[[HookContext, Any], st.SearchStrategy[Any]]] = {
            "flatmap_path_parameters": pooled,
            "flatmap_query": pooled,
            "flatmap_body": body,
        }
        for name, hook in hooks.items():
            schema.hook(name)(hook)
