"""How many generated examples a property test tries: the full budget in `make test` and CI, a
small one in the fast loop (`HYPOTHESIS_PROFILE=fast`, set by `make test-fast`).

Tests that leave `max_examples` alone follow the loaded profile; a test that sets its own budget
asks `examples(n)` for it, so the fast loop can shrink that budget too.
"""

import os

from hypothesis import settings

FAST = "fast"
FAST_EXAMPLES = 10
settings.register_profile(FAST, max_examples=FAST_EXAMPLES)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")


def load_profile() -> None:
    settings.load_profile(PROFILE)


def examples(full: int) -> int:
    """`full`, or at most the fast profile's budget in the fast loop."""
    return min(full, FAST_EXAMPLES) if PROFILE == FAST else full
