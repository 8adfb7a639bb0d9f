"""safety reviews

Revision ID: d14a5afe7e01
Revises: c14c0a5e7b2d
Create Date: 2026-12-03 18:00:00.000000

Issue 14 item 5: the `safety_reviews` table, and an open review for every PHQ-9 already stored
with item 9 above 0, since nothing records that anyone followed those up. Such a review opens at
the time its PHQ-9 was recorded, and the audit trail says the upgrade opened it. No webhook
event is sent for them: they describe old data, and receivers would take them for new answers.
Downgrading drops the table, resolutions included.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "d14a5afe7e01"
down_revision: str | None = "c14c0a5e7b2d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables as this revision knows them, only the columns it reads or writes.
ASSESSMENTS = sa.table(
    "assessments",
    sa.column("id", sa.Uuid()),
    sa.column("clinic_id", sa.Uuid()),
    sa.column("client_id", sa.Uuid()),
    sa.column("instrument", sa.String()),
    sa.column("self_harm_item_positive", sa.Boolean()),
    sa.column("created_at", app.db.UTCDateTime()),
)
REVIEWS = sa.table(
    "safety_reviews",
    sa.column("id", sa.Uuid()),
    sa.column("clinic_id", sa.Uuid()),
    sa.column("client_id", sa.Uuid()),
    sa.column("assessment_id", sa.Uuid()),
    sa.column("opened_at", app.db.UTCDateTime()),
    sa.column("status", sa.String()),
    sa.column("version", sa.Integer()),
)
AUDIT = sa.table(
    "audit_events",
    sa.column("id", sa.Uuid()),
    sa.column("clinic_id", sa.Uuid()),
    sa.column("at", app.db.UTCDateTime()),
    sa.column("actor_id", sa.Uuid()),
    sa.column("actor_role", sa.String()),
    sa.column("action", sa.String()),
    sa.column("resource_type", sa.String()),
    sa.column("resource_id", sa.String()),
    sa.column("request_id", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("status_code", sa.Integer()),
    sa.column("changed_fields", sa.JSON()),
)
BATCH = 500
TASK_STATUS = 0  # app.audit.models.TASK_STATUS: the status of rows no HTTP request answered


def _create_table() -> None:
    op.create_table(
        "safety_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("assessment_id", sa.Uuid(), nullable=False),
        sa.Column("opened_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("resolved_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_safety_reviews_assessment_id_assessments"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_safety_reviews_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_safety_reviews_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["staff.id"], name=op.f("fk_safety_reviews_resolved_by_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_reviews")),
        sa.UniqueConstraint(
            "clinic_id", "assessment_id", name=op.f("uq_safety_reviews_clinic_id_assessment_id")
        ),
    )
    with op.batch_alter_table("safety_reviews", schema=None) as batch_op:
        batch_op.create_index(
            "ix_safety_reviews_clinic_client_status",
            ["clinic_id", "client_id", "status"],
            unique=False,
        )
        batch_op.create_index(
            "ix_safety_reviews_clinic_status_opened",
            ["clinic_id", "status", "opened_at", "id"],
            unique=False,
        )


def _open_reviews_for_stored_positives() -> None:
    """One open review per PHQ-9 stored with item 9 above 0, each with an audit row."""
    connection = op.get_bind()
    positives = connection.execute(
        sa.select(
            ASSESSMENTS.c.id,
            ASSESSMENTS.c.clinic_id,
            ASSESSMENTS.c.client_id,
            ASSESSMENTS.c.created_at,
        )
        .where(
            ASSESSMENTS.c.instrument == "phq9",
            ASSESSMENTS.c.self_harm_item_positive.is_(True),
        )
        .order_by(ASSESSMENTS.c.created_at, ASSESSMENTS.c.id)
    ).all()
    upgraded_at = datetime.now(UTC)  # the audit rows say when the upgrade opened them
    for start in range(0, len(positives), BATCH):
        reviews, audits = [], []
        for assessment_id, clinic_id, client_id, recorded_at in positives[start : start + BATCH]:
            review_id = uuid.uuid4()
            reviews.append(
                {
                    "id": review_id,
                    "clinic_id": clinic_id,
                    "client_id": client_id,
                    "assessment_id": assessment_id,
                    "opened_at": recorded_at,
                    "status": "open",
                    "version": 1,
                }
            )
            audits.append(
                {
                    "id": uuid.uuid4(),
                    "clinic_id": clinic_id,
                    "at": upgraded_at,
                    "actor_id": None,
                    "actor_role": None,
                    "action": "open_safety_review_on_upgrade",
                    "resource_type": "safety_review",
                    "resource_id": str(review_id),
                    "request_id": f"migration-{revision}",
                    "outcome": "success",
                    "status_code": TASK_STATUS,
                    "changed_fields": ["assessment_id", "client_id", "opened_at", "status"],
                }
            )
        connection.execute(sa.insert(REVIEWS), reviews)
        connection.execute(sa.insert(AUDIT), audits)


def upgrade() -> None:
    _create_table()
    _open_reviews_for_stored_positives()


def downgrade() -> None:
    with op.batch_alter_table("safety_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_safety_reviews_clinic_status_opened")
        batch_op.drop_index("ix_safety_reviews_clinic_client_status")
    op.drop_table("safety_reviews")
