"""Clinic and window-policy schemas; offsets are hours in the API and seconds in storage."""

import uuid
from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, Field, StrictBool

from app.common.schemas import ONE_LINE, InputModel, PatchModel, ShortText
from app.sessions.enums import Route
from app.staff.emails import StaffEmail

MAX_HOURS = 24 * 365

Hours = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_HOURS,
        allow_inf_nan=False,
        description="Hours after the end of the dose (resolution: one second).",
        examples=[72],
    ),
]


NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) - NOT_ZONES


def _known_timezone(name: str) -> str:
    if name not in _zones():
        raise ValueError(f"unknown IANA time zone {name!r}")
    return name


TimeZoneName = Annotated[
    str,
    Field(min_length=1, max_length=64, examples=["America/New_York"]),
    AfterValidator(_known_timezone),
    ONE_LINE,
]


class ClosesAfterHours(BaseModel):
    """When the window closes, per route of administration."""

    iv: Hours = 72
    im: Hours = 72
    intranasal: Hours = 72
    sublingual: Hours = 168
    oral: Hours = 168

    def for_route(self, route: Route) -> float:
        hours: float = getattr(self, route.value)
        return hours


class WindowPolicyRead(BaseModel):
    opens_after_hours: Hours
    closes_after_hours: ClosesAfterHours
    closing_soon_hours: Hours = Field(
        description="The closing-soon alert fires this long before an unbooked window closes."
    )


Pcl5Cutoff = Annotated[
    int,
    Field(
        ge=0,
        le=80,
        description="PCL-5 total at or above which PTSD is probable (published range 31-33).",
        examples=[33],
    ),
]


SystolicMax = Annotated[int, Field(ge=80, le=250, examples=[140])]
DiastolicMax = Annotated[int, Field(ge=40, le=150, examples=[90])]
# The esketamine REMS asks for at least two hours of monitoring; a clinic may ask for more.
MonitoringMinutes = Annotated[int, Field(ge=120, le=24 * 60, examples=[120])]
DueDays = Annotated[int, Field(ge=1, le=90, examples=[7])]
# A screening is valid 1 to 730 days: no label or guideline sets a period; past two years a
# medical history is too stale to call a clearance (docs/decisions.md).
ValidDays = Annotated[int, Field(ge=1, le=730, examples=[365])]
GATE = "Evidence: /docs/clinical-evidence#dosing-gate"
REQUIRE_MEDICAL_CLEARANCE = (
    "Completing a ketamine session needs the client's medical clearance at the dose's start "
    "(409 `medical_clearance_required`; a prescriber may override). Scheduling is never "
    "refused by it. " + GATE
)
REQUIRE_CONSENT = (
    "Completing a ketamine session needs a `kap_treatment` consent in force at the dose's "
    "start, and for esketamine an `esketamine_rems_enrollment` one (409 `consent_required`, "
    "`rems_enrollment_required`; a prescriber may override). Scheduling is never refused by "
    "it. " + GATE
)
SCREENING_VALID_DAYS = (
    "A screening's `valid_until` is its `screened_at` plus this many days (24-hour days), "
    "fixed when it is recorded: a change applies to screenings recorded afterwards. 1 to 730. "
    "Evidence: /docs/clinical-evidence#screening-validity"
)


class BloodPressureMax(BaseModel):
    """A pre-dose reading above either number raises `pre_dose_bp_elevated`."""

    systolic: SystolicMax = 140
    diastolic: DiastolicMax = 90


class ClinicalPolicy(BaseModel):
    """Thresholds the clinic sets for measurement-based care and dosing safety."""

    pcl5_probable_ptsd_cutoff: Pcl5Cutoff = 33
    pre_dose_bp_max: BloodPressureMax = Field(default_factory=BloodPressureMax)
    esketamine_min_monitoring_minutes: MonitoringMinutes = Field(
        default=120,
        description="Intranasal esketamine: dose to discharge under this raises "
        "`monitoring_under_minimum` (the Spravato REMS requires at least 2 hours).",
    )
    rems_form_due_days: DueDays = Field(
        default=7,
        description="Esketamine: the REMS patient-monitoring form is due this many days after "
        "the session (`rems_form_due` until it is marked submitted).",
    )
    require_medical_clearance: bool = Field(default=True, description=REQUIRE_MEDICAL_CLEARANCE)
    require_consent: bool = Field(default=True, description=REQUIRE_CONSENT)
    screening_valid_days: ValidDays = Field(default=365, description=SCREENING_VALID_DAYS)


class BloodPressureMaxPatch(InputModel):
    systolic: SystolicMax | None = None
    diastolic: DiastolicMax | None = None


class ClinicalPolicyPatch(InputModel):
    pcl5_probable_ptsd_cutoff: Pcl5Cutoff | None = None
    pre_dose_bp_max: BloodPressureMaxPatch | None = None
    esketamine_min_monitoring_minutes: MonitoringMinutes | None = None
    rems_form_due_days: DueDays | None = None
    require_medical_clearance: StrictBool | None = Field(
        default=None, description=REQUIRE_MEDICAL_CLEARANCE
    )
    require_consent: StrictBool | None = Field(default=None, description=REQUIRE_CONSENT)
    screening_valid_days: ValidDays | None = Field(default=None, description=SCREENING_VALID_DAYS)


class ClinicRead(BaseModel):
    """A clinic and the policy its window rule runs on."""

    id: uuid.UUID
    name: str
    timezone: str
    require_completed_preparation: bool = Field(
        description="Doses need a preparation session first (scheduled to book, completed to dose)."
    )
    window_policy: WindowPolicyRead
    clinical_policy: ClinicalPolicy
    version: int


class ClosesAfterHoursPatch(InputModel):
    iv: Hours | None = None
    im: Hours | None = None
    intranasal: Hours | None = None
    sublingual: Hours | None = None
    oral: Hours | None = None


class WindowPolicyPatch(PatchModel):
    required_fields = frozenset({"opens_after_hours", "closes_after_hours", "closing_soon_hours"})

    opens_after_hours: Hours | None = None
    closes_after_hours: ClosesAfterHoursPatch | None = None
    closing_soon_hours: Hours | None = None


class ClinicUpdate(PatchModel):
    """Change the clinic's name, time zone or policy; omitted fields keep their value."""

    required_fields = frozenset(
        {"name", "timezone", "require_completed_preparation", "window_policy", "clinical_policy"}
    )

    name: ShortText | None = None
    timezone: TimeZoneName | None = None
    require_completed_preparation: bool | None = None
    window_policy: WindowPolicyPatch | None = Field(
        default=None,
        examples=[{"closes_after_hours": {"sublingual": 120}, "closing_soon_hours": 12}],
    )
    clinical_policy: ClinicalPolicyPatch | None = None


class BootstrapInput(InputModel):
    """What `kap-journey bootstrap` needs; validated like any API input."""

    clinic_name: ShortText
    timezone: TimeZoneName
    admin_email: StaffEmail
    admin_name: ShortText
