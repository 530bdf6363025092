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
from tests.figures import keep_figures

ROOT = Path(__file__).resolve().parent.parent


def assert_short_lines(capsys):
    """Every line a demo prints fits a terminal or a notebook cell (under 100 characters)."""
    out = capsys.readouterr().out
    long = [line for line in out.splitlines() if len(line) >= 100]
    assert out and not long, long


def assert_files(result):
    assert result["files"]
    for f in result["files"]:
        assert Path(f).is_file() and Path(f).stat().st_size > 0, f


@pytest.mark.slow
def test_linear_regression(tmp_path, capsys, figures):
    import re

    from micrograd.demos import linear_regression as demo

    r = demo.run(quick=True, out=tmp_path)
    assert r["max_grad_diff"] <= 1e-12

    def descend(w, b, epochs):  # the same descent with the textbook gradients in plain floats
        for _ in range(epochs):
            res = [w * x + b - y for x, y in zip([1, 2, 3], [2, 4, 6])]
            w, b = w - 0.01 * sum(x * e for x, e in zip([1, 2, 3], res)), b - 0.01 * sum(res)
        return w, b

    w, b = descend(0.5, 0.0, len(r["losses"]))
    assert r["w"] == pytest.approx(w, abs=1e-12) and r["b"] == pytest.approx(b, abs=1e-12)
    assert r["losses"][0] == 0.5 * (1.5**2 + 3**2 + 4.5**2) and r["losses"][-1] < r["losses"][0] / 10
    out = capsys.readouterr().out
    assert out and not [line for line in out.splitlines() if len(line) >= 100]
    assert_files(r)
    # the picture sets the trained line beside the least-squares one (NumPy's answer for the data)
    best = np.linalg.lstsq(np.c_[[1.0, 2.0, 3.0], np.ones(3)], [2.0, 4.0, 6.0], rcond=None)[0]
    ax = figures["linear_regression.png"].axes[0]
    lines = {line.get_label().split(":")[0]: line for line in ax.get_lines()}
    fit, ls = lines[f"after {len(r['losses'])} epochs"], lines["least squares"]
    assert np.allclose(ls.get_ydata(), best[0] * np.asarray(ls.get_xdata()) + best[1], atol=1e-12)
    assert np.allclose(fit.get_ydata(), w * np.asarray(fit.get_xdata()) + b, atol=1e-12)
    # and the lesson says how far apart they are and how long the same descent needs to close the gap
    text = " ".join(out.split())
    gap = math.hypot(w - best[0], b - best[1])
    assert f"gradient descent is still {gap:.3f} away from it" in text
    eig = np.linalg.eigvalsh([[14.0, 6.0], [6.0, 3.0]])  # the Hessian of 1/2 sum (w x + b - y)^2
    assert f"curvatures {eig[1]:.2f} and {eig[0]:.2f}" in text
    total = int(re.search(r"\(([\d,]+) in all\) to get within 0.001", text)[1].replace(",", ""))
    assert math.hypot(*(np.subtract(descend(0.5, 0.0, total), best))) <= 1e-3
    assert math.hypot(*(np.subtract(descend(0.5, 0.0, total - 1), best))) > 1e-3


@pytest.mark.slow
def test_house_prices_approaches_least_squares(tmp_path, capsys):
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
    assert_short_lines(capsys)
    assert_files(r)


@pytest.fixture
def figures(monkeypatch):
    yield from keep_figures(monkeypatch)


def by_name(result):
    return {Path(f).stem: Path(f) for f in result["files"]}


@pytest.mark.slow
def test_moons_value_and_compiled_agree(tmp_path, capsys, figures):
    from micrograd.demos import moons as demo

    r = demo.run(quick=True, out=tmp_path)
    assert len(r["value_losses"]) == len(r["compiled_losses"]) == 5
    assert r["max_diff"] <= 1e-9
    assert r["value_losses"][-1] < r["value_losses"][0]
    assert_files(r)
    assert_short_lines(capsys)
    # the first loss from a NumPy forward pass of micrograd's initial weights
    from micrograd.data import make_moons

    X, y = make_moons(100, noise=0.1, rng=demo.DATA_SEED, labels="pm1")
    model = demo.micrograd_model()
    h = X
    for i, layer in enumerate(model.layers):
        W = np.array([[w.data for w in n.w] for n in layer.neurons])
        h = h @ W.T + np.array([n.b.data for n in layer.neurons])
        h = np.maximum(h, 0) if i < len(model.layers) - 1 else h[:, 0]
    reg = 1e-4 * sum(p.data**2 for p in model.parameters())
    assert r["value_losses"][0] == pytest.approx(np.mean(np.maximum(0, 1 - y * h)) + reg, abs=1e-12)
    # the loss picture: both curves on one axis, with their data and the wall times
    fig = figures["moons_losses.png"]
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert [list(line.get_ydata()) for line in lines] == [r["value_losses"], r["compiled_losses"]]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        f"Value path ({r['value_seconds']:.2f} s)",
        f"compiled path ({r['compiled_seconds'] * 1e3:.2f} ms)",
    ]
    # the training page replays the very run that was timed
    assert r["record"].history == r["compiled_losses"]
    assert "<html" in by_name(r)["moons_training"].read_text()[:200].lower()
    # one colour per class: each point of the boundary picture has the colour the page gives its class
    page_colors = page_data(by_name(r)["moons_training"])["colors"]
    assert_class_colors(figures["moons_boundary.png"], X, y, page_colors)


