"""micrograd.check: the Value path against the compiled path, on the same inputs, side by side.

    report = micrograd.check(model, X, y, loss="cross_entropy")   # or check(fn, X, params=[...], n_inputs=k)
    assert report                     # truthy iff every quantity agrees within tolerance
    print(report)                     # verdict, largest differences, worst parameter, the table

Both paths compute the outputs of every row of X, the batch loss
``mean_i loss(model(X[i]), y[i]) + l2 * sum(p*p)`` (the convention of
``cm.loss_and_grad``; y as it takes it) and its gradient with respect to every
parameter. Without y (and without loss) the loss is ``mean_i sum_k out[i, k]``, so
every gradient is still checked. The Value path is the reference: a quantity
agrees when ``|compiled - value| <= atol + rtol * |value|`` (NaN agrees with
NaN, an infinity with itself). X=None uses 8 rows of standard normal numbers
(seed 0). The parameters' ``.data`` are not changed; their ``.grad`` are
restored afterwards.

``run_file(path)`` checks a file in this process: the file is executed and must
define ``model`` (an nn.Module, or a function with ``params`` and
``n_inputs``); it may define ``X``, ``y``, ``loss``, ``l2``. Whatever keeps it
from being checked (it raises, calls ``sys.exit``, lacks ``model``; the check
raises) is a ``CheckFileError`` of one line. ``python -m micrograd check FILE``
runs it in a child process with a timeout (``micrograd.checkfile``).

This module imports only the engine at import time (NumPy and the compiler
load on the first call), so ``import micrograd`` stays light.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from micrograd.engine import Value

LossArg = None | str | Callable
RTOL, ATOL = 1e-9, 1e-12  # defaults: float64 round-off of a BLAS-order sum is ~1e-15 relative
SHOW = 20  # rows of the table printed by str(report); report.table() prints them all


def sum_outputs(outputs, target) -> Value:
    """The loss used without y: the sum of the example's outputs (target ignored)."""
    row = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    return sum(row[1:], row[0])


