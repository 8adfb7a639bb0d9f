"""Settings: one pydantic-settings class read from the environment with the KAP_ prefix."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./kap-journey.db"


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as KAP_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="KAP_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    database_pool_size: int = Field(default=10, ge=1)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    log_level: str = "INFO"
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    idempotency_lease_seconds: int = Field(
        default=60,
        ge=1,
        description="An in-progress idempotent request older than this is presumed crashed.",
    )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own Settings and pass them in."""
    return Settings()
