"""micrograd.demos._common, what a learner sees while a lesson runs: progress lines in a pipe and in a
notebook kernel, durations in words."""

import subprocess
import sys
import warnings

import pytest

from micrograd.demos import _common

PIPED = """
from micrograd.demos._common import progress
bar = progress(range(3), "work", 3)
for i in bar:
    bar.note(f"loss {i}")
print("next line", flush=True)
"""


@pytest.mark.parametrize("tqdm", ["installed", "missing"])
def test_a_finished_progress_line_in_a_pipe_ends_with_a_newline(tqdm):
    code = ("import sys; sys.modules['tqdm'] = None\n" if tqdm == "missing" else "") + PIPED
    r = subprocess.run(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout
    lines = r.stdout.split("\n")
    assert "\r" not in r.stdout  # nothing redrawn in place: a log keeps one clean line per bar
    assert lines[0].startswith("work: 3/3 loss 2 (") and lines[0].endswith(" s)")
    assert lines[1] == "next line"


def test_in_a_notebook_without_ipywidgets_tqdm_is_plain_text_and_silent(monkeypatch):
    tqdm_std = pytest.importorskip("tqdm").tqdm
    monkeypatch.setitem(sys.modules, "ipykernel", sys)  # what _in_notebook() looks for
    monkeypatch.setattr(
        _common.importlib.util,
        "find_spec",
        lambda name, *a, real=_common.importlib.util.find_spec: None if name == "ipywidgets" else real(name, *a),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm.auto would warn "IProgress not found"
        assert _common._tqdm_class() is tqdm_std
        assert list(_common.progress(range(2), "x", 2)) == [0, 1]


@pytest.mark.parametrize(
    "seconds, words", [(40, "40 s"), (70, "70 s"), (100, "2 minutes"), (61 * 60, "61 minutes"), (3 * 3600, "3.0 hours")]
)
def test_duration_in_words(seconds, words):
    assert _common.duration(seconds) == words
