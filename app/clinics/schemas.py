"""Clinic and window-policy schemas; offsets are hours in the API and seconds in storage.

Every policy field's description links to the section of /docs/clinical-evidence that gives the
source of its default (tests/docs/test_evidence.py keeps every link pointing at a section).
"""

from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, Field, StrictBool

from app.common.schemas import ALWAYS_PRESENT, ONE_LINE, Id, InputModel, PatchModel, ShortText
from app.sessions.enums import Route
from app.staff.emails import StaffEmail

MAX_HOURS = 24 * 365

Hours = Annotated[float, Field(ge=0, le=MAX_HOURS, allow_inf_nan=False)]

WINDOW_EVIDENCE = "Evidence: [integration window](/docs/clinical-evidence#integration-window)."
OPENS_AFTER = (
    "The window opens this many hours after the end of the dose (resolution: one second). "
    + WINDOW_EVIDENCE
)
CLOSES_AFTER = "When the window closes, per route of administration. " + WINDOW_EVIDENCE
CLOSING_SOON = (
    "`integration_window.closing_unbooked` fires this many hours before an unbooked window "
    "closes; 0 turns it off. Evidence: [closing soon](/docs/clinical-evidence#closing-soon)."
)
POLICY_EVIDENCE = "Each default's source: [clinical evidence](/docs/clinical-evidence)."


def _closes(route: str) -> str:
    return f"The window closes this many hours after the end of {route} dose. {WINDOW_EVIDENCE}"


IV, IM, INTRANASAL = _closes("an IV"), _closes("an IM"), _closes("an intranasal")
SUBLINGUAL, ORAL = _closes("a sublingual"), _closes("an oral")


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

    model_config = ALWAYS_PRESENT

    iv: Hours = Field(default=72, description=IV, examples=[72])
    im: Hours = Field(default=72, description=IM, examples=[72])
    intranasal: Hours = Field(default=72, description=INTRANASAL, examples=[72])
    sublingual: Hours = Field(default=168, description=SUBLINGUAL, examples=[168])
    oral: Hours = Field(default=168, description=ORAL, examples=[168])

    def for_route(self, route: Route) -> float:
        hours: float = getattr(self, route.value)
        return hours


class WindowPolicyRead(BaseModel):
    opens_after_hours: Hours = Field(description=OPENS_AFTER, examples=[0])
    closes_after_hours: ClosesAfterHours = Field(description=CLOSES_AFTER)
    closing_soon_hours: Hours = Field(description=CLOSING_SOON, examples=[24])


Pcl5Cutoff = Annotated[int, Field(ge=0, le=80, examples=[33])]
SystolicMax = Annotated[int, Field(ge=80, le=250, examples=[140])]
DiastolicMax = Annotated[int, Field(ge=40, le=150, examples=[90])]
# The esketamine REMS asks for at least two hours of monitoring; a clinic may ask for more.
MonitoringMinutes = Annotated[int, Field(ge=120, le=24 * 60, examples=[120])]
DueDays = Annotated[int, Field(ge=1, le=90, examples=[7])]
# A screening is valid 1 to 730 days: no label or guideline sets a period; past two years a
# medical history is too stale to call a clearance (docs/decisions.md).
ValidDays = Annotated[int, Field(ge=1, le=730, examples=[365])]
GATE = "Evidence: [dosing-gate](/docs/clinical-evidence#dosing-gate)"
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
    "Evidence: [screening-validity](/docs/clinical-evidence#screening-validity)"
)

PCL5_CUTOFF = (
    "PCL-5 total at or above which PTSD is probable (published range 31-33). "
    "Evidence: [PCL-5 cut-off](/docs/clinical-evidence#pcl5-cutoff)."
)
BP_EVIDENCE = (
    "Evidence: [pre-dose blood pressure](/docs/clinical-evidence#pre-dose-blood-pressure)."
)
PRE_DOSE_BP = "A pre-dose reading above either number raises `pre_dose_bp_elevated`. " + BP_EVIDENCE
SYSTOLIC_MAX = "Highest pre-dose systolic pressure not flagged, mmHg. " + BP_EVIDENCE
DIASTOLIC_MAX = "Highest pre-dose diastolic pressure not flagged, mmHg. " + BP_EVIDENCE
MIN_MONITORING = (
    "Intranasal esketamine: dose to discharge under this raises `monitoring_under_minimum` "
    "(the Spravato REMS requires at least 2 hours). "
    "Evidence: [esketamine monitoring](/docs/clinical-evidence#esketamine-monitoring)."
)
REMS_FORM_DUE = (
    "Esketamine: the REMS patient-monitoring form is due this many days after the session "
    "(`rems_form_due` until it is marked submitted). "
    "Evidence: [REMS form due](/docs/clinical-evidence#rems-form-due)."
)


