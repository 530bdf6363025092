"""The kernels: every op of the table runs its own forward and derivative functions in the generated code, in
the vector loop over a block and in the run of one-element instructions a scalar graph takes; an opcode a
kernel lacks is reported, never run as 0."""

import numpy as np
import pytest

from micrograd import ops
from micrograd.compiler import blas, codegen
from micrograd.compiler.codegen import CTL_IDX, CTL_WHERE, FORWARD, GRAD, OK, UNKNOWN
from micrograd.compiler.ir import Program, validate
from tests.op_cases import CASES

EVERY_OP = frozenset(op.name for op in ops.OPS) | {"train", "params", "valueloss", codegen.RUNS}


def sample(case, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(*case.x, 4 * n)
    y = rng.uniform(*case.y, 4 * n) if case.arity == 2 else np.zeros(4 * n)
    keep = [case.valid(a, b, case.arg) for a, b in zip(x, y)]
    return x[keep][:n], y[keep][:n]


def program(op, n, vector):
    """params x_0..x_{n-1}, y_0..y_{n-1} in slots 0..2n-1; out_j = op(x_j, y_j) as one vector instruction over
    the block or as n one-element ones; loss = out_0 + out_1 + ... (adds, whose derivatives are exactly 1)."""
    binary = op.arity == 2
    P = 2 * n if binary else n
    x0, y0, o0 = 0, n, P
    if vector:
        rows = [(op.code, o0, x0, y0 if binary else -1, n, 0, -1, 0, 0, CASE_ARG[op.name])]
    else:
        rows = [
            (op.code, o0 + j, x0 + j, y0 + j if binary else -1, 1, 0, -1, 0, 0, CASE_ARG[op.name]) for j in range(n)
        ]
    acc, S = o0, o0 + n
    for j in range(1, n):
        rows.append((ops.ADD, S, acc, o0 + j, 1, 0, -1, 0, 0, 0.0))
        acc, S = S, S + 1
    prog = Program(rows, [], S, [], [], list(range(o0, o0 + n)), acc, list(range(P)), list(range(P)), [], [], P,
                   [1] * S)  # fmt: skip
    return validate(prog)


CASE_ARG = {name: case.arg for name, case in CASES.items()}


def run(prog, theta, mode, features=EVERY_OP):
    """Run prog on one example (no inputs) through the kernel with these features; (status, outputs, gtheta)."""
    kernel = codegen.STORE.kernel(frozenset(features))
    f, abi = blas.library().gemm["d"], blas.library().abi
    ctl = np.zeros(CTL_IDX + prog.n_params, dtype=np.int64)
    ctl[:3] = 0, 1, 1  # steps 0 .. 1 of batches of 1
    ctl[codegen.CTL_BLAS : codegen.CTL_BLAS + 2] = f, abi
    ctl[CTL_IDX:] = np.arange(prog.n_params)
    gtheta = np.full(prog.n_params, np.nan)
    out = np.zeros((1, len(prog.output_slots)))
    W = np.zeros(2 * prog.n_slots)
    hs, st = np.zeros((2, 1)), np.zeros(codegen.ST_STATE)
    X, Y = np.zeros((1, 0)), np.zeros((1, 1))
    status = kernel.run(mode, *prog.pack(), theta, gtheta, X, Y, np.zeros(1, np.int64), W, out, hs, st, ctl)
    return status, out[0], gtheta, int(ctl[CTL_WHERE])


def test_every_op_has_a_case():
    assert sorted(CASES) == sorted(op.name for op in ops.OPS)


@pytest.mark.parametrize("vector", [True, False], ids=["vector loop", "scalar run"])
@pytest.mark.parametrize("op", ops.OPS, ids=lambda op: op.name)
def test_every_op_runs_the_table_functions_in_the_kernels(op, vector):
    case = CASES[op.name]
    x, y = sample(case, 16)
    n = len(x)
    prog = program(op, n, vector)
    theta = np.concatenate([x, y]) if op.arity == 2 else x.copy()
    status, out, _, _ = run(prog, theta, FORWARD)
    assert status == OK
    want = np.array([op.forward(a, b, case.arg) for a, b in zip(x, y)])
    np.testing.assert_array_equal(out, want)
    status, _, gtheta, _ = run(prog, theta, GRAD)
    assert status == OK
    d = np.array([op.backward(a, b, case.arg, o) for a, b, o in zip(x, y, want)])
    np.testing.assert_array_equal(gtheta[:n], d[:, 0])
    if op.arity == 2:
        np.testing.assert_array_equal(gtheta[n:], d[:, 1])


@pytest.mark.parametrize("mode", [FORWARD, GRAD])
def test_an_opcode_the_kernel_lacks_is_reported_with_its_instruction(mode):
    prog = program(ops.OPS[ops.TANH], 4, vector=True)
    prog.op[0] = 99  # an opcode no kernel has
    status, _, gtheta, where = run(prog, np.full(4, 0.5), mode)
    assert (status, where) == (UNKNOWN, 0)
    assert np.isnan(gtheta).all()  # nothing was written
