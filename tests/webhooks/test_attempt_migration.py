"""Upgrading to the release where reply excerpts became opt-in clears those kept before it."""

import sqlite3
import uuid
from pathlib import Path

import pytest

from app.migrate import upgrade

pytestmark = pytest.mark.api  # a migration on an SQLite file

BEFORE = "82bc60e75dd5"
AFTER = "a12c0de5ec12"


def test_upgrading_clears_the_reply_excerpts_kept_before(tmp_path: Path) -> None:
    path = tmp_path / "upgrade.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, BEFORE)
    with sqlite3.connect(path) as db:  # no foreign keys enforced: the attempt row alone will do
        db.execute(
            "INSERT INTO webhook_attempts (id, clinic_id, delivery_id, attempted_at, status_code,"
            " duration_ms, error, response_excerpt) VALUES (?, ?, ?, ?, 500, 12.5, NULL, ?)",
            (
                uuid.uuid4().hex,
                uuid.uuid4().hex,
                uuid.uuid4().hex,
                "2026-03-02 12:00:00.000000",
                "internal reply",
            ),
        )
    db.close()
    upgrade(url, AFTER)
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT status_code, response_excerpt, response_headers_bytes, response_body_bytes"
            " FROM webhook_attempts"
        ).fetchall()
    db.close()
    assert rows == [(500, None, None, None)]
