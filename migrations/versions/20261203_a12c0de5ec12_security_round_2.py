"""security round 2

Revision ID: a12c0de5ec12
Revises: 82bc60e75dd5
Create Date: 2026-12-03 17:50:00.000000

One revision for issue 12's schema changes; each section names the item it serves.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "a12c0de5ec12"
down_revision: str | None = "82bc60e75dd5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _correction_guards(dialect: str) -> list[str]:
    """Sessions section: UPDATE and DELETE on session_corrections fail, as on audit_events."""
    if dialect == "postgresql":
        return [
            """CREATE FUNCTION session_corrections_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'session_corrections is append-only';
            END;
            $$""",
            """CREATE TRIGGER session_corrections_append_only
            BEFORE UPDATE OR DELETE ON session_corrections
            FOR EACH ROW EXECUTE FUNCTION session_corrections_append_only()""",
        ]
    return [
        f"""CREATE TRIGGER session_corrections_no_{verb.lower()}
        BEFORE {verb} ON session_corrections
        BEGIN SELECT RAISE(ABORT, 'session_corrections is append-only'); END;"""
        for verb in ("UPDATE", "DELETE")
    ]


def upgrade() -> None:
    # --- idempotency (issue 12 item 3) ---
    # The role a stored response was rendered for. Rows from before count as the widest view
    # ('admin'), so they are never replayed to a role that may see less.
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("response_role", sa.String(length=20), server_default="admin", nullable=False)
        )
    # --- end idempotency ---
    # --- audit (issue 12: denied/refused audit, client_request_id) ---
    # client_request_id (the caller's X-Request-ID beside the server's request_id): adding a
    # nullable column needs no table rebuild on SQLite, so the append-only triggers stay.
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_request_id", sa.String(length=128), nullable=True))
    # --- end audit ---
    # --- webhooks (issue 12: response excerpt opt-in) ---
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response_headers_bytes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("response_body_bytes", sa.BigInteger(), nullable=True))
    # Excerpts are opt-in from now on: those kept so far (up to 1 KB of a receiver's reply, which
    # may be an internal service's) stop being shown at once rather than in 30 days.
    op.execute(
        "UPDATE webhook_attempts SET response_excerpt = NULL WHERE response_excerpt IS NOT NULL"
    )
    # --- end webhooks ---
    # --- sessions (issue 12 items 6-8) ---
    # Corrections of sessions that are no longer scheduled, with their reasons; append-only
    # like the audit trail whose rows point at them.
    op.create_table(
        "session_corrections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("corrected_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("corrected_by", sa.Uuid(), nullable=False),
        sa.Column("previous", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_session_corrections_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["corrected_by"], ["staff.id"], name=op.f("fk_session_corrections_corrected_by_staff")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_session_corrections_session_id_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_corrections")),
    )
    with op.batch_alter_table("session_corrections", schema=None) as batch_op:
        batch_op.create_index(
            "ix_session_corrections_clinic_session",
            ["clinic_id", "session_id", "corrected_at"],
            unique=False,
        )
    for statement in _correction_guards(op.get_bind().dialect.name):
        op.execute(statement)
    # --- end sessions ---


def downgrade() -> None:
    # --- sessions (issue 12 items 6-8) ---
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS session_corrections_append_only ON session_corrections")
        op.execute("DROP FUNCTION IF EXISTS session_corrections_append_only()")
    with op.batch_alter_table("session_corrections", schema=None) as batch_op:
        batch_op.drop_index("ix_session_corrections_clinic_session")
    op.drop_table("session_corrections")  # SQLite drops the table's triggers with it
    # --- end sessions ---
    # --- webhooks (issue 12: response excerpt opt-in) ---
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_column("response_body_bytes")
        batch_op.drop_column("response_headers_bytes")
    # --- end webhooks ---
    # --- audit (issue 12: denied/refused audit, client_request_id) ---
    # client_request_id: dropped in place (SQLite 3.35+), never by a batch rebuild, which would
    # lose the append-only triggers.
    with op.batch_alter_table("audit_events", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("client_request_id")
    # --- end audit ---
    # --- idempotency (issue 12 item 3) ---
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_column("response_role")
    # --- end idempotency ---
