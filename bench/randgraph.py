"""Workload D: a random scalar graph of about 10,000 ops drawn from the whole op table, one example.

The graph is a program of flat arrays (one row per op, in order):
``code`` (opcode of ``micrograd.ops``), ``a``/``b`` (operand slots; leaves are
slots 0..n_leaves-1, op i writes slot n_leaves+i; ``b = -1`` means the constant
``const`` on the right, ``b = -2`` the constant on the left, unused for unary
ops), ``arg`` (the op's constant parameter). Operands are drawn from nodes not
used yet (so nearly every op is live), from the last few nodes (deep chains)
or from anywhere (shared sub-expressions), sometimes twice (``x*x``). Each op is
drawn until its value and local derivatives are finite and bounded, so the
graph has no domain errors. The nodes nobody consumed are summed at the end
into the single output.

Replaying the program on Values (``value_forward``) or on PyTorch scalar tensors
(``torch_replay``) builds the same expression; ops are applied by their names in
``micrograd.ops`` (``apply``), so there is no op table here to keep in step. Every leaf is a
parameter: the compiler traces inputs at placeholder values, where a graph drawn
to be valid at its leaves' values could hit a domain error; so the one example
has no input columns and the gradient covers all leaves.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np

from micrograd import ops

BOUND = 8.0  # |value| and |local derivative| of every node stay below this
CONST_OK = {ops.ADD, ops.SUB, ops.MUL, ops.DIV}
POW_ARGS = (2.0, 3.0, 0.5, -1.0, 1.5)
OP_ARGS = {ops.LEAKY_RELU: 0.1, ops.ELU: 1.0}


@dataclass
class Graph:
    leaves: np.ndarray  # (n_leaves,) float64 values of the parameters
    code: np.ndarray  # (n_ops,) int64
    a: np.ndarray  # (n_ops,) int64
    b: np.ndarray  # (n_ops,) int64, -1/-2 = constant right/left
    arg: np.ndarray  # (n_ops,) float64
    const: np.ndarray  # (n_ops,) float64

    @property
    def n_ops(self) -> int:
        return len(self.code)


def _ok(*xs) -> bool:
    return all(math.isfinite(x) and abs(x) < BOUND for x in xs)


def generate(n_ops: int = 10_000, n_leaves: int = 100, seed: int = 4) -> Graph:
    """A random graph of n_ops ops (+- 1) over n_leaves leaves, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    vals = list(rng.uniform(-2.0, 2.0, n_leaves))
    unused = list(range(n_leaves))  # slots no op reads yet
    rows = []

    def pick() -> int:
        r = rng.random()
        if r < 0.4 and unused:
            return unused[rng.integers(len(unused))]
        if r < 0.7:
            return len(vals) - 1 - int(rng.integers(min(16, len(vals))))
        return int(rng.integers(len(vals)))

    while len(rows) + len(unused) - 1 < n_ops:
        code = int(rng.integers(len(ops.OPS)))
        op = ops.OPS[code]
        a = pick()
        b, const, arg = 0, 0.0, OP_ARGS.get(code, 0.0)
        if code == ops.POW:
            arg = POW_ARGS[rng.integers(len(POW_ARGS))]
        x, y = vals[a], 0.0
        if op.arity == 2:
            r = rng.random()
            if code in CONST_OK and r < 0.15:
                b, const = (-1 if r < 0.075 else -2), float(rng.uniform(0.5, 2.0))
                y = const
                if b == -2:
                    x, y = y, x
            else:
                b = a if r < 0.25 else pick()
                y = vals[b]
        if op.invalid is not None and op.invalid(x, y, arg):
            continue
        try:
            out = op.forward(x, y, arg)
            dx, dy = op.backward(x, y, arg, out)
        except (ValueError, ZeroDivisionError, OverflowError):
            continue
        if not _ok(out, dx, dy):
            continue
        rows.append((code, a, b, arg, const))
        for s in {a, b}:
            if s in unused:
                unused.remove(s)
        unused.append(len(vals))
        vals.append(out)
    # sum what nobody consumed into the single output
    acc = unused[0]
    for s in unused[1:]:
        rows.append((ops.ADD, acc, s, 0.0, 0.0))
        vals.append(vals[acc] + vals[s])
        acc = len(vals) - 1
    cols = list(zip(*rows))
    return Graph(
        np.array(vals[:n_leaves]),
        np.array(cols[0], np.int64),
        np.array(cols[1], np.int64),
        np.array(cols[2], np.int64),
        np.array(cols[3], np.float64),
        np.array(cols[4], np.float64),
    )


# ------------------------------------------------------------ replay on Values and on torch scalars
# No op table of our own: an op is applied by its name in micrograd.ops, as Python spells it (the
# operators below) or as the method of that name on the operand (Value.tanh, Tensor.tanh, ...); torch
# ops that are not Tensor methods are torch.nn.functional's function of the same name.
OPERATORS = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "powv": operator.pow,
    "pow": operator.pow,
    "neg": operator.neg,
    "abs": operator.abs,
}


def apply(code: int, x, y, arg, functional=None):
    """micrograd op `code` on operand x (and y: a second operand or a float constant), with its arg."""
    op = ops.OPS[code]
    if op.name in OPERATORS:
        args = (x,) if op.arity == 1 and code != ops.POW else (x, arg if code == ops.POW else y)
        return OPERATORS[op.name](*args)
    args = (y,) if op.arity == 2 else ((arg,) if code in OP_ARGS else ())
    method = getattr(x, op.name, None)
    if method is not None:
        return method(*args)
    if functional is None or not hasattr(functional, op.name):
        raise TypeError(f"op {op.name!r}: {type(x).__name__} has no method of that name")
    return getattr(functional, op.name)(x, *args)


def replay(g: Graph, leaves: list, functional=None):
    """Apply the program to leaves (Values or tensors); returns the output node."""
    slots = list(leaves)
    for code, a, b, arg, const in zip(g.code.tolist(), g.a.tolist(), g.b.tolist(), g.arg.tolist(), g.const.tolist()):
        x = slots[a]
        if b == -1:
            y = const
        elif b == -2:
            x, y = const, x
        else:
            y = slots[b]
        if isinstance(x, float):  # a constant on the left: Python's reflected operator does the rest
            slots.append(OPERATORS[ops.OPS[code].name](x, y))
        else:
            slots.append(apply(code, x, y, arg, functional))
    return slots[-1]


def value_forward(g: Graph, leaves: list):
    return replay(g, leaves)


def torch_replay(g: Graph, leaves: list):
    import torch.nn.functional as F

    return replay(g, leaves, F)


def torch_loss_and_grad(g: Graph):
    """(output, d output / d leaves) by PyTorch float64 autograd on scalar tensors: an independent oracle."""
    import torch

    leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in g.leaves.tolist()]
    out = torch_replay(g, leaves)
    out.backward()
    return out.item(), np.array([0.0 if t.grad is None else t.grad.item() for t in leaves])
