"""Headless Debian Chromium for the browser tests, through selenium and the system chromedriver.

Never downloads a browser or a driver: both paths are given explicitly, so
Selenium Manager stays out. Both are found on PATH (``system.require``): where
they are missing the test skips with the install command, and under
``MICROGRAD_REQUIRE_SYSTEM=1`` (``.ci/run``, which installs them) it fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.system import check_marked, require

# looked up once, at import: a test may take dot off PATH and still drive the browser
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,900",
)


def start_chromium(profile_dir: Path):
    """A selenium webdriver on headless Chromium with a fresh profile in profile_dir; quit() it after use."""
    check_marked("chromium", "chromedriver")
    found = {"chromium": CHROMIUM, "chromedriver": CHROMEDRIVER}
    if None in found.values():  # skips (or fails under MICROGRAD_REQUIRE_SYSTEM=1) naming what the lookup missed,
        # not what today's PATH lacks: a test may have taken everything off PATH to hide dot
        require(*found, absent=tuple(name for name, path in found.items() if path is None))
    os.environ.setdefault("SE_OFFLINE", "true")  # belt and braces: Selenium Manager must not fetch anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ARGS:
        opts.add_argument(a)
    profile = Path(profile_dir)
    profile.mkdir(parents=True, exist_ok=True)
    opts.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
