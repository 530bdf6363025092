"""Which Values each nn module created: the module groups behind clusters and collapsed nodes.

Contract (shared with ``micrograd.nn``): every Neuron, Layer and MLP records its
last call as ``module._last_io = (inputs, outputs)``, tuples of Values. The
Values a call created are those reachable backward from its outputs, stopping
at its inputs (excluded); the module's parameters belong to it. A Value
created inside nested modules belongs to the innermost one.

A model applied to several samples records only its last call. To group every
call (the usual training picture: one call per sample), build the graph inside
``record_calls(model)``; each module then keeps the list of all its calls.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from micrograd.engine import Value

_CALLS_ATTR = "_viz_calls"  # list of (inputs, outputs), set by record_calls


class Call(NamedTuple):
    """One call of one module, as it appears in the drawn graph."""

    key: int  # position in Grouping.calls, used for node ids
    module: object
    kind: str  # 'neuron', 'layer', 'mlp': the class name in lower case
    title: str  # 'Neuron 0.3' or 'Neuron 0.3 (call 2/10)'
    outputs: tuple
    parent: Call | None  # the call of the enclosing module, if any


def _is_module(obj) -> bool:
    try:
        from micrograd.nn import Module

        if isinstance(obj, Module):
            return True
    except ImportError:  # nn not importable: fall back to what a module looks like
        pass
    return callable(getattr(obj, "parameters", None)) and not isinstance(obj, (type, Value))


def walk_modules(model) -> list[tuple]:
    """(path, module) for model and every submodule, parents before children, in attribute order."""
    out, stack = [], [("", model)]
    while stack:
        path, mod = stack.pop()
        out.append((path, mod))
        children = []
        for attr, val in vars(mod).items():
            if attr.startswith("_"):
                continue
            if _is_module(val):
                children.append((f"{path}.{attr}".lstrip("."), val))
            elif isinstance(val, (list, tuple)):
                children += [(f"{path}.{attr}.{i}".lstrip("."), m) for i, m in enumerate(val) if _is_module(m)]
        stack.extend(reversed(children))
    return out


def _title(mod, path: str) -> str:
    """'Neuron 0.3' for layers.0.neurons.3: the class and the indices of the path."""
    digits = [p for p in path.split(".") if p.isdigit()]
    where = ".".join(digits) if digits else path
    return f"{type(mod).__name__} {where}".rstrip()


def _module_calls(mod) -> list:
    """The calls record_calls kept, and the last call (a later graph may not have been recorded)."""
    calls = list(vars(mod).get(_CALLS_ATTR) or [])
    io = getattr(mod, "_last_io", None)
    if io is not None and not any(c is io for c in calls):
        calls.append(io)
    return calls


def _as_tuple(vals) -> tuple:
    return (vals,) if isinstance(vals, Value) else tuple(vals)


class Grouping:
    """Every node of a graph assigned to the innermost module call that created it."""

    def __init__(self, topo: Sequence[Value], model):
        index = {v: i for i, v in enumerate(topo)}
        self.calls: list[Call] = []
        self.owner: dict[Value, Call] = {}
        self.params: dict[int, set] = {}  # id(module) -> its parameters, its submodules' included
        self.depth: dict[str, int] = {}  # kind -> nesting depth (mlp 0, layer 1, neuron 2)
        for path, mod in walk_modules(model):
            kind = type(mod).__name__.lower()
            self.depth.setdefault(kind, path.count(".") + 1 if path else 0)
            self.params[id(mod)] = set(mod.parameters())
            # only calls whose outputs are in this graph (an older call may linger)
            ios = [(_as_tuple(i), _as_tuple(o)) for i, o in _module_calls(mod)]
            ios = [(i, o) for i, o in ios if o and all(v in index for v in o)]
            for k, (ins, outs) in enumerate(ios):
                title = _title(mod, path) + (f" (call {k + 1}/{len(ios)})" if len(ios) > 1 else "")
                call = Call(len(self.calls), mod, kind, title, outs, self.owner.get(outs[0]))
                self.calls.append(call)
                for v in self._created(ins, outs):
                    self.owner[v] = call

    @staticmethod
    def _created(ins: tuple, outs: tuple) -> Iterator[Value]:
        stop, seen, stack = set(ins), set(), list(outs)
        while stack:
            v = stack.pop()
            if v in stop or v in seen:
                continue
            seen.add(v)
            yield v
            stack.extend(v._children)

    def is_param_of(self, v: Value, call: Call) -> bool:
        """True if v is a parameter of call's module (shared by all its calls: no edge into a call)."""
        return v in self.params[id(call.module)]

    def levels(self) -> list[str]:
        """The module kinds, finest (deepest) first: ['neuron', 'layer', 'mlp']."""
        return sorted(self.depth, key=lambda k: -self.depth[k])

    def group_at(self, v: Value, level: str) -> Call | None:
        """The call of a `level` module that holds v (its own or an enclosing one), or None."""
        call = self.owner.get(v)
        while call is not None and call.kind != level:
            call = call.parent
        return call


@contextlib.contextmanager
def record_calls(model):
    """Inside this block every call of model and its submodules is kept, not only the last.

        with record_calls(model):
            loss = sum(hinge(model(x), y) for x, y in zip(X, Y))
        draw_dot(loss, model=model, collapse='layer')

    It wraps ``__call__`` of the model's module classes for the duration of the
    block and restores them after; the calls stay on the modules for draw_dot
    (holding that graph in memory) until the next record_calls on them.
    """
    mods = [m for _, m in walk_modules(model)]
    wanted = {id(m) for m in mods}
    for m in mods:
        vars(m)[_CALLS_ATTR] = []
    patched = []
    for cls in {type(m) for m in mods}:
        owner = next(c for c in cls.__mro__ if "__call__" in vars(c))
        if any(owner is c for c, _ in patched):
            continue
        original = vars(owner)["__call__"]

        def wrapper(self, *args, __original=original, **kwargs):
            out = __original(self, *args, **kwargs)
            if id(self) in wanted and getattr(self, "_last_io", None) is not None:
                vars(self)[_CALLS_ATTR].append(self._last_io)
            return out

        patched.append((owner, original))
        owner.__call__ = wrapper
    try:
        yield model
    finally:
        for owner, original in patched:
            owner.__call__ = original
