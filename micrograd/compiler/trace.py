"""Tracing: run the model once on placeholder Values and read the graph the Value path builds.

There is no second tracing mechanism: ``call_model`` calls the model (or the
function) on placeholder input Values, ``trace_model`` optionally calls a
per-example loss on the outputs and placeholder target Values, and walks the
result once (``walk``: iterative, the order of ``engine.topological_order``).
The ``Graph`` it returns holds flat NumPy columns indexed by node position in
that order, and no Value, so the Value graph can be freed as soon as it is
traced:

    code[i]   int64    opcode (ops.OPS index) or one of the leaf kinds below
    a[i], b[i] int64   operand node positions (-1 when absent)
    arg[i]    float64  the op's constant argument
    leaf[i]   float64  for leaves: the input / target / parameter index, or the constant's value
    uses[i]   int64    operand references plus one per root occurrence
    user[i]   int64    the consumer, when uses[i] == 1 and it is not a root (else any consumer, or -1)

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
placeholders' ``PLACEHOLDER`` (or NaN downstream of such an op). Tracing leaves
the modules' ``_last_io`` (diagrams' last call) as it was, so the model holds no
reference to the placeholder graph after ``compile()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import attrgetter, is_not

import numpy as np

from micrograd import engine
from micrograd.engine import CUSTOM, LEAF, Value

INPUT, TARGET, PARAM, CONST = -10, -11, -12, -13  # leaf kinds in Graph.code
PLACEHOLDER = 0.5


class Graph:
    """A traced Value graph as flat NumPy columns in topological order (see the module docstring)."""

    def __init__(self, roots: list[Value], inputs: Sequence[Value], targets: Sequence[Value], params: Sequence[Value]):
        nodes, pos, a, b = walk(roots)
        n = len(nodes)
        self.roots = [pos[r] for r in roots]
        self.inputs = [pos.get(v, -1) for v in inputs]
        self.targets = [pos.get(v, -1) for v in targets]
        param_pos = np.fromiter(map(pos.get, params, repeat(-1)), np.int64, len(params))
        del pos  # the largest temporary (a dict entry and an int per node), before the columns are made
        self.n_params = len(params)
        self.a, self.b = a, b
        self.code = np.fromiter(map(_CODE, nodes), np.int64, n)
        self.arg = np.fromiter(map(_ARG, nodes), np.float64, n)
        _refuse_custom(nodes, self.code)
        self.leaf = np.zeros(n)
        for kind, where in ((INPUT, self.inputs), (TARGET, self.targets), (PARAM, param_pos)):
            self._classify(kind, np.asarray(where, dtype=np.int64))  # in this order: an earlier kind wins
        consts = np.flatnonzero(self.code == LEAF)
        self.leaf[consts] = [nodes[i].data for i in consts.tolist()]
        self.code[consts] = CONST
        del nodes
        self.uses = np.zeros(n, dtype=np.int64)
        self.user = np.full(n, -1, dtype=np.int64)
        for operand in (a, b):
            at = np.flatnonzero(operand >= 0)
            self.uses += np.bincount(operand[at], minlength=n)
            self.user[operand[at]] = at
        np.add.at(self.uses, self.roots, 1)

    def _classify(self, kind: int, where: np.ndarray) -> None:
        """The leaves at positions ``where`` (-1: not in the graph) are ``kind`` number j (first listing wins)."""
        j = np.flatnonzero(where >= 0)
        p = where[j]
        seen = np.zeros(len(self.code), dtype=bool)
        seen[p] = True
        if seen.sum() < len(p):  # a Value listed twice is classified by its first listing
            p, first = np.unique(p, return_index=True)
            j = j[first]
        free = self.code[p] == LEAF  # an earlier kind wins (INPUT, then TARGET, then PARAM)
        self.code[p[free]] = kind
        self.leaf[p[free]] = j[free]

    def __len__(self) -> int:
        return len(self.code)


_CODE, _ARG, _CUSTOM_BACKWARD = attrgetter("_code"), attrgetter("_arg"), attrgetter("_custom_backward")


def walk(roots: Sequence[Value]) -> tuple[list[Value], dict, np.ndarray, np.ndarray]:
    """(nodes, pos, a, b): every node reachable from roots in ``engine.topological_order``'s order (DFS
    post-order, operands in order), its position, and the positions of each node's first and second operand
    (-1 where absent).

    Iterative; a node on the stack is looked at again after each operand it waits for. What the DFS would
    do next anyway is done at once, saving a push and a look: a leaf is placed as soon as it is reached, and
    so is a binary node's second operand whose own two operands are placed or leaves (``w * x`` in a
    neuron's ``sum + w * x``). This loop is most of tracing."""
    pos: dict[Value, int] = {}
    nodes: list[Value] = []
    first: list[int] = []
    second: list[int] = []
    place, place_a, place_b, get = nodes.append, first.append, second.append, pos.get
    n = 0
    for root in roots:
        if root in pos:
            continue
        stack = [root]
        push, pop = stack.append, stack.pop
        while stack:
            v = stack[-1]
            ch = v._children
            if len(ch) == 2:
                c, d = ch
                x = get(c)
                if x is None:
                    if c._children:
                        while True:  # down a chain of first operands not placed yet (a neuron's sum)
                            push(c)
                            c = c._children[0]
                            if c in pos or not c._children:
                                break
                        continue
                    pos[c] = x = n
                    n += 1
                    place(c)
                    place_a(-1)
                    place_b(-1)
                y = get(d)
                if y is None:
                    dd = d._children
                    if len(dd) != 2:
                        if dd:
                            push(d)
                            continue
                        pos[d] = y = n
                        n += 1
                        place(d)
                        place_a(-1)
                        place_b(-1)
                    else:  # d's operands first (a leaf at once, an op pushed), then d
                        p, q = dd
                        xp = get(p)
                        if xp is None:
                            if p._children:
                                push(d)
                                continue
                            pos[p] = xp = n
                            n += 1
                            place(p)
                            place_a(-1)
                            place_b(-1)
                        xq = get(q)
                        if xq is None:
                            if q._children:
                                push(d)
                                continue
                            pos[q] = xq = n
                            n += 1
                            place(q)
                            place_a(-1)
                            place_b(-1)
                        pos[d] = y = n
                        n += 1
                        place(d)
                        place_a(xp)
                        place_b(xq)
            elif len(ch) == 1:
                c = ch[0]
                x = get(c)
                if x is None:
                    if c._children:
                        push(c)
                        continue
                    pos[c] = x = n
                    n += 1
                    place(c)
                    place_a(-1)
                    place_b(-1)
                y = -1
            elif ch:  # a node built by hand with more operands: each in turn (it is refused later)
                c = next((c for c in ch if c not in pos), None)
                if c is not None:
                    push(c)
                    continue
                x, y = pos[ch[0]], pos[ch[1]]
            else:
                x = y = -1
            pop()
            pos[v] = n
            n += 1
            place(v)
            place_a(x)
            place_b(y)
    return nodes, pos, np.array(first, dtype=np.int64), np.array(second, dtype=np.int64)