def page_data(path) -> dict:
    """The data a training page embeds (its <script id="data"> JSON)."""
    import json
    import re

    return json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', path.read_text(), re.S)[1])


def assert_class_colors(fig, X, y, colors) -> None:
    """The scatter of fig draws every point of X in the page's dot colour of its class (+1 red, -1 blue:
    the page's rule ``classOf``), and the top moon (the points with the largest y coordinates) is blue."""
    from matplotlib.colors import to_hex

    (ax,) = fig.axes
    (points,) = [c for c in ax.collections if len(c.get_offsets()) == len(X)]
    assert np.allclose(points.get_offsets(), X)
    faces = [to_hex(c) for c in points.get_facecolors()]
    assert faces == [colors["dot"][1 if label > 0 else 0] for label in y]
    top = np.argsort(X[:, 1])[-10:]
    assert {faces[i] for i in top} == {colors["dot"][0]} and colors["dot"][0] == "#08519c"  # blue


def graph_nodes(text: str) -> dict:
    """DOT source (or the titles and texts of dot's SVG): node id -> the node's label text."""
    import html
    import re

    if text.lstrip().startswith("digraph"):
        return {nid: label.strip("{} ") for nid, label in re.findall(r'^\s*(\w+) \[label="([^"]*)"', text, re.M)}
    nodes = {}
    for m in re.finditer(r"<title>(\w+)</title>(.*?)</g>", text, re.S):
        nodes[m.group(1)] = html.unescape(" | ".join(re.findall(r">([^<]+)</text>", m.group(2))))
    return nodes


@pytest.mark.parametrize("suffix", [".dot", pytest.param(".svg", marks=pytest.mark.system)])
def test_moons_graph_shows_a_gradient_a_legend_and_neurons_in_reading_order(tmp_path, suffix):
    import re

    if suffix == ".svg":
        from tests.system import require

        require("dot")
    from micrograd.data import make_moons
    from micrograd.demos import moons as demo
    from micrograd.viz.colors import ZERO_COLOR

    X, y = make_moons(100, noise=0.1, rng=demo.DATA_SEED, labels="pm1")
    model = demo.micrograd_model()
    path, sample, trained = demo.draw_sample_graph(model, X.tolist(), y.tolist(), tmp_path / f"g{suffix}")
    margin, i = min((yi * model(x).data, k) for k, (x, yi) in enumerate(zip(X.tolist(), y.tolist())))
    assert sample == i and margin < 1 and trained  # the hardest sample: inside the margin, a gradient
    text = path.read_text()
    nodes = graph_nodes(text)
    boxes = {nid: label for nid, label in nodes.items() if label.startswith("Neuron")}
    assert len(boxes) == 16 + 16 + 1  # one box per neuron
    loss_label = next(label for label in nodes.values() if label.startswith("hinge loss"))
    assert float(re.search(r"data ([-\d.]+)", loss_label).group(1)) == pytest.approx(1 - margin, abs=1e-4)
    fills = re.findall(r'fillcolor="(#[0-9a-f]{6})"' if path.suffix == ".dot" else r'fill="(#[0-9a-f]{6})"', text)
    grey = fills.count(ZERO_COLOR)
    assert len(fills) >= 33 and grey < len(fills) / 2, (grey, len(fills))  # not an all-grey picture
    # a box is filled by the gradient that reaches its neuron's weights: one sample, so each
    # parameter's grad after backward() is exactly that; a ReLU at 0 passes none and is grey
    score = model(X.tolist()[i])
    loss = (1 + -y.tolist()[i] * score).relu()
    model.zero_grad()
    loss.backward()
    neurons = {f"Neuron {k}.{j}": n for k, layer in enumerate(model.layers) for j, n in enumerate(layer.neurons)}
    fill_of = box_fills(text)
    off = 0
    for nid, label in boxes.items():
        neuron = neurons[label.split(" | ")[0]]
        reach = max(abs(p.grad) for p in neuron.parameters())
        out = float(re.search(r"out data ([-\d.]+)", label).group(1))
        if reach == 0.0:
            off += 1
            assert out == 0.0 and "no gradient reaches its weights" in label, label
            assert fill_of[nid] == ZERO_COLOR, label
        else:
            assert f"to its weights: |grad| {reach:.4f}" in label.replace("\\", ""), label
            assert fill_of[nid] != ZERO_COLOR, label
    assert off >= 1  # this sample has ReLUs at 0 whose out grad is not 0: they must not look bright
    assert "Neuron 1.10 = layer 1, neuron 10" in text and "50 nodes = the Values inside: 16 weights" in text
    if path.suffix == ".dot":  # the DOT source says how dot must order the columns
        assert re.search(r"ordering=in", text)
        return
    # rendered: each column of boxes reads neuron 0, 1, 2, ... from the top
    columns = {}
    for m in re.finditer(r'<title>(m\d+)</title>\s*<path[^>]*d="M[\d.-]+,([\d.-]+)', text):
        layer, j = map(int, re.match(r"Neuron (\d+)\.(\d+)", boxes[m.group(1)]).groups())
        columns.setdefault(layer, []).append((float(m.group(2)), j))
    for layer, col in columns.items():
        assert [j for _, j in sorted(col)] == list(range(len(col))), layer


