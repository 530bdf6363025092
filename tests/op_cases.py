"""One shared list of test cases, one per op of ``micrograd.ops.OPS``: ``CASES[name] -> OpCase``.

Each case states the op's closed-form value and local derivatives written
independently of ``micrograd/ops.py`` (in mpmath at 40 digits, so the
reference is exact to float64 rounding), the input domains for hypothesis
(``x``, ``y``: ordinary ranges; ``big``: large magnitudes such as +-1e308),
the op's constant ``arg``, where finite differences must not look (``kinks``),
the domain of definition (``valid``), and how to build the op on Values
(``build``). The Value-path tests (tests/test_ops.py) and the compiled-path
tests import it, so adding an op to the table without a case fails a test.

Float helpers for other suites: ``case.value(x, y)`` and ``case.grads(x, y)``
return float64 numbers (y is ignored by unary ops; the case's arg is used), and
``same_float`` compares two floats to a tolerance, NaN and infinities included.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import mpmath

F = mpmath.mpf
with mpmath.workdps(40):  # parse the constants at full precision
    SELU_ALPHA = F("1.6732632423543772848170429916717")  # Klambauer et al. 2017 (PyTorch docs' digits)
    SELU_SCALE = F("1.0507009873554804934193349852946")

Range = tuple[float, float]
WIDE: Range = (-1e3, 1e3)
HUGE: Range = (-1e308, 1e308)


@dataclass(frozen=True)
class OpCase:
    name: str
    arity: int
    f: Callable  # f(x, y, a) -> mpf, the closed form
    df: Callable  # df(x, y, a) -> (d/dx, d/dy) as mpf (d/dy = 0 for unary ops)
    build: Callable  # build(a: Value, b: Value, arg) -> Value, the op on the Value path
    x: Range = WIDE  # ordinary input range of x
    y: Range = WIDE  # ordinary input range of y (binary ops)
    arg: float = 0.0  # the op's constant parameter used in the tests
    big: tuple[Range, Range] | None = None  # large-magnitude ranges (x, y), or None
    kinks: tuple[float, ...] = ()  # x values where the derivative jumps: finite differences stay away
    valid: Callable = lambda x, y, a: True  # the domain (float inputs; NaN counts as inside: it propagates)

    def value(self, x: float, y: float = 0.0) -> float:
        with mpmath.workdps(40):
            return float(self.f(F(x), F(y), F(self.arg)))

    def grads(self, x: float, y: float = 0.0) -> tuple[float, float]:
        with mpmath.workdps(40):
            dx, dy = self.df(F(x), F(y), F(self.arg))
            return float(dx), float(dy)


def _sig(x):
    return 1 / (1 + mpmath.exp(-x))


def _step(x, pos, neg):  # piecewise by the sign of x (x == 0 takes the negative side, as ReLU's subgradient)
    if mpmath.isnan(x):
        return x  # NaN in, NaN out
    return pos if x > 0 else neg


_CASE_LIST = [
    OpCase(
        "add",
        2,
        lambda x, y, a: x + y,
        lambda x, y, a: (F(1), F(1)),
        lambda a, b, c: a + b,
        big=((-1e307, 1e307), (-1e307, 1e307)),
    ),
    OpCase(
        "sub",
        2,
        lambda x, y, a: x - y,
        lambda x, y, a: (F(1), F(-1)),
        lambda a, b, c: a - b,
        big=((-1e307, 1e307), (-1e307, 1e307)),
    ),
    OpCase(
        "mul",
        2,
        lambda x, y, a: x * y,
        lambda x, y, a: (y, x),
        lambda a, b, c: a * b,
        big=((-1e150, 1e150), (-1e150, 1e150)),
    ),
    OpCase(
        "div",
        2,
        lambda x, y, a: x / y,
        lambda x, y, a: (1 / y, -x / y**2),
        lambda a, b, c: a / b,
        y=(0.05, 1e3),
        valid=lambda x, y, a: y != 0,
    ),
    OpCase(
        "powv",
        2,
        lambda x, y, a: x**y,
        lambda x, y, a: (y * x ** (y - 1), x**y * mpmath.log(x)),
        lambda a, b, c: a**b,
        x=(0.05, 20.0),
        y=(-4.0, 4.0),
        valid=lambda x, y, a: not x <= 0,
    ),
    OpCase(
        "prelu",
        2,
        lambda x, y, a: _step(x, x, y * x),
        lambda x, y, a: _step(x, (F(1), F(0)), (y, x)),
        lambda a, b, c: a.prelu(b),
        y=(-2.0, 2.0),
        big=(HUGE, (-1.0, 1.0)),
        kinks=(0.0,),
    ),
    OpCase(
        "logaddexp",
        2,
        lambda x, y, a: mpmath.log(mpmath.exp(x) + mpmath.exp(y)),
        lambda x, y, a: (_sig(x - y), _sig(y - x)),
        lambda a, b, c: a.logaddexp(b),
        x=(-60.0, 60.0),
        y=(-60.0, 60.0),
        big=(HUGE, HUGE),
    ),
    OpCase(
        "pow",
        1,
        lambda x, y, a: x**a,
        lambda x, y, a: (a * x ** (a - 1), F(0)),
        lambda a, b, c: a**c,
        x=(-20.0, 20.0),
        arg=3.0,
        big=((-1e100, 1e100), (0.0, 0.0)),
        valid=lambda x, y, a: not (x == 0 and a < 0) and (x >= 0 or float(a).is_integer()),
    ),
    OpCase("neg", 1, lambda x, y, a: -x, lambda x, y, a: (F(-1), F(0)), lambda a, b, c: -a, big=(HUGE, (0.0, 0.0))),
    OpCase(
        "exp",
        1,
        lambda x, y, a: mpmath.exp(x),
        lambda x, y, a: (mpmath.exp(x), F(0)),
        lambda a, b, c: a.exp(),
        x=(-60.0, 60.0),
        big=((-745.0, 709.0), (0.0, 0.0)),
    ),
    OpCase(
        "log",
        1,
        lambda x, y, a: mpmath.log(x),
        lambda x, y, a: (1 / x, F(0)),
        lambda a, b, c: a.log(),
        x=(1e-3, 1e3),
        big=((1e-300, 1e308), (0.0, 0.0)),
        valid=lambda x, y, a: not x <= 0,
    ),
    OpCase(
        "tanh",
        1,
        lambda x, y, a: mpmath.tanh(x),
        lambda x, y, a: (1 / mpmath.cosh(x) ** 2, F(0)),
        lambda a, b, c: a.tanh(),
        x=(-20.0, 20.0),
        big=(HUGE, (0.0, 0.0)),
    ),
    OpCase(
        "sigmoid",
        1,
        lambda x, y, a: _sig(x),
        lambda x, y, a: (_sig(x) * _sig(-x), F(0)),
        lambda a, b, c: a.sigmoid(),
        x=(-60.0, 60.0),
        big=(HUGE, (0.0, 0.0)),
    ),
    OpCase(
        "relu",
        1,
        lambda x, y, a: _step(x, x, F(0)),
        lambda x, y, a: (_step(x, F(1), F(0)), F(0)),
        lambda a, b, c: a.relu(),
        big=(HUGE, (0.0, 0.0)),
        kinks=(0.0,),
    ),
    OpCase(
        "leaky_relu",
        1,
        lambda x, y, a: _step(x, x, a * x),
        lambda x, y, a: (_step(x, F(1), a), F(0)),
        lambda a, b, c: a.leaky_relu(c),
        arg=0.01,
        big=(HUGE, (0.0, 0.0)),
        kinks=(0.0,),
    ),
    OpCase(
        "elu",
        1,
        lambda x, y, a: _step(x, x, a * (mpmath.expm1(x))),
        lambda x, y, a: (_step(x, F(1), a * mpmath.exp(x)), F(0)),
        lambda a, b, c: a.elu(c),
        arg=1.3,
        big=(HUGE, (0.0, 0.0)),
        kinks=(0.0,),
    ),
    OpCase(
        "selu",
        1,
        lambda x, y, a: SELU_SCALE * _step(x, x, SELU_ALPHA * (mpmath.expm1(x))),
        lambda x, y, a: (SELU_SCALE * _step(x, F(1), SELU_ALPHA * mpmath.exp(x)), F(0)),
        lambda a, b, c: a.selu(),
        big=((-1e308, 1.7e308 / 1.06), (0.0, 0.0)),
        kinks=(0.0,),
    ),
    OpCase(
        "softplus",
        1,
        lambda x, y, a: mpmath.log1p(mpmath.exp(x)),
        lambda x, y, a: (_sig(x), F(0)),
        lambda a, b, c: a.softplus(),
        x=(-60.0, 60.0),
        big=(HUGE, (0.0, 0.0)),
    ),
    OpCase(
        "abs",
        1,
        lambda x, y, a: abs(x),
        lambda x, y, a: (F(mpmath.sign(x)), F(0)),
        lambda a, b, c: abs(a),
        big=(HUGE, (0.0, 0.0)),
        kinks=(0.0,),
    ),
]

CASES = {c.name: c for c in _CASE_LIST}


def same_float(a: float, b: float, rel: float = 1e-13, abs_: float = 0.0) -> bool:
    """a equals b to rel/abs tolerance, with NaN == NaN and an infinity equal only to itself."""
    if math.isnan(b) or math.isnan(a):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * abs(b) + abs_
