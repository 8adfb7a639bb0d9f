"""Encryption at rest for values the service must keep but never show again (webhook secrets,
idempotent responses), with a key from KAP_SECRET_KEY and, while the key is being rotated, the
older keys in KAP_SECRET_KEY_PREVIOUS."""

import base64
import hashlib
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import make_url

from app.config import Settings


class UnreadableSecret(RuntimeError):
    """A sealed value that none of the configured keys opens."""

    def __init__(self) -> None:
        super().__init__("a stored secret cannot be decrypted: was KAP_SECRET_KEY changed?")


def _fernet(key_material: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key_material.encode()).digest()))


class SecretBox:
    """Seals with the current key and opens with it or any previous one (authenticated: Fernet).

    Keys are any strings; each Fernet key is derived from the SHA-256 of one of them.
    """

    def __init__(self, key_material: str, previous: Sequence[str] = ()) -> None:
        self._current = _fernet(key_material)
        self._any_key = MultiFernet([self._current, *(_fernet(key) for key in previous)])

    def seal(self, plaintext: str) -> bytes:
        return self.seal_bytes(plaintext.encode())

    def open(self, ciphertext: bytes) -> str:
        return self.open_bytes(ciphertext).decode()

    def seal_bytes(self, plaintext: bytes) -> bytes:
        return self._current.encrypt(plaintext)

    def open_bytes(self, ciphertext: bytes) -> bytes:
        try:
            return self._any_key.decrypt(ciphertext)
        except InvalidToken as exc:
            raise UnreadableSecret from exc

    def reseal(self, ciphertext: bytes) -> bytes | None:
        """The value sealed again with the current key, or None when it already is."""
        try:
            self._current.decrypt(ciphertext)
        except InvalidToken:
            pass
        else:
            return None
        try:
            return self._any_key.rotate(ciphertext)
        except InvalidToken as exc:
            raise UnreadableSecret from exc


def secret_box_for(settings: Settings) -> SecretBox:
    """The box for KAP_SECRET_KEY; the embedded SQLite default keeps a generated key on disk."""
    previous = [key.get_secret_value() for key in settings.secret_key_previous]
    if settings.secret_key is not None:
        return SecretBox(settings.secret_key.get_secret_value(), previous)
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise RuntimeError("KAP_SECRET_KEY must be set when the database is not a SQLite file")
    key_file = Path(f"{url.database}.secret-key")
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(48))
    return SecretBox(key_file.read_text().strip(), previous)
