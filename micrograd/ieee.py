"""IEEE 754 arithmetic for the Value path, in plain Python: what the compiled kernels compute.

Python raises where IEEE 754 (and so Numba with ``error_model='numpy'``) gives
+-inf or NaN: ``math.pow(10., 400.)`` and ``math.exp(1000.)`` raise
OverflowError, ``math.pow(0., -.5)`` raises ValueError, ``x / 0.0`` raises
ZeroDivisionError. The Value path calls an op-table function as it is and,
only when that raises, re-runs the same function (its own code: no formula is
written twice) on NumPy float64 scalars, whose operators are IEEE, with
``math.pow`` and ``math.exp`` bound to the IEEE versions below. No Numba: it
belongs to the compiled path. The rule this serves is stated in
``micrograd.ops``'s contract.

    ieee_call(fn, *args)   fn(*args), or its IEEE result where Python raises
    ieee_rerun(fn, *args)  the IEEE re-run alone (for callers with their own try)
    ieee_pow(x, y)         C99 pow: +-inf on overflow and for 0 ** negative
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable

from micrograd import ops as _ops


def _odd_integer(y: float) -> bool:
    return y.is_integer() and math.fmod(y, 2.0) != 0.0


def ieee_pow(x: float, y: float) -> float:
    """x ** y as IEEE 754 (C99) pow gives it: +-inf on overflow and for 0 ** negative, NaN for a
    negative base to a fractional power, where Python's math.pow raises OverflowError / ValueError."""
    try:
        return math.pow(x, y)
    except OverflowError:  # |x ** y| > 1.8e308: negative only for a negative base to an odd power
        return -math.inf if x < 0.0 and _odd_integer(y) else math.inf
    except ValueError:
        if x == 0.0:  # 0 ** negative: inf, with the zero's sign for an odd power (-0.0 ** -1 = -inf)
            return math.copysign(math.inf, x) if _odd_integer(y) else math.inf
        return math.nan


# the math module as an op function sees it when re-run in IEEE arithmetic
_IEEE_MATH = types.SimpleNamespace(**{n: getattr(math, n) for n in dir(math) if not n.startswith("_")})
_IEEE_MATH.pow, _IEEE_MATH.exp = ieee_pow, _ops.exp_
_ieee_versions: dict = {}


def _ieee_version(fn: Callable) -> Callable:
    """fn's own code with ``math`` bound to the IEEE functions above (the op's formula is not written twice)."""
    out = _ieee_versions.get(fn)
    if out is None:
        out = _ieee_versions[fn] = types.FunctionType(
            fn.__code__, {**fn.__globals__, "math": _IEEE_MATH}, fn.__name__, fn.__defaults__, fn.__closure__
        )
    return out


def ieee_call(fn: Callable, *args: float):
    """fn(*args) for an op-table function, with the IEEE 754 result where Python raises instead.

    Python's float arithmetic raises ZeroDivisionError (x / 0.0, e.g. -x / (y * y) when y * y
    underflows) and math raises OverflowError / ValueError where IEEE, and so the compiled kernels,
    give +-inf or NaN. Then fn is re-run on NumPy float64 scalars (IEEE operators, warnings off) with
    math's pow and exp replaced by IEEE versions. Domain errors of the maths are not affected: the
    Value path checks them (``Op.invalid``) before it calls the forward.
    """
    try:
        return fn(*args)
    except (ArithmeticError, ValueError):
        return ieee_rerun(fn, *args)


def ieee_rerun(fn: Callable, *args: float):
    """fn(*args) in IEEE arithmetic (see ieee_call), for when the plain call raised."""
    import numpy as np

    with np.errstate(all="ignore"):
        out = _ieee_version(fn)(*(np.float64(a) for a in args))
    return tuple(float(o) for o in out) if isinstance(out, tuple) else float(out)
