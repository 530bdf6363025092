"""tests/system.py and tests/browser.py: a skip names the program that is missing, and only that one."""

import pytest

from tests import browser, system


@pytest.fixture
def plain(monkeypatch, tmp_path):
    """Skips, not failures (as on a learner's machine), from a test without the system marker."""
    monkeypatch.delenv("MICROGRAD_REQUIRE_SYSTEM", raising=False)
    monkeypatch.setattr(system, "running", None)
    return tmp_path


def skip_reason(call) -> str:
    with pytest.raises(pytest.skip.Exception) as e:
        call()
    return str(e.value)


def test_a_missing_driver_is_named_even_when_path_is_empty(plain, monkeypatch):
    """The browser was found and only the driver was not; the test then emptied PATH (to hide dot)."""
    monkeypatch.setattr(browser, "CHROMIUM", "/usr/bin/chromium")
    monkeypatch.setattr(browser, "CHROMEDRIVER", None)
    monkeypatch.setenv("PATH", str(plain))
    why = skip_reason(lambda: browser.start_chromium(plain / "profile"))
    assert why == "needs the program 'chromedriver': apt-get install chromium-driver"


def test_a_missing_browser_is_named(plain, monkeypatch):
    monkeypatch.setattr(browser, "CHROMIUM", None)
    monkeypatch.setattr(browser, "CHROMEDRIVER", "/usr/bin/chromedriver")
    why = skip_reason(lambda: browser.start_chromium(plain / "profile"))
    assert why == "needs the program 'chromium': apt-get install chromium"


def test_every_missing_program_is_named_once(plain, monkeypatch):
    monkeypatch.setenv("PATH", str(plain))
    why = skip_reason(lambda: system.require("chromium", "chromedriver"))
    assert why == (
        "needs the program 'chromium': apt-get install chromium; "
        "needs the program 'chromedriver': apt-get install chromium-driver"
    )


def test_under_require_system_a_missing_program_fails(plain, monkeypatch):
    monkeypatch.setenv("MICROGRAD_REQUIRE_SYSTEM", "1")
    monkeypatch.setenv("PATH", str(plain))
    with pytest.raises(pytest.fail.Exception, match="'dot': apt-get install graphviz.*CI must have it"):
        system.require("dot")


def test_present_programs_do_not_skip(plain, monkeypatch):
    (plain / "dot").write_text("#!/bin/sh\n")
    (plain / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", str(plain))
    assert system.require("dot") is None
