"""Which BLAS the kernels call (micrograd.compiler.blas.library): every candidate's dgemm on the products of
workloads B and C, through the kernels' own ``gemm``, interleaved.

    python -m bench.studies.blas_choice [--rounds N]

Prints the minimum over rounds (a busy machine only adds) in microseconds per product, for SciPy's
OpenBLAS (``scipy_dgemm_``, Fortran ABI), NumPy's (``scipy_cblas_dgemm64_``, CBLAS with 64-bit
integers) and SciPy's ``cython_blas``, each on the calling thread's default BLAS threads. Not a
benchmark (bench/run.py is).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numba import njit

from micrograd.compiler import blas

PRODUCTS = {"B layer 1 (64x64, batch 128)": (64, 128, 64), "C layer 1 (128x784, batch 256)": (128, 256, 784)}


@njit(cache=False)
def _products(bl, A, X, C, m, n, k, reps):
    for _ in range(reps):
        blas.gemm(bl, 0, 1, m, n, k, 1.0, A, 0, k, X, 0, k, 0.0, C, 0, n)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args(argv)
    found = {
        "scipy_dgemm_ (SciPy's OpenBLAS)": blas._openblas("scipy.libs", "scipy_{}gemm_", blas.FORTRAN),
        "scipy_cblas_dgemm64_ (NumPy's OpenBLAS)": blas._openblas("numpy.libs", "scipy_cblas_{}gemm64_", blas.CBLAS64),
        "cython_blas dgemm (SciPy)": blas._scipy_blas(),
    }
    libs = {name: lib for name, lib in found.items() if lib is not None}
    rng = np.random.default_rng(0)
    for what, (m, n, k) in PRODUCTS.items():
        A, X, C = rng.random(m * k), rng.random(n * k), np.zeros(m * n)
        reps = max(1, int(2e7 / (m * n * k)))
        best = {name: np.inf for name in libs}
        for _ in range(args.rounds):
            for name, lib in libs.items():
                t = time.perf_counter()
                _products(np.array([lib.gemm["d"], lib.abi, 0, 0]), A, X, C, m, n, k, reps)
                best[name] = min(best[name], (time.perf_counter() - t) / reps * 1e6)
        print(what)
        for name, us in best.items():
            print(f"  {name:42s} {us:9.1f} us")


if __name__ == "__main__":
    main()
