"""pytest at the repository root: plain ``python -m pytest -q`` also executes the lesson notebooks.

``testpaths`` (setup.cfg) names ``tests`` and ``notebooks``; here nbmake (the ``test`` extra) is
switched on for every run, so each notebook in ``notebooks/`` runs top to bottom in a fresh
kernel and fails on the first cell that raises. Without nbmake the notebooks are reported as
skipped, naming the install command (failed under MICROGRAD_REQUIRE_SYSTEM=1, as in CI).
Every notebook item carries the ``notebook`` and ``slow`` markers, so ``-m "not slow"`` leaves
them out.
"""

import os

import pytest

NBMAKE_MISSING = "the notebooks run with nbmake: pip install -e '.[test]'"


def pytest_configure(config):
    if config.pluginmanager.hasplugin("nbmake"):
        config.option.nbmake = True


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
            item.add_marker(pytest.mark.slow)


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".ipynb" and not parent.config.pluginmanager.hasplugin("nbmake"):
        return _MissingNbmake.from_parent(parent, path=file_path)
    return None


class _MissingNbmake(pytest.File):
    def collect(self):
        yield _MissingNbmakeItem.from_parent(self, name=self.path.name)


class _MissingNbmakeItem(pytest.Item):
    def runtest(self):
        if os.environ.get("MICROGRAD_REQUIRE_SYSTEM", "") == "1":
            pytest.fail(f"{NBMAKE_MISSING} (MICROGRAD_REQUIRE_SYSTEM=1: CI must have it)", pytrace=False)
        pytest.skip(NBMAKE_MISSING)
