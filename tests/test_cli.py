"""The command line: help at every level, one-line errors with exit status 2, draw with --set before or
after the expression (the parser itself: tests/test_expr.py).

Errors are checked through a real subprocess (``python -m micrograd``), so what
the user sees (stderr, exit status, no traceback) is what is asserted.
"""

import math
import subprocess
import sys

import pytest

from micrograd.cli import main
from micrograd.demos import DEMOS
from tests.system import require


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "micrograd", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["demo", "no_such_demo"], "no demo named 'no_such_demo'"),
        (["draw", "tanh(x1*w1", "--set", "x1=1", "w1=2"], "malformed expression"),
        (["draw", "__import__('os').system('echo hacked')"], "unknown function"),
        (["draw", "x*y", "--set", "x=1"], "no value for y"),
        (["frobnicate"], "invalid choice"),
        (["draw", "9**9**9"], "overflows float64"),  # 9 ** 387420489: one line, no traceback
        (["draw", "2**10**100"], "overflows float64"),
        (["draw", "x**y", "--set", "x=10", "y=400"], "10 ** 400 overflows"),
    ],
)
def test_cli_errors_are_one_line_with_status_2(args, fragment, tmp_path):
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "hacked" not in r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("micrograd: error:") and fragment in lines[0]


def test_help_at_every_level(capsys):
    for argv in ([], ["demo"], ["draw"], ["bench"]):
        with pytest.raises(SystemExit) as e:
            main(argv + ["--help"])
        assert e.value.code == 0
        assert "usage: python -m micrograd" in capsys.readouterr().out


def test_demo_list_names_every_demo(capsys):
    assert main(["demo", "--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(DEMOS)


@pytest.mark.system
def test_draw_writes_the_graph_with_gradients(tmp_path, capsys):
    require("dot")
    out = tmp_path / "sub" / "neuron.svg"
    assert main(["draw", "tanh(x1*w1 + b)", "--set", "x1=2", "w1=-3", "--set", "b=6.5", "-o", str(out), "--color"]) == 0
    svg = out.read_text()
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "x1" in svg and "tanh" in svg
    printed = capsys.readouterr().out
    dn = 1 - math.tanh(0.5) ** 2
    assert f"d/dw1 = {dn * 2:.6g}" in printed and f"d/db = {dn:.6g}" in printed


def test_draw_refuses_an_unknown_picture_format(tmp_path, capsys):
    assert main(["draw", "x", "--set", "x=1", "-o", str(tmp_path / "x.txt")]) == 2
    assert "must end in one of" in capsys.readouterr().err
    assert not (tmp_path / "x.txt").exists()


def test_bench_outside_a_source_checkout_says_where_it_ships(tmp_path, monkeypatch, capsys):
    import micrograd.cli as cli

    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages" / "micrograd" / "cli.py"))
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the benchmark lives in the repository" in err and "python bench/run.py" in err


def test_bench_without_pyperf_names_the_extra(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyperf" else real(name, *a))
    assert main(["bench", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install -e '.[bench]'" in err


def test_demo_out_that_is_a_file_fails_before_running(tmp_path, capsys):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    assert main(["demo", "linear_regression", "--out", str(blocker)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # the lesson did not start
    assert captured.err.count("\n") == 1 and "cannot create the folder" in captured.err


@pytest.mark.system
def test_draw_of_a_long_product_is_quick(tmp_path):
    """x*x*...*x with 100 factors (199 characters) ran past 100 s in dot's layout; now the linear-time one."""
    require("dot")
    out = tmp_path / "power.svg"
    r = cli("draw", "*".join(["x"] * 100), "--set", "x=1.01", "-o", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"= {1.01**100:.6g}" in r.stdout or f"= {math.prod([1.01] * 100):.6g}" in r.stdout
    assert out.read_bytes().count(b'class="node"') == 1 + 2 * 99  # x, and an op node and a value per product


def test_draw_into_a_folder_that_cannot_be_made_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = cli("draw", "x", "--set", "x=1", "-o", str(blocker / "sub" / "x.svg"), cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("micrograd: error: -o") and len(r.stderr.strip().splitlines()) == 1


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