def box_fills(text: str) -> dict:
    """Node id -> its fill colour, from DOT source or dot's SVG."""
    import re

    if text.lstrip().startswith("digraph"):
        return {nid: c for nid, c in re.findall(r'^\s*(\w+) \[[^\n]*?fillcolor="(#[0-9a-f]{6})"', text, re.M)}
    return dict(re.findall(r'<title>(\w+)</title>\s*<path fill="(#[0-9a-f]{6})"', text))


@pytest.mark.slow
def test_moons_without_graphviz_still_finishes_and_writes_the_dot_source(tmp_path, monkeypatch, capsys):
    from micrograd.demos import moons as demo

    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on PATH: a learner's fresh machine
    r = demo.run(quick=True, out=tmp_path)
    graph = by_name(r)["moons_graph"]
    assert graph.suffix == ".dot" and graph.read_text().startswith("digraph")
    out = capsys.readouterr().out
    assert "install it (apt-get install graphviz" in " ".join(out.split())
    assert not [line for line in out.splitlines() if len(line) >= 100]
    assert r["max_diff"] <= 1e-9


@pytest.mark.slow
def test_digits(tmp_path, capsys):
    from micrograd.demos import digits as demo

    r = demo.run(quick=True, out=tmp_path)
    assert r["test_accuracy"] >= 0.90
    assert r["loss_diff"] <= 1e-12
    assert r["losses"][0] == pytest.approx(math.log(10), rel=0.5)  # near chance at the start
    assert np.mean(r["losses"][-20:]) < np.mean(r["losses"][:20]) / 3
    assert r["value_seconds_estimate"] > r["compiled_seconds"]
    assert_short_lines(capsys)
    assert_files(r)


def test_activations(tmp_path, capsys):
    from micrograd.demos import activations as demo

    r = demo.run(quick=True, out=tmp_path)
    assert len(r["max_diff"]) == 10
    assert all(d <= 1e-12 for d in r["max_diff"].values()), r["max_diff"]
    assert_short_lines(capsys)
    assert_files(r)


def value_path_rates(model, X) -> np.ndarray:
    """Each hidden unit's fraction of rows with pre-activation > 0, read off the Value graph."""
    active = []
    for row in X:
        model(row)
        active.append(
            [
                n._last_io[1][0]._children[0].data > 0  # w.x + b, before the nonlinearity
                for layer in model.layers[:-1]
                for n in layer.neurons
            ]
        )
    return np.mean(active, axis=0)