class CheckReport:
    """What ``check`` measured; ``bool(report)`` is the verdict (see the module docstring)."""

    def __init__(self, names, outputs, loss, grads, rtol, atol, loss_name, n_rows):
        self.names = list(names)  # parameter names, model.parameters() order
        self.outputs_value, self.outputs_compiled = outputs  # (N, nout) arrays
        self.loss_value, self.loss_compiled = loss  # floats
        self.grads_value, self.grads_compiled = grads  # (P,) arrays
        self.rtol, self.atol, self.loss_name, self.n_rows = rtol, atol, loss_name, n_rows
        self.rows = self._rows()  # [(quantity, value, compiled, abs, rel, ok)]
        self.passed = all(r[5] for r in self.rows)
        finite = [r for r in self.rows if not math.isnan(r[3])]
        top_abs = max(finite, key=lambda r: r[3], default=("", 0, 0, 0.0, 0.0))  # the first of equals
        top_rel = max(finite, key=lambda r: r[4], default=("", 0, 0, 0.0, 0.0))
        self.max_abs_diff, self.worst_abs = top_abs[3], top_abs[0]
        self.max_rel_diff, self.worst_rel = top_rel[4], top_rel[0]
        g = [r for r in self.rows if r[0].startswith("grad ")]
        worst = max(g, key=lambda r: (not r[5], r[3] if not math.isnan(r[3]) else math.inf), default=None)
        self.worst_param = None if worst is None else worst[0][5:]  # the name of the worst gradient
        self.worst_param_diff = 0.0 if worst is None else worst[3]

    def _rows(self) -> list:
        rows = [("loss", self.loss_value, self.loss_compiled)]
        N, K = self.outputs_value.shape
        rows += [
            (f"output[{i}, {k}]", self.outputs_value[i, k], self.outputs_compiled[i, k])
            for i in range(N)
            for k in range(K)
        ]
        rows += [(f"grad {n}", v, c) for n, v, c in zip(self.names, self.grads_value, self.grads_compiled)]
        return [(q, float(v), float(c), *self._diff(float(v), float(c))) for q, v, c in rows]

    def _diff(self, v: float, c: float) -> tuple:
        if math.isnan(v) or math.isnan(c) or math.isinf(v) or math.isinf(c):
            same = (math.isnan(v) and math.isnan(c)) or v == c
            return (0.0, 0.0, True) if same else (math.nan, math.nan, False)
        d = abs(c - v)
        rel = d / abs(v) if v != 0.0 else (0.0 if d == 0.0 else math.inf)
        return d, rel, d <= self.atol + self.rtol * abs(v)

    def __bool__(self) -> bool:
        return self.passed

    def table(self, limit: int | None = None) -> str:
        """The compared quantities, one line each (the ``limit`` largest differences when given)."""
        rows = self.rows
        if limit is not None and len(rows) > limit:
            rows = sorted(rows, key=lambda r: (r[5], -(r[3] if not math.isnan(r[3]) else math.inf)))[:limit]
        width = max([len(r[0]) for r in rows] + [8])
        lines = [f"{'quantity':<{width}} {'Value path':>23} {'compiled':>23} {'abs diff':>9} {'rel diff':>9}  ok"]
        for q, v, c, d, r, ok in rows:
            lines.append(f"{q:<{width}} {v:>23.16g} {c:>23.16g} {d:>9.2g} {r:>9.2g}  {'yes' if ok else 'NO'}")
        if len(rows) < len(self.rows):
            lines.append(
                f"... the {len(rows)} largest differences of {len(self.rows)} quantities (report.table() lists all)"
            )
        return "\n".join(lines)

    def summary(self) -> str:
        verdict = "passed" if self.passed else f"FAILED ({sum(not r[5] for r in self.rows)} quantities differ)"
        head = (
            f"micrograd.check {verdict}: Value path vs compiled path, {self.n_rows} examples, "
            f"{self.outputs_value.shape[1]} outputs, loss {self.loss_name}, {len(self.names)} parameters "
            f"(rtol={self.rtol:g}, atol={self.atol:g})"
        )
        lines = [
            head,
            f"  largest abs. difference {self.max_abs_diff:.3g} ({self.worst_abs or '-'}), "
            f"largest rel. difference {self.max_rel_diff:.3g} ({self.worst_rel or '-'})",
        ]
        if self.worst_param is not None:
            lines.append(f"  worst parameter: {self.worst_param} (abs. difference {self.worst_param_diff:.3g})")
        return "\n".join(lines)

    def line(self) -> str:
        """The verdict and its largest differences in one line (what ``python -m micrograd check`` prints)."""
        worst = (
            ""
            if self.worst_param is None
            else (f"; worst parameter: {self.worst_param} (abs. difference {self.worst_param_diff:.3g})")
        )
        return (
            f"{self.summary().splitlines()[0]}; largest abs. difference {self.max_abs_diff:.3g}, "
            f"largest rel. difference {self.max_rel_diff:.3g}{worst}"
        )

    def __str__(self) -> str:
        return self.summary() + "\n" + self.table(SHOW)

    def __repr__(self) -> str:
        return (
            f"<CheckReport {'passed' if self.passed else 'FAILED'}: max abs diff {self.max_abs_diff:.3g}, "
            f"max rel diff {self.max_rel_diff:.3g}, worst parameter {self.worst_param!r}; "
            f"print() it for the table>"
        )


def _value_targets(y, loss: LossArg, n_outputs: int) -> list:
    """y row by row as the per-example loss takes it (the conventions of cm.loss_and_grad, read from the
    named loss's target kind in ``losses.REGISTRY``; a loss function gets one number per example)."""
    import numpy as np

    from micrograd import losses

    y = np.asarray(y)
    kind = losses.REGISTRY[loss].target if isinstance(loss, str) else losses.SCALAR
    if y.ndim == 1:
        return [int(t) for t in y] if kind == losses.CLASS else [float(t) for t in y]
    one_number = kind == losses.SCALAR or (kind == losses.PER_OUTPUT and n_outputs == 1)
    if y.ndim == 2 and y.shape[1] == 1 and one_number:
        return [float(t) for t in y[:, 0]]
    return [[float(t) for t in row] for row in y]


