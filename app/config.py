"""Settings: one pydantic-settings class read from the environment with the KAP_ prefix."""

import ipaddress
import json
import uuid
from functools import lru_cache
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.common.hosts import normalize_allowed_host

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./kap-journey.db"
# Settings that were removed or replaced, with the message that refuses them (no value quoted).
REMOVED = {
    "rate_limit_burst": "KAP_RATE_LIMIT_BURST was removed; unset it. Limits are a sliding window "
    "of KAP_RATE_LIMIT_PER_MINUTE, and KAP_RATE_LIMIT_PER_MINUTE=0 turns them off",
    "forwarded_allow_ips": "FORWARDED_ALLOW_IPS is no longer read; unset it and put its proxies "
    "in KAP_TRUSTED_PROXIES (addresses or networks, comma-separated)",
}


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
    direct_answers: bool = Field(
        default=True,
        description="Journey and worklist answered without FastAPI's request handling (same body).",
    )
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
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, `GET /metrics` answers only `Authorization: Bearer <token>` "
        "(401 otherwise). At least 32 characters; generate it, e.g. `openssl rand -hex 32`.",
    )
    metrics_bind: str | None = Field(
        default=None,
        description="`host:port` (e.g. `10.0.0.5:9100`, `[::1]:9100`) where `kap-journey serve` "
        "serves the metrics alone, for a monitoring network; the API's own `/metrics` then "
        "answers 404. Unset: metrics are at `/metrics` on the API's address.",
    )

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _metrics_token_is_long(cls, value: object) -> object:
        """Unset when empty; else long enough that guessing it is hopeless (it is not
        rate-limited, so that probes keep working). The message never quotes it."""
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and not text.strip():
            return None
        if isinstance(text, str) and len(text.strip()) < 32:
            raise ValueError("KAP_METRICS_TOKEN must be at least 32 characters")
        return text.strip() if isinstance(text, str) else value

    @field_validator("metrics_bind")
    @classmethod
    def _metrics_bind_is_host_port(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(f"//{value.strip()}")
        try:
            port = parts.port
        except ValueError:
            port = None
        extra = parts.username is not None or parts.path or parts.query or parts.fragment
        if not parts.hostname or port is None or extra:
            raise ValueError("KAP_METRICS_BIND must be host:port, e.g. 10.0.0.5:9100")
        return parts.netloc

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
        description="OIDC: the claim matched to an active staff member's email (Unicode "
        "case-folded; lookalikes refused) within the token's clinic.",
    )
    oidc_clinic_claim: str = Field(
        default="kap_clinic_id",
        min_length=1,
        description="OIDC: the claim, set by the identity provider, holding the id of the clinic "
        "a token signs in to. Needed unless KAP_OIDC_CLINIC_ID is set or there is one clinic.",
    )
    oidc_clinic_id: uuid.UUID | None = Field(
        default=None,
        description="OIDC: the clinic every token of this identity provider signs in to (a "
        "token naming another clinic is refused). Unset: the clinic claim decides.",
    )
    oidc_require_email_verified: bool = Field(
        default=True,
        description="OIDC: accept only tokens with `email_verified: true`. Turn off only for a "
        "provider that never sends the claim and verifies every address itself.",
    )
    oidc_leeway_seconds: int = Field(
        default=30, ge=0, le=600, description="OIDC: clock skew allowed on `exp`, `nbf` and `iat`."
    )

    @field_validator("oidc_clinic_id", mode="before")
    @classmethod
    def _empty_clinic_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

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
        description="Requests per minute per verified staff member, and per client address for "
        "requests that are not verified (no credentials, or routes that take none); 0 turns "
        "rate limiting off.",
    )
    rate_limit_failed_auth_per_minute: int = Field(
        default=30,
        ge=1,
        description="Failed authentications (401) per client address and minute; past it, "
        "routes that authenticate answer that address 429 without looking up its keys.",
    )
    rate_limit_storage_url: str | None = Field(
        default=None,
        description="Where limits are counted: unset, in each process's memory; a `redis://` "
        "or `rediss://` URL (e.g. `redis://127.0.0.1:6379/0`) shares them between replicas.",
    )
    rate_limit_key_prefix: str = Field(
        default="kap-journey",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Prefix of the rate-limit keys in the shared store, so that several "
        "deployments can share one Redis.",
    )

    # Removed settings, declared only so that a deployment still setting one stops at start
    # instead of silently behaving otherwise (KAP_RATE_LIMIT_BURST=0 used to turn limits off).
    rate_limit_burst: str | None = Field(
        default=None,
        description="Removed: setting it stops the service at start. The limit is a sliding "
        "window of KAP_RATE_LIMIT_PER_MINUTE, which is also the one switch (0 is off).",
    )
    forwarded_allow_ips: str | None = Field(
        default=None,
        validation_alias="FORWARDED_ALLOW_IPS",
        description="uvicorn's own variable, replaced by KAP_TRUSTED_PROXIES: setting it stops "
        "the service at start.",
    )

    @field_validator("rate_limit_burst", "forwarded_allow_ips", mode="before")
    @classmethod
    def _refuse_removed(cls, value: object, info: ValidationInfo) -> None:
        """Empty is unset; any other value stops start-up, naming what replaces the setting."""
        if value is not None and not (isinstance(value, str) and not value.strip()):
            raise ValueError(REMOVED[str(info.field_name)])

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _storage_is_redis(cls, value: str | None) -> str | None:
        """Redis or nothing; the message never quotes the URL (it may hold a password)."""
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValueError("KAP_RATE_LIMIT_STORAGE_URL must be a redis:// or rediss:// URL")
        return value.strip()

    trusted_proxies: str = Field(
        default="127.0.0.1,::1",
        description="Addresses or networks of reverse proxies whose `X-Forwarded-For` and "
        "`X-Forwarded-Proto` are believed, comma-separated (`10.0.0.5,172.18.0.0/16`); empty "
        "trusts none. The client address of rate limits and audit rows depends on it.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or network") from None
        return ",".join(entries)

    audit_unverified_denials_per_address: int = Field(
        default=20,
        ge=1,
        description="Denied requests without a verified caller (missing, unknown or wrong "
        "credentials, signatures or feed tokens) written to the audit trail per client address "
        "and minute; the rest are counted in `kap_audit_denials_unwritten_total`.",
    )
    audit_unverified_denials_per_minute: int = Field(
        default=600,
        ge=1,
        description="The same, per clinic they are filed under, and for those no clinic owns "
        "together (per store: per process, or per Redis when KAP_RATE_LIMIT_STORAGE_URL is set).",
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

    webhook_response_excerpt_bytes: int = Field(
        default=0,
        ge=0,
        le=1024,
        description="How much of a webhook receiver's reply body each delivery attempt keeps "
        "(at most 1024 bytes), and with it the declared body size. 0 keeps neither, only the "
        "status and the header block's size: the allow-list applies to every clinic alike, so "
        "an excerpt could show one clinic's admins an internal service's reply.",
    )
    self_report_per_address_per_minute: int = Field(
        default=60,
        ge=1,
        description="Requests per minute from one client address to the self-report link pages "
        "(`/r/<token>`), on top of KAP_RATE_LIMIT_PER_MINUTE; past it those pages answer 429.",
    )
    self_report_per_token_per_minute: int = Field(
        default=10,
        ge=1,
        description="Requests per minute to one self-report link (`/r/<token>`), from any "
        "address; past it the link answers 429. Both are off with KAP_RATE_LIMIT_PER_MINUTE=0.",
    )
    public_url: str | None = Field(
        default=None,
        description="The service's public base URL, e.g. `https://kap.example.org` (a path "
        "prefix is kept). Absolute links (FHIR `fullUrl`s, self-report links) are built on it; "
        "unset, on the request's own scheme and Host header.",
    )

    @field_validator("public_url")
    @classmethod
    def _public_url_is_a_base(cls, value: str | None) -> str | None:
        """An absolute http(s) URL without credentials, query or fragment; no trailing slash,
        so links join with a single `/`."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        # urlsplit silently drops tabs and newlines: refuse them (and spaces) before it can.
        if any(ch.isspace() or ord(ch) < 0x20 or ch in "\\\x7f" for ch in value):
            raise ValueError("KAP_PUBLIC_URL must not contain spaces, backslashes or controls")
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError on a malformed port
        if (
            parts.scheme.lower() not in ("http", "https")
            or not parts.hostname
            or parts.username is not None
            or parts.query
            or parts.fragment
            or "?" in value
            or "#" in value
        ):
            raise ValueError("KAP_PUBLIC_URL must be like https://kap.example.org[/prefix]")
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own Settings and pass them in."""
    return Settings()
