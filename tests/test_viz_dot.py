"""draw_dot and save_graph: the drawn structure read back from the DOT source, real SVG/PNG from dot.

Expected structures come from the definitions (micrograd's neuron computes
act = sum(w_i * x_i, b) then its activation; derivatives in closed form),
never from our own output.
"""

import math
import random
import re
import time
import xml.etree.ElementTree as ET

import pytest

from micrograd.engine import Value, topological_order
from micrograd.nn import MLP
from micrograd.viz import draw_dot, record_calls, save_graph
from micrograd.viz.examples import deep_sigmoid, horner, power_chain, tanh_neuron
from tests.system import require

NODE = re.compile(r"^\s*(\w+) \[(.*)\]$")
EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$")
ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|<<.*>>|[^ \]]+)')
LEGEND_ROW = re.compile(r'BGCOLOR="(#[0-9a-f]{6})" WIDTH="24"> </TD><TD ALIGN="LEFT">([^<]*)</TD>')


def parse(source):
    """(nodes {id: attrs}, edges [(src, dst, attrs)]) from a DOT source."""
    nodes, edges = {}, []
    for line in source.splitlines():
        if m := EDGE.match(line):
            edges.append((m[1], m[2], attrs(m[3] or "")))
        elif (m := NODE.match(line)) and m[1] not in ("graph", "node", "edge"):
            nodes[m[1]] = attrs(m[2])
    return nodes, edges


def attrs(text):
    return {k: v[1:-1] if v.startswith('"') else v for k, v in ATTR.findall(text)}


def fields(label):
    """'{ x1 | data 2.0000 | grad -1.5000 }' -> ['x1', 'data 2.0000', 'grad -1.5000']"""
    return [f.strip() for f in label.strip("{} ").split(" | ")]


def neuron():
    """micrograd's two-input tanh neuron and its Values by label."""
    o = tanh_neuron()
    return o, {v.label: v for v in topological_order([o])}


def test_neuron_drawn_as_micrograd_draws_it():
    o, v = neuron()
    o.backward()
    nodes, edges = parse(draw_dot(o).source)
    records = {fields(a["label"])[0]: fields(a["label"]) for a in nodes.values() if a.get("shape") == "record"}
    ops = {k: a["label"] for k, a in nodes.items() if a.get("shape") != "record"}
    assert len(records) == 10 and sorted(ops.values()) == ["*", "*", "+", "+", "tanh"]
    # closed form: do/dn = 1 - tanh(n)^2, the sums pass it on, a product multiplies by the other factor
    dn = 1 - math.tanh(2.0 * -3.0 + 0.0 * 1.0 + 6.8813735870195432) ** 2
    want = {
        "x1": -3.0 * dn,
        "w1": 2.0 * dn,
        "x2": 1.0 * dn,
        "w2": 0.0,
        "b": dn,
        "x1*w1": dn,
        "x2*w2": dn,
        "x1*w1 + x2*w2": dn,
        "n": dn,
        "o": 1.0,
    }
    for name, g in want.items():
        assert records[name] == [name, f"data {v[name].data:.4f}", f"grad {g:.4f}"]
    # edges: operand -> op node -> result; read back as (operands, op, result) triples
    label = {k: fields(a["label"])[0] if a.get("shape") == "record" else a["label"] for k, a in nodes.items()}
    result = {s: d for s, d, _ in edges if s in ops}
    operands = {}
    for s, d, _ in edges:
        if d in ops:
            operands.setdefault(d, []).append(label[s])
    got = {(tuple(sorted(operands[op])), label[op], label[result[op]]) for op in ops}
    assert got == {
        (("w1", "x1"), "*", "x1*w1"),
        (("w2", "x2"), "*", "x2*w2"),
        (("x1*w1", "x2*w2"), "+", "x1*w1 + x2*w2"),
        (("b", "x1*w1 + x2*w2"), "+", "n"),
        (("n",), "tanh", "o"),
    }
    assert len(edges) == 5 + 9