def _refuse_custom(nodes: list[Value], code: np.ndarray) -> None:
    """Raise for the first node (in order) built by hand or whose _backward was replaced by hand."""
    custom = np.flatnonzero(code == CUSTOM)
    bad = int(custom[0]) if len(custom) else len(nodes)
    if any(map(is_not, map(_CUSTOM_BACKWARD, nodes), repeat(None))):
        bad = min(bad, next(i for i, v in enumerate(nodes) if v._custom_backward is not None))
    if bad == len(nodes):
        return
    v, c = nodes[bad], int(code[bad])
    if c == CUSTOM:
        raise ValueError(
            f"micrograd.compile: the graph contains a node built by hand with op "
            f"{v._op!r} (a custom _backward); the compiler only knows the ops of "
            f"micrograd.ops.OPS. Express it with those ops, or use the Value path."
        )
    what = f"op {v._op!r}" if c != LEAF else f"leaf {v.label or v!r}"
    raise ValueError(
        f"micrograd.compile: the graph contains a node ({what}) whose _backward was "
        f"replaced by hand; the compiler takes every derivative from micrograd.ops.OPS "
        f"and would ignore it. Remove the assignment, or use the Value path."
    )


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


@contextlib.contextmanager
def last_io_kept(model):
    """The ``_last_io`` of model and of its submodules (attributes, and items of list, tuple and dict
    attributes, that are nn.Modules) as before the block."""
    from micrograd.nn import Module

    saved, seen, todo = [], set(), [model]
    while todo:
        obj = todo.pop()
        if not isinstance(obj, Module) or id(obj) in seen:
            continue
        seen.add(id(obj))
        saved.append((obj, vars(obj).get("_last_io")))
        for val in vars(obj).values():
            if isinstance(val, dict):
                val = list(val.values())
            if not isinstance(val, (list, tuple)):
                todo.append(val)
            elif any(issubclass(cls, Module) for cls in set(map(type, val))):  # not a neuron's weights
                todo += [m for m in val if isinstance(m, Module)]
    try:
        yield
    finally:
        for obj, io in saved:
            vars(obj)["_last_io"] = io  # as nn records it: not through __setattr__ (not a structure change)


def as_value(v) -> Value:
    """A model output that is a plain number becomes a constant Value."""
    return v if isinstance(v, Value) else Value(float(v))


def call_model(model: Callable, n_inputs: int) -> tuple:
    """(placeholder inputs, list of output Values) of one call of model on placeholders."""
    xs = [Value(PLACEHOLDER, label=f"x{j}") for j in range(n_inputs)]
    with placeholders(), last_io_kept(model):
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
    return Graph(roots, inputs, targets, params)
