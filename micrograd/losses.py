"""Loss functions on the Value path, one example at a time, plus batch helpers.

Every per-example loss has one signature, ``loss(outputs, target) -> Value``:
``outputs`` is a Value or a list of Values (one model output row), ``target``
a number, a Value, or a list of numbers/Values. Targets may be Values because
the compiler traces these functions with Value placeholders; so a loss never
branches on a target's value (the one exception: an int class index for
``cross_entropy`` picks a logit, which is fixed at trace time).

- ``hinge(score, y)``        = (1 + -y*score).relu()      micrograd's demo, y in {-1, +1}
- ``mse(pred, target)``      = mean_k (p_k - t_k)**2       PyTorch MSELoss once averaged over the batch
- ``bce_with_logits(z, y)``  = softplus(z) - y*z           PyTorch BCEWithLogitsLoss, stable
- ``cross_entropy(l, y)``    = logsumexp(l) - l[y]  (int y) or logsumexp(l) - sum_k y_k*l_k (y a distribution)
- ``softmax``, ``log_softmax``, ``logsumexp`` (a left fold of the stable ``Value.logaddexp``:
  logits of 1000 give finite losses and gradients)
- ``mean``, ``l2``, ``batch_loss``: micrograd's demo forms.

Labels are checked where they are numbers (a Value target is a placeholder
and is not): ``hinge`` wants -1/+1, ``bce_with_logits`` 0/1 or a probability,
``cross_entropy`` at least two logits and a class index or a distribution
(non-negative, summing to 1). The error names the expected labels and the fix.

``REGISTRY`` describes each named loss for the compiled path (``NamedLoss``):
its function, its target kind (one number per example, one per output, or a
class) and its label rule, one predicate that takes numbers or NumPy arrays,
so both paths check the same rule with the same message.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import NamedTuple

from micrograd.engine import Value

Scalar = int | float | Value
Outputs = Value | Sequence[Scalar]
Target = Scalar | Sequence[Scalar]


def _row(outputs: Outputs) -> list:
    """One output row as a list of Values (a lone Value is a row of one)."""
    if isinstance(outputs, Value):
        return [outputs]
    if isinstance(outputs, numbers.Real):
        return [Value(outputs)]
    return [o if isinstance(o, Value) else Value(o) for o in outputs]


def _one(outputs: Outputs, what: str) -> Value:
    row = _row(outputs)
    if len(row) != 1:
        raise ValueError(
            f"{what} takes one output per example, got {len(row)}; use cross_entropy or mse for several outputs"
        )
    return row[0]


def _targets(target: Target, k: int, what: str) -> list:
    """The target as a list of k numbers/Values (a scalar target is broadcast only when k == 1)."""
    if isinstance(target, (numbers.Real, Value)):
        ts = [target]
    else:
        ts = list(target)
    if len(ts) != k:
        raise ValueError(f"{what}: {k} outputs but {len(ts)} targets")
    return ts


def mean(values: Sequence[Value]) -> Value:
    """sum(values) * (1.0 / len(values)), micrograd's demo form."""
    if len(values) == 0:
        raise ValueError("mean of an empty list of losses")
    return sum(values) * (1.0 / len(values))


def l2(params: Sequence[Value], alpha: float) -> Value:
    """alpha * sum(p*p), micrograd's demo regularization (it uses alpha = 1e-4)."""
    return alpha * sum(p * p for p in params)


def hinge(score: Outputs, y: Scalar) -> Value:
    """Max-margin loss (1 - y*score)+ for y in {-1, +1}, written as micrograd's demo does."""
    score = _one(score, "hinge")
    _check_label("hinge", y)
    return (1 + -y * score).relu()


def mse(pred: Outputs, target: Target) -> Value:
    """Mean over the K outputs of (p - t)**2."""
    ps = _row(pred)
    ts = _targets(target, len(ps), "mse")
    if len(ps) == 1:
        return (ps[0] - ts[0]) ** 2
    return mean([(p - t) ** 2 for p, t in zip(ps, ts)])


def bce_with_logits(logit: Outputs, y: Scalar) -> Value:
    """Binary cross-entropy of a logit z and a label y in [0, 1]: softplus(z) - y*z (never overflows)."""
    z = _one(logit, "bce_with_logits")
    _check_label("bce_with_logits", y)
    return z.softplus() - y * z


def logsumexp(values: Sequence[Scalar]) -> Value:
    """log(sum_k exp(v_k)) as a left fold of Value.logaddexp (stable for any magnitude)."""
    row = _row(values)
    if not row:
        raise ValueError("logsumexp of an empty list")
    acc = row[0]
    for v in row[1:]:
        acc = acc.logaddexp(v)
    return acc


def log_softmax(logits: Sequence[Scalar]) -> list[Value]:
    """[l_k - logsumexp(l)]."""
    row = _row(logits)
    lse = logsumexp(row)
    return [z - lse for z in row]


def softmax(logits: Sequence[Scalar]) -> list[Value]:
    """[exp(l_k - logsumexp(l))]: probabilities that sum to 1, no overflow."""
    return [v.exp() for v in log_softmax(logits)]