def test_square_draws_two_edges_and_source_is_deterministic():
    def build():
        x = Value(3.0, label="x")
        y = x * x - x
        return y, x

    y, x = build()
    src = draw_dot(y).source
    nodes, edges = parse(src)
    xid = next(k for k, a in nodes.items() if fields(a.get("label", ""))[0] == "x")
    mul = next(k for k, a in nodes.items() if a.get("label") == "*")
    assert sum(1 for s, d, _ in edges if (s, d) == (xid, mul)) == 2
    assert draw_dot(build()[0]).source == src  # node ids from the topological order, not id()


def test_show_grad_off_and_record_escaping():
    a = Value(1.5, label="a|{b}<c>")
    nodes, _ = parse(draw_dot(a * 2, show_grad=False).source)
    labels = [x["label"] for x in nodes.values() if x.get("shape") == "record"]
    assert all("grad" not in lab for lab in labels)
    assert any(lab.startswith(r"{ a\|\{b\}\<c\> | data 1.5000") for lab in labels)


def legend(source):
    """[(colour, lo exponent, hi exponent)] and the zero colour, from the legend table."""
    bins, zero = [], None
    for colour, text in LEGEND_ROW.findall(source):
        if text == "grad = 0":
            zero = colour
        elif m := re.fullmatch(r"1e(-?\d+) &lt;= \|grad\| &lt; 1e(-?\d+)", text):
            bins.append((colour, int(m[1]), int(m[2])))
    return bins, zero


def test_color_by_grad_follows_the_legend_and_shows_vanishing_gradients():
    out = deep_sigmoid(depth=10)
    xs = [v for v in topological_order([out]) if v.label in ("x0", "x1")]
    dead = Value(-1.0)
    root = out + dead.relu()  # dead's gradient is exactly 0
    root.backward()
    src = draw_dot(root, color_by="grad").source
    bins, zero = legend(src)
    assert zero is not None and len(bins) >= 4 and len({c for c, _, _ in bins}) == len(bins)
    nodes, _ = parse(src)
    topo = topological_order([root])
    for i, v in enumerate(topo):
        fill = nodes[f"v{i}"]["fillcolor"]
        if v.grad == 0.0:
            assert fill == zero
        else:
            hits = [c for c, lo, hi in bins if 10.0**lo <= abs(v.grad) < 10.0**hi]
            assert hits == [fill], (v, hits, fill)
    # the inputs' gradients vanished: their colour sits decades below the output's
    rank = {c: lo for c, lo, _ in bins}
    assert (
        rank[nodes[f"v{topo.index(root)}"]["fillcolor"]]
        - max(rank[nodes[f"v{topo.index(x)}"]["fillcolor"]] for x in xs)
        >= 3
    )


def clusters(source):
    """{cluster name: (label, parent cluster or None, [node ids directly inside])}"""
    out, stack = {}, []
    for line in source.splitlines():
        if m := re.match(r"\s*subgraph (cluster_\w+) \{", line):
            out[m[1]] = [None, stack[-1] if stack else None, []]
            stack.append(m[1])
        elif line.strip() == "}" and stack:
            stack.pop()
        elif stack and (m := re.match(r"\s*graph \[(.*)\]$", line)):
            out[stack[-1]][0] = attrs(m[1])["label"]
        elif stack and (m := NODE.match(line)) and m[1] not in ("graph", "node", "edge"):
            out[stack[-1]][2].append(m[1])
    return out


def hinge_loss(model, X, Y):
    """micrograd's demo loss: mean of relu(1 - y * score)."""
    return sum((1 + -yi * model(xi)).relu() for xi, yi in zip(X, Y)) * (1.0 / len(X))


