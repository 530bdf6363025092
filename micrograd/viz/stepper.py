"""The backprop stepper: one self-contained HTML page that walks through backward() node by node.

``backprop_steps(root)`` replays the chain rule in Python, exactly as
``Value.backward()`` does (same op-table derivatives, same order, same float
operations), and records every step: step 0 is the forward pass with all
grads 0, step 1 seeds ``root.grad = 1``, and each later step takes one
computed node in reverse topological order and adds its contribution to its
operands, described in symbols and numbers from the op table's ``grad_text``
(``x1.grad += w1.data * n.grad = -3 * 0.5 = -1.5``; every number as
``stepper_page.number`` prints it). It then runs the real ``root.backward()``
(from zeroed grads) and raises if any final grad differs, so the page can never
disagree with backward(). A viewer leaves the graph as it
found it: every ``.grad`` is restored afterwards (``.data`` is never written),
so a following ``root.backward()`` gives what it would have given anyway.

``backprop_html(root, path)`` writes the page (atomically): the graph as inline
SVG, drawn by Graphviz's ``dot`` when it is installed and lays the graph out
itself, else placed and drawn in Python (``layout.py``, ``svg.py``: the page
needs no ``dot``) in pieces the page shows as they come in view; each box is
drawn wide enough for the longest grad it will show. The steps go in as JSON
(floats written exactly; ``<``, ``>``, ``&`` written as ``\\u003c``... so no label
can end the script or open a comment), with inline JavaScript: previous/next
buttons, the arrow keys, Home/End, a slider, zoom and pan (``stepper_page``). No
network. Values show their ``label`` when set, else a generated name (``v3``).
It returns a ``webpage.Page``: the path (a ``pathlib.Path``), which a notebook
displays inline (``_repr_html_``: an iframe whose ``srcdoc`` is the page).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from micrograd.engine import OPS, Value, topological_order
from micrograd.ieee import ieee_call
from micrograd.viz.dot import draw_dot, drawing
from micrograd.viz.stepper_page import number as _num
from micrograd.viz.stepper_page import render_page
from micrograd.viz.svg import drawing_items, nest_groups
from micrograd.viz.webpage import Page, write_page

# the placeholders of the op table's grad_text; 'out' alone, not inside a word ('out²' counts)
_TOKEN = re.compile(r"\{x\}|\{y\}|\{arg\}|(?<![A-Za-z_])out(?![A-Za-z_])")
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _ref(name: str) -> str:
    """A name as it can stand before '.grad': 'x1' stays, 'x1*w1 + b' becomes '(x1*w1 + b)'."""
    return name if _NAME.fullmatch(name) else f"({name})"


def _local_text(template: str, names, node_name: str, arg: float) -> str:
    """The op table's grad_text with operand names: '{y}' -> 'w1.data', 'out' -> 'n.data'."""
    words = {"{x}": f"{names[0]}.data", "{y}": f"{names[-1]}.data", "{arg}": _num(arg), "out": f"{node_name}.data"}
    text = _TOKEN.sub(lambda m: words[m[0]], template)  # one pass: a name may itself read 'out' or '{x}'
    return f"({text})" if " " in text else text


def backprop_steps(root: Value, names: dict[Value, str] | None = None) -> dict:
    """All steps of backprop on root's graph, as plain data (see the module docstring).

    Returns {'nodes': [{'id', 'name', 'data'}...], 'steps': [{'title', 'node', 'operands',
    'lines', 'set'}...], 'final': [grad per node]}; node indices follow topological order.
    Leaves every grad of root's graph as it found it.
    """
    topo = topological_order([root])
    found = [v.grad for v in topo]
    try:
        return _steps(root, topo, names)
    finally:
        for v, g in zip(topo, found):
            v.grad = g


