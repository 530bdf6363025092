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
  A second ``backward()`` over a graph that already holds gradients adds them
  again, as micrograd does (inner nodes included, so parameters get more than
  twice their gradient); it warns once per process, naming ``zero_grad()``.
- ``copy.deepcopy`` and ``pickle`` of a Value copy its whole graph without
  recursion (a chain 100,000 deep is fine). ``deepcopy`` keeps every shared
  node shared; ``pickle`` keeps shared nodes shared within one graph, and the
  leaves (parameters, inputs) shared across everything pickled together (two
  graphs pickled at once that share inner nodes come back as two graphs over
  the same leaves). ``copy.copy`` gives a new node over the same operands.
  A subclass's own ``__reduce_ex__`` decides how its nodes are copied (a
  compiled model's bound parameter gives a plain Value).
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
import copy
import gc
import math
import numbers
import threading
import warnings
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
        if self._children and self.grad != 0.0:  # set by an earlier backward() over this graph: O(1) to notice
            _warn_backward_again()
        topo = topological_order([self])
        self.grad = 1.0
        for v in reversed(topo):
            if v._custom_backward is not None:
                v._custom_backward()
            elif v._code >= 0:
                v._chain_rule()

    # --------------------------------------------------------- copy and pickle, iteratively
    def __copy__(self) -> Value:
        """copy.copy: a new node over the same operands."""
        if type(self) is not Value:
            return _from_recipe(self, None)
        out = Value.__new__(Value)
        for name in Value.__slots__:
            setattr(out, name, getattr(self, name))
        return out

    def __deepcopy__(self, memo: dict) -> Value:
        """copy.deepcopy: the graph copied operands first (no recursion), every shared node shared."""
        for node in topological_order([self]) if self._children else (self,):
            if id(node) in memo:
                continue
            if type(node) is not Value:  # a subclass: its own recipe (its operands are in memo already)
                _from_recipe(node, memo)
                continue
            out = Value.__new__(Value)
            out.data, out.grad, out._code, out._arg = node.data, node.grad, node._code, node._arg
            out._op, out._custom_backward, out.label = node._op, node._custom_backward, node.label
            out._children = tuple(memo[id(c)] for c in node._children)
            memo[id(node)] = out
        return memo[id(self)]

    def __reduce_ex__(self, protocol):
        """pickle: a node with operands is written as its whole graph in one flat table (no recursion)."""
        if type(self) is not Value or (not self._children and self._custom_backward is not None):
            return object.__reduce_ex__(self, protocol)
        if not self._children:  # a leaf (a parameter, an input): short, and quick to write and read
            return _leaf, (self.data, self.grad, self._op, self.label)
        nodes = topological_order([self])
        if any(type(v) is not Value and v._children for v in nodes):  # a subclass's nodes: pickle's own way
            return object.__reduce_ex__(self, protocol)
        leaves = [v for v in nodes if not v._children]
        where = {id(v): i for i, v in enumerate(leaves)}
        rows = []
        for v in nodes:
            if v._children:
                where[id(v)] = len(where)
                children = tuple(where[id(c)] for c in v._children)
                rows.append((v.data, v.grad, v._code, v._arg, v._op, v.label, v._custom_backward, children))
        return _rebuild_graph, (leaves, rows)

    def __float__(self) -> float:  # float(v): the forward value, e.g. for NumPy or formatting
        return self.data

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"


_warned_backward_again = False


def _warn_backward_again() -> None:
    global _warned_backward_again
    if not _warned_backward_again:
        _warned_backward_again = True
        warnings.warn(
            "backward() ran over a graph that already holds gradients (from an earlier backward()), so every "
            ".grad in it accumulates again, as in micrograd: the inner nodes' too, which counts the earlier "
            "gradients more than twice. Before each backward(), call model.zero_grad() and build the graph "
            "again (run the model); this warning is shown once.",
            RuntimeWarning,
            stacklevel=3,
        )


def _leaf(data: float, grad: float, op: str, label: str) -> Value:
    """Value.__reduce_ex__'s leaf."""
    out = Value.__new__(Value)
    out.data, out.grad, out._children, out._code, out._arg = data, grad, (), LEAF, 0.0
    out._op, out._custom_backward, out.label = op, None, label
    return out


def _rebuild_graph(leaves: list, rows: list) -> Value:
    """Value.__reduce_ex__'s graph: leaves, then one row per inner node, operands first; the last is the root."""
    nodes = list(leaves)
    for data, grad, code, arg, op, label, custom_backward, children in rows:
        out = Value.__new__(Value)
        out.data, out.grad, out._code, out._arg, out._op, out.label = data, grad, code, arg, op, label
        out._custom_backward = custom_backward
        out._children = tuple(nodes[i] for i in children)
        nodes.append(out)
    return nodes[-1]


def _from_recipe(node: Value, memo: dict | None) -> Value:
    """A copy of node made from its class's ``__reduce_ex__`` as the copy module does (deep when memo is given)."""
    func, args, *rest = node.__reduce_ex__(4)
    state = rest[0] if rest else None
    if memo is not None:
        args, state = copy.deepcopy(args, memo), copy.deepcopy(state, memo)
    out = func(*args)
    if memo is not None:
        memo[id(node)] = out
    if state is not None:
        attrs, slots = state if isinstance(state, tuple) and len(state) == 2 else (state, None)
        if attrs:
            out.__dict__.update(attrs)
        for name, v in (slots or {}).items():
            setattr(out, name, v)
    return out


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