def test_cluster_modules_boxes_each_neuron_and_layer():
    model = MLP(2, [3, 1], rng=0)
    x = [Value(0.5, label="in0"), Value(-1.0, label="in1")]
    loss = hinge_loss(model, [x], [1.0])
    loss.backward()
    src = draw_dot(loss, model=model, cluster_modules=True).source
    cl = clusters(src)
    titles = sorted(label for label, _, _ in cl.values())
    assert titles == ["Layer 0", "Layer 1", "MLP", "Neuron 0.0", "Neuron 0.1", "Neuron 0.2", "Neuron 1.0"]
    by_title = {label: (name, parent, ids) for name, (label, parent, ids) in cl.items()}
    nodes, _ = parse(src)
    for title, (_name, parent, ids) in by_title.items():
        values = [i for i in ids if nodes[i].get("shape") == "record"]
        if title.startswith("Neuron"):
            nin = 2 if title.startswith("Neuron 0") else 3
            relu = title.startswith("Neuron 0")
            # nin weights + bias, nin products, nin sums, then the ReLU (the last layer is linear)
            assert len(values) == 1 + 3 * nin + relu, title
            assert cl[parent][0] == "Layer " + title.split()[1][0]
        elif title.startswith("Layer"):
            assert values == [] and cl[parent][0] == "MLP"
        else:
            assert values == [] and parent is None
    inside = {i for _, _, ids in cl.values() for i in ids}
    outside = [fields(a["label"])[0] for k, a in nodes.items() if k not in inside and a.get("shape") == "record"]
    assert "in0" in outside and "in1" in outside


def moons_graph(n=10, record=True):
    rng = random.Random(1)
    model = MLP(2, [16, 16, 1], rng=2)
    X = [[Value(rng.uniform(-1, 2)), Value(rng.uniform(-1, 1))] for _ in range(n)]
    Y = [rng.choice([-1.0, 1.0]) for _ in range(n)]
    if record:
        with record_calls(model):
            loss = hinge_loss(model, X, Y)
    else:
        loss = hinge_loss(model, X, Y)
    loss.backward()
    return model, loss


def test_collapse_layer_one_summary_per_call():
    model, loss = moons_graph()
    nodes, edges = parse(draw_dot(loss, model=model, collapse="layer").source)
    summary = {k: fields(a["label"]) for k, a in nodes.items() if k.startswith("m")}
    assert len(summary) == 3 * 10
    for f in summary.values():
        title, count = f[0], int(f[1].split()[0])
        layer = int(title.split()[1])
        call = int(re.search(r"call (\d+)/10", title)[1])
        nin, nout = (2, 16, 16)[layer], (16, 16, 1)[layer]
        made = nout * (2 * nin + (layer < 2))  # products, sums, ReLU per neuron
        params = nout * (nin + 1) if call == 10 else 0  # parameters sit with the last call
        assert count == made + params, f
    # each call's layers feed one another, never another call's
    title = {k: f[0] for k, f in summary.items()}
    links = {(title[s], title[d]) for s, d, _ in edges if s in summary and d in summary}
    assert links == {(f"Layer {i} (call {c}/10)", f"Layer {i + 1} (call {c}/10)") for i in (0, 1) for c in range(1, 11)}
    assert len(nodes) < 200


def test_collapsed_calls_are_filled_by_the_gradient_that_reaches_their_weights():
    """Each call's share of its neuron's weight gradients, against the same sample's loss alone (its own
    backward, scaled by the batch mean's 1/n); a ReLU at 0 passes none: grey, whatever its output's grad."""
    from micrograd.viz.colors import ZERO_COLOR

    model, loss = moons_graph(n=4)
    nodes, _ = parse(draw_dot(loss, model=model, collapse="neuron", color_by="grad").source)
    rng = random.Random(1)  # moons_graph's samples again, one at a time
    X = [[Value(rng.uniform(-1, 2)), Value(rng.uniform(-1, 1))] for _ in range(4)]
    Y = [rng.choice([-1.0, 1.0]) for _ in range(4)]
    neurons = {f"Neuron {k}.{j}": n for k, layer in enumerate(model.layers) for j, n in enumerate(layer.neurons)}
    seen = {"grey": 0, "coloured": 0}
    for k, (x, yk) in enumerate(zip(X, Y)):
        alone = (1 + -yk * model(x)).relu() * (1.0 / 4)
        model.zero_grad()
        alone.backward()
        for a in nodes.values():
            f = fields(a.get("label", ""))
            title = re.fullmatch(r"(Neuron \d+\.\d+) \(call (\d+)/4\)", f[0]) if f else None
            if title is None or int(title[2]) != k + 1:
                continue
            reach = max(abs(p.grad) for p in neurons[title[1]].parameters())
            if reach == 0.0:
                assert f[-1] == "no gradient reaches its weights" and a["fillcolor"] == ZERO_COLOR, f
                seen["grey"] += 1
            else:
                shown = float(f[-1].split()[-1])
                assert f[-1].startswith("to its weights: \\|grad\\| ") and shown == pytest.approx(reach, abs=1e-4)
                assert a["fillcolor"] not in (ZERO_COLOR, "#dbe9f6"), f
                seen["coloured"] += 1
    assert seen["grey"] >= 1 and seen["coloured"] >= 1, seen