def _steps(root: Value, topo, names) -> dict:
    index = {v: i for i, v in enumerate(topo)}
    names = dict(names or {})
    for i, v in enumerate(topo):
        names.setdefault(v, v.label or f"v{i}")
        if v._children and (v._code < 0 or v._custom_backward is not None):
            raise ValueError(
                f"backprop_steps: {names[v]} (op {v._op!r}) is a custom op with its own _backward; "
                f"the stepper explains op-table ops only: build it from Value methods instead"
            )
    grads = [0.0] * len(topo)
    steps = [
        {
            "title": "Step 0: the forward pass is done; every grad is 0.",
            "node": None,
            "operands": [],
            "lines": [],
            "set": [],
        }
    ]
    r = index[root]
    grads[r] = 1.0
    rn = names[root]
    steps.append(
        {"title": f"Seed: d{rn}/d{rn} = 1", "node": r, "operands": [], "lines": [f"{rn}.grad = 1"], "set": [[r, 1.0]]}
    )
    for v in reversed(topo):
        if not v._children:
            continue
        i = index[v]
        op = OPS[v._code]
        ch = v._children
        x = ch[0].data
        y = ch[1].data if len(ch) == 2 else 0.0
        local = ieee_call(op.backward, x, y, v._arg, v.data)  # as Value._chain_rule: IEEE where Python raises
        g = grads[i]
        vn, cn = _ref(names[v]), [_ref(names[c]) for c in ch]
        lines, changed = [], []
        for k, c in enumerate(ch):
            j = index[c]
            before = grads[j]
            grads[j] += local[k] * g  # the very expression of Value._chain_rule
            sym = _local_text(op.grad_text[k], cn, vn, v._arg)
            lines.append(
                f"{cn[k]}.grad += {sym} * {vn}.grad = {_num(local[k])} * {_num(g)} = {_num(local[k] * g)}"
                f"    ({cn[k]}.grad: {_num(before)} -> {_num(grads[j])})"
            )
            changed.append(j)
        title = (
            f"{vn} = {' '.join([cn[0], v._op, cn[1]]) if len(ch) == 2 else f'{v._op}({cn[0]})'}: "
            f"its grad {_num(g)} flows back to its operands"
        )
        steps.append(
            {
                "title": title,
                "node": i,
                "operands": [index[c] for c in ch],
                "lines": lines,
                "set": [[j, grads[j]] for j in dict.fromkeys(changed)],
            }
        )
    _check_against_backward(root, topo, grads, names)
    return {
        "nodes": [{"id": f"v{i}", "name": names[v], "data": v.data} for i, v in enumerate(topo)],
        "steps": steps,
        "final": grads,
    }


def _check_against_backward(root: Value, topo, grads, names) -> None:
    for v in topo:
        v.grad = 0.0
    root.backward()
    for v, g in zip(topo, grads):
        if not (v.grad == g or (v.grad != v.grad and g != g)):
            raise RuntimeError(
                f"backprop stepper: replayed grad of {names[v]} is {g!r} but backward() gives "
                f"{v.grad!r}; the stepper and Value.backward() disagree (a bug: please report it)"
            )


def backprop_html(
    root: Value,
    path: str | Path,
    title: str = "Backprop, step by step",
    names: dict[Value, str] | None = None,
    rankdir: str = "LR",
) -> Page:
    """Write the stepper page for root's graph to path (one .html file, no network); see the module docstring.

    Uses Graphviz's dot for the drawing when it is installed (and fast for this graph), else draws in
    Python. Leaves every grad of the graph as it found it.
    """
    data = backprop_steps(root, names)
    topo = topological_order([root])
    shown = {v: n["name"] for v, n in zip(topo, data["nodes"])}
    found = [v.grad for v in topo]
    widest = [0.0] * len(topo)  # each box is drawn with the longest grad it will show, so that all of them fit
    for st in data["steps"]:
        for i, g in st["set"]:
            if len(_num(g)) > len(_num(widest[i])):
                widest[i] = g
    for v, g in zip(topo, widest):  # (the page then shows step 0: every grad 0)
        v.grad = g
    try:
        svg = _draw(root, rankdir, shown)
    finally:
        for v, g in zip(topo, found):
            v.grad = g
    return write_page(path, render_page(title, svg, data, rankdir))


def _draw(root: Value, rankdir: str, names: dict[Value, str]) -> str | dict:
    """The drawing of the page: dot's SVG where dot is installed and lays the graph out itself (its
    groups nested: svg.nest_groups), else (no dot, or a graph big enough for the linear-time layout,
    where dot would only draw) svg.drawing_items's pieces, which the page shows as they come in view."""
    d = drawing(root, rankdir=rankdir, names=names, number_format=_num)
    if shutil.which("dot") is not None and not d.fast:
        g = draw_dot(root, rankdir=rankdir, names=names, svg_ids=True, number_format=_num)
        svg = g.pipe(format="svg").decode()
        return nest_groups(svg[svg.index("<svg") :])  # no XML prolog or doctype: the SVG sits inside HTML
    if not d.fast:
        d = drawing(root, rankdir=rankdir, names=names, layout="fast", number_format=_num)
    return drawing_items(d.nodes, d.edges, rankdir)
