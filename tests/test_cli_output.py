"""What a learner sees on the command line: ``draw --set`` before the expression, progress lines in
a pipe, durations in words, and ``float(v)`` for a Value."""

import math
import subprocess
import sys
import warnings

import pytest

from micrograd import Value
from micrograd.cli import main
from micrograd.demos import _common


@pytest.mark.parametrize(
    "argv", [["draw", "--set", "x=3", "x*x"], ["draw", "x*x", "--set", "x=3"], ["draw", "--set", "x=3", "--", "x*x"]]
)
def test_draw_takes_the_expression_before_or_after_set(argv, tmp_path, capsys):
    assert main(argv[:1] + ["-o", str(tmp_path / "g.dot")] + argv[1:]) == 0
    out = capsys.readouterr().out
    assert "x*x = 9" in out and "d/dx = 6" in out  # d(x^2)/dx = 2x
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


def test_draw_without_an_expression_says_so(tmp_path, capsys):
    assert main(["draw", "--set", "x=3", "-o", str(tmp_path / "g.dot")]) == 2
    assert "draw needs an expression" in capsys.readouterr().err
    assert main(["draw", "--set", "x=3", "x*x", "x+1", "-o", str(tmp_path / "g.dot")]) == 2
    assert "'x*x', 'x+1'" in capsys.readouterr().err


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


def test_float_of_a_value_is_its_data():
    v = Value(2.0) * Value(1.5)
    assert float(v) == 3.0 and type(float(v)) is float
    assert math.isclose(float(Value(-0.25).tanh()), math.tanh(-0.25), rel_tol=0, abs_tol=0)
