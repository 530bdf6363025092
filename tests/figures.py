"""The matplotlib figures the demos save, by file name, kept open for a test to read.

    from tests.figures import keep_figures

    @pytest.fixture
    def figures(monkeypatch):
        yield from keep_figures(monkeypatch)

    def test_...(tmp_path, figures):
        demo.run(quick=True, out=tmp_path)
        fig = figures["losses_margin.png"]    # its axes, lines, images and collections as drawn

Every demo module's ``save_figure`` (each imports it from ``micrograd.demos._common``) is replaced by
one that keeps the figure (and still writes a small file).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from micrograd.demos import DEMOS, _common


def keep_figures(monkeypatch):
    """Yields {file name: figure} for every figure a demo saves until the test ends, then closes them."""
    saved = {}

    def keep(fig, path):
        saved[Path(path).name] = fig
        fig.savefig(path, dpi=40)
        return path

    monkeypatch.setattr(_common, "save_figure", keep)
    for name in DEMOS:
        module = importlib.import_module(f"micrograd.demos.{name}")
        if hasattr(module, "save_figure"):
            monkeypatch.setattr(module, "save_figure", keep)
    yield saved
    _common.pyplot().close("all")
