"""Shared test settings: the hypothesis profile every suite uses, and the running test for ``system.require``.

Kept small on purpose; ask the Value-path owner before adding fixtures here.
"""

import pytest
from hypothesis import HealthCheck, settings

from tests import system

# deadline=None: Numba compiles on first call; the profile is shared by every suite.
settings.register_profile("micrograd", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("micrograd")


@pytest.fixture(autouse=True)
def _running_test(request):
    """Tell ``system.require`` which test calls it (it checks the ``system`` marker)."""
    system.running = request.node
    yield
    system.running = None
