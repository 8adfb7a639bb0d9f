"""Liveness, readiness and metrics."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.errors import DatabaseUnavailable, problem, responses_for

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def get_health() -> dict[str, str]:
    """The process is up (it does not touch the database)."""
    return {"status": "ok"}


@router.get("/readyz", responses=responses_for(DatabaseUnavailable))
async def get_readiness(request: Request) -> JSONResponse:
    """The database answers; 503 problem+json otherwise."""
    engine: AsyncEngine = request.app.state.engine
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        error = DatabaseUnavailable()
        return problem(error.status, error.code, error.title, error.detail)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=Response)
async def get_metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
