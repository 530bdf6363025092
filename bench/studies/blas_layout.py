"""What the first layer's product costs by operand layout, and what copying the inputs into their slots costs.

    python -m bench.studies.blas_layout [B,k,m ...]

The kernels keep values slot-major (a layer's outputs are m rows of the batch), while X is batch-major
(B, k), so a first DENSE multiplies W (m, k) by X transposed: BLAS's ``NT`` product. Copying X into the
input slots first (k, B) makes it ``NN``. For each size (batch B, k inputs, m outputs; default: B's first
layer and its neighbours, C's) this prints, on one BLAS thread, the kernels' ``gemm`` both ways and the
copy (``kernels.dense_forward``'s loop), the numbers behind ``kernels.MID``; then the copy of a program's
outputs into ``out`` (N, nout), a column at a time and a row at a time (B's 10 outputs).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from micrograd.compiler.blas import gemm, library  # noqa: E402

SIZES = ("128,64,64", "128,64,10", "256,32,64", "256,64,64", "128,64,128", "256,784,128")


@njit
def inputs_to_slots(X, XT, B, k):
    """kernels.dense_forward's copy of the inputs (B, k) into their slots (k, B), eight rows at a time."""
    U = np.uint64
    e0 = 0
    while e0 + 8 <= B:
        for j in range(k):
            row = U(j * B + e0)
            for d in range(8):
                XT[row + U(d)] = X[U(j) + U(e0 + d) * U(k)]
        e0 += 8
    for e in range(e0, B):
        for j in range(k):
            XT[U(j * B + e)] = X[U(j) + U(e) * U(k)]


@njit
def _nt(n, bl, X, W, C, B, k, m):
    for _ in range(n):
        gemm(bl, 0, 1, m, B, k, 1.0, W, 0, k, X, 0, k, 0.0, C, 0, B)


@njit
def _copy_nn(n, bl, X, W, C, XT, B, k, m):
    for _ in range(n):
        inputs_to_slots(X, XT, B, k)
        gemm(bl, 0, 0, m, B, k, 1.0, W, 0, k, XT, 0, B, 0.0, C, 0, B)


@njit
def _copy(n, X, XT, B, k):
    for _ in range(n):
        inputs_to_slots(X, XT, B, k)


@njit
def _out_by_columns(n, V, out, outs, start, B, nout):  # the kernels' loop before
    for _ in range(n):
        for j in range(nout):
            for e in range(B):
                out[start + e, j] = V[outs[j] * B + e]


@njit
def _out_by_rows(n, V, out, outs, start, B, nout):  # the kernels' loop (template.py)
    U = np.uint64
    for _ in range(n):
        of = out.reshape(-1)
        for e in range(B):
            r = U((start + e) * nout)
            for j in range(nout):
                of[r + U(j)] = V[U(outs[j] * B + e)]


def best(fn, n: int, *args) -> float:
    """Microseconds per call of fn(n, *args) / n: the best of 7."""
    fn(1, *args)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        fn(n, *args)
        times.append((time.perf_counter() - t0) / n)
    return min(times) * 1e6


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.studies.blas_layout", description=__doc__.split("\n")[0])
    p.add_argument("sizes", nargs="*", default=list(SIZES), help="B,k,m")
    args = p.parse_args(argv)
    lib = library()
    bl = np.array([lib.gemm["d"], lib.abi, 0, 0])
    rng = np.random.default_rng(0)
    for size in args.sizes:
        B, k, m = (int(v) for v in size.split(","))
        X, W = rng.normal(size=B * k), rng.normal(size=m * k)
        C, XT = np.zeros(m * B), np.zeros(B * k)
        _copy(1, X, XT, B, k)
        assert (XT.reshape(k, B) == X.reshape(B, k).T).all()
        n = max(5, int(2000 * 64 * 64 * 128 / (B * k * m)))
        nt = best(_nt, n, bl, X, W, C, B, k, m)
        nn = best(_copy_nn, n, bl, X, W, C, XT, B, k, m)
        cp = best(_copy, n, X, XT, B, k)
        print(f"B={B} k={k} m={m} ({B * k * m:,} multiply-adds): NT {nt:.2f} us; copy + NN {nn:.2f} us "
              f"(the copy {cp:.2f} us)")  # fmt: skip
    V, out, outs = rng.normal(size=138 * 128), np.zeros((128, 10)), np.arange(128, 138)
    cols = best(_out_by_columns, 20000, V, out, outs, 0, 128, 10)
    rows = best(_out_by_rows, 20000, V, out, outs, 0, 128, 10)
    print(f"outputs (128, 10) from slots: a column at a time {cols:.2f} us, a row at a time {rows:.2f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
