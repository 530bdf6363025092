"""Neural-network building blocks on the Value path: Module, Neuron, Layer, MLP.

A drop-in superset of Karpathy's micrograd ``nn``: with the defaults,
``random.seed(1337); MLP(2, [16, 16, 1])`` draws micrograd's very weights
(``random.uniform(-1, 1)`` from Python's global ``random``, in micrograd's
order; bias ``Value(0)``), computes the same numbers and has the same repr.

Contract:
- ``Neuron.__call__`` computes exactly
  ``act = sum((wi*xi for wi, xi in zip(self.w, x)), self.b)`` then the
  activation (the compiler's fusion pass recognizes that chain).
- Extra keywords: ``activation=`` identity | sigmoid | tanh | relu |
  leaky_relu | prelu | elu | selu (``nonlin=False`` still means identity);
  ``prelu='neuron'`` (a learnable slope per neuron, default) or ``'layer'``
  (one slope shared by the layer); ``init=`` uniform | xavier | he;
  ``rng=`` a ``random.Random`` or an int seed (None: the global ``random``).
- ``parameters()`` order: per neuron w then b (then its prelu slope), layer by
  layer; a layer-shared slope comes after the layer's neurons.
- Every Neuron, Layer and MLP call records ``self._last_io = (inputs, outputs)``,
  both tuples of Values (numbers given as inputs are wrapped first), for diagrams.
- ``state_dict`` / ``load_state_dict`` / ``save`` / ``load`` round-trip exactly
  (``.npz`` or ``.json``, floats written with ``repr``).
- A model takes one example of its width: a batch (a 2-D array, a list of rows) raises a TypeError
  that shows both ways to run one (a list comprehension, or ``micrograd.compile(model)(X)``); a
  wrong number of inputs raises a ValueError naming both numbers.
- Structure changes are counted (``mutations()``, process-wide, O(1) to read): every
  replacement or deletion of a Module attribute (``neuron.b = Value(1.0)``, ``mlp.layers = [...]``)
  and every mutating call on a list a Module holds (``w``, ``neurons``, ``layers``: a ``TrackedList``,
  which an assigned list becomes) adds one or more. Building a module (an attribute set for the
  first time), reading, calling the model, backward, optimizer steps and ``zero_grad`` add
  nothing. A compiled model compares the count at each call, so a change anywhere costs one check
  of its own model (docs/compiled-model-state.md).
- ``copy.deepcopy`` / ``pickle`` of a module leave out its recorded graphs (``_last_io``, and
  ``micrograd.viz``'s recorded calls): the copy holds new parameter Values with the same data and
  grad, and ``_last_io = None``.
- ``repr`` is micrograd's (every neuron listed); ``describe()`` / ``summary()`` and the notebook
  display (``_repr_pretty_``, ``_repr_html_``) are short: 'MLP(2 -> [16, 16] -> 1, relu, 337 parameters)'.
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import os
import random
from collections.abc import Callable, Iterable, Sequence

from micrograd._files import replacing
from micrograd.engine import Value

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu")
INITS = ("uniform", "xavier", "he")
_REPR_NAME = {
    "identity": "Linear",
    "relu": "ReLU",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "leaky_relu": "LeakyReLU",
    "prelu": "PReLU",
    "elu": "ELU",
    "selu": "SELU",
}
PRELU_INIT = 0.25  # PyTorch's nn.PReLU default slope

RngLike = None | int | random.Random


def _as_rng(rng: RngLike):
    """None -> Python's global random module (micrograd's behaviour); int -> a seeded Random."""
    if rng is None or rng is random or isinstance(rng, random.Random):
        return random if rng is None else rng
    if isinstance(rng, numbers.Integral):
        return random.Random(int(rng))
    raise TypeError(f"rng must be None, an int seed or a random.Random, got {rng!r}")


# ---------------------------------------------------------------- structure changes
_COUNTER = itertools.count(1)
_mutations = 0


def mutations() -> int:
    """How many structure changes Modules have seen in this process (see the module docstring).

    A compiled model keeps the value it saw and compares it at each call (O(1)); a different value
    means some module somewhere changed, so it checks its own model once. The count only grows.
    """
    return _mutations


def _mutated() -> None:
    global _mutations
    _mutations = next(_COUNTER)  # atomic: a value is never handed out twice, even across threads


def _noting(method: Callable) -> Callable:
    def mutate(self, *args, **kwargs):
        out = method(self, *args, **kwargs)
        _mutated()
        return out

    mutate.__name__, mutate.__doc__ = method.__name__, method.__doc__
    return mutate


class TrackedList(list):
    """A list that counts its own mutations in ``mutations()``: what a Module holds its parts in.

    Only the mutating methods are wrapped; iteration, indexing, ``len`` and comparison are list's
    own (so the Value path loops over a neuron's weights at list speed), and slices, copies and
    ``+`` give plain lists. Copies and pickles rebuild it from a plain list without counting.
    """

    __slots__ = ()
    __setitem__ = _noting(list.__setitem__)
    __delitem__ = _noting(list.__delitem__)
    __iadd__ = _noting(list.__iadd__)
    __imul__ = _noting(list.__imul__)
    append = _noting(list.append)
    extend = _noting(list.extend)
    insert = _noting(list.insert)
    pop = _noting(list.pop)
    remove = _noting(list.remove)
    clear = _noting(list.clear)
    sort = _noting(list.sort)
    reverse = _noting(list.reverse)

    def __reduce_ex__(self, protocol):
        return TrackedList, (list(self),)


_MISSING = object()


def _as_values(x: Iterable, module: Module = None, width: int | None = None) -> tuple:
    """The inputs as a tuple of Values, numbers wrapped once (so all neurons share the same leaves).

    A batch (a 2-D array, a list of rows) is refused with the two ways to run one: a model on the
    Value path takes one example at a time; so is an example of another width than ``width``.
    """
    if isinstance(x, Value):  # the single output of a one-neuron layer feeding the next layer
        x = (x,)
    else:
        try:
            x = tuple(xi if isinstance(xi, Value) else Value(xi) for xi in x)
        except TypeError:
            if getattr(x, "ndim", 1) >= 2 or any(
                isinstance(xi, (list, tuple)) or getattr(xi, "ndim", 0) >= 1 for xi in x
            ):
                raise TypeError(_batch_message(x, module)) from None
            raise
    if width is not None and len(x) != width:
        raise ValueError(
            f"{type(module).__name__} takes {width} inputs (one example: a sequence of {width} numbers or "
            f"Values), got {len(x)}"
        )
    return x


def _batch_message(x, module) -> str:
    shape = getattr(x, "shape", None)
    got = f"an array of shape {tuple(shape)}" if shape is not None else f"a list of {len(x)} rows"
    name = type(module).__name__ if module is not None else "a model"
    return (
        f"{name} takes one example (a sequence of numbers), got {got}, a batch. Run a batch "
        f"example by example, [model(x) for x in X] (Values, for backward()), or compiled, "
        f"micrograd.compile(model)(X) (a NumPy array, one row of outputs per example)."
    )


class Module:
    """Base class: parameters, gradients, names and (de)serialization of the weights."""

    def __setattr__(self, name: str, value) -> None:
        before = self.__dict__.get(name, _MISSING)
        if type(value) is list:
            value = TrackedList(value)  # a copy: the module holds its own list, counting its changes
        elif value is before:
            return  # the same object again: nothing changes
        object.__setattr__(self, name, value)
        if before is not _MISSING:  # a replacement; a first assignment builds the module
            _mutated()

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        _mutated()

    def __getstate__(self) -> dict:
        """copy/pickle: everything but the recorded graphs: ``_last_io`` (None in the copy) and the calls
        ``micrograd.viz.modules.record_calls`` keeps (its ``_CALLS_ATTR``, left out)."""
        state = dict(self.__dict__)
        state.pop("_viz_calls", None)
        if "_last_io" in state:
            state["_last_io"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        attrs = self.__dict__  # directly: rebuilding a module is not a change to count
        for name, value in state.items():
            attrs[name] = TrackedList(value) if type(value) is list else value

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self) -> list[Value]:
        return []

    # ------------------------------------------------------------ names
    def named_parameters(self) -> list[tuple[str, Value]]:
        """(dotted name, Value) in parameters() order, e.g. 'layers.0.neurons.3.w.1'.

        Subclasses written for micrograd (no ``_fields``) get their parameters
        numbered '0', '1', ... instead.
        """
        fields = getattr(self, "_fields", None)
        if fields is None:
            return [(str(i), p) for i, p in enumerate(self.parameters())]
        out: list[tuple[str, Value]] = []
        for field in fields:
            item = getattr(self, field, None)
            if item is None:
                continue
            if isinstance(item, (list, tuple)):
                entries = [(f"{field}.{i}", it) for i, it in enumerate(item)]
            else:
                entries = [(field, item)]
            for name, it in entries:
                if isinstance(it, Value):
                    out.append((name, it))
                else:
                    out.extend((f"{name}.{sub}", p) for sub, p in it.named_parameters())
        return out

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict[str, float]:
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Set every parameter from ``state`` (name -> number); keys must match exactly."""
        named = self.named_parameters()
        names = [n for n, _ in named]
        missing = [n for n in names if n not in state]
        unexpected = [k for k in state if k not in set(names)]
        if missing or unexpected:
            raise KeyError(
                f"state_dict does not match {type(self).__name__}: missing keys {missing}, unexpected keys {unexpected}"
            )
        values = []
        for name in names:
            v = state[name]
            if hasattr(v, "shape") and v.shape == ():  # a 0-d numpy array from .npz
                v = v.item()
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"state_dict[{name!r}] must be a real number, got {v!r}")
            values.append(float(v))
        for (_, p), v in zip(named, values):  # only after every value was checked
            p.data = v

    def save(self, path: str | os.PathLike) -> None:
        """Write the weights to ``path`` (.npz or .json), exactly (JSON floats are repr'd), atomically."""
        kind = _file_kind(path)
        state = self.state_dict()
        # to a temporary file renamed into place: a failed save leaves the previous checkpoint intact
        if kind == ".json":
            with replacing(path, "w") as f:
                json.dump(state, f, indent=1)
        else:
            import numpy as np

            with replacing(path, "wb") as f:  # a file object: np.savez would append .npz to a str path
                np.savez(f, **{k: np.float64(v) for k, v in state.items()})

    def load_state_dict_from(self, path: str | os.PathLike) -> Module:
        """Load weights written by ``save`` into this module; returns the module."""
        self.load_state_dict(load_state(path))
        return self

    load = load_state_dict_from


