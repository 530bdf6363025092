"""The command line: help at every level, one-line errors with exit status 2, a safe expression parser.

Errors are checked through a real subprocess (``python -m micrograd``), so what
the user sees (stderr, exit status, no traceback) is what is asserted.
"""

import math
import subprocess
import sys

import pytest
from system import require

from micrograd.cli import UsageError, main, parse_expression
from micrograd.demos import DEMOS


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
        (["draw", "9**9**9"], "overflows float64"),  # 9 ** 387420489: a traceback before, now one line
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


def test_expression_matches_the_hand_written_neuron():
    env = dict(x1=2.0, w1=-3.0, x2=0.0, w2=1.0, b=6.8813735870195432)
    out = parse_expression("tanh(x1*w1 + x2*w2 + b)", env)
    n = env["x1"] * env["w1"] + env["x2"] * env["w2"] + env["b"]
    assert out.data == pytest.approx(math.tanh(n), abs=1e-15)
    out.backward()
    leaves = {v.label: v for v in _leaves(out)}
    dn = 1 - math.tanh(n) ** 2  # d tanh(n) / dn
    assert leaves["w1"].grad == pytest.approx(dn * env["x1"], abs=1e-15)
    assert leaves["x1"].grad == pytest.approx(dn * env["w1"], abs=1e-15)
    assert leaves["b"].grad == pytest.approx(dn, abs=1e-15)


def test_expression_operators_and_functions_against_math():
    x, y = 1.5, -0.5
    text = "-x**2 + 2**x - y/x + exp(y) * log(x) + sigmoid(y) + relu(y) + leaky_relu(y, 0.2) + abs(y)"
    want = -(x**2) + 2**x - y / x + math.exp(y) * math.log(x) + 1 / (1 + math.exp(-y)) + max(y, 0) + 0.2 * y + abs(y)
    assert parse_expression(text, {"x": x, "y": y}).data == pytest.approx(want, rel=1e-14)


def test_a_name_used_twice_is_one_leaf():
    out = parse_expression("x*x + x", {"x": 3.0})
    out.backward()
    (leaf,) = _leaves(out)
    assert leaf.grad == 2 * 3.0 + 1


@pytest.mark.parametrize(
    "text",
    [
        "x.__class__",
        "x[0]",
        "[x]",
        "lambda: x",
        "x if x else x",
        "'x'",
        "True",
        "x @ x",
        "x // 2",
        "open('f')",
        "tanh(x)(x)",
        "tanh(x, x)",
        "leaky_relu(x, x)",
        "tanh(x=x)",
        "x +",
        "x" + "+x" * 2000,
    ],
)
def test_parser_refuses_everything_else(text):
    with pytest.raises(UsageError):
        parse_expression(text, {"x": 1.0})


def test_domain_errors_are_usage_errors():
    with pytest.raises(UsageError, match="division by zero"):
        parse_expression("1/x", {"x": 0.0})
    with pytest.raises(UsageError, match="not in the expression"):
        parse_expression("x", {"x": 1.0, "z": 2.0})


def _leaves(root):
    from micrograd.engine import topological_order

    return [v for v in topological_order([root]) if not v._children and v.label]


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
    assert "ships with the source checkout" in capsys.readouterr().err


def test_demo_out_that_is_a_file_fails_before_running(tmp_path, capsys):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    assert main(["demo", "linear_regression", "--out", str(blocker)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # the lesson did not start
    assert captured.err.count("\n") == 1 and "cannot create the folder" in captured.err


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
