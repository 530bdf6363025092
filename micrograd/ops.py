"""The op table: every scalar op of micrograd, defined once.

Each op is a row of ``OPS``: an opcode, a name, an arity, micrograd's ``_op``
symbol, and two plain numeric functions with one uniform signature:

    forward(x, y, arg)       -> out                 value of the op
    backward(x, y, arg, out) -> (dout/dx, dout/dy)  local derivatives

``x`` and ``y`` are the operands' data (``y`` is 0.0 for unary ops and its
derivative is ignored), ``arg`` is a constant parameter of the op (the
exponent of ``x ** c``, the slope of leaky ReLU, ...), ``out`` is the forward
result. The functions use only ``math`` and float arithmetic, so the Value
path calls them as Python and ``micrograd.compiler.kernels`` compiles the very
same functions with Numba: the two paths cannot drift.

Contract:
- Numerically stable for any float64 input (sigmoid, softplus, tanh and
  logaddexp never overflow; ``exp`` overflows to inf as IEEE does).
- NaN in, NaN out, derivatives included: a NaN operand gives a NaN value, and
  NaN for every local derivative that reads it (``add``'s are 1 whatever x is).
  One rule for the piecewise ops (``PIECEWISE``: relu, abs, leaky_relu, prelu,
  elu, selu, each a branch on the sign of x): at x = NaN there is no branch to
  take, so the value and every derivative are NaN. Their comparisons are
  written so NaN never lands on a constant branch (``1.0 if x > 0.0 else
  0.0`` would make relu's derivative 0 at NaN). Everywhere else, infinities
  and both zeros included, their derivatives are PyTorch's; at NaN PyTorch's
  builtins follow no common rule (relu's derivative there is 1, abs's 0,
  leaky_relu's and prelu's the slope), and ``micrograd.interop.to_torch``
  exports these ops with this one.
- One IEEE rule for every op, forward and backward, on both paths: a result
  too large for float64 is +-inf (``exp(1000)``, ``10. ** 400``, the
  derivative of ``x ** 400`` at 10), a derivative infinite at a valid point is
  inf (``x ** 0.5`` at 0), NaN propagates, and nothing raises an arithmetic
  error. Python's ``math`` raises where IEEE gives inf; the Value path then
  re-runs the same function in IEEE arithmetic (``micrograd.ieee``), the
  kernels are IEEE already (Numba, ``error_model='numpy'``). Derivatives
  follow PyTorch where the formula is 0 * inf: ``x ** 0`` has derivative 0.
- The one exception is a domain error of the maths: ``invalid(x, y, arg)``
  (Python only) flags it (log of x <= 0, division by zero, 0 ** negative, a
  negative base to a fractional power, a Value exponent of a base <= 0) and
  the Value path raises ``error`` in the forward; compiled kernels follow
  IEEE there too (NaN or inf).

Adding an op: (1) here, its two functions at the top level, one row at the
end of ``_ROWS`` (its opcode is its position) and its opcode constant, the
row's name in capitals, in the statement that names the opcodes; (2) one case in
``tests/op_cases.py``. The compiled kernels get its branches from this table
alone (``compiler/codegen.py`` writes one per op into every kernel that uses
the op); a test fails if the case is missing, and the kernel tests run the new
op through both of its compiled branches (docs/compiler.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

# exp(x) overflows float64 above this; Python's math.exp raises there, IEEE gives inf.
EXP_MAX = 709.782712893384
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------- helpers
def exp_(x):
    """exp with IEEE overflow to inf (math.exp raises OverflowError in Python)."""
    if x > EXP_MAX:
        return math.inf
    return math.exp(x)


def sigmoid_(x):
    """1 / (1 + e^-x) without overflow: the exponent is never positive."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # NaN lands here too and propagates
    return e / (1.0 + e)


# ---------------------------------------------------------------- binary ops
def add(x, y, arg):
    return x + y


def add_back(x, y, arg, out):
    return 1.0, 1.0


def sub(x, y, arg):
    return x - y


def sub_back(x, y, arg, out):
    return 1.0, -1.0


def mul(x, y, arg):
    return x * y


def mul_back(x, y, arg, out):
    return y, x


def div(x, y, arg):
    return x / y


def div_back(x, y, arg, out):
    return 1.0 / y, -x / (y * y)


def powv(x, y, arg):
    return math.pow(x, y)


def powv_back(x, y, arg, out):
    return y * math.pow(x, y - 1.0), out * math.log(x)


def prelu(x, y, arg):
    if x > 0.0:
        return x
    return y * x


def prelu_back(x, y, arg, out):
    if x > 0.0:
        return 1.0, 0.0
    if x <= 0.0:
        return y, x
    return math.nan, math.nan  # x is NaN: the piecewise rule (module docstring)


