"""Gradient checking: backprop's gradients against central differences.

``gradcheck(f, inputs)`` calls ``f(*inputs)`` (a Value), runs ``backward()``,
then estimates each partial derivative numerically as
``(f(x + eps) - f(x - eps)) / (2 eps)`` and compares:

    ok_i  =  |analytic_i - numeric_i| <= atol + rtol * |numeric_i|

It returns a ``GradcheckResult`` (per-input ``analytic``, ``numeric``, ``ok``;
``passed``; ``mismatches``; a printable table). Inputs may be Values or plain
numbers (wrapped); the inputs' ``data`` and ``grad`` are restored afterwards.
This is the check that catches a hand-written ``_backward`` with a wrong
derivative. Central differences have error ~eps^2 * f''' plus round-off
~1e-16 * |f| / eps, so keep inputs away from kinks (ReLU at 0) and poles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from micrograd.engine import Value


@dataclass
class GradcheckResult:
    analytic: list[float]
    numeric: list[float]
    ok: list[bool]
    inputs: list[float] = field(default_factory=list)
    eps: float = 1e-6
    rtol: float = 1e-5
    atol: float = 1e-8

    @property
    def passed(self) -> bool:
        return all(self.ok)

    @property
    def mismatches(self) -> list[int]:
        """Indices of the inputs whose gradients disagree."""
        return [i for i, ok in enumerate(self.ok) if not ok]

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = f"{'input':>5} {'value':>13} {'backward()':>22} {'central diff.':>22} {'abs. error':>10}  ok"
        lines = [head]
        for i, (a, n, ok) in enumerate(zip(self.analytic, self.numeric, self.ok)):
            x = self.inputs[i] if i < len(self.inputs) else float("nan")
            lines.append(f"{i:>5} {x:>13.6g} {a:>22.15g} {n:>22.15g} {abs(a - n):>10.2e}  {'yes' if ok else 'NO'}")
        verdict = "passed" if self.passed else f"FAILED at inputs {self.mismatches}"
        lines.append(f"gradcheck {verdict} (eps={self.eps:g}, rtol={self.rtol:g}, atol={self.atol:g})")
        return "\n".join(lines)


def _evaluate(f: Callable[..., Value], values: Sequence[Value]) -> Value:
    out = f(*values)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {out!r} of type {type(out).__name__}")
    return out


def gradcheck(
    f: Callable[..., Value],
    inputs: Sequence[Value | float],
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
) -> GradcheckResult:
    """Compare the gradients of f(*inputs) from backward() with central differences of step eps."""
    values = [x if isinstance(x, Value) else Value(x) for x in inputs]
    saved = [(v.data, v.grad) for v in values]
    try:
        for v in values:
            v.grad = 0.0
        _evaluate(f, values).backward()
        analytic = [float(v.grad) for v in values]
        numeric = []
        for v, (x, _) in zip(values, saved):
            try:
                v.data = x + eps
                up = _evaluate(f, values).data
                v.data = x - eps
                down = _evaluate(f, values).data
                numeric.append((up - down) / (2.0 * eps))
            except (ValueError, ZeroDivisionError, OverflowError):
                numeric.append(float("nan"))  # f is undefined within eps of x: report, do not crash
            finally:
                v.data = x
    finally:
        for v, (x, g) in zip(values, saved):
            v.data, v.grad = x, g
    ok = [abs(a - n) <= atol + rtol * abs(n) for a, n in zip(analytic, numeric)]  # NaN compares False
    return GradcheckResult(analytic, numeric, ok, [x for x, _ in saved], eps, rtol, atol)
