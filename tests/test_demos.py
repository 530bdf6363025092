"""Every demo's quick mode, end to end, asserting its real outcome against an independent reference.

Quick mode runs the same code with fewer steps. References: plain-float
gradient descent (linear regression), NumPy least squares (house prices), a
NumPy forward pass of the moons network, PyTorch-free closed forms. Files
written must exist and be non-empty.
"""
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from micrograd.cli import main as cli_main
from system import require

ROOT = Path(__file__).resolve().parent.parent


def assert_files(result):
    assert result["files"]
    for f in result["files"]:
        assert Path(f).is_file() and Path(f).stat().st_size > 0, f


def test_linear_regression(tmp_path):
    from micrograd.demos import linear_regression as demo
    r = demo.run(quick=True, out=tmp_path)
    assert r["max_grad_diff"] <= 1e-12
    w, b = 0.5, 0.0  # the same descent with the textbook gradients in plain floats
    for _ in range(len(r["losses"])):
        res = [w * x + b - y for x, y in zip([1, 2, 3], [2, 4, 6])]
        w, b = w - 0.01 * sum(x * e for x, e in zip([1, 2, 3], res)), b - 0.01 * sum(res)
    assert r["w"] == pytest.approx(w, abs=1e-12) and r["b"] == pytest.approx(b, abs=1e-12)
    assert r["losses"][0] == 0.5 * (1.5 ** 2 + 3 ** 2 + 4.5 ** 2) and r["losses"][-1] < r["losses"][0] / 10
    assert_files(r)


def test_house_prices_approaches_least_squares(tmp_path):
    from micrograd.data import make_house_prices
    from micrograd.demos import house_prices as demo
    r = demo.run(quick=True, out=tmp_path)
    data = make_house_prices(n=100, n_features=10, rng=demo.SEED)
    A = np.c_[data.X, np.ones(len(data.y))]
    best = np.linalg.lstsq(A, data.y, rcond=None)[0]
    std = data.X.std(axis=0)
    # compare in standardized units, where every weight has the same scale
    assert np.max(np.abs((r["learned"] - best[:-1]) * std)) < 0.1
    assert r["bias"] == pytest.approx(best[-1], abs=1.0)
    assert r["losses"][-1] < r["losses"][0] / 100
    assert_files(r)


def test_moons_value_and_compiled_agree(tmp_path):
    from micrograd.demos import moons as demo
    r = demo.run(quick=True, out=tmp_path)
    assert len(r["value_losses"]) == len(r["compiled_losses"]) == 5
    assert r["max_diff"] <= 1e-9
    assert r["value_losses"][-1] < r["value_losses"][0]
    assert_files(r)
    graph = r["files"][1]
    if graph.suffix == ".dot":  # no Graphviz's dot here: the lesson wrote the DOT source and went on
        assert graph.read_text().startswith("digraph")
        require("dot")  # after the checks above: skips, or fails under MICROGRAD_REQUIRE_SYSTEM=1
    assert graph.read_text().lstrip().startswith(("<?xml", "<svg"))
    # the first loss from a NumPy forward pass of micrograd's initial weights
    from micrograd.data import make_moons
    X, y = make_moons(100, noise=0.1, rng=demo.DATA_SEED, labels="pm1")
    model = demo.micrograd_model()
    h = X
    for i, layer in enumerate(model.layers):
        W = np.array([[w.data for w in n.w] for n in layer.neurons])
        h = h @ W.T + np.array([n.b.data for n in layer.neurons])
        h = np.maximum(h, 0) if i < len(model.layers) - 1 else h[:, 0]
    reg = 1e-4 * sum(p.data ** 2 for p in model.parameters())
    assert r["value_losses"][0] == pytest.approx(np.mean(np.maximum(0, 1 - y * h)) + reg, abs=1e-12)


def test_moons_without_graphviz_still_finishes_and_writes_the_dot_source(tmp_path, monkeypatch, capsys):
    from micrograd.demos import moons as demo
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on PATH: a learner's fresh machine
    r = demo.run(quick=True, out=tmp_path)
    graph = r["files"][1]
    assert graph.suffix == ".dot" and graph.read_text().startswith("digraph")
    assert "install it (apt-get install graphviz" in capsys.readouterr().out
    assert r["max_diff"] <= 1e-9


def test_digits(tmp_path):
    from micrograd.demos import digits as demo
    r = demo.run(quick=True, out=tmp_path)
    assert r["test_accuracy"] >= 0.90
    assert r["loss_diff"] <= 1e-12
    assert r["losses"][0] == pytest.approx(math.log(10), rel=0.5)  # near chance at the start
    assert np.mean(r["losses"][-20:]) < np.mean(r["losses"][:20]) / 3
    assert r["value_seconds_estimate"] > r["compiled_seconds"]
    assert_files(r)


def test_activations(tmp_path):
    from micrograd.demos import activations as demo
    r = demo.run(quick=True, out=tmp_path)
    assert len(r["max_diff"]) == 10
    assert all(d <= 1e-12 for d in r["max_diff"].values()), r["max_diff"]
    assert_files(r)


def test_vanishing_gradients(tmp_path):
    from micrograd.demos import vanishing_gradients as demo
    r = demo.run(quick=True, out=tmp_path)
    sig = r["norms"]["sigmoid"]
    assert sig[0] < sig[-1] / 100  # sigmoid' <= 1/4 per layer: 6 layers shrink it by far more than 100x
    assert all(a < b for a, b in zip(sig, sig[1:]))
    assert r["dying"]["relu"]["zero_grad_units"] >= 1
    assert r["dying"]["leaky_relu"]["zero_grad_units"] == 0
    assert_files(r)


def test_gradient_check(tmp_path):
    from micrograd.demos import gradient_check as demo
    r = demo.run(quick=True, out=tmp_path)
    assert r["network"].passed and r["fixed"].passed
    assert not r["buggy"].passed and r["buggy"].mismatches == [0, 1, 2]
    assert_files(r)


def test_backprop_stepper(tmp_path):
    from micrograd.demos import backprop_stepper as demo
    r = demo.run(quick=True, out=tmp_path)
    o = math.tanh(2 * -3 + 0 * 1 + 6.8813735870195432)
    assert r["output"] == pytest.approx(o, abs=1e-15)
    dn = 1 - o * o
    assert r["grads"]["w1"] == pytest.approx(dn * 2, abs=1e-15)
    assert r["grads"]["x1"] == pytest.approx(dn * -3, abs=1e-15)
    assert r["grads"]["w2"] == 0.0 and r["grads"]["b"] == pytest.approx(dn, abs=1e-15)
    assert "<html" in r["files"][0].read_text().lower()
    assert_files(r)


def test_cli_and_script_run_a_demo(tmp_path, capsys):
    assert cli_main(["demo", "gradient_check", "--quick", "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "gradient_check.png").stat().st_size > 0
    assert "gradcheck caught" in capsys.readouterr().out
    out = tmp_path / "script"
    r = subprocess.run([sys.executable, str(ROOT / "demos" / "linear_regression.py"), "--quick", "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (out / "linear_regression.png").stat().st_size > 0 and "agree to 1e-12" in r.stdout