def cross_entropy(logits: Outputs, y: Target) -> Value:
    """-log softmax(logits)[y] for an int class y; for y a distribution (one-hot or probabilities),
    -sum_k y_k log p_k."""
    row = _row(logits)
    if len(row) < 2:
        raise ValueError(ONE_LOGIT)
    lse = logsumexp(row)
    if isinstance(y, Value):
        raise TypeError(
            "cross_entropy: a single Value target is ambiguous; pass an int class index, "
            "or a one-hot list of numbers/Values with one entry per logit"
        )
    if isinstance(y, numbers.Real) and not isinstance(y, bool):
        if float(y) != int(y) or not 0 <= int(y) < len(row):
            raise ValueError(f"cross_entropy: class index {y!r} is not an integer in [0, {len(row)})")
        return lse - row[int(y)]
    ys = _targets(y, len(row), "cross_entropy")
    if not any(isinstance(t, Value) for t in ys):
        bad = distribution_error(min(ys), sum(ys))
        if bad:
            raise ValueError(f"cross_entropy: target {list(ys)!r} {bad}")
    return lse - sum((yk * lk for yk, lk in zip(ys, row)))


def batch_loss(
    loss_fn: Callable[[Outputs, Target], Value], outputs_rows: Sequence[Outputs], targets: Sequence[Target]
) -> Value:
    """mean([loss_fn(o, t) for each example]): the batch loss as micrograd's demo averages it."""
    if len(outputs_rows) != len(targets):
        raise ValueError(f"batch_loss: {len(outputs_rows)} output rows but {len(targets)} targets")
    return mean([loss_fn(o, t) for o, t in zip(outputs_rows, targets)])


# ---------------------------------------------------------------- labels and the registry
ONE_LOGIT = (
    "cross_entropy needs one logit per class (at least 2 outputs), got one output. "
    "For two classes with one output use bce_with_logits with 0/1 labels "
    "(or hinge with -1/+1 labels), or give the model one output per class"
)
DISTRIBUTION_TOL = 1e-6  # how far from 1 a probability row may sum (float32 data rounds at ~1e-7)


def is_distribution(smallest, total):
    """Whether a target row with this minimum and sum is a distribution (numbers, or NumPy arrays of rows)."""
    return (smallest >= 0.0) & (abs(total - 1.0) <= DISTRIBUTION_TOL)


def distribution_error(smallest, total) -> str:
    """What is wrong with a target row with this minimum and sum ('' if it is a distribution)."""
    if is_distribution(smallest, total):
        return ""
    if not smallest >= 0.0:
        return "has a negative (or NaN) entry; a soft target must be probabilities (non-negative, summing to 1)"
    return f"sums to {total!r}; a soft target must be probabilities summing to 1 (or pass class indices)"


def _plus_minus_one(y):
    return (y == 1) | (y == -1)


def _unit_interval(y):
    return (y >= 0) & (y <= 1)


SCALAR, PER_OUTPUT, CLASS = "scalar", "per_output", "class"  # target kinds, see NamedLoss


# Which predictions are right, (N, outputs) and (N, target width) NumPy arrays -> (N,) bool (NaN: wrong).
def _sign_right(outputs, targets):
    return (outputs[:, 0] > 0) == (targets[:, 0] > 0)  # hinge: a score > 0 predicts +1


def _logit_right(outputs, targets):
    return (outputs[:, 0] > 0) == (targets[:, 0] >= 0.5)  # a logit > 0 predicts class 1


def _class_right(outputs, targets):
    """targets: (N, 1) class indices, or (N, k) one-hot rows or distributions."""
    want = targets[:, 0] if targets.shape[1] == 1 else targets.argmax(axis=1)
    return outputs.argmax(axis=1) == want


class NamedLoss(NamedTuple):
    """What the compiled path needs to know about a named loss (the Value path just calls ``fn``).

    ``target``: SCALAR, one number per example (the loss gets it as one number); PER_OUTPUT, one
    number per model output (a single number when the model has one output); CLASS, an int class
    index or a distribution over the outputs (the loss gets a distribution). ``labels_ok``: an
    elementwise predicate on label numbers or NumPy arrays (None: any real number); ``labels`` and
    ``fix`` say what is expected and what to do instead, for the error. ``accuracy``: for a
    classification loss, ``(outputs (N, k), targets (N, w)) -> (N,) bool``, which predictions are right.
    """

    fn: Callable
    target: str
    labels_ok: Callable | None = None
    labels: str = ""
    fix: str = ""
    accuracy: Callable | None = None


REGISTRY = {
    "mse": NamedLoss(mse, PER_OUTPUT),
    "hinge": NamedLoss(
        hinge,
        SCALAR,
        _plus_minus_one,
        "-1 or +1",
        "for 0/1 labels pass 2*y - 1 (make_moons(..., labels='pm1') gives -1/+1), or use bce_with_logits",
        accuracy=_sign_right,
    ),
    "bce_with_logits": NamedLoss(
        bce_with_logits,
        SCALAR,
        _unit_interval,
        "in [0, 1] (0/1 or a probability)",
        "for -1/+1 labels pass (y + 1) / 2, or use hinge",
        accuracy=_logit_right,
    ),
    "cross_entropy": NamedLoss(cross_entropy, CLASS, accuracy=_class_right),
}
BY_NAME = {name: spec.fn for name, spec in REGISTRY.items()}


def label_error(name: str, bad) -> str:
    """The error for a label ``bad`` that loss ``name`` refuses (its rule and the fix)."""
    spec = REGISTRY[name]
    return f"{name} expects labels {spec.labels}, got {bad!r}; {spec.fix}"


def _check_label(name: str, y) -> None:
    """The Value path's label check (a Value label is a placeholder of the compiler: not checked)."""
    if not isinstance(y, Value) and not REGISTRY[name].labels_ok(y):
        raise ValueError(label_error(name, y))
