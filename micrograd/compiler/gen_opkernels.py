"""Writes ``micrograd/compiler/opkernels.py``, the kernels' per-op dispatch, from the op table.

    python -m micrograd.compiler.gen_opkernels           # rewrite the file after editing micrograd/ops.py
    python -m micrograd.compiler.gen_opkernels --check   # exit 1 (saying so) when the file is stale

The dispatch is derived from ``ops.OPS`` and nothing else: for each op, one branch in each of four
Numba functions (vector and one-element, forward and backward), each branch calling the very function
the Value path calls. Writing them by hand meant 76 branches to keep in step with the table; here they
are written once, as the templates below. The result is a real, checked-in module rather than code
built at import time, because Numba caches compiled kernels per source file (and a reader can open it).
``tests/test_compiler_gen_opkernels.py`` fails when the checked-in file differs from what this writes, and
``kernels._flush_if_dependencies_changed`` hashes it, so an edit reaches the on-disk kernel cache.

The generated functions (``kernels.py``'s interpreters call them per instruction):

- ``vec_forward`` / ``vec_backward``: one instruction over ``m`` contiguous elements of the flat value
  (and gradient) arrays. Offsets, not slices: a slice per instruction costs reference counting that
  dominates scalar graphs. Unsigned offsets (``kernels.U``): Numba then drops its negative-index
  wraparound and the loops vectorize.
- ``scalar_forward`` / ``scalar_backward``: the same for one element (n == 1 on one example) without the
  loop set-up. They stay calls, not inlined: Numba re-optimizes every callee inside each entry point
  that links it (docs/benchmarks.md, "Tuning decisions").

Each is an ``if``/``elif`` chain over the opcode constants in table order. An unknown opcode returns
``False`` (the interpreters then report the instruction's index), never a silent 0. Unary ops get
``y = 0.0``, as the op table's contract says.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from micrograd import ops

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "opkernels.py")
COMMAND = "python -m micrograd.compiler.gen_opkernels"

HEADER = f'''"""The kernels' per-op dispatch. GENERATED from micrograd.ops.OPS: do not edit; after editing
micrograd/ops.py run ``{COMMAND}``.

What the four functions do and why they look like this: micrograd/compiler/gen_opkernels.py.
"""
from __future__ import annotations

import numpy as np

from micrograd import ops
from micrograd.compiler.jit import jit
'''

# Each function: its head, its per-op branch (unary and binary form) and its tail. In a branch, {code} is
# the opcode constant, {f} the forward function's name and {b} the backward function's name in ops.
FUNCTIONS = (
    (
        '''

@jit()
def vec_forward(c, V, x, y, o, m, w):
    """V[o+e] = OPS[c].forward(V[x+e], V[y+e], w) for e < m (V flat; y unused by unary ops). False: unknown c."""
''',
        """        for e in range(m):
            V[o + e] = ops.{f}(V[x + e], 0.0, w)
""",
        """        for e in range(m):
            V[o + e] = ops.{f}(V[x + e], V[y + e], w)
""",
        """    else:
        return False
    return True
""",
    ),
    (
        '''

@jit()
def vec_backward(c, V, G, x, y, o, m, w):
    """G[x+e] += d/dx * G[o+e] and G[y+e] += d/dy * G[o+e] with OPS[c].backward, for e < m (flat V, G)."""
''',
        """        for e in range(m):
            G[x + e] += ops.{b}(V[x + e], 0.0, w, V[o + e])[0] * G[o + e]
""",
        """        for e in range(m):
            dx, dy = ops.{b}(V[x + e], V[y + e], w, V[o + e])
            G[x + e] += dx * G[o + e]
            G[y + e] += dy * G[o + e]
""",
        """    else:
        return False
    return True
""",
    ),
    (
        '''

@jit()
def scalar_forward(c, x, y, w):
    """(OPS[c].forward(x, y, w), True), or (nan, False) for an unknown c: vec_forward for one element."""
''',
        """        return ops.{f}(x, 0.0, w), True
""",
        """        return ops.{f}(x, y, w), True
""",
        """    return np.nan, False
""",
    ),
    (
        '''

@jit()
def scalar_backward(c, x, y, w, out):
    """(d/dx, d/dy, True) with OPS[c].backward, or (nan, nan, False) for an unknown c (see scalar_forward)."""
''',
        """        return ops.{b}(x, 0.0, w, out) + (True,)
""",
        """        return ops.{b}(x, y, w, out) + (True,)
""",
        """    return np.nan, np.nan, False
""",
    ),
)


def _name_in_ops(fn, what: str, op) -> str:
    """The name under which the op table's function fn is reachable as ops.<name> (checked)."""
    name = fn.__name__
    if getattr(ops, name, None) is not fn:
        raise ValueError(
            f"op {op.name!r}: its {what} function {name!r} must be defined at the top level of "
            f"micrograd/ops.py under that name (the generated kernels call ops.{name})"
        )
    return name


def source(table: Sequence | None = None) -> str:
    """The text of opkernels.py for the op table ``table`` (default: micrograd.ops.OPS as it is now)."""
    table = ops.OPS if table is None else table
    parts = [HEADER]
    for head, unary, binary, tail in FUNCTIONS:
        parts.append(head)
        for i, op in enumerate(table):
            code = op.name.upper()
            if getattr(ops, code, None) != op.code:
                raise ValueError(f"op {op.name!r}: micrograd/ops.py needs the opcode constant {code} = {op.code}")
            parts.append(f"    {'if' if i == 0 else 'elif'} c == ops.{code}:\n")
            body = binary if op.arity == 2 else unary
            parts.append(
                body.format(f=_name_in_ops(op.forward, "forward", op), b=_name_in_ops(op.backward, "backward", op))
            )
        parts.append(tail)
    return "".join(parts)


def stale() -> bool:
    """Whether the checked-in opkernels.py differs from what source() writes now."""
    try:
        with open(PATH, encoding="utf-8") as f:
            return f.read() != source()
    except FileNotFoundError:
        return True


def write() -> None:
    """Rewrite opkernels.py (atomically: a temporary file renamed into place)."""
    tmp = PATH + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(source())
    os.replace(tmp, PATH)


def main(argv: Sequence[str]) -> int:
    if list(argv) == ["--check"]:
        if stale():
            print(f"{PATH} is stale: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    if argv:
        print(f"usage: {COMMAND} [--check]", file=sys.stderr)
        return 2
    write()
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
