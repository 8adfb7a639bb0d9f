"""Liveness, readiness and metrics."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.errors import DatabaseUnavailable, NotFound, Unauthorized, problem, responses_for
from app.ops import repository
from app.ops.metrics import guard_metrics
from app.security import security_state

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def get_health() -> dict[str, str]:
    """The process is up (it does not touch the database)."""
    return {"status": "ok"}


@router.get("/readyz", responses=responses_for(DatabaseUnavailable))
async def get_readiness(request: Request) -> JSONResponse:
    """The database answers; 503 problem+json otherwise. The database alone decides:
    `details.rate_limit` says where rate limits are counted (`store`: `redis` or `memory`), and
    with `"shared": false` and a `detail` when a configured Redis is unreachable and each
    process counts on its own meanwhile (still 200)."""
    engine: AsyncEngine = request.app.state.engine
    try:
        await repository.ping(engine)
    except Exception:
        error = DatabaseUnavailable()
        return problem(error.status, error.code, error.title, error.detail)
    security = security_state(request.app)
    if security is None:
        return JSONResponse({"status": "ready"})
    rate_limit = await security.store.status()
    if security.rate_limits is None:
        rate_limit = {**rate_limit, "enabled": False}
    return JSONResponse({"status": "ready", "details": {"rate_limit": rate_limit}})


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(guard_metrics)],
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."},
        **responses_for(Unauthorized, NotFound),
    },
)
async def get_metrics(request: Request) -> Response:
    """Prometheus text exposition: request counts and latencies by method, route template and
    status. Where `KAP_METRICS_TOKEN` is set, only `Authorization: Bearer <that token>` opens it
    (401 otherwise); where `KAP_METRICS_BIND` is set, it is served on that address alone, and
    here it is 404."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
