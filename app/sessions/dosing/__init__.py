"""The dosing record of a ketamine session and the safety flags computed from it.

Flags follow the clinic's thresholds (`policy`) and are computed, never stored, so a changed
threshold applies to every session at once. `rules` holds the flags and the record's checks as
plain Python; `sql` is the flags' twin for list filters that run in the database, and a test
keeps the two in agreement. Only the highest pre-dose blood pressure is kept beside the vitals
timeline (`schemas.stored`), so the filter needs no JSON search.
"""
