"""The app factory: routers, middleware, error handlers, docs and lifespan."""

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute

from app.assessments.router import router as assessments_router
from app.audit.router import router as audit_router
from app.auth.router import router as api_keys_router
from app.calendar.router import router as calendar_router
from app.clients.router import router as clients_router
from app.clinics.router import router as clinic_router
from app.clock import Clock, system_clock
from app.common.crypto import secret_box_for
from app.common.media_types import require_json_body
from app.config import Settings, get_settings
from app.consents.router import router as consents_router
from app.db import create_engine, create_sessionmaker
from app.direct_answers import DirectRoutes, direct_handlers
from app.docs_ui import install_docs
from app.errors import ValidationFailed, install_error_handlers
from app.events.service import subscribe
from app.fhir.router import routers as fhir_routers
from app.inbound.router import inbound_router, integrations_router, unmatched_router
from app.journeys.router import router as journeys_router
from app.openapi import openapi_document
from app.ops.logging import RequestContextMiddleware, quiet_phi_leaking_loggers
from app.ops.metrics import Metrics, MetricsMiddleware
from app.ops.router import router as ops_router
from app.route_index import RouterIndex
from app.safety_reviews.router import router as safety_reviews_router
from app.screenings.router import router as screenings_router
from app.security import install_security
from app.self_report.pages import router as self_report_pages
from app.self_report.router import router as assessment_requests_router
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
The operations document these headers on every answer that can carry them.
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
        "name": "assessment-requests",
        "description": "One-time, expiring links a client opens to answer a PHQ-9, GAD-7 or "
        "PCL-5 themself (a plain web form at `/r/<token>`, outside this JSON API); the answers "
        "are recorded as an assessment with `source: client_self_report`.",
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
        "sessions as Appointment and Encounter, vitals and PHQ-9/GAD-7/PCL-5 totals as "
        "Observation, consents as Consent, staff as Practitioner: reads by id and paged "
        "searches (see the CapabilityStatement at `/fhir/R4/metadata`). "
        "Errors are OperationOutcome.",
    },
    {"name": "operations", "description": "Health, readiness and metrics."},
]


def refuse_nul_in_query(request: Request) -> None:
    """PostgreSQL cannot compare text with U+0000 in it: a 422, not a 500, for any route."""
    if any("\x00" in key or "\x00" in value for key, value in request.query_params.multi_items()):
        raise ValidationFailed(
            "Query parameters must not contain NUL characters.", loc=("query",), kind="nul"
        )


async def check_request(request: Request) -> None:
    """The app-wide checks before any route's own dependencies: one dependency, not one each,
    as FastAPI's cost per dependency is paid by every request (docs/performance.md)."""
    refuse_nul_in_query(request)
    await require_json_body(request)


YOUNG_COLLECTION_EVERY = 10_000
"""Net new container objects between the collector's young passes while serving (Python's
default is 700; the older generations keep their defaults)."""


def _operation_id(route: APIRoute) -> str:
    return route.name


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
        # What exists now (routes, schemas, table metadata, the engine) lives as long as the
        # process; frozen, the collector's full passes stop walking it after every few thousand
        # allocations a request makes (a quarter of a worklist's CPU: docs/performance.md).
        gc.collect()
        gc.freeze()
        # A young collection every 700 new objects ran a dozen times per worklist, each walking
        # what the request holds; every 10,000 it cost 4 % fewer instructions (performance.md).
        thresholds = gc.get_threshold()
        gc.set_threshold(YOUNG_COLLECTION_EVERY, *thresholds[1:])
        try:
            yield
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()  # an app built and dropped in one process (tests) can be collected
        stop.set()
        if task is not None:
            await task
        await engine.dispose()

    app = FastAPI(
        dependencies=[Depends(check_request)],
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
    routers = RouterIndex()
    routes = []
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
        assessment_requests_router,
        self_report_pages,
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
        entries = len(app.router.routes)
        app.include_router(router)
        assert len(app.router.routes) == entries + 1, "an included router is one entry"
        routers.add(router.routes, app.router.routes[-1])
        routes += router.routes
    app.router.routes.insert(0, routers)  # asked first: see app/route_index.py
    if settings.direct_answers:  # asked before the routers: see app/direct_answers.py
        app.router.routes.insert(0, DirectRoutes(direct_handlers(app, routes)))
    install_docs(app)
    install_security(app, settings)  # inside metrics and request ids, so 413/429/500 are seen
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestContextMiddleware)
    app.openapi = lambda: openapi_document(app, TAGS)  # type: ignore[method-assign]
    return app
