"""Feed token format: `kapcal_<prefix>_<secret>`, generated and hashed like API keys.

Its own scheme keeps the two apart: a feed token is refused as a bearer key, an API key is
refused as a feed token. Tokens travel in URLs, so they are never logged (see app.ops.logging).
"""

import secrets

from app.auth.keys import GeneratedKey, hash_secret

FEED_SCHEME = "kapcal"
MAX_TOKEN_LENGTH = 200


def generate_feed_token() -> GeneratedKey:
    """A new feed token; the plaintext is shown once and never stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return GeneratedKey(prefix, hash_secret(secret), f"{FEED_SCHEME}_{prefix}_{secret}")


def split_feed_token(token: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed feed token, else None."""
    scheme, _, rest = token.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != FEED_SCHEME or not prefix or not secret or len(prefix) > 32:
        return None
    return prefix, secret
