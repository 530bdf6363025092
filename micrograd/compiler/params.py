"""Parameter binding: a compiled model's parameter Values keep their data and grad in its arrays.

The rule (docs/compiled-model-state.md): the model's Values are what the user
sees, and every compiled call computes with their current data. Instead of
copying weights at each call, ``Binding`` makes the arrays the Values' storage:

- Each parameter Value becomes an instance of a ``Value`` subclass made for
  this binding (``__slots__ = ()``: same layout, so ``p.__class__ = cls``
  works in place and identity, hashing and ``isinstance`` are unchanged).
  Its ``data`` and ``grad`` are properties reading and writing ``data[q]``
  and ``grad[q]`` (float64; ``q`` the parameter's position in the model's
  own order, kept in the raw ``data`` slot). ``type(p.data) is float``;
  ``repr``, ``state_dict``, ``load_state_dict`` and the optimizers see no
  difference.
- float64: ``data`` is the kernels' parameter vector and ``grad`` their
  gradient vector, so no call copies anything. float32: the kernels run on
  a float32 copy; a write to a bound ``p.data`` sets ``stale`` (O(1)) and the
  caller refreshes the copy before its next kernel call.
- A second binding of the same Values marks the first ``lost`` (and
  ``stale``): its next call rebinds, taking the Values' current data. Both
  share one ``lock`` (every binding of overlapping Values does): calls of two
  compiled models of one model run one at a time, never interleaved, so no
  step is lost between them.
- ``copy.deepcopy`` / ``pickle`` of a bound Value give a plain, independent
  ``Value`` with the same data and grad.

Cost (instruction counts, callgrind, Python 3.11): reading a bound ``p.data``
costs ~1,450 instructions more than a plain slot (a Python property), so a
Value-path ``w * x`` with a bound ``w`` runs ~25% more instructions; compiled
calls pay one flag test. Binding itself is O(n) Python (compile time).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from operator import attrgetter, is_

import numpy as np

from micrograd.engine import Value, _as_float

_RAW_DATA = Value.__dict__["data"]  # the slot under the property: holds the parameter's position q
_INDEX = _RAW_DATA.__get__


def _plain_state(p: Value) -> tuple:
    """What copy/pickle rebuild a bound Value from: ``Value(data)`` with the same slots' contents."""
    return Value, (p.data,), (None, {name: getattr(p, name) for name in Value.__slots__})


def _bound_class(binding: Binding) -> type:
    """The Value subclass whose data/grad live in binding.data / binding.grad (see the module docstring)."""
    data, grad = binding.data.data, binding.grad.data  # memoryviews: item access returns a Python float
    flag = binding.flag_writes

    def get_data(self):
        return data[_INDEX(self)]

    def set_data(self, v):
        data[_INDEX(self)] = v if type(v) is float else _as_float(v)
        if flag:
            binding.stale = True

    def get_grad(self):
        return grad[_INDEX(self)]

    def set_grad(self, v):
        grad[_INDEX(self)] = v if type(v) is float else _as_float(v)

    return type(
        "BoundValue",
        (Value,),
        {
            "__slots__": (),
            "__module__": __name__,
            "_binding": binding,
            "data": property(get_data, set_data),
            "grad": property(get_grad, set_grad),
            "__reduce_ex__": lambda self, protocol: _plain_state(self),
            "__doc__": "A parameter Value whose data and grad live in a CompiledModel's arrays (compiler.params).",
        },
    )


class Binding:
    """The arrays a list of parameter Values is bound to, and the flags a compiled model checks per call.

    ``data``, ``grad``: float64 (n,), ``params[q]`` at position q.
    ``theta``, ``gtheta``: the kernels' vectors of ``dtype``: ``data`` and ``grad`` themselves for
    float64, float32 copies otherwise (``flag_writes``: every ``p.data`` write sets ``stale``).
    ``stale``: call ``refresh()`` before the next kernel call (lost, or a float32 copy out of date).
    ``lock``: held by every call of a compiled model; shared with the bindings these Values had before.
    """

    def __init__(self, params: Sequence[Value], dtype=np.float64):
        self.params: list[Value] = list(params)
        n = len(self.params)
        self.pos = np.arange(n, dtype=np.int64)
        owners = _owners(self.params)
        self.lock = next((o.lock for o in owners if o is not None), None) or threading.RLock()
        self.data, self.grad = aligned_zeros(n, np.float64), aligned_zeros(n, np.float64)
        self.flag_writes = np.dtype(dtype) != np.float64
        self.theta: np.ndarray
        self.gtheta: np.ndarray
        self.theta, self.gtheta = (
            (aligned_zeros(n, dtype), aligned_zeros(n, dtype)) if self.flag_writes else (self.data, self.grad)
        )
        self.stale = self.lost = False
        self.cls = _bound_class(self)
        self.bind()
        self.refresh()

    def refresh(self) -> None:
        """Before a kernel call when ``stale``: take the parameters back if another binding took them
        since, and copy their data into a float32 ``theta``."""
        if self.lost:
            self.bind()
        if self.flag_writes:
            self.theta[:] = self.data
        self.stale = False

    def kernel_wrote(self, weights: bool) -> None:
        """After a kernel call: a float32 kernel's gradients (and, when ``weights``, trained weights) go to
        the Values' float64 arrays; nothing to do for float64."""
        if self.flag_writes:
            self.grad[:] = self.gtheta
            if weights:
                self.data[:] = self.theta

    def bind(self) -> None:
        """Make the parameters this binding's again, with their current data and grad (O(n))."""
        params = self.params
        data, grad = [p.data for p in params], [p.grad for p in params]  # through whatever holds them now
        owners = set(_owners(params)) - {None, self}
        for owner in filter(None, owners):
            owner.lost = owner.stale = True  # another compiled model held some of them: it rebinds next call
        self.data[self.pos] = data
        self.grad[self.pos] = grad
        cls = self.cls
        for p, q in zip(params, self.pos.tolist()):
            _RAW_DATA.__set__(p, q)
            p.__class__ = cls
        self.lost = False
        self.stale = True  # the caller's kernel copy (float32) is refreshed from data