def parameter_names(model, params: Sequence[Value]) -> tuple[list[str], bool]:
    """(a name for every Value of params, whether the names are the model's own): the model's
    ``named_parameters()`` when they list exactly ``params`` in order, else ``params.0``, ``params.1``, ..."""
    named = getattr(model, "named_parameters", None)
    if callable(named):
        pairs = named()
        if len(pairs) == len(params) and all(v is p for (_, v), p in zip(pairs, params)):
            return [n for n, _ in pairs], True
    return [f"params.{j}" for j in range(len(params))], False


def load_state(path: str | os.PathLike) -> dict[str, float]:
    """Read a state dict written by ``Module.save`` (.npz or .json)."""
    if _file_kind(path) == ".json":
        with open(path) as f:
            return json.load(f)
    import numpy as np

    with np.load(path) as z:
        return {k: float(z[k]) for k in z.files}


def _file_kind(path) -> str:
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in (".npz", ".json"):
        raise ValueError(f"cannot tell the format of {os.fspath(path)!r}: use a .npz or .json file name")
    return ext


class Neuron(Module):
    """One neuron: act = b + sum_i w_i * x_i, then its activation (ReLU by default, as micrograd)."""

    _fields = ("w", "b", "slope")

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        *,
        activation: str = "relu",
        init: str = "uniform",
        rng: RngLike = None,
        prelu: str = "neuron",
        negative_slope: float = 0.01,
        alpha: float = 1.0,
        fan_out: int = 1,
        _shared_slope: Value = None,
    ):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {ACTIVATIONS}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {INITS}")
        if prelu not in ("neuron", "layer"):
            raise ValueError(f"prelu must be 'neuron' or 'layer', got {prelu!r}")
        r = _as_rng(rng)
        bound = 1.0 if init == "uniform" else math.sqrt(6.0 / ((nin + fan_out) if init == "xavier" else nin))
        self.w = [Value(r.uniform(-bound, bound)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin
        self.activation = activation if nonlin else "identity"
        self.negative_slope = float(negative_slope)
        self.alpha = float(alpha)
        # A neuron owns its slope (listed in its parameters) unless the layer shares one.
        self.slope = None
        self._shared_slope = None
        if self.activation == "prelu":
            if _shared_slope is not None:
                self._shared_slope = _shared_slope
            else:
                self.slope = Value(PRELU_INIT)
        self._last_io = None

    def __call__(self, x):
        x = _as_values(x, self, len(self.w))
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        a = self.activation
        if a == "relu":
            out = act.relu()
        elif a == "identity":
            out = act
        elif a == "tanh":
            out = act.tanh()
        elif a == "sigmoid":
            out = act.sigmoid()
        elif a == "leaky_relu":
            out = act.leaky_relu(self.negative_slope)
        elif a == "prelu":
            out = act.prelu(self.slope if self.slope is not None else self._shared_slope)
        elif a == "elu":
            out = act.elu(self.alpha)
        else:
            out = act.selu()
        self.__dict__["_last_io"] = (x, (out,))  # not through __setattr__: a record, not a structure change
        return out

    def parameters(self) -> list[Value]:
        return self.w + [self.b] if self.slope is None else self.w + [self.b, self.slope]

    def __repr__(self):
        return f"{_REPR_NAME[self.activation]}Neuron({len(self.w)})"


class Layer(Module):
    """nout neurons reading the same inputs; a layer of one neuron returns a single Value."""

    _fields = ("neurons", "slope")

    def __init__(self, nin: int, nout: int, **kwargs):
        kwargs["rng"] = _as_rng(kwargs.get("rng"))  # one generator for all neurons: micrograd's draw order
        kwargs.setdefault("fan_out", nout)
        nonlin = kwargs.get("nonlin", True)
        self.slope = None
        if nonlin and kwargs.get("activation") == "prelu" and kwargs.get("prelu", "neuron") == "layer":
            self.slope = Value(PRELU_INIT)
            kwargs["_shared_slope"] = self.slope
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]
        self._last_io = None

    def __call__(self, x):
        x = _as_values(x, self, len(self.neurons[0].w) if self.neurons else None)
        out = [n(x) for n in self.neurons]
        self.__dict__["_last_io"] = (x, tuple(out))
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        params = [p for n in self.neurons for p in n.parameters()]
        return params if self.slope is None else params + [self.slope]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"

    def describe(self) -> str:
        """One short line, e.g. 'Layer(2 -> 16, relu, 48 parameters)' (repr stays micrograd's)."""
        return (
            f"Layer({len(self.neurons[0].w)} -> {len(self.neurons)}, {_activation_of(self)}, "
            f"{len(self.parameters())} parameters)"
        )

    summary = describe

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's text display; repr() stays micrograd's
        p.text(self.describe())


class MLP(Module):
    """Layers of sizes nouts; hidden layers use ``activation`` (ReLU by default), the last is linear."""

    _fields = ("layers",)

    def __init__(self, nin: int, nouts: Sequence[int], **kwargs):
        kwargs["rng"] = _as_rng(kwargs.get("rng"))
        sz = [nin] + list(nouts)
        self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1, **kwargs) for i in range(len(nouts))]
        self._last_io = None

    def __call__(self, x):
        first = self.layers[0].neurons if self.layers else None
        x = _as_values(x, self, len(first[0].w) if first else None)
        inputs = x
        for layer in self.layers:
            x = layer(x)
        self.__dict__["_last_io"] = (inputs, tuple(x) if isinstance(x, list) else (x,))
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"

    # repr() stays micrograd's (tests/test_micrograd_compat.py); notebooks and summary() get a short form.
    def describe(self) -> str:
        """One short line, e.g. 'MLP(2 -> [16, 16] -> 1, relu, 337 parameters)'."""
        sizes = [len(layer.neurons) for layer in self.layers]
        hidden = f" -> {sizes[:-1]}" if len(sizes) > 1 else ""
        act = _activation_of(self.layers[0]) if len(sizes) > 1 else "linear"
        return (
            f"MLP({len(self.layers[0].neurons[0].w)}{hidden} -> {sizes[-1]}, {act}, "
            f"{len(self.parameters())} parameters)"
        )

    def summary(self) -> str:
        """describe() and one line per layer."""
        rows = [f"  layers.{i}: {layer.describe()}" for i, layer in enumerate(self.layers)]
        return "\n".join([self.describe(), *rows])

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's text display
        p.text(self.summary())

    def _repr_html_(self) -> str:  # Jupyter's rich display: a small table, one row per layer
        import html

        rows = "".join(
            f"<tr><td>layers.{i}</td><td>{len(layer.neurons[0].w)}</td><td>{len(layer.neurons)}</td>"
            f"<td>{html.escape(_activation_of(layer))}</td><td>{len(layer.parameters())}</td></tr>"
            for i, layer in enumerate(self.layers)
        )
        return (
            f"<div><code>{html.escape(self.describe())}</code><table><tr><th>layer</th><th>inputs</th>"
            f"<th>outputs</th><th>activation</th><th>parameters</th></tr>{rows}</table></div>"
        )


def _activation_of(layer: Layer) -> str:
    """The activation a layer's neurons share ('linear' for identity), or 'mixed'."""
    names = {n.activation for n in layer.neurons}
    name = names.pop() if len(names) == 1 else "mixed"
    return "linear" if name == "identity" else name
