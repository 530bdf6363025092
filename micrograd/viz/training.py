"""Watch a model learn: record a compiled training run, and replay it in one offline page.

    rng = np.random.default_rng(0)
    record = record_fit(cm, X, y, loss="hinge", optimizer=opt, epochs=50, every=1, rng=rng)
    training_html(record, "training.html")     # open it: loss curve, decision boundary, grad norms

Contract:
- ``record_fit`` trains with exactly one ``cm.fit(..., epochs=1, rng=gen)`` per epoch, all with
  the same ``np.random.Generator`` ``gen``, so the run is the one ``cm.fit(..., epochs=E,
  rng=<a Generator in the same state>)`` would give: the same shuffles, losses and weights (``fit``
  draws one permutation per epoch from the Generator it is given, and the optimizer's state and
  step count carry over between calls). Other keywords go to ``fit`` unchanged.
- A frame is recorded before training (frame 0) and after every ``every``-th epoch (and the last):
  the full-data loss and gradient at the frame's weights (``cm.loss_and_grad``: mean loss plus
  the L2 term), the gradient norm of each layer's parameters, and, for 2-D inputs, the model's
  outputs on a ``grid`` x ``grid`` lattice over the data (the decision boundary).
- A run that diverges or is interrupted (Ctrl-C) raises what ``fit`` raised (``training.DivergedError``
  with the step and epoch counted over the whole run, or KeyboardInterrupt), with ``.history`` (every
  batch loss so far) and ``.record``: the record up to there, its last frame at the weights the model
  kept (the last finite ones), ready for ``training_html`` (``extra["diverged"]``: the step, and
  whether its loss or its gradient was not finite). No NumPy warning on infinite gradients.
- ``training_html(record, path)`` writes one self-contained page (inline CSS and JavaScript, no
  network), atomically, and returns the path as a ``webpage.Page``, which also displays inline
  in a notebook. The record is embedded as JSON with ``<``, ``>`` and ``&`` escaped, so no string
  in it can close the script element. The loss curve is on a log scale when the finite losses
  span more than three decades (``loss_scale``; the demos' loss plots are always on one), and marks
  where training diverged. Hooks for scripts and tests: see ``training_page``.
"""

from __future__ import annotations

import html
import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from micrograd.training import DivergedError, History, diverged
from micrograd.viz import webpage
from micrograd.viz.colors import CLASS_DOT, CLASS_FILL
from micrograd.viz.training_page import TEMPLATE

LOG_DECADES = 3  # a loss curve spanning more decades than this is drawn on a log scale


def loss_scale(*curves) -> str:
    """ "log" when the finite values of the curves are all > 0 and span more than LOG_DECADES decades
    (a diverging run, a loss falling by orders of magnitude), else "linear"."""
    arrays = [np.asarray(c, dtype=np.float64).ravel() for c in curves]
    values = np.concatenate(arrays) if arrays else np.zeros(0)
    values = values[np.isfinite(values)]
    if values.size == 0 or values.min() <= 0.0:
        return "linear"
    return "log" if values.max() > values.min() * 10.0**LOG_DECADES else "linear"


@dataclass
class Frame:
    """The state of the training after ``epoch`` epochs (``step`` optimizer steps)."""

    epoch: int
    step: int
    loss: float  # full-data loss at these weights (mean loss + l2 term)
    grad_norms: list[float]  # per layer: sqrt(sum of squared gradients of its parameters)
    outputs: list[float] | None = None  # the model's output on the grid, row by row (2-D inputs)


@dataclass
class TrainingRecord:
    """What ``record_fit`` saw; ``history`` is the batch loss of every step, as ``fit`` returns it."""

    title: str
    loss: str
    epochs: int
    every: int
    history: list[float]
    layers: list[str]
    frames: list[Frame]
    X: list[list[float]] | None = None  # the data, for the scatter plot (2-D inputs)
    y: list[float] | None = None
    grid_x: list[float] | None = None  # lattice coordinates: outputs[i * len(grid_x) + j] is
    grid_y: list[float] | None = None  # the output at (grid_x[j], grid_y[i])
    extra: dict = field(default_factory=dict)


def layer_groups(model, n_params: int) -> tuple:
    """(names, group index per parameter): 'layers.0' ... from named_parameters, else one group."""
    try:
        named = [name for name, _ in model.named_parameters()]
    except AttributeError:
        named = []
    if len(named) != n_params or not all(n.startswith("layers.") for n in named):
        return ["all parameters"], np.zeros(n_params, dtype=np.int64)
    keys = [".".join(n.split(".")[:2]) for n in named]
    names = list(dict.fromkeys(keys))
    labels = []
    for k in names:
        layer = model.layers[int(k.split(".")[1])]
        describe = getattr(layer, "describe", None)
        labels.append(f"{k}: {describe()}" if describe else k)
    return labels, np.array([names.index(k) for k in keys], dtype=np.int64)


def _grid(X: np.ndarray, n: int) -> tuple:
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-9
    gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], n)
    gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], n)
    xx, yy = np.meshgrid(gx, gy)
    return gx, gy, np.c_[xx.ravel(), yy.ravel()]


