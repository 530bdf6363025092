"""Matrix products for the kernels: one gemm, called by address, and how many threads it gets.

``gemm(bl, ta, tb, m, n, k, alpha, A, ia, lda, B, ib, ldb, beta, C, ic, ldc)``
computes the row-major ``C = alpha op(A) op(B) + beta C`` on flat arrays from
offsets ``ia``, ``ib``, ``ic`` with leading dimensions ``lda``, ``ldb``, ``ldc``,
by calling the BLAS function whose address is ``bl[0]``. The address is a kernel
argument: compiled code holds no address, so Numba's disk cache stays valid in
the next process, and no kernel compiles ``np.dot`` (whose typing alone costs
seconds of a first run). ``bl[1]`` says how to call it (the ABI); ``library()`` takes the
first of these it finds, by file, through ctypes (no SciPy import):

- ``FORTRAN``: ``scipy_?gemm_`` of the OpenBLAS that SciPy's wheels carry
  (``scipy.libs``; the Fortran ABI, 32-bit integers by reference), the BLAS
  Numba's own ``np.dot`` calls (on the machine of docs/benchmarks.md, 1.35x
  faster on a 64x64x128 product than NumPy's);
- ``CBLAS64``: ``scipy_cblas_?gemm64_`` of the OpenBLAS that NumPy's wheels
  carry (``numpy.libs``, 64-bit integers);
- ``FORTRAN`` again: ``scipy.linalg.cython_blas``'s ``?gemm``, where neither
  wheel's OpenBLAS is there.

Threads: OpenBLAS threads a product once it is big enough
(``OPENBLAS_THREADS_FROM``), and a mid-sized layer on two threads runs at
either of two speeds from one process to the next (docs/benchmarks.md, Tuning
decisions: ``PARALLEL_WORK``), so it gets one. ``threads_for(work)`` says how
many threads products of ``work`` multiply-adds get (``bl[3]``); gemm sets that
count for the calling thread only, around the product, and puts it back
(OpenBLAS's ``openblas_set_num_threads_local``, by address ``bl[2]``), so the
user's own NumPy keeps its threads.
``MICROGRAD_BLAS_THREADS`` (default: 2 on 2 or more cores) caps it; 1 is
steadier on a busy machine; 0 leaves OpenBLAS's own setting alone. SciPy's
BLAS (the fallback) keeps its own threads.
"""

from __future__ import annotations

import ctypes
import glob
import os
from typing import NamedTuple

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

CBLAS64, FORTRAN = 0, 1
# The numbers behind these two: docs/benchmarks.md, "Tuning decisions".
PARALLEL_WORK = 1 << 22  # multiply-adds in one product from which BLAS_THREADS threads pay
OPENBLAS_THREADS_FROM = 1 << 18  # below this OpenBLAS runs a product on one thread anyway
BLAS_THREADS = max(0, int(os.environ.get("MICROGRAD_BLAS_THREADS", "2" if (os.cpu_count() or 1) >= 2 else "1")))

_I8P = ir.IntType(8).as_pointer()
_I32, _I64 = ir.IntType(32), ir.IntType(64)


@intrinsic
def gemm(typingctx, bl, ta, tb, m, n, k, alpha, A, ia, lda, B, ib, ldb, beta, C, ic, ldc):
    """C[ic:] (m x n, row stride ldc) = alpha * op(A[ia:]) @ op(B[ib:]) + beta * C; op transposes when ta/tb.
    bl (int64): the function's address, its ABI, OpenBLAS's thread setter's address or 0, and the threads
    the product gets or 0: when both, the calling thread's count is set for the call and put back after it."""
    sig = types.void(bl, ta, tb, m, n, k, alpha, A, ia, lda, B, ib, ldb, beta, C, ic, ldc)

    def codegen(context, builder, sig, args):
        tys = sig.args
        dt = tys[7].dtype
        real = context.get_value_type(dt)
        settings = context.make_array(tys[0])(context, builder, value=args[0]).data
        f, abi, setter, threads = (builder.load(builder.gep(settings, [ir.Constant(_I64, i)])) for i in range(4))
        zero = ir.Constant(_I64, 0)

        def int64(i):
            return context.cast(builder, args[i], tys[i], types.int64)

        def data(i):  # the address of element args[i + 1] of the array args[i]
            arr = context.make_array(tys[i])(context, builder, value=args[i])
            return builder.bitcast(builder.gep(arr.data, [int64(i + 1)]), _I8P)

        def scalar(i):
            return context.cast(builder, args[i], tys[i], dt)

        def flag(i, yes, no):
            return builder.select(builder.icmp_signed("!=", int64(i), zero), yes, no)

        set_count = builder.inttoptr(setter, ir.FunctionType(_I32, [_I32]).as_pointer())
        setting = builder.and_(builder.icmp_signed("!=", setter, zero), builder.icmp_signed(">", threads, zero))
        before = cgutils.alloca_once_value(builder, threads)
        with builder.if_then(setting):  # int openblas_set_num_threads_local(int): the count it replaces
            builder.store(builder.sext(builder.call(set_count, [builder.trunc(threads, _I32)]), _I64), before)
        fptr = builder.inttoptr(f, _I8P)
        with builder.if_else(builder.icmp_signed("==", abi, ir.Constant(_I64, CBLAS64))) as (cblas, fortran):
            with cblas:  # cblas_?gemm(RowMajor, transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
                t = ir.FunctionType(
                    ir.VoidType(), [_I32] * 3 + [_I64] * 3 + [real, _I8P, _I64, _I8P, _I64, real, _I8P, _I64]
                )
                tr = (ir.Constant(_I32, 112), ir.Constant(_I32, 111))  # CblasTrans, CblasNoTrans
                builder.call(
                    builder.bitcast(fptr, t.as_pointer()),
                    [ir.Constant(_I32, 101), flag(1, *tr), flag(2, *tr), int64(3), int64(4), int64(5), scalar(6),
                     data(7), int64(9), data(10), int64(12), scalar(13), data(14), int64(16)],
                )  # fmt: skip
            with fortran:  # column-major: C' = op(B)' op(A)', every argument by reference, 32-bit integers

                def ref(v):
                    slot = builder.alloca(v.type)
                    builder.store(v, slot)
                    return builder.bitcast(slot, _I8P)

                def i32(i):
                    return ref(builder.trunc(int64(i), _I32))

                tr = (ir.Constant(ir.IntType(8), ord("t")), ir.Constant(ir.IntType(8), ord("n")))
                t = ir.FunctionType(ir.VoidType(), [_I8P] * 13)
                builder.call(
                    builder.bitcast(fptr, t.as_pointer()),
                    [ref(flag(2, *tr)), ref(flag(1, *tr)), i32(4), i32(3), i32(5), ref(scalar(6)), data(10), i32(12),
                     data(7), i32(9), ref(scalar(13)), data(14), i32(16)],
                )  # fmt: skip
        old = builder.load(before)
        with builder.if_then(builder.and_(setting, builder.icmp_signed("!=", old, threads))):
            builder.call(set_count, [builder.trunc(old, _I32)])
        return context.get_dummy_value()

    return sig, codegen


