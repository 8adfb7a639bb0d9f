"""Settings: one pydantic-settings class read from the environment with the KAP_ prefix."""

import json
from functools import lru_cache
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.webhooks.ssrf import normalize_allowed_host

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./kap-journey.db"


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as KAP_<NAME>."""

    # hide_input_in_errors: a rejected value may be a key (KAP_SECRET_KEY_PREVIOUS).
    model_config = SettingsConfigDict(env_prefix="KAP_", extra="ignore", hide_input_in_errors=True)

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    database_pool_size: int = Field(default=10, ge=1)
    database_statement_cache: bool = Field(
        default=True,
        description="PostgreSQL: cache prepared statements per connection. Turn off behind "
        "PgBouncer in transaction mode, where a connection's statements do not follow it.",
    )
    database_connect_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description="PostgreSQL: give up opening a connection after this long (503 meanwhile), "
        "so a database host that drops packets cannot hold requests for a minute.",
    )
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    log_level: str = "INFO"
    secret_key: SecretStr | None = Field(
        default=None,
        description="Encrypts webhook signing secrets at rest. Required with PostgreSQL; with the "
        "embedded SQLite default a random key is kept in a file beside the database.",
    )
    secret_key_previous: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Earlier values of KAP_SECRET_KEY, set only while rotating it: they still open "
        "sealed values but never seal new ones. Comma-separated, or a JSON array of strings "
        "when a key holds a comma.",
    )

    @field_validator("secret_key_previous", mode="before")
    @classmethod
    def _split_previous_keys(cls, value: object) -> object:
        """Accept `a,b` or `["a","b"]` from the environment. The messages never quote the value
        (it is secret), and `kap-journey` prints only the messages of a settings error."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return []
        if not text.startswith("["):
            keys = [key.strip() for key in text.split(",")]
        else:
            try:
                keys = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError("KAP_SECRET_KEY_PREVIOUS starts with [ but is not JSON") from None
            if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
                raise ValueError("KAP_SECRET_KEY_PREVIOUS must be a JSON array of strings")
        if not all(keys):
            raise ValueError("KAP_SECRET_KEY_PREVIOUS has an empty key (a stray comma?)")
        return keys

    webhook_lease_seconds: int = Field(
        default=60,
        ge=1,
        description="How long a worker owns a delivery it claimed; after that (a worker that "
        "died mid-delivery) another worker sends it again, with the same webhook-id.",
    )
    inbound_settle_seconds: float = Field(
        default=2.0,
        ge=0,
        le=300,
        description="How long a received booking waits before it is applied, so that deliveries "
        "sent together (a Calendly reschedule is two) are applied in the provider's order.",
    )
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    idempotency_lease_seconds: int = Field(
        default=60,
        ge=1,
        description="An in-progress idempotent request older than this is presumed crashed.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="OIDC single sign-on: the identity provider's issuer (`iss`). OIDC bearer "
        "tokens are accepted only when the issuer, audience and JWKS URL are all set.",
    )
    oidc_audience: str | None = Field(
        default=None, description="OIDC: the audience (`aud`) tokens must be issued for."
    )
    oidc_jwks_url: str | None = Field(
        default=None, description="OIDC: where the identity provider publishes its signing keys."
    )
    oidc_staff_claim: str = Field(
        default="email",
        min_length=1,
        description="OIDC: the claim matched, case-insensitively, to a staff member's email.",
    )
    oidc_clinic_claim: str = Field(
        default="kap_clinic_id",
        min_length=1,
        description="OIDC: the claim naming the clinic; needed when an email is staff of several.",
    )
    oidc_leeway_seconds: int = Field(
        default=30, ge=0, le=600, description="OIDC: clock skew allowed on `exp`, `nbf` and `iat`."
    )

    @field_validator("oidc_jwks_url")
    @classmethod
    def _jwks_url_is_http(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("the JWKS URL must be an http:// or https:// URL")
        return value

    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1,
        description="Request bodies larger than this many bytes are refused with 413.",
    )
    rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description="Sustained requests per minute per API key (or per client IP without one); "
        "0 turns rate limiting off.",
    )
    rate_limit_burst: int = Field(
        default=120,
        ge=0,
        description="Requests a caller may send at once before the per-minute rate applies; "
        "0 turns rate limiting off.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API (CORS), comma-separated, e.g. "
        "`https://app.example.org`; empty means no CORS headers at all.",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Accept `a,b` from the environment; normalise each origin to scheme://host[:port]."""
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            return value
        origins = []
        for item in (str(raw).strip().rstrip("/") for raw in items):
            if not item:
                continue
            parts = urlsplit(item)
            _ = parts.port  # raises ValueError on a malformed port
            # A wildcard, path or query never matches the Origin a browser sends: refuse it loudly.
            if (
                parts.scheme not in {"http", "https"}
                or not parts.hostname
                or parts.username is not None
                or any((parts.path, parts.query, parts.fragment))
            ):
                raise ValueError(f"{item!r} is not an origin like https://app.example.org")
            origins.append(f"{parts.scheme}://{parts.netloc}".lower())
        return origins

    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Webhook receivers trusted on an internal network, comma-separated: `host` "
        "(any port) or `host:port` (that port only), e.g. `hooks.clinic.lan,10.0.0.5:8080`. "
        "They may use plain http and private addresses; all other webhook URLs must be https "
        "to a public address.",
    )

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_allowed_hosts(cls, value: object) -> object:
        """Accept `a,b:8080` from the environment; normalise each entry (ValueError if bad)."""
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            return value
        return [normalize_allowed_host(str(raw)) for raw in items if str(raw).strip()]


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own Settings and pass them in."""
    return Settings()
