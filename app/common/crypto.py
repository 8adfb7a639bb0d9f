"""Encryption at rest for values the service must keep but never show again (webhook secrets,
idempotent responses), with a key from KAP_SECRET_KEY."""

import base64
import hashlib
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import make_url

from app.config import Settings


class SecretBox:
    """Encrypts secrets with a key derived from KAP_SECRET_KEY (authenticated: Fernet)."""

    def __init__(self, key_material: str) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(key_material.encode()).digest())
        self._fernet = Fernet(key)

    def seal(self, plaintext: str) -> bytes:
        return self.seal_bytes(plaintext.encode())

    def open(self, ciphertext: bytes) -> str:
        return self.open_bytes(ciphertext).decode()

    def seal_bytes(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open_bytes(self, ciphertext: bytes) -> bytes:
        try:
            return self._fernet.decrypt(ciphertext)
        except InvalidToken as exc:
            raise RuntimeError(
                "a stored secret cannot be decrypted: was KAP_SECRET_KEY changed?"
            ) from exc


def secret_box_for(settings: Settings) -> SecretBox:
    """The box for KAP_SECRET_KEY; the embedded SQLite default keeps a generated key on disk."""
    if settings.secret_key is not None:
        return SecretBox(settings.secret_key.get_secret_value())
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise RuntimeError("KAP_SECRET_KEY must be set when the database is not a SQLite file")
    key_file = Path(f"{url.database}.secret-key")
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(48))
    return SecretBox(key_file.read_text().strip())
