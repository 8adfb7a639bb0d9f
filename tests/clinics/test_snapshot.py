"""The clinic snapshot a request carries: every column, in the order the key lookup reads them."""

from dataclasses import fields

from app.clinics.models import Clinic
from app.clinics.snapshot import ClinicSnapshot


def test_the_snapshot_has_every_clinic_column_in_table_order() -> None:
    # The key lookup builds the snapshot positionally from `clinics.c`: a column added to the
    # model but not here (or in another place) would shift every value after it.
    assert [field.name for field in fields(ClinicSnapshot)] == [
        column.name for column in Clinic.__table__.c
    ]


def test_a_snapshot_of_a_loaded_clinic_copies_its_values() -> None:
    clinic = Clinic(name="North", timezone="Europe/Oslo", window_opens_after_s=3600)
    snapshot = ClinicSnapshot.of(clinic)
    assert (snapshot.name, snapshot.timezone, snapshot.window_opens_after_s) == (
        "North",
        "Europe/Oslo",
        3600,
    )
    assert ClinicSnapshot.of(snapshot) is snapshot
