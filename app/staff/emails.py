"""One normal form for staff email addresses, shared by staff input and OIDC sign-in.

Emails are compared without regard to case, and caseless matching in Unicode is full case
folding with NFKC around it. Applied blindly, that folds lookalikes onto plain ASCII addresses:
the Kelvin sign (U+212A) becomes `k`, the long s (U+017F) `s`, a fullwidth k (U+FF4B) `k`,
`ß` `ss`, and `İ` (U+0130) an `i` with a combining dot; IDNA mapping drops invisible characters
from a domain. A provider that vouches for "Kelvin-sign-ate@a.example" vouches for another
mailbox than `kate@a.example`, so such addresses are refused rather than folded: an address must
already be in NFKC, folding it may not produce an ASCII character that was not (in either case)
an ASCII character of the address, and its domain may change under IDNA only by case or by
punycode decoding. What is left folds to one key, the form staff emails are stored in, so a
non-ASCII address never shares a key with an ASCII one.
"""

import unicodedata
from typing import Annotated

import email_validator
from pydantic import AfterValidator, Field

MAX_EMAIL_CHARS = 320


def email_key(address: str) -> str:
    """The folded form of an address (NFKC, Unicode case folding, NFKC)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", address).casefold())


def canonical_email(raw: str) -> str:
    """The stored and compared form of an email address; ValueError when it is not one or
    when it holds a lookalike. Staff input and OIDC claims both go through here."""
    address = raw.strip(" ")  # spaces only: a control character is refused below
    if len(address) > MAX_EMAIL_CHARS:
        raise ValueError(f"the email address is longer than {MAX_EMAIL_CHARS} characters")
    if unicodedata.normalize("NFKC", address) != address:
        raise ValueError(
            "the email address must be in Unicode normal form NFKC (no compatibility, "
            "fullwidth or decomposed characters)"
        )
    if _ascii(email_key(address)) != _ascii(address).lower():
        raise ValueError("the email address has a character that folds into ASCII (a lookalike)")
    try:
        parts = email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError as error:
        raise ValueError(f"not a valid email address: {error}") from None
    domain = email_key(address.rpartition("@")[2])
    if domain not in (email_key(parts.domain), parts.ascii_domain.lower()):
        raise ValueError("the email address's domain holds characters that IDNA drops or maps")
    return email_key(parts.normalized)


def _ascii(text: str) -> str:
    return "".join(character for character in text if character.isascii())


StaffEmail = Annotated[
    str,
    AfterValidator(canonical_email),
    Field(
        json_schema_extra={"format": "email"},
        description="Stored case-folded (NFKC and Unicode case folding). An address not in NFKC "
        "or with characters that fold into ASCII (the Kelvin sign, the long s, fullwidth "
        "letters, `ß`, `İ`) is refused with 422, so that no lookalike reaches another staff "
        "member's address.",
        examples=["dr.rivera@clinic.example"],
    ),
]
