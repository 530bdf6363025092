"""Argument checks of the compiled path: every bad argument is refused by name, never coerced.

Each function returns the value in the form the runtime uses, or raises
TypeError (wrong kind: a float epoch count, a string) or ValueError (right
kind, bad value: a negative l2, a hinge label of 0) with a message that names
the argument, what was given and what is allowed. Named losses are described
by ``micrograd.losses.REGISTRY`` (target kind, label rule): this module knows
no loss by name.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from operator import is_
from typing import Literal, overload

import numpy as np

from micrograd import losses

LossArg = str | Callable


@overload
def integer(name: str, value, minimum: int, none_ok: Literal[False] = False) -> int: ...
@overload
def integer(name: str, value, minimum: int, none_ok: bool) -> int | None: ...
def integer(name: str, value, minimum: int, none_ok: bool = False) -> int | None:
    """An int >= minimum (NumPy integers too); bool, float and str are refused."""
    if type(value) is int and value >= minimum:  # the common case, without the ABC checks below
        return value
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an int >= {minimum}{' or None' if none_ok else ''}, "
            f"got {value!r} of type {type(value).__name__}"
        )
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def real(name: str, value, minimum: float = 0.0) -> float:
    """A finite real number >= minimum (NumPy floats too); bool and str are refused."""
    if type(value) is float and minimum <= value < math.inf:  # the common case (NaN fails both comparisons)
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number >= {minimum:g}, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum:g}, got {value!r}")
    return value


def clip_norm(value) -> float:
    """fit's and loss_and_grad's clip_norm: None (no clipping: 0.0 for the kernels) or a finite number > 0."""
    if value is None:
        return 0.0
    norm = real("clip_norm", value)
    if norm == 0.0:
        raise ValueError("clip_norm must be a finite number > 0 (or None: no clipping), got 0")
    return norm


def callbacks(value) -> list:
    """fit's callbacks: None or a list of callables cb(epoch, logs)."""
    if value is None:
        return []
    if callable(value) or isinstance(value, (str, bytes)):
        raise TypeError(f"callbacks must be a list of callables cb(epoch, logs), got {value!r}; wrap it: [cb]")
    out = list(value)
    for j, cb in enumerate(out):
        if not callable(cb):
            raise TypeError(f"callbacks[{j}] is {cb!r}, not a callable cb(epoch, logs)")
    return out


def pair(name: str, value) -> tuple:
    """fit's validation: an (X_val, y_val) pair."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (X_val, y_val), got {type(value).__name__}")
    return value[0], value[1]


def flag(name: str, value) -> bool:
    if value is True or value is False:
        return value
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} of type {type(value).__name__}")
    return bool(value)


def seed(rng) -> None:
    """fit's rng must be an int seed >= 0, None (fresh entropy) or a np.random.Generator."""
    if rng is None or (type(rng) is int and rng >= 0) or isinstance(rng, np.random.Generator):
        return
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and int(rng) >= 0:
        return
    raise TypeError(
        f"rng must be an int seed >= 0, None or a np.random.Generator, got {rng!r} of type "
        f"{type(rng).__name__} (a random.Random seeds models in micrograd.nn; fit shuffles with NumPy)"
    )


def generator(rng) -> np.random.Generator:
    """The generator of a checked ``rng`` (built only when fit shuffles: seeding costs ~10 us)."""
    seed(rng)
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def float_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.float64, np.float32):
        raise ValueError(f"dtype must be np.float64 or np.float32, got {dtype!r}")
    return dt


def input_width(model, n_inputs: int | None) -> int:
    """n_inputs (an int >= 0: 0 for a function of its parameters alone), else the input width an nn
    model tells: its ``nin``, or the weights of its first neuron (an MLP's, a Layer's, a Neuron's own)."""
    if n_inputs is not None:
        return integer("n_inputs", n_inputs, 0)
    nin = getattr(model, "nin", None)
    if nin is not None:
        return integer("the model's nin", nin, 0)
    for first_weights in (lambda m: m.layers[0].neurons[0].w, lambda m: m.neurons[0].w, lambda m: m.w):
        try:
            return len(first_weights(model))
        except (AttributeError, IndexError, KeyError, TypeError):
            continue
    raise ValueError(
        "micrograd.compile: cannot tell the model's input width (it is not an nn MLP, Layer or Neuron); "
        "pass n_inputs= (0 for a function of its parameters alone)"
    )


def optimizer(opt, params) -> str:
    """The update fit compiles for ``opt`` ('sgd' or 'adam'); its parameter list must be ``params`` in order."""
    if opt is None:
        raise ValueError("fit needs an optimizer, e.g. micrograd.optim.SGD(model.parameters(), lr=0.1)")
    update = getattr(opt, "kernel_update", None)
    if update is None:
        raise TypeError(
            f"fit runs the optimizer's update in compiled code, and {type(opt).__name__} has none "
            f"(micrograd.optim.SGD and Adam do); train with cm.loss_and_grad(...) and its step() "
            f"in a loop instead"
        )
    if len(opt.params) != len(params) or not all(map(is_, opt.params, params)):
        raise ValueError("the optimizer must hold the compiled parameters, in order (cm.params: model.parameters() "
                         "unless compile() was given params=)")  # fmt: skip
    return update