@pytest.mark.slow
def test_vanishing_gradients(tmp_path, capsys, figures):
    import re

    from micrograd.data import make_moons
    from micrograd.demos import vanishing_gradients as demo

    r = demo.run(quick=True, out=tmp_path)
    sig = r["norms"]["sigmoid"]
    assert sig[0] < sig[-1] / 100  # sigmoid' <= 1/4 per layer: 6 layers shrink it by far more than 100x
    assert all(a < b for a, b in zip(sig, sig[1:]))
    relu, leaky = r["dying"]["relu"], r["dying"]["leaky_relu"]
    # a dead ReLU unit gets a gradient of exactly 0; a leaky one negative everywhere still gets one
    assert relu["dead_after_big_step"] >= 1 and relu["dead_with_zero_grad"] == relu["dead_after_big_step"]
    assert leaky["dead_with_zero_grad"] == 0
    X = make_moons(60, noise=0.1, rng=0, labels="pm1")[0].tolist()
    out = capsys.readouterr().out
    assert not [line for line in out.splitlines() if len(line) >= 100]
    text = " ".join(out.split())  # the prose, unwrapped
    for act, d in r["dying"].items():
        assert np.array_equal(d["rates"][-1], value_path_rates(d["model"], X))  # the last frame, independently
        assert d["dead_after_big_step"] == np.sum(d["rates"][1] == 0) and d["dead_at_end"] == np.sum(
            d["rates"][-1] == 0
        )
        row = re.search(rf"^{act} +(\d+)/32 +(\d+)/32 +(\d+)/32", out, re.M).groups()
        assert list(map(int, row)) == [d["dead_before"], d["dead_after_big_step"], d["dead_at_end"]]
    assert f"after the step at lr 10, {relu['dead_after_big_step']} of 32 units are dead" in text
    assert f"{relu['dead_at_end']} are dead after 10 steps" in text
    assert "dead at a step when w.x + b <= 0 on every one of the 60 examples" in text  # what "dead" means
    # the picture: one panel per activation, each unit's rate over the steps, the counts in the titles
    fig = figures["dying_relu.png"]
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 2
    for ax, (act, d) in zip(panels, r["dying"].items()):
        assert np.array_equal(ax.images[0].get_array(), d["rates"].T)
        assert ax.get_title().startswith(
            f"{act}: {d['dead_after_big_step']}/32 red after the lr-10 step, {d['dead_at_end']}/32 at the end"
        )
        assert ax.images[0].cmap.get_under()[:3] == pytest.approx((0xD6 / 255, 0x27 / 255, 0x28 / 255))
    # every unit the picture shows dead after the big step and alive later is told, with its steps
    drawn = np.asarray(panels[0].images[0].get_array()).T  # (steps, units): the ReLU panel
    back = {}
    for unit in np.flatnonzero(drawn[1] == 0):
        alive = [k for k in range(2, len(drawn)) if drawn[k, unit] > 0]
        if alive:
            back[int(unit)] = alive
    assert back, "the quick run has a unit that comes back (unit 25 at steps 3-6)"
    told = re.search(r"comes back only when layer 0 moves its inputs: (\d+) came back, (.*?); \d+ more died", text)
    assert told and int(told[1]) == len(back)
    for unit, alive in back.items():
        m = re.search(rf"unit {unit} at steps? ([\d\-, and]+) \((alive|dead again) at the end\)", told[2])
        assert m, (unit, told[2])
        shown = []
        for part in re.split(r", | and ", m[1].strip()):
            a, _, b = part.partition("-")
            shown += list(range(int(a), int(b or a) + 1))
        assert shown == alive and (m[2] == "alive") == (alive[-1] == len(drawn) - 1)
    already = int(np.sum((drawn[0] == 0) & (drawn[1] == 0)))
    assert f"({already} of them {'was' if already == 1 else 'were'} dead before it already)" in text
    assert_files(r)


@pytest.mark.parametrize("dot", ["missing", pytest.param("installed", marks=pytest.mark.system)])
def test_vanishing_graph_is_named_and_fits_a_screen(tmp_path, monkeypatch, dot):
    import re

    from micrograd.demos import vanishing_gradients as demo

    if dot == "installed":
        from tests.system import require

        require("dot")
    else:
        monkeypatch.setenv("PATH", str(tmp_path))
    path = demo.fading_chain(tmp_path)
    text = path.read_text()
    nodes = graph_nodes(text)
    names = {label.split(" | ")[0] for label in nodes.values()}
    for k in range(1, 7):
        assert {f"w{k}", f"b{k}", f"z{k}"} <= names
    assert {f"a{k} = sigmoid(z{k})" for k in range(1, 6)} <= names and "x" in names
    unnamed = [label for label in nodes.values() if label.startswith("| data") or label.startswith("data")]
    assert not unnamed
    if dot == "missing":
        assert path.suffix == ".dot" and "rankdir=TB" in text
        return
    width, height = map(float, re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', text).groups())
    assert width < 1600, width  # fits a screen: not one long line from left to right


def test_gradient_check(tmp_path, capsys):
    from micrograd.demos import gradient_check as demo

    r = demo.run(quick=True, out=tmp_path)
    assert r["network"].passed and r["fixed"].passed
    assert not r["buggy"].passed and r["buggy"].mismatches == [0, 1, 2]
    assert_short_lines(capsys)
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


@pytest.mark.slow
def test_cli_and_script_run_a_demo(tmp_path, capsys):
    assert cli_main(["demo", "gradient_check", "--quick", "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "gradient_check.png").stat().st_size > 0
    assert "gradcheck caught" in capsys.readouterr().out
    out = tmp_path / "script"
    r = subprocess.run(
        [sys.executable, str(ROOT / "demos" / "linear_regression.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert (out / "linear_regression.png").stat().st_size > 0 and "agree to 1e-12" in r.stdout
