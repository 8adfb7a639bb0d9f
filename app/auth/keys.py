"""API key format, generation and verification.

A key reads `kap_<prefix>_<secret>`: the prefix finds the row, the secret is checked against a
SHA-256 hash in constant time. Keys carry 256 bits of randomness, so a fast hash is enough.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_SCHEME = "kap"


@dataclass(frozen=True)
class GeneratedKey:
    prefix: str
    secret_hash: str
    plaintext: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key() -> GeneratedKey:
    """A new key; the plaintext is shown to its owner once and never stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return GeneratedKey(prefix, hash_secret(secret), f"{KEY_SCHEME}_{prefix}_{secret}")


def split_key(token: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None."""
    scheme, _, rest = token.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != KEY_SCHEME or not prefix or not secret or len(prefix) > 32:
        return None
    return prefix, secret


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
