"""Arithmetic expressions as Value graphs, from text: ``parse_expression("tanh(x*w + b)", {"x": 2.0, ...})``.

The text is never evaluated: ``parse_expression`` parses it with Python's ``ast`` and accepts only
numbers, names, + - * / **, unary minus and plus, and calls of the Value methods in ``FUNCTIONS``
(an allowlist of node types, checked before anything is built); anything else is refused. The graph
is built iteratively, so a long expression cannot exhaust the stack.

Contract: ``parse_expression(text, values) -> Value`` with one leaf per name (labelled with it), or
``ExpressionError`` whose message says what is wrong in one line: a construct that is
not allowed, a name without a value or a value without a name, a domain error (``log(0)``), a result
that overflows float64.
"""

from __future__ import annotations

import ast
import math

from micrograd.engine import Value

# function name in an expression -> (Value method, how many Value operands, how many number arguments allowed)
FUNCTIONS = {
    "tanh": ("tanh", 1, 0),
    "exp": ("exp", 1, 0),
    "log": ("log", 1, 0),
    "relu": ("relu", 1, 0),
    "sigmoid": ("sigmoid", 1, 0),
    "selu": ("selu", 1, 0),
    "softplus": ("softplus", 1, 0),
    "abs": ("__abs__", 1, 0),
    "leaky_relu": ("leaky_relu", 1, 1),
    "elu": ("elu", 1, 1),
    "prelu": ("prelu", 2, 0),
    "logaddexp": ("logaddexp", 2, 0),
}
_BINARY = {ast.Add: "__add__", ast.Sub: "__sub__", ast.Mult: "__mul__", ast.Div: "__truediv__", ast.Pow: "__pow__"}
MAX_EXPRESSION = 2000  # characters; a lesson's expression is short, and this bounds the parser's work


class ExpressionError(Exception):
    """An expression that cannot be drawn: the message says why, in one line."""


def parse_expression(text: str, values: dict[str, float]) -> Value:
    """Build the Value graph of ``text`` with leaves from ``values`` (name -> number). Raises ExpressionError."""
    if len(text) > MAX_EXPRESSION:
        raise ExpressionError(f"expression too long ({len(text)} characters, at most {MAX_EXPRESSION})")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise ExpressionError(f"malformed expression {text!r}: {getattr(e, 'msg', e)}") from None
    names = _check(tree)
    missing = [n for n in names if n not in values]
    if missing:
        raise ExpressionError(f"no value for {', '.join(missing)}: add --set " + " ".join(f"{n}=..." for n in missing))
    unused = [n for n in values if n not in names]
    if unused:
        raise ExpressionError(f"--set {', '.join(unused)}: not in the expression {text!r}")
    leaves = {n: Value(values[n], label=n) for n in names}
    try:
        return _build(tree.body, leaves)
    except (ValueError, ZeroDivisionError, OverflowError, TypeError) as e:
        raise ExpressionError(f"cannot evaluate {text!r}: {e}") from None


_ALLOWED = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Call,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.USub,
    ast.UAdd,
    *_BINARY,
)


def _check(tree: ast.Expression) -> list[str]:
    """Refuse every construct outside the allowed subset, before anything is built; return the variable names."""
    functions = set()
    for node in ast.walk(tree):  # ast.walk is iterative (a queue)
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
                raise ExpressionError(f"unknown function in {_source(node)!r}: use one of {', '.join(FUNCTIONS)}")
            functions.add(id(node.func))
        elif not isinstance(node, _ALLOWED) or (
            isinstance(node, ast.Constant) and type(node.value) not in (int, float)
        ):
            raise ExpressionError(
                f"{_source(node)!r} is not allowed: use numbers, names, + - * / **, and {', '.join(FUNCTIONS)}"
            )
    return sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in functions})


def _number(node: ast.AST) -> float | None:
    """The value of a literal number (with unary signs), else None."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return sign * float(node.value)
    return None


def _build(root: ast.AST, leaves: dict[str, Value]) -> Value:
    """Evaluate the allowed subset of Python expressions into Values, iteratively (post-order)."""
    done: dict[int, object] = {}  # id(ast node) -> Value or float
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if not expanded:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(_operands(node)))
            continue
        done[id(node)] = _combine(node, [done[id(c)] for c in _operands(node)], leaves)
    out = done[id(root)]
    return out if isinstance(out, Value) else Value(out)


def _operands(node: ast.AST) -> list:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return list(node.args)
    return []


def _combine(node: ast.AST, args: list, leaves: dict[str, Value]):
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.Name):
        return leaves[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return -args[0] if isinstance(node.op, ast.USub) else args[0]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = args
        if isinstance(node.op, ast.Pow):
            return _power(node, _as_value(left), right)
        return getattr(_as_value(left), _BINARY[type(node.op)])(_as_value(right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        method, n_values, n_numbers = FUNCTIONS[node.func.id]
        if node.keywords or not n_values <= len(args) <= n_values + n_numbers:
            want = f"{n_values}" + (f" or {n_values + n_numbers}" if n_numbers else "")
            raise ExpressionError(f"{node.func.id}() takes {want} arguments, got {_source(node)}")
        if any(_number(a) is None for a in node.args[n_values:]):
            raise ExpressionError(f"{node.func.id}(): its extra argument must be a number, got {_source(node)}")
        first = _as_value(args[0])
        return getattr(first, method)(*[_as_value(a) for a in args[1:n_values]], *args[n_values:])
    raise ExpressionError(f"{_source(node)!r} is not allowed")  # _check refuses it first


def _power(node: ast.AST, base: Value, exponent) -> Value:
    """base ** exponent, refused when it overflows float64: '9**9**9' is 9 ** 387420489, which the
    Value path would give as inf (IEEE); a drawing of inf teaches nothing, so say what happened."""
    if isinstance(exponent, float):
        # x ** 2 keeps the exponent as the op's constant, shown as micrograd shows it ('**2')
        out = base ** (int(exponent) if exponent.is_integer() and abs(exponent) < 2**53 else exponent)
    else:
        out = base**exponent
    e = exponent.data if isinstance(exponent, Value) else exponent
    if math.isinf(out.data) and math.isfinite(base.data) and math.isfinite(e):
        raise ExpressionError(
            f"{_source(node)!r}: {base.data:.6g} ** {e:.6g} overflows float64 (beyond 1.8e308): use a smaller exponent"
        )
    return out


def _source(node: ast.AST) -> str:
    """The text of a node for an error message, shortened (ast.unparse recurses: guard it)."""
    try:
        text = ast.unparse(node)
    except RecursionError:
        return type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _as_value(x) -> Value:
    return x if isinstance(x, Value) else Value(x)