def logaddexp(x, y, arg):
    m = x if x > y else y
    if x == y:  # equal infinities would give inf - inf = NaN below; log(2 e^x) = x + log 2
        return m + 0.6931471805599453
    return m + math.log1p(math.exp(-abs(x - y)))


def logaddexp_back(x, y, arg, out):
    # sigmoid(x - y), not exp(x - out): out's rounding error (ulp(out), >= 1 for |out| > 2**53) would
    # enter the exponent; x - y is exact enough at every magnitude.
    return sigmoid_(x - y), sigmoid_(y - x)


# ---------------------------------------------------------------- unary ops
def pow_(x, y, arg):  # trailing underscore: not the builtin pow
    return math.pow(x, arg)


def pow_back(x, y, arg, out):
    if arg == 0.0:  # x ** 0 is the constant 1: derivative 0 everywhere, also at x = 0 (0 * 0 ** -1 is NaN)
        return 0.0, 0.0
    return arg * math.pow(x, arg - 1.0), 0.0


def neg(x, y, arg):
    return -x


def neg_back(x, y, arg, out):
    return -1.0, 0.0


def exp(x, y, arg):
    return exp_(x)


def exp_back(x, y, arg, out):
    return out, 0.0


def log(x, y, arg):
    return math.log(x)


def log_back(x, y, arg, out):
    return 1.0 / x, 0.0


def tanh(x, y, arg):
    return math.tanh(x)


def tanh_back(x, y, arg, out):
    return 1.0 - out * out, 0.0


def sigmoid(x, y, arg):
    return sigmoid_(x)


def sigmoid_back(x, y, arg, out):
    return out * (1.0 - out), 0.0


def relu(x, y, arg):
    if x <= 0.0:
        return 0.0
    return x


def relu_back(x, y, arg, out):
    if x > 0.0:
        return 1.0, 0.0
    if x <= 0.0:
        return 0.0, 0.0
    return math.nan, 0.0  # x is NaN: the piecewise rule (module docstring)


def leaky_relu(x, y, arg):
    if x > 0.0:
        return x
    return arg * x


def leaky_relu_back(x, y, arg, out):
    if x > 0.0:
        return 1.0, 0.0
    if x <= 0.0:
        return arg, 0.0
    return math.nan, 0.0  # x is NaN: the piecewise rule (module docstring)


def elu(x, y, arg):
    if x > 0.0:
        return x
    return arg * math.expm1(x)


def elu_back(x, y, arg, out):
    return (1.0 if x > 0.0 else out + arg), 0.0  # x NaN: out is NaN, so is out + arg


def selu(x, y, arg):
    if x > 0.0:
        return SELU_SCALE * x
    return SELU_SCALE * SELU_ALPHA * math.expm1(x)


def selu_back(x, y, arg, out):
    return (SELU_SCALE if x > 0.0 else out + SELU_SCALE * SELU_ALPHA), 0.0  # x NaN: out + ... is NaN


def softplus(x, y, arg):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def softplus_back(x, y, arg, out):
    return sigmoid_(x), 0.0


def abs_(x, y, arg):
    return abs(x)


def abs_back(x, y, arg, out):
    if x > 0.0:
        return 1.0, 0.0
    if x < 0.0:
        return -1.0, 0.0
    if x == 0.0:
        return 0.0, 0.0  # PyTorch's sign(0)
    return math.nan, 0.0  # x is NaN: the piecewise rule (module docstring)


# ---------------------------------------------------------------- domain checks (Value path only)
def _zero_divisor(x, y, arg):
    return y == 0.0


def _nonpositive(x, y, arg):
    return x <= 0.0


def _bad_pow(x, y, arg):
    return (x == 0.0 and arg < 0.0) or (x < 0.0 and not float(arg).is_integer())


def _nonpositive_base(x, y, arg):
    return x <= 0.0


# ---------------------------------------------------------------- the table
class Op(NamedTuple):
    name: str  # Value method / IR mnemonic
    arity: int  # 1 or 2 Value operands
    symbol: str  # micrograd's _op string ('{arg}' is filled in)
    forward: Callable[..., float]  # forward(x, y, arg) -> out
    backward: Callable[..., tuple[float, float]]  # backward(x, y, arg, out) -> (d/dx, d/dy)
    grad_text: tuple[str, ...]  # local derivatives in symbols, for diagrams
    invalid: Callable[..., bool] | None = None  # invalid(x, y, arg) -> True on a domain error
    error: str = ""  # message for that error ({x}, {y}, {arg})
    error_type: type[Exception] = ValueError
    code: int = -1  # opcode: the row's index in OPS (set there, from the row's position)