def features(X, n_inputs: int, dtype: np.dtype) -> np.ndarray:
    """X as a C-contiguous (N, n_inputs) array of the kernels' dtype (X itself when it is one already)."""
    if type(X) is np.ndarray and X.dtype == dtype and X.ndim == 2 and X.shape[1] == n_inputs and len(X):
        if X.flags.c_contiguous:
            return X
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must hold real numbers, got dtype {X.dtype}; expected shape (N, {n_inputs})")
    if X.ndim != 2 or X.shape[1] != n_inputs or X.shape[0] == 0:
        raise ValueError(
            f"X has shape {X.shape}; expected (N, {n_inputs}) with N >= 1 "
            f"(one row per example; reshape a single example with X.reshape(1, -1))"
        )
    return np.ascontiguousarray(X, dtype=dtype)


def named_loss(name: str) -> losses.NamedLoss:
    if name not in losses.REGISTRY:
        raise ValueError(f"unknown loss {name!r}; use one of {sorted(losses.REGISTRY)} or a function")
    return losses.REGISTRY[name]


def loss_name(loss: LossArg) -> str | None:
    """The name of a named loss (its kernel fuses it), None for a loss function (lowered op by op)."""
    return loss if isinstance(loss, str) else None


def loss_spec(loss: LossArg, n_outputs: int, target_width: int | None) -> tuple[Callable, int, bool]:
    """(per-example loss function, target width, whether the loss gets one number rather than a list)."""
    if isinstance(loss, str):
        spec = named_loss(loss)
        if spec.target == losses.SCALAR:
            return spec.fn, 1, True
        if spec.target == losses.CLASS and n_outputs < 2:
            raise ValueError(losses.ONE_LOGIT)
        return spec.fn, n_outputs, spec.target == losses.PER_OUTPUT and n_outputs == 1
    if not callable(loss):
        raise TypeError(f"loss must be a name or a function loss(outputs, target), got {loss!r}")
    width = integer("target_width", target_width, 1, none_ok=True)
    return loss, 1 if width is None else width, width is None


def targets(y, N: int, loss: LossArg, n_outputs: int, target_width: int | None, dtype: np.dtype) -> tuple:
    """(Y as a C-contiguous (N, width) array of dtype, target_width for the program), following PyTorch's
    conventions. A named loss's labels are checked by its compiled kernel, in the same pass that reads them
    (``label_error`` words what it finds); here only their shape."""
    spec = losses.REGISTRY.get(loss) if type(loss) is str else None
    one_label = spec is not None and (spec.target == losses.SCALAR or (spec.target == losses.CLASS) == (n_outputs > 1))
    if one_label and target_width is None and type(y) is np.ndarray and y.ndim == 1 and len(y) == N:
        if y.dtype == dtype and y.flags.c_contiguous:  # the common case, as the checks below would find it
            return y.reshape(N, 1), None
    name, spec = (loss, named_loss(loss)) if isinstance(loss, str) else ("", None)
    if spec is not None and target_width is not None:
        raise ValueError(f"target_width is for a loss function; the named loss {loss!r} knows its targets")
    if type(y) is not np.ndarray:
        y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise ValueError(f"y must hold numbers, got dtype {y.dtype}")
    if y.shape[:1] != (N,):
        raise ValueError(f"y has shape {y.shape}; expected {N} rows, one per row of X")
    if y.ndim == 1:
        y = y.reshape(N, 1)
    if spec is not None and spec.target == losses.CLASS:
        if n_outputs < 2:
            raise ValueError(losses.ONE_LOGIT)
        if y.ndim != 2 or y.shape[1] not in (1, n_outputs):
            raise ValueError(
                f"y has shape {y.shape}; expected (N,) class indices or (N, {n_outputs}) probabilities for {loss!r}"
            )
    elif y.ndim != 2:
        raise ValueError(f"y has shape {y.shape}; expected (N,) or (N, width)")
    elif spec is None:
        width = integer("target_width", target_width, 1, none_ok=True)
        if width is not None and width != y.shape[1]:
            raise ValueError(f"target_width={width} but y has {y.shape[1]} columns")
        Y = y if y.dtype == dtype and y.flags.c_contiguous else np.ascontiguousarray(y, dtype=dtype)
        return Y, (None if width is None and y.shape[1] == 1 else y.shape[1])
    else:
        want = 1 if spec.target == losses.SCALAR else n_outputs
        if y.shape[1] != want:
            raise ValueError(
                f"y has shape {y.shape} for loss {loss!r}; expected (N,) or (N, {want})"
                if want == 1
                else f"y has shape {y.shape}; expected (N, {want}) for {loss!r}"
            )
    return (y if y.dtype == dtype and y.flags.c_contiguous else np.ascontiguousarray(y, dtype=dtype)), None


def label_error(loss: str | None, Y: np.ndarray, row: int, n_outputs: int) -> str:
    """The error for row ``row`` of Y, whose label the compiled loss ``loss`` refused (the Value path's words)."""
    name = loss or ""
    if name == "cross_entropy":
        if Y.shape[1] == 1:
            return (f"cross_entropy: y must hold integer class indices in [0, {n_outputs}) of shape (N,), "
                    f"or (N, {n_outputs}) probabilities; y[{row}] is {Y[row, 0].item()!r}")  # fmt: skip
        smallest, total = float(Y[row].min()), float(Y[row].astype(np.float64).sum())
        return f"cross_entropy: y row {row} {losses.distribution_error(smallest, total)}"
    return f"y: {losses.label_error(name, Y[row, 0].item())} (row {row})"