def model_parameters(model, params: Sequence[Value]) -> list[Value]:
    """The compiled parameter vector's Values: the model's own parameters in their order (once each), then
    any of ``params`` (distinct: ``check_params``) the model does not list. Every one is read where it is;
    ``params`` says what trains."""
    listed = getattr(model, "parameters", None)
    own = list(listed()) if callable(listed) else []
    if _same(params, own):  # compile(model): the usual case, one C loop and nothing listed twice
        return own
    own = list(dict.fromkeys(own))
    seen = {id(p) for p in own}
    return own + [p for p in params if id(p) not in seen]


def positions(params: Sequence[Value], among: Sequence[Value]) -> np.ndarray:
    """The position in ``among`` of each of ``params`` (every one is there), as int64."""
    if _same(params, among):
        return np.arange(len(params), dtype=np.int64)
    pos = {id(p): q for q, p in enumerate(among)}
    return np.array([pos[id(p)] for p in params], dtype=np.int64)


def _same(xs: Sequence, ys: Sequence) -> bool:
    """xs and ys hold the same objects in the same order (identity, not ==)."""
    return len(xs) == len(ys) and all(map(is_, xs, ys))


def _owners(params: Sequence[Value]) -> list:
    """The bindings (or None) of the params' classes, in the order the classes first occur."""
    return [getattr(cls, "_binding", None) for cls in dict.fromkeys(map(type, params))]


def aligned_zeros(size: int, dtype) -> np.ndarray:
    """np.zeros(size, dtype) starting on a 64-byte boundary, for the arrays the kernels stream through (a
    cache line: a vector load never splits one; A's forward ran at 4.5 or 6.7 us from one process to the
    next as its workspace fell)."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros(size + 64 // itemsize, dtype)
    skip = (-raw.ctypes.data % 64) // itemsize
    return raw[skip : skip + size]


_CHILDREN = attrgetter("_children")


def _distinct_plain(params: list) -> bool:
    """Every one a leaf Value (or a bound one), none twice; their classes hash and compare by identity."""
    for cls in set(map(type, params)):
        if not issubclass(cls, Value) or (cls is not Value and getattr(cls, "_binding", None) is None):
            return False
        if cls.__hash__ is not Value.__hash__ or cls.__eq__ is not Value.__eq__:
            return False
    return len(set(params)) == len(params) and not any(map(_CHILDREN, params))


def check_params(model, params) -> list[Value]:
    """compile()'s parameter list (default: ``model.parameters()``), refused unless distinct plain leaf Values."""
    if not callable(model):
        raise TypeError(
            f"micrograd.compile: model must be an nn.Module or a function of a list of Values, got {model!r}"
        )
    if params is None:
        if not hasattr(model, "parameters"):
            raise ValueError(
                "micrograd.compile(fn, ...): pass params=[...] (the parameter Values), or [] if the function has none"
            )
        params = model.parameters()
    params = list(params)
    if _distinct_plain(params):  # the usual case, in C loops; else the loop below says what is wrong
        return params
    first: dict[int, int] = {}  # id(parameter) -> its first position
    for j, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(
                f"params[{j}] is {p!r}, not a Value: pass the parameter Values "
                f"(model.parameters(), or [] when there are none)"
            )
        if type(p) is not Value and getattr(type(p), "_binding", None) is None:
            raise TypeError(
                f"params[{j}] is a {type(p).__name__}, a subclass of Value: the compiled path "
                f"binds plain micrograd Values only"
            )
        if p._children:
            raise ValueError(
                f"params[{j}] is computed from other Values ({p!r}, the result of {p._op!r}), not a leaf: "
                f"a parameter is a Value made from a number, which the optimizer updates. Leave it out of "
                f"params and list the leaf Values it is computed from (its gradient reaches them)"
            )
        if id(p) in first:
            raise ValueError(
                f"params lists the same Value twice (positions {first[id(p)]} and {j}: {p!r}); "
                f"list each parameter once, e.g. params=list(dict.fromkeys(model.parameters())), "
                f"and give the optimizer the same list"
            )
        first[id(p)] = j
    return params
