"""Value: a scalar that remembers how it was computed, and backpropagates.

A drop-in superset of Karpathy's micrograd ``engine.Value``: the same
constructor, attributes (``data``, ``grad``, ``_prev``, ``_op``,
``_backward``), operators and ``backward()``, giving the same numbers.

What differs inside:
- Every op is a row of the op table (``micrograd.ops``); a node stores its
  opcode, its operands as an ordered tuple ``_children`` (``x*x`` keeps both)
  and the op's constant ``_arg``. ``_prev`` is still a set, built on demand.
- Derivatives come from the table, not from per-node closures, so the
  compiler can read the graph and compile the same functions. A micrograd-style
  custom op (``Value(f, (a,), 'myop')`` with a hand-set ``_backward``) still
  works on this path; the compiler refuses it by name.
- ``backward()`` sorts the graph iteratively: a chain 200,000 deep is fine.
- Bad input fails early and says what was wrong: non-numeric data raises
  TypeError, a domain error (log of 0, division by zero) names the op and the
  operand. Everything else follows IEEE 754 as the compiled kernels do (the op
  table's rule, ``micrograd.ops``): overflow gives +-inf in forward and
  backward, NaN and inf propagate, backward never raises. Python's ``math``
  raises where IEEE gives inf (``math.pow(10., 400.)``); there the op's own
  function is re-run in IEEE arithmetic (``micrograd.ieee``), in plain Python.
"""

from __future__ import annotations

import contextlib
import gc
import math
import numbers
import threading
from collections.abc import Iterable

from micrograd import ops as _ops
from micrograd.ieee import ieee_rerun

OPS = _ops.OPS
_ADD, _SUB, _MUL, _DIV = _ops.ADD, _ops.SUB, _ops.MUL, _ops.DIV
_POW, _POWV, _NEG = _ops.POW, _ops.POWV, _ops.NEG
LEAF = -1  # opcode of a leaf (input, parameter or constant)
CUSTOM = -2  # opcode of a node built by hand, micrograd-style, with its own _backward

Number = int | float
# micrograd.compiler.trace sets PLACEHOLDERS.on while a model runs on placeholder data: there an op
# outside its domain gives NaN instead of raising (the compiled program recomputes every value).
PLACEHOLDERS = threading.local()


def _as_float(data) -> float:
    if isinstance(data, numbers.Real):
        return float(data)
    raise TypeError(
        f"Value data must be a real number, got {data!r} of type {type(data).__name__}; "
        f"convert it first, e.g. Value(float(x))"
    )


