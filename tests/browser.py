"""Headless Debian Chromium for the browser tests, through selenium and the system chromedriver.

Never downloads a browser or a driver: both paths are given explicitly, so
Selenium Manager stays out. A missing browser is an error (the test fails),
not a skip: CI (`.ci/run`) installs chromium and chromium-driver.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
        "--window-size=1400,900")


def start_chromium(profile_dir: Path):
    """A selenium webdriver on headless Chromium with a fresh profile in profile_dir; quit() it after use."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(path)):
            raise RuntimeError(f"{path} is missing: install Debian's chromium and chromium-driver "
                               f"(apt-get install chromium chromium-driver), as .ci/run does")
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
