"""A REMS-complete esketamine record, for tests that take one condition away at a time."""

from datetime import datetime, timedelta
from typing import Any

from tests.support.factories import iso

MINUTE = timedelta(minutes=1)
NO_CONCOMITANT_MEDICATIONS = {
    "benzodiazepines": False,
    "non_benzodiazepine_sedative_hypnotics": False,
    "psychostimulants": False,
    "maois": False,
}


def vital(label: str, at: datetime, **readings: int) -> dict[str, Any]:
    return {"taken_at": iso(at), "label": label, **readings}


def rems_vitals(dosed: datetime) -> list[dict[str, Any]]:
    """Pre-dose, 40-minute and discharge readings around a dose given at `dosed`."""
    return [
        vital("pre_dose", dosed - 15 * MINUTE, systolic=128, diastolic=80, spo2=98),
        vital("peak", dosed + 40 * MINUTE, systolic=146, diastolic=90, spo2=97),
        vital("discharge", dosed + 115 * MINUTE, systolic=126, diastolic=80, spo2=98),
    ]


def rems_record(dosed: datetime) -> dict[str, Any]:
    """Everything the REMS monitoring record asks of an esketamine dose given at `dosed`,
    discharged 125 minutes after it (the clinic's default minimum is 120)."""
    return {
        "medication": "esketamine",
        "dosed_at": iso(dosed),
        "vitals": rems_vitals(dosed),
        "ready_to_leave_at": iso(dosed + 110 * MINUTE),
        "discharged_at": iso(dosed + 125 * MINUTE),
        "concomitant_medications": dict(NO_CONCOMITANT_MEDICATIONS),
        "transport_confirmed": True,
    }
