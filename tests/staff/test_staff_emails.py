"""Staff emails are stored in the one normal form OIDC sign-in compares in (app/staff/emails.py):
case-folded, and lookalikes that would fold into ASCII are refused at input."""

import sys

import pytest

from app.staff.emails import canonical_email, email_key
from tests.support.apps import assert_problem
from tests.support.factories import Clinic

LOOKALIKES = [
    "\u212aate@look.example",  # Kelvin sign
    "\uff4bate@look.example",  # fullwidth k
    "kate@look\uff0eexample",  # fullwidth full stop
    "\u017fam@look.example",  # long s
    "e\ufb00ie@look.example",  # ligature ff
    "k\u0130m@look.example",  # dotted capital I
    "stra\u00dfe@look.example",  # sharp s
    "\u03b1\u03d0\u03b3@look.example",  # Greek beta symbol
    "kate@lo\u034fok.example",  # invisible in the domain
]


async def test_lookalike_emails_are_refused_at_input_and_nothing_is_written(
    clinic: Clinic,
) -> None:
    for email in LOOKALIKES:
        body = {"email": email, "name": "Look Alike", "role": "clinician"}
        response = await clinic.post("/api/v1/staff", json=body)
        assert_problem(response, 422, "validation_error")
    listed = await clinic.ok("GET", "/api/v1/staff", params={"limit": 200})
    assert [item["email"] for item in listed["items"]] == ["admin@clinic.example"]
    staff_id, _ = await clinic.staff("clinician")
    for email in LOOKALIKES:
        response = await clinic.patch(f"/api/v1/staff/{staff_id}", json={"email": email})
        assert_problem(response, 422, "validation_error")


async def test_emails_are_stored_case_folded(clinic: Clinic) -> None:
    made = {}
    for email in ("Kate@Look.EXAMPLE", "JOS\u00c9@B\u00dcCHER.example", "k\u0131m@look.example"):
        body = {"email": email, "name": "Folded", "role": "clinician"}
        made[email] = (await clinic.ok("POST", "/api/v1/staff", 201, json=body))["email"]
    assert list(made.values()) == [
        "kate@look.example",
        "jos\u00e9@b\u00fccher.example",
        "k\u0131m@look.example",
    ]
    taken = {"email": "KATE@look.example", "name": "Again", "role": "clinician"}
    assert_problem(await clinic.post("/api/v1/staff", json=taken), 409, "email_taken")


def test_no_character_folds_into_ascii_unless_it_is_ascii() -> None:
    # Every code point whose folded form holds ASCII is refused inside an address, so no
    # address can reach an ASCII one by folding.
    for code in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF or not any(c.isascii() for c in email_key(chr(code))):
            continue
        with pytest.raises(ValueError, match=r"NFKC|folds into ASCII"):
            canonical_email(f"a{chr(code)}b@look.example")
