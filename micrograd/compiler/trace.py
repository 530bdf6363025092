"""Tracing: run the model once on placeholder Values and read the graph the Value path builds.

There is no second tracing mechanism: ``trace_model`` calls the model (or the
function) on placeholder input Values, optionally calls a per-example loss on
the outputs and placeholder target Values, and sorts the result with
``engine.topological_order`` (iterative). The ``Graph`` it returns holds flat
Python lists indexed by node position in that order, which is all the passes
need:

    code[i]   opcode (ops.OPS index) or one of the leaf kinds below
    a[i], b[i] operand node indices (-1 when absent)
    arg[i]    the op's constant argument
    leaf[i]   for leaves: the input / target / parameter index, or the constant's value

Leaves are classified by identity: a placeholder input, a placeholder target,
a parameter (``params`` list), or anything else, which becomes a constant
(its ``.data`` is frozen into the program's constant pool). A node built by
hand micrograd-style (``_code == CUSTOM``) and any node whose ``_backward`` was
replaced by hand are refused with their ``_op`` named: the compiler takes every
derivative from the op table and would silently ignore such a ``_backward``.

The data seen while tracing never decides whether a graph compiles: the model
runs inside ``placeholders()``, where an op outside its domain (``log(x0 - x1)``
with both inputs at the placeholder) gives NaN instead of raising; the
program recomputes every value from the real inputs. Python ``if``s on
``.data`` inside the model are frozen at trace time: they see the
placeholders' ``PLACEHOLDER`` (or NaN downstream of such an op).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from micrograd import engine
from micrograd.engine import CUSTOM, LEAF, Value, topological_order

INPUT, TARGET, PARAM, CONST = -10, -11, -12, -13  # leaf kinds in Graph.code
PLACEHOLDER = 0.5


class Graph:
    """A traced Value graph as flat lists in topological order (see module docstring)."""

    def __init__(self, nodes: list[Value], roots: list[Value], inputs, targets, params):
        self.nodes = nodes
        pos = {v: i for i, v in enumerate(nodes)}
        n = len(nodes)
        self.code, self.a, self.b = [0] * n, [-1] * n, [-1] * n
        self.arg, self.leaf = [0.0] * n, [0.0] * n
        self.uses = [0] * n  # operand references plus one per root occurrence
        self.user = [-1] * n  # the last consumer (meaningful when uses == 1)
        kinds: dict[Value, tuple[int, int]] = {}
        for kind, vals in ((INPUT, inputs), (TARGET, targets), (PARAM, params)):
            for j, v in enumerate(vals):
                kinds.setdefault(v, (kind, j))
        code, a, b, uses, user = self.code, self.a, self.b, self.uses, self.user
        for i, v in enumerate(nodes):
            c = v._code
            if v._custom_backward is not None and c != CUSTOM:
                what = f"op {v._op!r}" if c != LEAF else f"leaf {v.label or v!r}"
                raise ValueError(
                    f"micrograd.compile: the graph contains a node ({what}) whose _backward was "
                    f"replaced by hand; the compiler takes every derivative from micrograd.ops.OPS "
                    f"and would ignore it. Remove the assignment, or use the Value path."
                )
            if c == LEAF:
                kind, val = kinds.get(v, (CONST, v.data))
                code[i], self.leaf[i] = kind, val
                continue
            if c == CUSTOM:
                raise ValueError(
                    f"micrograd.compile: the graph contains a node built by hand with op "
                    f"{v._op!r} (a custom _backward); the compiler only knows the ops of "
                    f"micrograd.ops.OPS. Express it with those ops, or use the Value path."
                )
            code[i], self.arg[i] = c, v._arg
            ch = v._children
            x = pos[ch[0]]
            a[i] = x
            uses[x] += 1
            user[x] = i
            if len(ch) == 2:
                y = pos[ch[1]]
                b[i] = y
                uses[y] += 1
                user[y] = i
        self.roots = [pos[r] for r in roots]
        for r in self.roots:
            uses[r] += 1
        self.inputs = [pos.get(v, -1) for v in inputs]
        self.targets = [pos.get(v, -1) for v in targets]
        self.n_params = len(params)

    def __len__(self) -> int:
        return len(self.nodes)


@contextlib.contextmanager
def placeholders():
    """While tracing: ops outside their domain give NaN instead of raising (see the module docstring)."""
    state = engine.PLACEHOLDERS
    was = getattr(state, "on", False)
    state.on = True
    try:
        yield
    finally:
        state.on = was


def as_value(v) -> Value:
    """A model output that is a plain number becomes a constant Value."""
    return v if isinstance(v, Value) else Value(float(v))


def call_model(model: Callable, n_inputs: int) -> tuple:
    """(placeholder inputs, list of output Values) of one call of model on placeholders."""
    xs = [Value(PLACEHOLDER, label=f"x{j}") for j in range(n_inputs)]
    with placeholders():
        out = model(xs)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if not outs:
        raise ValueError("micrograd.compile: the model returned no outputs")
    return xs, [as_value(o) for o in outs]


def trace_model(
    inputs: Sequence[Value],
    outputs: Sequence[Value],
    params: Sequence[Value],
    loss: Callable | None = None,
    target_width: int = 0,
    target_scalar: bool = True,
) -> Graph:
    """The Graph of outputs (and of loss(outputs, targets) as the last root when loss is given).

    ``target_width`` placeholder targets are made; the loss receives one Value
    when ``target_scalar`` (and width 1), else a list. The outputs are passed
    as one Value when there is one output, as micrograd's MLP returns them.
    """
    targets: list[Value] = []
    roots = list(outputs)
    if loss is not None:
        targets = [Value(PLACEHOLDER, label=f"y{j}") for j in range(target_width)]
        model_out = outputs[0] if len(outputs) == 1 else list(outputs)
        tgt = targets[0] if (target_scalar and target_width == 1) else list(targets)
        with placeholders():
            roots.append(as_value(loss(model_out, tgt)))
    nodes = topological_order(roots)
    return Graph(nodes, roots, list(inputs), targets, list(params))