def test_collapse_automatic_above_the_budget():
    model, loss = moons_graph()
    full = len(parse(draw_dot(loss, model=model, collapse=False).source)[0])
    auto = draw_dot(loss, model=model, max_nodes=200).source
    assert full > 5000 and len(parse(auto)[0]) <= 200
    assert auto in (draw_dot(loss, model=model, collapse=c).source for c in ("neuron", "layer", "mlp"))
    # without record_calls only the last call is known: that one is still collapsed,
    # also when an older recorded graph lingers on the modules
    model, _ = moons_graph(n=1)
    loss = hinge_loss(model, [[Value(0.1), Value(0.2)], [Value(0.3), Value(0.4)]], [1.0, -1.0])
    nodes, _ = parse(draw_dot(loss, model=model, collapse="neuron").source)
    assert sum(k.startswith("m") for k in nodes) == 33


def test_highlight_a_path():
    o, v = neuron()
    path = [v["x1"], v["x1*w1"], v["x1*w1 + x2*w2"], v["n"], v["o"]]
    nodes, edges = parse(draw_dot(o, highlight=path).source)
    ids = {fields(a["label"])[0]: k for k, a in nodes.items() if a.get("shape") == "record"}
    thick = {k for k, a in nodes.items() if a.get("penwidth") == "3"}
    assert {ids[n] for n in ("x1", "x1*w1", "x1*w1 + x2*w2", "n", "o")} <= thick
    assert not {ids[n] for n in ("w1", "x2", "w2", "b", "x2*w2")} & thick
    red = [(s, d) for s, d, a in edges if a.get("penwidth") == "3"]
    # operand -> op and op -> result along the path: 4 links, two edges each
    assert len(red) == 8 and (ids["x1"], ids["x1*w1"] + "op") in red
    with pytest.raises(ValueError, match="not in the drawn graph"):
        draw_dot(o, highlight=[Value(1.0)])


@pytest.mark.system
def test_save_graph_svg_png_dot(tmp_path):
    require("dot")
    o, _ = neuron()
    o.backward()
    nodes, _ = parse(draw_dot(o).source)
    svg = save_graph(o, tmp_path / "n.svg")
    root = ET.parse(svg).getroot()
    groups = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"]
    assert len(groups) == len(nodes) == 15
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "grad -1.5000" in texts and "x1" in texts
    png = save_graph(o, tmp_path / "n.png", color_by="grad")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert save_graph(o, tmp_path / "n.dot").read_text() == draw_dot(o).source
    assert "grad &#45;1.5000" in draw_dot(o)._repr_mimebundle_()["image/svg+xml"]  # Jupyter shows it inline
    with pytest.raises(ValueError, match="unknown suffix"):
        save_graph(o, tmp_path / "n.jpeg2")


