"""The app factory: routers, middleware, error handlers, docs and lifespan."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from app.assessments.router import router as assessments_router
from app.audit.router import router as audit_router
from app.auth.router import router as api_keys_router
from app.calendar.router import router as calendar_router
from app.clients.router import router as clients_router
from app.clinics.router import router as clinic_router
from app.clock import Clock, system_clock
from app.common.crypto import secret_box_for
from app.common.media_types import document_unsupported_media_type, require_json_body
from app.config import Settings, get_settings
from app.consents.router import router as consents_router
from app.db import create_engine, create_sessionmaker
from app.docs_ui import install_docs
from app.errors import PROBLEM_JSON, PROBLEM_REF, ValidationFailed, install_error_handlers
from app.events.service import subscribe
from app.fhir.router import routers as fhir_routers
from app.inbound.router import inbound_router, integrations_router, unmatched_router
from app.journeys.router import router as journeys_router
from app.ops.logging import RequestContextMiddleware, quiet_phi_leaking_loggers
from app.ops.metrics import Metrics, MetricsMiddleware
from app.ops.router import router as ops_router
from app.safety_reviews.router import router as safety_reviews_router
from app.screenings.router import router as screenings_router
from app.security import install_security
from app.sessions.router import routers as session_routers
from app.staff.router import router as staff_router
from app.webhooks.fanout import WEBHOOK_FAN_OUT
from app.webhooks.router import router as webhooks_router
from app.worker import Worker

DESCRIPTION = """
The backend of record for clinics offering ketamine-assisted psychotherapy (KAP).

It tracks each client's journey — preparation, ketamine (dosing) and integration sessions — and
flags every integration session by whether it falls inside the **post-dose neuroplasticity
window**: it opens when a dose ends and closes 72 h later for IV, IM and intranasal doses,
168 h later for sublingual and oral ones (clinic policy; see `GET /api/v1/clinic`).

Authenticate with `Authorization: Bearer <api key>` (press **Authorize**). Errors are
RFC 9457 `application/problem+json` with a stable `code`.

Requests are rate-limited per verified staff member, per client address when they are not
verified, and failed authentications per client address on a stricter budget (past it, 429
`rate_limited` before anything is looked up). Responses carry the IETF `RateLimit-Policy` and
`RateLimit` headers (draft-ietf-httpapi-ratelimit-headers) of the quota that counted the
request: every response to a request without an `Authorization` header, every response once the
bearer token has been checked (success, 401 and any later error), every response of the inbound
webhook and calendar feed, and every 429, which also carries `Retry-After`. A request with an
`Authorization` header that is answered before its token is checked (a body that is not JSON, an
unknown path) is counted afterwards, as a failed authentication, and its response carries none.
The operations document these headers on their 429 only.
"""

TAGS = [
    {"name": "clinic", "description": "Your clinic and its window policy."},
    {"name": "staff", "description": "Staff members and their roles (admin)."},
    {"name": "api-keys", "description": "Bearer credentials for staff (admin)."},
    {
        "name": "calendar",
        "description": "Per-staff iCalendar feeds of sessions and integration windows, "
        "opened by a revocable link (no bearer header).",
    },
    {"name": "clients", "description": "Clients and their derived journey stage."},
    {"name": "journeys", "description": "A client's whole journey with alerts."},
    {
        "name": "screenings",
        "description": "Medical screenings, their contraindications and decisions, and the "
        "medical clearance they give (clinical roles; deciding is a prescriber's).",
    },
    {
        "name": "assessments",
        "description": "PHQ-9, GAD-7 and PCL-5, scored by the service, with trajectories.",
    },
    {
        "name": "consents",
        "description": "Consents a client signed, withdrawn but never deleted, and which are "
        "in force when (clinical roles).",
    },
    {
        "name": "safety-reviews",
        "description": "Follow-up of every PHQ-9 with item 9 (self-harm) above 0, open until "
        "a clinician resolves it.",
    },
    {"name": "preparation-sessions", "description": "Sessions that prepare a client for dosing."},
    {"name": "ketamine-sessions", "description": "Dosing sessions; each opens a window."},
    {"name": "integration-sessions", "description": "Sessions that belong inside a window."},
    {"name": "worklists", "description": "What needs booking or moving."},
    {"name": "webhooks", "description": "Signed event deliveries to your systems (admin)."},
    {
        "name": "scheduling-integrations",
        "description": "Cal.com, Calendly or your own scheduler posting bookings (admin).",
    },
    {"name": "inbound", "description": "Where schedulers post bookings, signed, no token."},
    {"name": "unmatched-bookings", "description": "Bookings waiting for a human decision."},
    {"name": "audit", "description": "Who read or changed what (admin; append-only)."},
    {
        "name": "fhir",
        "description": "A read-only FHIR R4 API (`application/fhir+json`): clients as Patient, "
        "sessions as Appointment and Encounter, vitals and PHQ-9/GAD-7 totals as Observation, "
        "consents as Consent. "
        "Errors are OperationOutcome.",
    },
    {"name": "operations", "description": "Health, readiness and metrics."},
]


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["https://kap-journey.dev/problems/schedule_conflict"])
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable, machine-readable error code.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="On 422: [{loc, msg, type}]."
    )


def refuse_nul_in_query(request: Request) -> None:
    """PostgreSQL cannot compare text with U+0000 in it: a 422, not a 500, for any route."""
    if any("\x00" in key or "\x00" in value for key, value in request.query_params.multi_items()):
        raise ValidationFailed(
            "Query parameters must not contain NUL characters.", loc=("query",), kind="nul"
        )


def _operation_id(route: APIRoute) -> str:
    return route.name


def _document_validation_as_problem(schema: dict[str, Any], schemas: dict[str, Any]) -> None:
    """FastAPI documents its 422 as plain JSON; ours is problem+json, so say so."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            response = operation.get("responses", {}).get("422")
            if response is not None and PROBLEM_JSON not in response.get("content", {}):
                response["description"] = "validation_error"
                response["content"] = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)