def _python_gemm(bl, ta, tb, m, n, k, alpha, A, ia, lda, B, ib, ldb, beta, C, ic, ldc):
    """gemm in NumPy (its own BLAS and threads): what the kernels call under NUMBA_DISABLE_JIT=1."""
    a = np.lib.stride_tricks.as_strided(A[ia:], (k, m) if ta else (m, k), (lda * A.itemsize, A.itemsize))
    b = np.lib.stride_tricks.as_strided(B[ib:], (n, k) if tb else (k, n), (ldb * B.itemsize, B.itemsize))
    c = np.lib.stride_tricks.as_strided(C[ic:], (m, n), (ldc * C.itemsize, C.itemsize))
    c[...] = alpha * ((a.T if ta else a) @ (b.T if tb else b)) + (beta * c if beta != 0.0 else 0.0)


if getattr(numba.config, "DISABLE_JIT", False):
    gemm = _python_gemm  # type: ignore[assignment]  # noqa: F811


class Library(NamedTuple):
    """The BLAS the kernels call: gemm addresses by dtype character, their ABI, and a thread setter."""

    gemm: dict  # 'd' / 'f' -> address of ?gemm
    abi: int
    set_threads: int  # address of OpenBLAS's int openblas_set_num_threads_local(int) (the old count), or 0
    where: str  # the library file, for messages


_library: list = []  # found once per process


def library() -> Library:
    """The BLAS the kernels call (found once): SciPy's OpenBLAS, else NumPy's, else SciPy's cython_blas."""
    if not _library:
        _library.append(
            _openblas("scipy.libs", "scipy_{}gemm_", FORTRAN)
            or _openblas("numpy.libs", "scipy_cblas_{}gemm64_", CBLAS64)
            or _scipy_blas()
        )
    return _library[0]


def _address(fn) -> int:
    return int(ctypes.cast(fn, ctypes.c_void_p).value or 0)


def _openblas(folder: str, symbol: str, abi: int) -> Library | None:
    """The OpenBLAS a wheel ships in site-packages/<folder> (gemm named ``symbol`` of 'd' or 's'), or None."""
    site = os.path.dirname(os.path.dirname(np.__file__))
    for path in sorted(glob.glob(os.path.join(site, folder, "libscipy_openblas*"))):
        try:
            lib = ctypes.CDLL(path)
            dgemm, sgemm = getattr(lib, symbol.format("d")), getattr(lib, symbol.format("s"))
        except (OSError, AttributeError):
            continue
        setter = getattr(lib, "openblas_set_num_threads_local", None)
        return Library({"d": _address(dgemm), "f": _address(sgemm)}, abi, _address(setter) if setter else 0, path)
    return None


def _scipy_blas() -> Library:
    import scipy.linalg.cython_blas as cython_blas

    name = ctypes.pythonapi.PyCapsule_GetName
    name.restype, name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    pointer = ctypes.pythonapi.PyCapsule_GetPointer
    pointer.restype, pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    capi = cython_blas.__pyx_capi__
    found = {c: int(pointer(capi[f"{c}gemm"], name(capi[f"{c}gemm"]))) for c in "ds"}
    return Library({"d": found["d"], "f": found["s"]}, FORTRAN, 0, cython_blas.__file__)


def threads_for(work: int) -> int:
    """BLAS threads for products of ``work`` multiply-adds: 0 (leave OpenBLAS alone: it will not thread
    them, nor with MICROGRAD_BLAS_THREADS=0), 1, or BLAS_THREADS from PARALLEL_WORK on."""
    if work < OPENBLAS_THREADS_FROM or BLAS_THREADS == 0:
        return 0
    return BLAS_THREADS if work >= PARALLEL_WORK else 1