def check(
    model_or_fn,
    X=None,
    y=None,
    loss: LossArg = None,
    params: Sequence[Value] | None = None,
    n_inputs: int | None = None,
    l2: float = 0.0,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> CheckReport:
    """Run the Value path and the compiled path on X (and y) and compare outputs, loss and gradients."""
    import numpy as np

    from micrograd import losses
    from micrograd.compiler import compile as mg_compile
    from micrograd.nn import parameter_names

    if y is None and loss is not None:
        raise ValueError(f"check: loss={loss!r} needs targets y (without y the loss is the sum of the outputs)")
    if not (rtol >= 0 and atol >= 0):
        raise ValueError(f"check: rtol and atol must be >= 0, got rtol={rtol!r}, atol={atol!r}")
    cm = mg_compile(model_or_fn, n_inputs=n_inputs, params=params)
    params = cm.params
    saved = [p.grad for p in params]  # before loss_and_grad, which sets every .grad
    if X is None:
        X = np.random.default_rng(0).standard_normal((8, cm.n_inputs))
    if y is None:
        loss, loss_name, y = sum_outputs, "sum of the outputs", np.zeros(len(np.asarray(X)))
    else:
        loss = "mse" if loss is None else loss
        loss_name = repr(loss) if isinstance(loss, str) else getattr(loss, "__name__", "a function")
    # an unknown loss name stays a string here: cm.loss_and_grad refuses it, listing the names
    loss_fn = losses.BY_NAME.get(loss, loss) if isinstance(loss, str) else loss
    try:
        Y_c = cm(X)  # checks X's shape first, with the compiled path's message
        loss_c, grads_c = cm.loss_and_grad(X, y, loss=loss, l2=l2)
        X = np.asarray(X, dtype=np.float64)
        for p in params:
            p.grad = 0.0
        rows = []
        for x in X:
            out = model_or_fn([Value(float(v)) for v in x])
            rows.append(list(out) if isinstance(out, (list, tuple)) else [out])
        Y_v = np.array([[o.data if isinstance(o, Value) else float(o) for o in r] for r in rows])
        outs = [r[0] if len(r) == 1 else r for r in rows]
        L = losses.batch_loss(loss_fn, outs, _value_targets(y, loss, cm.n_outputs))
        if l2:
            L = L + losses.l2(params, l2)
        L.backward()
        grads_v = np.array([p.grad for p in params], dtype=np.float64)
    finally:
        for p, g in zip(params, saved):
            p.grad = g
    return CheckReport(
        parameter_names(cm.model, params)[0],
        (Y_v, Y_c),
        (L.data, loss_c),
        (grads_v, grads_c),
        rtol,
        atol,
        loss_name,
        len(X),
    )


class CheckFileError(ValueError):
    """A file given to ``python -m micrograd check`` that cannot be checked (exit status 2)."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def load_file(path) -> dict:
    """Execute the Python file at path (its namespace back) or raise a one-line CheckFileError."""
    import os
    import runpy

    if not os.path.isfile(path):
        raise CheckFileError(f"{path}: no such file")
    try:
        env = runpy.run_path(os.fspath(path), run_name="__micrograd_check__")
    except SystemExit as e:
        raise CheckFileError(
            f"{path} called sys.exit({e.code!r}) before anything was checked: a file for check defines "
            f"model (and X, y, loss) at module level and returns"
        ) from None
    except Exception as e:  # the user's code: report it in one line, whatever it raised
        raise CheckFileError(_one_line(f"{path} raised {type(e).__name__}: {e}")) from None
    if "model" not in env:
        raise CheckFileError(
            f"{path} defines no 'model': assign the nn.Module (or function) to check to a "
            f"module-level name 'model' (and optionally X, y, loss; params and n_inputs for "
            f"a function)"
        )
    return env


def check_loaded(path, env: dict, rtol: float | None = None, atol: float | None = None) -> CheckReport:
    """Check the model a file defined (``load_file``'s namespace); a one-line CheckFileError if it cannot be."""
    kwargs = {k: env[k] for k in ("X", "y", "loss", "params", "n_inputs", "l2") if k in env}
    kwargs["rtol"] = rtol if rtol is not None else env.get("rtol", RTOL)  # the command line wins over the file
    kwargs["atol"] = atol if atol is not None else env.get("atol", ATOL)
    try:
        return check(env["model"], **kwargs)
    except (ValueError, TypeError) as e:  # check's own refusals say what to fix (a domain error of X too)
        raise CheckFileError(_one_line(f"{path}: {e}")) from None
    except SystemExit as e:
        raise CheckFileError(f"{path}: the model called sys.exit({e.code!r}) while being checked") from None
    except Exception as e:  # raised by the model, on either path
        raise CheckFileError(_one_line(f"{path}: checking its model raised {type(e).__name__}: {e}")) from None


def run_file(path, rtol: float | None = None, atol: float | None = None) -> CheckReport:
    """Execute the Python file at path and check its ``model`` (see the module docstring)."""
    return check_loaded(path, load_file(path), rtol, atol)