# On every limited answer; a 429 always carries Retry-After.
RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "description": "The quota that counted this request (draft-ietf-httpapi-ratelimit-"
        'headers), e.g. `"caller";q=600;w=60`: `caller` per verified staff member, `address` '
        "per client address, `failed-auth` per address for failed authentications.",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of that quota, e.g. `"caller";r=0;t=42`: `r` requests '
        "now, `t` seconds until more frees up.",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Whole seconds until a request is admitted again.",
        "required": True,
        "schema": {"type": "integer"},
    },
}


def _document_protections(schema: dict[str, Any]) -> None:
    """The body limit and the rate limit answer before any route runs: say so on every route."""
    problem = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    limited = {"description": "rate_limited", "headers": RATE_LIMIT_HEADERS, "content": problem}
    for path, path_item in schema.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            responses.setdefault("429", limited)
            if method in {"post", "patch", "put"}:
                responses.setdefault(
                    "413", {"description": "payload_too_large", "content": problem}
                )


def _sentence_summaries(app: FastAPI) -> None:
    """Routes without an explicit summary get one from their name, in sentence case."""
    for route in app.routes:
        if isinstance(route, APIRoute) and route.summary is None:
            words = route.name.replace("_", " ").replace("api key", "API key")
            route.summary = words[:1].upper() + words[1:]


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=TAGS,
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        _document_validation_as_problem(schema, schemas)
        _document_protections(schema)
        document_unsupported_media_type(schema)
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(
    settings: Settings | None = None, clock: Clock = system_clock, *, run_worker: bool = False
) -> FastAPI:
    """Build the ASGI app; the engine connects lazily, so building it does no I/O.

    With `run_worker` the outbox dispatcher and window scanner run in-process (the embedded
    default of `kap-journey serve`).
    """
    settings = settings or get_settings()
    quiet_phi_leaking_loggers()
    subscribe(WEBHOOK_FAN_OUT)  # wired here so that events, below webhooks, need not import them
    engine = create_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = None
        if run_worker:
            worker = Worker(
                app.state.sessionmaker,
                settings,
                app.state.secret_box,
                clock,
                registry=app.state.metrics.registry,
            )
            task = asyncio.create_task(worker.run(stop))
        yield
        stop.set()
        if task is not None:
            await task
        await engine.dispose()

    app = FastAPI(
        dependencies=[Depends(refuse_nul_in_query), Depends(require_json_body)],
        title="KAP Journey",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.clock = clock
    app.state.metrics = Metrics()
    app.state.secret_box = secret_box_for(settings)

    install_error_handlers(app)
    for router in (
        ops_router,
        clinic_router,
        staff_router,
        api_keys_router,
        calendar_router,
        clients_router,
        journeys_router,
        screenings_router,
        assessments_router,
        consents_router,
        safety_reviews_router,
        *session_routers,
        webhooks_router,
        integrations_router,
        inbound_router,
        unmatched_router,
        audit_router,
        *fhir_routers,
    ):
        app.include_router(router)
    install_docs(app)
    install_security(app, settings)  # inside metrics and request ids, so 413/429/500 are seen
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestContextMiddleware)
    _sentence_summaries(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
