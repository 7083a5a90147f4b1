"""How hard the fuzz tests try: a small default for `make test` (the folder runs in well under a minute),
raised for a longer run by FUZZ_EXAMPLES (`make fuzz`)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def examples(default: int) -> int:
    """The number of examples a fuzz test tries: `default`, or FUZZ_EXAMPLES when it is larger."""
    return max(default, int(os.environ.get("FUZZ_EXAMPLES") or 0))


def fuzz_settings(default: int) -> settings:
    # No deadline (moto and the first call of a handler are slow); fixtures shared across examples on purpose.
    return settings(
        max_examples=examples(default),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
