"""What a test needs from outside Python: Graphviz's ``dot``, Debian's Chromium + ChromeDriver, PyTorch.

    from system import require
    require("dot")                      # at the top of a test (or module level with allow_module_level)
    torch = require("torch")            # returns the module

A missing requirement skips the test with a reason that names the install command. With
``MICROGRAD_REQUIRE_SYSTEM=1`` (set by ``.ci/run`` after installing everything) it fails instead, so
CI runs every test. Programs are looked up on ``PATH`` only (``shutil.which``), so a machine without
them, like ``../shared/fresh-machine-check`` makes, really skips.
"""

from __future__ import annotations

import importlib
import os
import shutil

import pytest

INSTALL = {
    "dot": "apt-get install graphviz (or brew install graphviz / conda install graphviz)",
    "chromium": "apt-get install chromium chromium-driver",
    "chromedriver": "apt-get install chromium chromium-driver",
    "torch": "pip install torch==2.13.0 (the 'reference' extra)",
}
MODULES = {"torch"}


def strict() -> bool:
    """True when a missing requirement must fail the test (CI), not skip it."""
    return os.environ.get("MICROGRAD_REQUIRE_SYSTEM", "") == "1"


def missing(name: str) -> bool:
    if name in MODULES:
        return importlib.util.find_spec(name) is None
    return shutil.which(name) is None


def require(*names: str):
    """Skip (or, under MICROGRAD_REQUIRE_SYSTEM=1, fail) unless every named program / module is present.
    Returns the imported module when one module name is given."""
    for name in names:
        if missing(name):
            what = "Python module" if name in MODULES else "program"
            msg = f"needs the {what} {name!r}: {INSTALL[name]}"
            if strict():
                pytest.fail(f"{msg} (MICROGRAD_REQUIRE_SYSTEM=1: CI must have it)", pytrace=False)
            pytest.skip(msg, allow_module_level=True)
    if len(names) == 1 and names[0] in MODULES:
        return importlib.import_module(names[0])
    return None
