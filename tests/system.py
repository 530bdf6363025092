"""What a test needs from outside Python: Graphviz's ``dot``, Debian's Chromium + ChromeDriver, PyTorch.

    from tests.system import require

    @pytest.mark.system
    def test_...():
        require("dot")                  # at the top of a test
    pytestmark = pytest.mark.system     # or for a whole module: ...
    torch = require("torch")            # ... at module level; returns the module

A missing requirement skips the test with a reason that names each missing program or module (only
those) and its install command. With
``MICROGRAD_REQUIRE_SYSTEM=1`` (set by ``.ci/run`` after installing everything) it fails instead, so
CI runs every test. Programs are looked up on ``PATH`` only (``shutil.which``), so a machine without
them (or a PATH without them) really skips.

A test that calls ``require`` carries the ``system`` marker (setup.cfg), so that
``pytest -m "not system"`` runs nothing that needs them; ``require`` fails a test that lacks it
(``tests/conftest.py`` tells it which test is running).
"""

from __future__ import annotations

import importlib
import os
import shutil

import pytest

INSTALL = {
    "dot": "apt-get install graphviz (or brew install graphviz / conda install graphviz)",
    "chromium": "apt-get install chromium",
    "chromedriver": "apt-get install chromium-driver",
    "torch": "pip install torch==2.13.0 (the 'reference' extra)",
}
MODULES = {"torch"}
running = None  # the test item being run (set by tests/conftest.py), None at collection


def strict() -> bool:
    """True when a missing requirement must fail the test (CI), not skip it."""
    return os.environ.get("MICROGRAD_REQUIRE_SYSTEM", "") == "1"


def missing(name: str) -> bool:
    if name in MODULES:
        return importlib.util.find_spec(name) is None
    return shutil.which(name) is None


def check_marked(*names: str) -> None:
    """Fail the running test unless it carries the ``system`` marker (it needs ``names``)."""
    if running is not None and running.get_closest_marker("system") is None:
        pytest.fail(f"{running.nodeid} needs {', '.join(names)}: mark it @pytest.mark.system", pytrace=False)


def require(*names: str, absent: tuple[str, ...] | None = None):
    """Skip (or, under MICROGRAD_REQUIRE_SYSTEM=1, fail) unless every named program / module is present.
    Returns the imported module when one module name is given.

    The reason names exactly the ones that are missing, each with its install command. ``absent``:
    the names already known to be missing (a lookup made earlier, on another PATH), instead of
    looking them up now."""
    check_marked(*names)
    gone = [n for n in names if n in absent] if absent is not None else [n for n in names if missing(n)]
    if gone:
        msg = "; ".join(reason(n) for n in gone)
        if strict():
            pytest.fail(f"{msg} (MICROGRAD_REQUIRE_SYSTEM=1: CI must have it)", pytrace=False)
        pytest.skip(msg, allow_module_level=True)
    if len(names) == 1 and names[0] in MODULES:
        return importlib.import_module(names[0])
    return None


def reason(name: str) -> str:
    """Why a test needs name, and how to install it: "needs the program 'dot': apt-get install graphviz ..."."""
    what = "Python module" if name in MODULES else "program"
    return f"needs the {what} {name!r}: {INSTALL[name]}"