class BloodPressureMax(BaseModel):
    """A pre-dose reading above either number raises `pre_dose_bp_elevated`."""

    model_config = ALWAYS_PRESENT

    systolic: SystolicMax = Field(default=140, description=SYSTOLIC_MAX)
    diastolic: DiastolicMax = Field(default=90, description=DIASTOLIC_MAX)


class ClinicalPolicy(BaseModel):
    """Thresholds the clinic sets for measurement-based care and dosing safety."""

    model_config = ALWAYS_PRESENT

    pcl5_probable_ptsd_cutoff: Pcl5Cutoff = Field(default=33, description=PCL5_CUTOFF)
    pre_dose_bp_max: BloodPressureMax = Field(
        default_factory=BloodPressureMax, description=PRE_DOSE_BP
    )
    esketamine_min_monitoring_minutes: MonitoringMinutes = Field(
        default=120, description=MIN_MONITORING
    )
    rems_form_due_days: DueDays = Field(default=7, description=REMS_FORM_DUE)
    require_medical_clearance: bool = Field(default=True, description=REQUIRE_MEDICAL_CLEARANCE)
    require_consent: bool = Field(default=True, description=REQUIRE_CONSENT)
    screening_valid_days: ValidDays = Field(default=365, description=SCREENING_VALID_DAYS)


class BloodPressureMaxPatch(InputModel):
    systolic: SystolicMax | None = Field(default=None, description=SYSTOLIC_MAX)
    diastolic: DiastolicMax | None = Field(default=None, description=DIASTOLIC_MAX)


class ClinicalPolicyPatch(InputModel):
    pcl5_probable_ptsd_cutoff: Pcl5Cutoff | None = Field(default=None, description=PCL5_CUTOFF)
    pre_dose_bp_max: BloodPressureMaxPatch | None = Field(default=None, description=PRE_DOSE_BP)
    esketamine_min_monitoring_minutes: MonitoringMinutes | None = Field(
        default=None, description=MIN_MONITORING
    )
    rems_form_due_days: DueDays | None = Field(default=None, description=REMS_FORM_DUE)
    require_medical_clearance: StrictBool | None = Field(
        default=None, description=REQUIRE_MEDICAL_CLEARANCE
    )
    require_consent: StrictBool | None = Field(default=None, description=REQUIRE_CONSENT)
    screening_valid_days: ValidDays | None = Field(default=None, description=SCREENING_VALID_DAYS)


class ClinicRead(BaseModel):
    """A clinic and the policy its window rule runs on."""

    id: Id
    name: str
    timezone: str
    require_completed_preparation: bool = Field(
        description="Doses need a preparation session first (scheduled to book, completed to dose)."
    )
    window_policy: WindowPolicyRead = Field(
        description="When integration belongs after a dose. " + POLICY_EVIDENCE
    )
    clinical_policy: ClinicalPolicy = Field(
        description="Thresholds for dosing safety and measurement-based care. " + POLICY_EVIDENCE
    )
    version: int


class ClosesAfterHoursPatch(InputModel):
    iv: Hours | None = Field(default=None, description=IV)
    im: Hours | None = Field(default=None, description=IM)
    intranasal: Hours | None = Field(default=None, description=INTRANASAL)
    sublingual: Hours | None = Field(default=None, description=SUBLINGUAL)
    oral: Hours | None = Field(default=None, description=ORAL)


class WindowPolicyPatch(PatchModel):
    required_fields = frozenset({"opens_after_hours", "closes_after_hours", "closing_soon_hours"})

    opens_after_hours: Hours | None = Field(default=None, description=OPENS_AFTER)
    closes_after_hours: ClosesAfterHoursPatch | None = Field(default=None, description=CLOSES_AFTER)
    closing_soon_hours: Hours | None = Field(default=None, description=CLOSING_SOON)


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
        description="Omitted fields keep their value. " + POLICY_EVIDENCE,
        examples=[{"closes_after_hours": {"sublingual": 120}, "closing_soon_hours": 12}],
    )
    clinical_policy: ClinicalPolicyPatch | None = Field(
        default=None, description="Omitted fields keep their value. " + POLICY_EVIDENCE
    )


class BootstrapInput(InputModel):
    """What `kap-journey bootstrap` needs; validated like any API input."""

    clinic_name: ShortText
    timezone: TimeZoneName
    admin_email: StaffEmail
    admin_name: ShortText
