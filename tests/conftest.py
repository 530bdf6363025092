"""Shared test helpers: the tests folder on sys.path (for ``op_cases``), hypothesis settings, float comparison.

Kept small on purpose; ask the Value-path owner before adding fixtures here.
"""

import math
import os
import sys

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# deadline=None: Numba compiles on first call; the profile is shared by every suite.
settings.register_profile("micrograd", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("micrograd")


def same_float(a: float, b: float, rel: float = 1e-13, abs_: float = 0.0) -> bool:
    """a equals b to rel/abs tolerance, with NaN == NaN and an infinity equal only to itself."""
    if math.isnan(b) or math.isnan(a):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * abs(b) + abs_