_ROWS = (
    Op(name="add", arity=2, symbol="+", forward=add, backward=add_back, grad_text=("1", "1")),
    Op(name="sub", arity=2, symbol="-", forward=sub, backward=sub_back, grad_text=("1", "-1")),
    Op(name="mul", arity=2, symbol="*", forward=mul, backward=mul_back, grad_text=("{y}", "{x}")),
    Op(
        name="div",
        arity=2,
        symbol="/",
        forward=div,
        backward=div_back,
        grad_text=("1/{y}", "-{x}/{y}²"),
        invalid=_zero_divisor,
        error="division by zero: {x!r} / {y!r}",
        error_type=ZeroDivisionError,
    ),
    Op(
        name="powv",
        arity=2,
        symbol="**",
        forward=powv,
        backward=powv_back,
        grad_text=("{y}·{x}^({y}-1)", "out·log({x})"),
        invalid=_nonpositive_base,
        error="{x!r} ** Value: a Value exponent needs a positive base; use a plain number as exponent",
    ),
    Op(
        name="prelu",
        arity=2,
        symbol="prelu",
        forward=prelu,
        backward=prelu_back,
        grad_text=("1 if {x}>0 else {y}", "0 if {x}>0 else {x}"),
    ),
    Op(
        name="logaddexp",
        arity=2,
        symbol="logaddexp",
        forward=logaddexp,
        backward=logaddexp_back,
        grad_text=("exp({x}-out)", "exp({y}-out)"),
    ),
    Op(
        name="pow",
        arity=1,
        symbol="**{arg}",
        forward=pow_,
        backward=pow_back,
        grad_text=("{arg}·{x}^({arg}-1)",),
        invalid=_bad_pow,
        error="{x!r} ** {arg!r} is undefined (zero to a negative power, or a negative base to a fractional power)",
    ),
    Op(name="neg", arity=1, symbol="neg", forward=neg, backward=neg_back, grad_text=("-1",)),
    Op(name="exp", arity=1, symbol="exp", forward=exp, backward=exp_back, grad_text=("out",)),
    Op(
        name="log",
        arity=1,
        symbol="log",
        forward=log,
        backward=log_back,
        grad_text=("1/{x}",),
        invalid=_nonpositive,
        error="log({x!r}): log needs a positive input",
    ),
    Op(name="tanh", arity=1, symbol="tanh", forward=tanh, backward=tanh_back, grad_text=("1 - out²",)),
    Op(name="sigmoid", arity=1, symbol="sigmoid", forward=sigmoid, backward=sigmoid_back, grad_text=("out·(1 - out)",)),
    Op(name="relu", arity=1, symbol="ReLU", forward=relu, backward=relu_back, grad_text=("1 if {x}>0 else 0",)),
    Op(
        name="leaky_relu",
        arity=1,
        symbol="leaky_relu",
        forward=leaky_relu,
        backward=leaky_relu_back,
        grad_text=("1 if {x}>0 else {arg}",),
    ),
    Op(name="elu", arity=1, symbol="elu", forward=elu, backward=elu_back, grad_text=("1 if {x}>0 else out+{arg}",)),
    Op(name="selu", arity=1, symbol="selu", forward=selu, backward=selu_back, grad_text=("λ if {x}>0 else out+λα",)),
    Op(
        name="softplus",
        arity=1,
        symbol="softplus",
        forward=softplus,
        backward=softplus_back,
        grad_text=("sigmoid({x})",),
    ),
    Op(name="abs", arity=1, symbol="abs", forward=abs_, backward=abs_back, grad_text=("sign({x})",)),
)

OPS: tuple[Op, ...] = tuple(row._replace(code=code) for code, row in enumerate(_ROWS))
BY_NAME: dict[str, Op] = {op.name: op for op in OPS}

# The opcodes as plain names, for the Value path, the passes and the generated kernels. Each is looked up by its
# row's name, so the rows' order alone decides the numbers.
ADD, SUB, MUL, DIV, POWV, PRELU, LOGADDEXP = (BY_NAME[n].code for n in "add sub mul div powv prelu logaddexp".split())
POW, NEG, EXP, LOG, TANH, SIGMOID, RELU, LEAKY_RELU, ELU, SELU, SOFTPLUS, ABS = (
    BY_NAME[n].code for n in "pow neg exp log tanh sigmoid relu leaky_relu elu selu softplus abs".split()
)

UNARY = frozenset(op.code for op in OPS if op.arity == 1)
BINARY = frozenset(op.code for op in OPS if op.arity == 2)
COMMUTATIVE = frozenset({ADD, MUL, LOGADDEXP})
PIECEWISE = frozenset({RELU, ABS, LEAKY_RELU, PRELU, ELU, SELU})  # a branch on the sign of x: the NaN rule above

# Functions the kernels call from compiled code (see compiler/kernels.py).
HELPERS = (exp_, sigmoid_)


def symbol(op: Op, arg) -> str:
    """micrograd's _op string for op with argument arg ('**2', '+', 'ReLU', ...)."""
    return op.symbol.format(arg=arg) if "{" in op.symbol else op.symbol