def record_fit(
    cm,
    X,
    y,
    loss="hinge",
    optimizer=None,
    epochs: int = 1,
    every: int = 1,
    rng: int | np.random.Generator | None = None,
    grid: int = 40,
    title: str = "training",
    **fit_kwargs,
) -> TrainingRecord:
    """Train ``cm`` for ``epochs`` epochs (one ``cm.fit(..., epochs=1, rng=gen)`` each) and record a
    frame every ``every`` epochs; see the module docstring. ``rng``: a Generator (used as is), a seed,
    or None for ``np.random.default_rng(0)`` (fit's own default seed)."""
    if int(epochs) < 1 or int(every) < 1:
        raise ValueError(f"epochs and every must be >= 1, got epochs={epochs}, every={every}")
    if "epochs" in fit_kwargs or "rng" in fit_kwargs:
        raise TypeError("record_fit passes epochs=1 and rng itself")
    if fit_kwargs.get("callbacks"):
        raise TypeError(
            "record_fit calls fit once per epoch, so callbacks would start afresh every epoch; train with fit"
        )
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(0 if rng is None else rng)
    X = np.asarray(X, dtype=np.float64)
    names, group = layer_groups(cm.model, len(cm.params))
    two_d = X.ndim == 2 and X.shape[1] == 2
    gx, gy, points = _grid(X, int(grid)) if two_d else (None, None, None)
    grad_keys = {k: fit_kwargs[k] for k in ("l2", "target_width") if k in fit_kwargs}

    def frame(epoch: int, step: int) -> Frame:
        value, grads = cm.loss_and_grad(X, y, loss=loss, **grad_keys)
        norms = group_norms(grads, group, len(names))
        outputs = None
        if two_d:
            out = cm(points)
            outputs = (out[:, 0] if out.shape[1] == 1 else np.argmax(out, axis=1)).astype(np.float64)
            outputs = [float(f"{v:.4g}") for v in outputs]  # 4 digits: a picture, and a smaller page
        return Frame(epoch, step, float(value), norms.tolist(), outputs)

    history: list[float] = []
    frames = [frame(0, 0)]

    def record() -> TrainingRecord:
        return TrainingRecord(
            title=title,
            loss=loss if isinstance(loss, str) else getattr(loss, "__name__", "loss"),
            epochs=int(epochs),
            every=int(every),
            history=list(history),
            layers=names,
            frames=frames,
            X=X.tolist() if two_d else None,
            y=np.asarray(y, dtype=np.float64).reshape(len(X), -1)[:, 0].tolist() if two_d else None,
            grid_x=None if gx is None else gx.tolist(),
            grid_y=None if gy is None else gy.tolist(),
            extra={"outputs": int(cm.n_outputs)},
        )

    for e in range(1, int(epochs) + 1):
        before = len(history)
        try:
            history.extend(cm.fit(X, y, loss=loss, optimizer=optimizer, epochs=1, rng=gen, **fit_kwargs).tolist())
        except (DivergedError, KeyboardInterrupt) as err:  # the record so far, the last frame at the kept weights
            part = getattr(err, "history", None)
            if part is None:  # Ctrl-C before fit's first step
                raise
            history.extend(part.tolist())
            whole = History(history, steps_per_epoch=part.steps_per_epoch, epochs=e - 1)
            kept = len(history) if not isinstance(err, DivergedError) else before + err.step  # steps applied
            if frames[-1].step != kept:
                frames.append(frame(e - 1, kept))
            if not isinstance(err, DivergedError):
                err.history, err.record = whole, record()  # type: ignore[attr-defined]
                raise
            error = diverged(before + err.step, e - 1, err.lr, err.loss, err.gradient, whole)
            error.record = record()  # type: ignore[attr-defined]
            error.record.extra["diverged"] = {"step": error.step, "what": "gradient" if err.gradient else "loss"}
            raise error from None
        if e % int(every) == 0 or e == int(epochs):
            frames.append(frame(e, len(history)))
    return record()


def group_norms(grads: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """sqrt(sum of squares) of the gradients of each group, scaled by the group's largest |g| so that
    gradients of 1e200 give their norm, not an overflow (inf and NaN gradients give inf and NaN)."""
    a = np.abs(grads)
    top = np.zeros(n)
    with np.errstate(all="ignore"):
        np.maximum.at(top, group, a)
        scaled = np.where(top[group] > 0, a / top[group], 0.0)
        norms = top * np.sqrt(np.bincount(group, weights=scaled * scaled, minlength=n))
    return np.where(np.isinf(top), np.inf, norms)


def _finite(obj):
    """The record as JSON data: NaN and infinities (a diverging run) become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def script_json(data) -> str:
    """The record as script-safe JSON (webpage.script_json), NaN and infinities as null."""
    return webpage.script_json(_finite(data))


def training_html(record: TrainingRecord, path: str | os.PathLike = "training.html") -> webpage.Page:
    """Write the replay page of record to path; returns the path (a webpage.Page)."""
    if not isinstance(record, TrainingRecord):
        raise TypeError(f"training_html needs the TrainingRecord that record_fit returns, got {type(record).__name__}")
    data = asdict(record) | {
        "log_scale": loss_scale(record.history) == "log",
        "colors": {"dot": list(CLASS_DOT), "fill": list(CLASS_FILL)},
    }
    parts = {"__TITLE__": html.escape(record.title), "__DATA__": script_json(data)}
    return webpage.write_page(path, webpage.fill(TEMPLATE, parts))
