"""The prescriber-only acts' one check: 403 `prescriber_required` for anyone else.

Prescriber-only: a screening decision of `cleared` or `not_cleared`, writing a ketamine
session's order (`dose_mg`, `medication`), and a dosing-gate override. The flag travels on the
principal, read from the staff row on every request (API key, OIDC token and calendar feed
alike), so taking it away takes effect at once.
"""

from app.auth.principal import Principal
from app.errors import Forbidden
from app.staff.models import PRESCRIBING_ROLES


class PrescriberRequired(Forbidden):
    code, title = "prescriber_required", "Only a prescriber may do this"


def is_prescriber(principal: Principal) -> bool:
    """A prescriber in a clinical role (the staff rules keep schedulers from the flag; the
    role is checked again so that no principal built elsewhere slips through)."""
    return principal.prescriber and principal.role in PRESCRIBING_ROLES


def require_prescriber(principal: Principal, act: str) -> None:
    """Raise 403 `prescriber_required` unless the caller is a prescriber; `act` completes
    "Only a prescriber (MD, DO, NP, PA) may ..." in the problem's detail."""
    if not is_prescriber(principal):
        raise PrescriberRequired(
            f"Only a prescriber (MD, DO, NP, PA) may {act}. An admin marks prescribers with "
            'PATCH /api/v1/staff/{id} {"prescriber": true}.'
        )
