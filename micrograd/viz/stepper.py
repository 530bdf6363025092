"""The backprop stepper: one self-contained HTML page that walks through backward() node by node.

``backprop_steps(root)`` replays the chain rule in Python, exactly as
``Value.backward()`` does (same op-table derivatives, same order, same float
operations), and records every step: step 0 is the forward pass with all
grads 0, step 1 seeds ``root.grad = 1``, and each later step takes one
computed node in reverse topological order and adds its contribution to its
operands, described in symbols and numbers from the op table's ``grad_text``
(``x1.grad += w1.data * n.grad = -3.0 * 0.5 = -1.5``). It then runs the real
``root.backward()`` (after zeroing the graph's grads) and raises if any final
grad differs, so the page can never disagree with backward().

``backprop_html(root, path)`` writes the page: the graph drawn by Graphviz's
``dot`` as inline SVG, the steps as JSON (floats written exactly), and inline
JavaScript with previous/next buttons, arrow keys and a slider. No network.
Values show their ``label`` when set, else a generated name (``v3``).
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Dict, Optional, Union

from micrograd.engine import OPS, Value, topological_order
from micrograd.viz.dot import draw_dot
from micrograd.viz.page import render_page

# the placeholders of the op table's grad_text; 'out' alone, not inside a word ('out²' counts)
_TOKEN = re.compile(r"\{x\}|\{y\}|\{arg\}|(?<![A-Za-z_])out(?![A-Za-z_])")
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _num(x: float) -> str:
    """Short text for a number: -3.0, 0.5, 0.707107, nan."""
    if math.isfinite(x) and x == int(x) and abs(x) < 1e15:
        return f"{x:.1f}"
    return f"{x:.6g}"


def _ref(name: str) -> str:
    """A name as it can stand before '.grad': 'x1' stays, 'x1*w1 + b' becomes '(x1*w1 + b)'."""
    return name if _NAME.fullmatch(name) else f"({name})"


def _local_text(template: str, names, node_name: str, arg: float) -> str:
    """The op table's grad_text with operand names: '{y}' -> 'w1.data', 'out' -> 'n.data'."""
    words = {"{x}": f"{names[0]}.data", "{y}": f"{names[-1]}.data", "{arg}": _num(arg), "out": f"{node_name}.data"}
    text = _TOKEN.sub(lambda m: words[m[0]], template)  # one pass: a name may itself read 'out' or '{x}'
    return f"({text})" if " " in text else text


def backprop_steps(root: Value, names: Optional[Dict[Value, str]] = None) -> dict:
    """All steps of backprop on root's graph, as plain data (see the module docstring).

    Returns {'nodes': [{'id', 'name', 'data'}...], 'steps': [{'title', 'node', 'operands',
    'lines', 'set'}...], 'final': [grad per node]}; node indices follow topological order.
    Leaves root's graph with the grads of a fresh root.backward().
    """
    topo = topological_order([root])
    index = {v: i for i, v in enumerate(topo)}
    names = dict(names or {})
    for i, v in enumerate(topo):
        names.setdefault(v, v.label or f"v{i}")
        if v._children and (v._code < 0 or v._custom_backward is not None):
            raise ValueError(f"backprop_steps: {names[v]} (op {v._op!r}) is a custom op with its own _backward; "
                             f"the stepper explains op-table ops only: build it from Value methods instead")
    grads = [0.0] * len(topo)
    steps = [{"title": "Step 0: the forward pass is done; every grad is 0.", "node": None, "operands": [],
              "lines": [], "set": []}]
    r = index[root]
    grads[r] = 1.0
    rn = names[root]
    steps.append({"title": f"Seed: d{rn}/d{rn} = 1", "node": r, "operands": [], "lines": [f"{rn}.grad = 1.0"],
                  "set": [[r, 1.0]]})
    for v in reversed(topo):
        if not v._children:
            continue
        i = index[v]
        op = OPS[v._code]
        ch = v._children
        x = ch[0].data
        y = ch[1].data if len(ch) == 2 else 0.0
        local = op.backward(x, y, v._arg, v.data)
        g = grads[i]
        vn, cn = _ref(names[v]), [_ref(names[c]) for c in ch]
        lines, changed = [], []
        for k, c in enumerate(ch):
            j = index[c]
            before = grads[j]
            grads[j] += local[k] * g  # the very expression of Value._chain_rule
            sym = _local_text(op.grad_text[k], cn, vn, v._arg)
            lines.append(f"{cn[k]}.grad += {sym} * {vn}.grad = {_num(local[k])} * {_num(g)} = {_num(local[k] * g)}"
                         f"    ({cn[k]}.grad: {_num(before)} -> {_num(grads[j])})")
            changed.append(j)
        title = f"{vn} = {' '.join([cn[0], v._op, cn[1]]) if len(ch) == 2 else f'{v._op}({cn[0]})'}: " \
                f"its grad {_num(g)} flows back to its operands"
        steps.append({"title": title, "node": i, "operands": [index[c] for c in ch], "lines": lines,
                      "set": [[j, grads[j]] for j in dict.fromkeys(changed)]})
    _check_against_backward(root, topo, grads, names)
    return {"nodes": [{"id": f"v{i}", "name": names[v], "data": v.data} for i, v in enumerate(topo)],
            "steps": steps, "final": grads}


def _check_against_backward(root: Value, topo, grads, names) -> None:
    for v in topo:
        v.grad = 0.0
    root.backward()
    for v, g in zip(topo, grads):
        if not (v.grad == g or (v.grad != v.grad and g != g)):
            raise RuntimeError(f"backprop stepper: replayed grad of {names[v]} is {g!r} but backward() gives "
                               f"{v.grad!r}; the stepper and Value.backward() disagree (a bug: please report it)")


def backprop_html(root: Value, path: Union[str, Path], title: str = "Backprop, step by step",
                  names: Optional[Dict[Value, str]] = None, rankdir: str = "LR") -> Path:
    """Write the stepper page for root's graph to path (one .html file, no network) and return the path.

    Needs Graphviz's dot program for the drawing. Zeroes the graph's grads and runs root.backward().
    """
    data = backprop_steps(root, names)
    shown = {v: n["name"] for v, n in zip(topological_order([root]), data["nodes"])}
    for v in shown:  # the drawing opens at step 0: every grad 0
        v.grad = 0.0
    try:
        svg = draw_dot(root, rankdir=rankdir, names=shown, svg_ids=True).pipe(format="svg").decode()
    finally:
        for v, g in zip(shown, data["final"]):
            v.grad = g
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: the SVG sits inside HTML
    path = Path(path)
    path.write_text(render_page(title, svg, json.dumps(data)), encoding="utf-8")
    return path
