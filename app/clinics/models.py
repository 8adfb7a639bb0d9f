"""The clinic: the tenant, its time zone and its window policy."""

import uuid

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampedMixin, VersionedMixin, new_id
from app.sessions.enums import Route

ROUTE_CLOSE_COLUMNS = {route: f"window_closes_{route.value}_s" for route in Route}


class Clinic(TimestampedMixin, VersionedMixin, Base):
    """A clinic; window offsets are stored in whole seconds."""

    __tablename__ = "clinics"
    __table_args__ = (
        CheckConstraint("window_opens_after_s >= 0", name="opens_non_negative"),
        CheckConstraint("closing_soon_s >= 0", name="closing_soon_non_negative"),
        *(
            CheckConstraint(f"{column} > window_opens_after_s", name=f"{column}_after_opens")
            for column in ROUTE_CLOSE_COLUMNS.values()
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    require_completed_preparation: Mapped[bool] = mapped_column(default=True)
    window_opens_after_s: Mapped[int] = mapped_column(default=0)
    window_closes_iv_s: Mapped[int] = mapped_column(default=72 * 3600)
    window_closes_im_s: Mapped[int] = mapped_column(default=72 * 3600)
    window_closes_intranasal_s: Mapped[int] = mapped_column(default=72 * 3600)
    window_closes_sublingual_s: Mapped[int] = mapped_column(default=168 * 3600)
    window_closes_oral_s: Mapped[int] = mapped_column(default=168 * 3600)
    closing_soon_s: Mapped[int] = mapped_column(default=24 * 3600)
    pcl5_cutoff: Mapped[int] = mapped_column(default=33, server_default="33")
    pre_dose_systolic_max: Mapped[int] = mapped_column(default=140, server_default="140")
    pre_dose_diastolic_max: Mapped[int] = mapped_column(default=90, server_default="90")
    esketamine_min_monitoring_minutes: Mapped[int] = mapped_column(
        default=120, server_default="120"
    )
    rems_form_due_days: Mapped[int] = mapped_column(default=7, server_default="7")
    # The dosing gate's settings (docs/decisions.md, "Medical screening and clearance"). The
    # server defaults '1'/'0' are true/false to both databases and let SQLite add the column
    # in place (see the b14c1ea2a9c1 migration).
    require_medical_clearance: Mapped[bool] = mapped_column(default=True, server_default="1")
    require_consent: Mapped[bool] = mapped_column(default=True, server_default="1")
    screening_valid_days: Mapped[int] = mapped_column(default=365, server_default="365")
