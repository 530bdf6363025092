"""The kernels: every op of the table has a forward and a backward branch that calls the table's functions;
unknown opcodes are reported; an unwritable Numba cache falls back to memory with one warning."""
import os
import subprocess
import sys

import numpy as np
import pytest

from micrograd import ops
from micrograd.compiler import kernels
from op_cases import CASES


def sample(case, n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(*case.x, n)
    y = rng.uniform(*case.y, n) if case.arity == 2 else np.zeros(n)
    keep = [case.valid(a, b, case.arg) for a, b in zip(x, y)]
    return x[keep], y[keep]


def test_every_op_has_a_case():
    assert sorted(CASES) == sorted(op.name for op in ops.OPS)


@pytest.mark.parametrize("op", ops.OPS, ids=lambda op: op.name)
def test_every_op_runs_the_table_functions_in_the_kernels(op):
    case = CASES[op.name]
    x, y = sample(case)
    out = np.full_like(x, -12345.0)
    assert kernels.vec_forward(op.code, x, y, out, case.arg), f"no forward branch for {op.name}"
    want = [op.forward(a, b, case.arg) for a, b in zip(x, y)]
    np.testing.assert_allclose(out, want, rtol=1e-15, atol=0)
    gout = np.linspace(0.5, 2.0, len(x))
    gx, gy = np.full_like(x, 0.25), np.full_like(x, -0.5)
    assert kernels.vec_backward(op.code, x, y, out, case.arg, gout, gx, gy), f"no backward branch for {op.name}"
    d = np.array([op.backward(a, b, case.arg, o) for a, b, o in zip(x, y, out)])
    np.testing.assert_allclose(gx, 0.25 + d[:, 0] * gout, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(gy, -0.5 + (d[:, 1] * gout if op.arity == 2 else 0.0), rtol=1e-15, atol=1e-300)


def test_unknown_opcodes_are_refused_not_zero():
    x = np.ones(3)
    out = np.zeros(3)
    assert not kernels.vec_forward(len(ops.OPS) + 5, x, x, out, 0.0)
    assert not kernels.vec_backward(-3, x, x, out, 0.0, x, out, out)


def test_unwritable_cache_falls_back_to_memory_with_one_warning(tmp_path):
    # No writable place at all (read-only install, unwritable NUMBA_CACHE_DIR and home): as root nothing is
    # read-only, so the subprocess removes Numba's cache locators, which is what Numba sees in that case.
    code = ("import warnings, numpy as np, numba.core.caching as c\n"
            "c.CacheImpl._locator_classes = []\n"
            "warnings.simplefilter('always')\n"
            "from micrograd.compiler import kernels\n"
            "out = np.zeros(2)\n"
            "assert kernels.vec_forward(kernels.ops.MUL, np.array([2.0, 3.0]), np.array([4.0, 5.0]), out, 0.0)\n"
            "print(out.tolist())\n")
    env = dict(os.environ, NUMBA_CACHE_DIR="/dev/null/not-a-dir")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[8.0, 15.0]"
    warnings = [line for line in r.stderr.splitlines() if "Numba cannot write its cache" in line]
    assert len(warnings) == 1, r.stderr