class Value:
    """Stores a single scalar value and its gradient."""

    __slots__ = ("data", "grad", "_children", "_code", "_arg", "_op", "_custom_backward", "label")

    def __init__(self, data: Number, _children: tuple = (), _op: str = "", label: str = ""):
        self.data = data if type(data) is float else _as_float(data)
        self.grad = 0.0
        self._children = tuple(_children)
        self._code = CUSTOM if self._children else LEAF
        self._arg = 0.0
        self._op = _op
        self._custom_backward = None
        self.label = label

    # --------------------------------------------------------- graph internals
    @property
    def _prev(self) -> set:
        """The operands as a set, as in micrograd (``_children`` keeps order and repeats)."""
        return set(self._children)

    @property
    def _backward(self):
        """Propagate this node's grad to its operands (micrograd's per-node closure)."""
        if self._custom_backward is not None:
            return self._custom_backward
        return self._chain_rule

    @_backward.setter
    def _backward(self, fn):
        self._custom_backward = fn

    def _chain_rule(self) -> None:
        code = self._code
        if code < 0:
            return
        ch = self._children
        x = ch[0].data
        y = ch[1].data if len(ch) == 2 else 0.0
        backward = OPS[code].backward
        try:  # inline, not ieee_call: this is the hot loop of backward()
            dx, dy = backward(x, y, self._arg, self.data)
        except (ArithmeticError, ValueError):  # Python raises where IEEE gives +-inf: see micrograd.ieee
            dx, dy = ieee_rerun(backward, x, y, self._arg, self.data)
        g = self.grad
        ch[0].grad += dx * g
        if len(ch) == 2:
            ch[1].grad += dy * g

    # --------------------------------------------------------- building nodes
    def _apply(self, code: int, other: Value | None = None, arg: float = 0.0, symbol: str | None = None) -> Value:
        op = OPS[code]
        x = self.data
        y = 0.0 if other is None else other.data
        if op.invalid is not None and op.invalid(x, y, arg) and not getattr(PLACEHOLDERS, "on", False):
            raise op.error_type(op.error.format(x=x, y=y, arg=arg))
        try:
            data = op.forward(x, y, arg)
        except (ArithmeticError, ValueError):  # Python raises where IEEE gives +-inf: see micrograd.ieee
            try:
                data = ieee_rerun(op.forward, x, y, arg)
            except (ArithmeticError, ValueError):  # a domain error IEEE has no number for either
                if not getattr(PLACEHOLDERS, "on", False):
                    raise
                data = math.nan  # tracing on placeholder data: only the graph's shape is kept
        out = Value.__new__(Value)
        out.data = data
        out.grad = 0.0
        out._children = (self,) if other is None else (self, other)
        out._code = code
        out._arg = arg
        out._op = symbol if symbol is not None else op.symbol
        out._custom_backward = None
        out.label = ""
        return out

    def __add__(self, other):  # self + other
        return self._apply(_ADD, other if isinstance(other, Value) else Value(other))

    def __mul__(self, other):  # self * other
        return self._apply(_MUL, other if isinstance(other, Value) else Value(other))

    def __sub__(self, other):  # self - other
        return self._apply(_SUB, other if isinstance(other, Value) else Value(other))

    def __truediv__(self, other):  # self / other
        return self._apply(_DIV, other if isinstance(other, Value) else Value(other))

    def __pow__(self, other):  # self ** other
        if isinstance(other, Value):
            return self._apply(_POWV, other)
        if not isinstance(other, numbers.Real):
            raise TypeError(f"exponent must be a number or a Value, got {other!r}")
        return self._apply(_POW, None, float(other), f"**{other}")

    def __neg__(self):  # -self
        return self._apply(_NEG)

    def __radd__(self, other):  # other + self
        return Value(other)._apply(_ADD, self)

    def __rmul__(self, other):  # other * self
        return Value(other)._apply(_MUL, self)

    def __rsub__(self, other):  # other - self
        return Value(other)._apply(_SUB, self)

    def __rtruediv__(self, other):  # other / self
        return Value(other)._apply(_DIV, self)

    def __rpow__(self, other):  # other ** self
        return Value(other)._apply(_POWV, self)

    def __abs__(self):  # abs(self)
        return self._apply(_ops.ABS)

    def exp(self):
        return self._apply(_ops.EXP)

    def log(self):
        return self._apply(_ops.LOG)

    def tanh(self):
        return self._apply(_ops.TANH)

    def sigmoid(self):
        return self._apply(_ops.SIGMOID)

    def relu(self):
        return self._apply(_ops.RELU)

    def leaky_relu(self, slope: float = 0.01):
        return self._apply(_ops.LEAKY_RELU, None, float(slope))

    def elu(self, alpha: float = 1.0):
        return self._apply(_ops.ELU, None, float(alpha))

    def selu(self):
        return self._apply(_ops.SELU)

    def softplus(self):
        return self._apply(_ops.SOFTPLUS)

    def prelu(self, slope: Value):
        """x if x > 0 else slope * x, with a learnable slope Value."""
        return self._apply(_ops.PRELU, slope if isinstance(slope, Value) else Value(slope))

    def logaddexp(self, other):
        """log(exp(self) + exp(other)), stable for any magnitude."""
        return self._apply(_ops.LOGADDEXP, other if isinstance(other, Value) else Value(other))

    # --------------------------------------------------------- backprop
    def backward(self) -> None:
        """Accumulate d self / d node into node.grad for every node of the graph."""
        topo = topological_order([self])
        self.grad = 1.0
        for v in reversed(topo):
            if v._custom_backward is not None:
                v._custom_backward()
            elif v._code >= 0:
                v._chain_rule()

    def __float__(self) -> float:  # float(v): the forward value, e.g. for NumPy or formatting
        return self.data

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"


def topological_order(roots: Iterable[Value]) -> list[Value]:
    """All nodes reachable from roots, each after its operands (iterative DFS post-order).

    The order is the one micrograd's recursive build_topo gives when operands are
    visited in order, and it is deterministic.
    """
    topo: list[Value] = []
    visited = set()
    for root in roots:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(root._children))]
        while stack:
            node, it = stack[-1]
            for child in it:
                if child not in visited:
                    visited.add(child)
                    stack.append((child, iter(child._children)))
                    break
            else:
                stack.pop()
                topo.append(node)
    return topo


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector for a block: big Value graphs build 2-4x faster.

    Value graphs hold no reference cycles (operands are a tuple, derivatives come from the
    op table, not from closures), so reference counting frees them; the collector only
    spends time scanning the millions of live nodes of a training step. A micrograd-style
    custom op whose ``_backward`` closure refers to its node does form a cycle: it is
    collected after the block.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