def test_missing_dot_program_says_how_to_install(tmp_path, monkeypatch):
    o, _ = neuron()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RuntimeError) as e:
        save_graph(o, tmp_path / "n.svg")
    assert "Graphviz's 'dot' program was not found" in str(e.value) and "apt-get install graphviz" in str(e.value)
    assert str(tmp_path / "n.dot") in str(e.value)
    assert (tmp_path / "n.dot").read_text() == draw_dot(o).source
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        draw_dot(o).pipe()  # what Jupyter calls to show it inline


@pytest.mark.system
def test_full_mlp_graph_draws_fast_enough(tmp_path):
    """2-16-16-1 MLP + hinge loss over 10 samples, uncollapsed: DOT source and SVG (issue target 5 s)."""
    require("dot")
    model, loss = moons_graph(record=False)
    t0 = time.perf_counter()
    g = draw_dot(loss)
    src = g.source
    svg = g.pipe(format="svg")
    elapsed = time.perf_counter() - t0
    print(f"full MLP graph: {len(topological_order([loss]))} Values, DOT + SVG in {elapsed:.2f} s")
    nodes, edges = parse(src)
    assert svg.count(b'class="node"') == len(nodes)
    # the layered layout puts every operand left of the op that uses it
    x = {k: float(a["pos"].split(",")[0]) for k, a in nodes.items()}
    assert all(x[s] < x[d] for s, d, _ in edges)
    assert elapsed < 15.0  # a loose bound, so that a busy machine passes; the report gives the measured figure


def test_record_calls_restores_the_classes_and_nan_grads_get_their_colour():
    from micrograd.nn import Layer, Neuron

    before = (MLP.__call__, Layer.__call__, Neuron.__call__)
    model, _ = moons_graph(n=2)
    assert (MLP.__call__, Layer.__call__, Neuron.__call__) == before
    x = Value(1.0)
    y = x * 2.0
    x.grad, y.grad = math.nan, 1.0  # the drawing only reads .grad
    src = draw_dot(y, color_by="grad").source
    nodes, _ = parse(src)
    nan_rows = [c for c, text in LEGEND_ROW.findall(src) if text == "grad nan or inf"]
    assert nan_rows and nodes["v0"]["fillcolor"] == nan_rows[0] != nodes["v2"]["fillcolor"]


def test_importing_viz_leaves_the_compiler_alone():
    import subprocess
    import sys

    code = (
        "import sys, micrograd.viz as v; assert 'micrograd.compiler' not in sys.modules; "
        "assert callable(v.draw_program)"
    )  # draw_program loads on first use
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_options_say_what_to_do():
    o, _ = neuron()
    model = MLP(2, [1], rng=0)
    for kwargs, match in [
        (dict(rankdir="XY"), "rankdir"),
        (dict(color_by="data"), "color_by"),
        (dict(collapse="layer"), "need the model"),
        (dict(model=model, collapse="block"), "module kinds"),
        (dict(model=model, cluster_modules=True, layout="fast"), "layout='auto' or 'dot'"),
    ]:
        with pytest.raises(ValueError, match=match):
            draw_dot(o, **kwargs)


@pytest.mark.system
@pytest.mark.parametrize("root", [horner(50), power_chain(100), power_chain(1000)], ids=["horner50", "x^100", "x^1000"])
def test_long_edges_use_the_linear_time_layout(tmp_path, root):
    """x used by every op: dot's own layout took 34 s (Horner, 151 Values) and over 100 s (x*...*x, 100 factors)."""
    require("dot")
    root.backward()
    assert "layout=nop" in draw_dot(root).source  # the rule picks the fast layout, before any timing
    t0 = time.perf_counter()
    save_graph(root, tmp_path / "g.svg")
    elapsed = time.perf_counter() - t0
    assert (tmp_path / "g.svg").read_bytes().count(b'class="node"') == len(parse(draw_dot(root).source)[0])
    assert elapsed < 10.0  # under 0.2 s on a quiet machine (bench/studies/draw_time.py); loose for a busy one


def test_small_graphs_keep_dots_own_layout():
    assert "layout=nop" not in draw_dot(horner(10)).source and "layout=nop" not in draw_dot(power_chain(20)).source
