"""Generic Numba kernels that interpret a Program; compiled once per machine, never per graph.

Layout: values ``V`` and gradients ``G`` are (n_slots, batch) arrays, so the
inner loops run over the examples of the batch (contiguous, SIMD). ``theta``
is the compiled parameter vector, ``gtheta`` its gradient. A program is the
NamedTuples ``ir.Code`` (instruction arrays, gather indices, ``requires_grad``,
loss slot) and ``ir.Leaves`` (the leaf slot tables), an optimizer the
``OptState`` below; kernels read them by field name. They cross into compiled
code as plain tuples (``code_t = tuple(prog.code)``, ...) and get their names
back on entry (``code = ir.Code(*code_t)``, free at run time): Numba's
dispatch fingerprints every field name of a NamedTuple argument on every call
(docs/benchmarks.md, "Tuning decisions"). Callees get the plain tuples too, so
that each kernel compiles once per dtype (``tests/test_compiler_kernels.py``
checks it).

- ``forward`` / ``backward``: the interpreters. An op-table op runs through the
  generated per-op dispatch of ``opkernels`` (``vec_*`` over a block,
  ``scalar_*`` for one element), which calls the very function the Value path
  calls (``ops.mul``, ``ops.mul_back``, ...). An unknown opcode is reported,
  never run as 0: the interpreters return the index of an instruction they
  cannot run. DENSE runs ``np.dot`` on contiguous 2-D views (Numba calls
  BLAS), or plain loops when the layer is so small that a BLAS call costs more
  than its work. Backward accumulates (+=) into gradient rows zeroed before
  it, writes each DENSE block's parameter gradients (a block belongs to one
  instruction), and parameters read by scalar ops get their gradient reduced
  over the batch only after the instruction loop.
- Entry points (what the runtime calls): ``load`` + ``forward`` (``cm(X)``,
  validation), ``loss_and_grad`` (one batch: load, forward, loss, backward,
  L2), ``fit`` (a range of steps, each ``loss_and_grad``, a finiteness check
  and optional clipping of the gradient (``gradient_ok``), then ``update``,
  the optimizer's float functions from ``micrograd.optim``, registered with
  Numba here; it stops at a non-finite loss or gradient), ``step_chunks``
  (one step over batch chunks in parallel, for big layers) and ``clip_grad``.
  An entry point links and re-optimizes everything it calls, so a new one costs
  cold compile time; ``loss_and_grad`` is what ``fit`` and ``step_chunks`` run
  per batch, so calling it from Python reuses what ``fit`` compiled.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import prange
from numba.extending import register_jitable

from micrograd import ops, optim
from micrograd.compiler import ir, opkernels
from micrograd.compiler import jit as jit_module
from micrograd.compiler.ir import DENSE, GATHER
from micrograd.compiler.jit import jit
from micrograd.compiler.opkernels import scalar_backward, scalar_forward, vec_backward, vec_forward

register_jitable(optim.sgd_update)
register_jitable(optim.adam_update)

SGD, ADAM = optim.KERNEL_SGD, optim.KERNEL_ADAM  # OptState.kind: each optimizer names its own
U = np.uint64  # offsets into the flat value/gradient arrays (see opkernels.vec_forward)


class OptState(NamedTuple):
    """An optimizer as ``update`` reads it, built with ``opt_state``; s1, s2 are updated in place and the
    runtime writes them back to the optimizer (both in theta's order)."""

    kind: int  # SGD or ADAM
    s1: np.ndarray  # (n_params,) SGD: momentum buffers; Adam: first moments m
    s2: np.ndarray  # (n_params,) Adam: second moments v; SGD: unused, (1,)
    t: int  # steps already taken
    weight_decay: float
    momentum: float  # SGD
    dampening: float  # SGD
    nesterov: bool  # SGD
    beta1: float  # Adam
    beta2: float  # Adam
    eps: float  # Adam


def opt_state(
    kind: int,
    s1: np.ndarray,
    s2: np.ndarray,
    t: int,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    beta1: float = 0.0,
    beta2: float = 0.0,
    eps: float = 0.0,
) -> OptState:
    """An OptState with the exact types the compiled ``update`` was built for, whatever numbers the optimizer
    holds (an int weight_decay would otherwise compile ``fit`` a second time)."""
    return OptState(
        int(kind),
        np.ascontiguousarray(s1, np.float64),
        np.ascontiguousarray(s2, np.float64),
        int(t),
        float(weight_decay),
        float(momentum),
        float(dampening),
        bool(nesterov),
        float(beta1),
        float(beta2),
        float(eps),
    )


class Buffers(NamedTuple):
    """fit's value and gradient buffers, (n_slots, batch) each: for full batches and for the last one."""

    V: np.ndarray
    G: np.ndarray
    V_last: np.ndarray
    G_last: np.ndarray


# Entry points' cold compile seconds, what the first-run line says (compiler.jit prints it). Callees compile
# inside the first entry point that needs them and are reused by the others (fit compiles forward and
# loss_and_grad). The measurements: docs/benchmarks.md, "Tuning decisions".
COLD_S = {"fit": 15, "loss_and_grad": 12, "step_chunks": 29, "forward": 5}

SMALL = 1 << 16  # m*k*B below which a DENSE runs as loops, not BLAS (docs/benchmarks.md, Tuning decisions)


@jit()
def dense_forward(W, bias, X, Y, has_bias, blas):
    """Y (m, B) = W (m, k) @ X (k, B) + bias, bias first as a Neuron sums (b + w0*x0 + w1*x1 + ...).
    blas None (a program without big layers, ``Program.blas``): Numba prunes the np.dot branch at compile time."""
    m, k = W.shape
    if blas is not None:
        if m * k * X.shape[1] >= SMALL:
            np.dot(W, X, Y)
            if has_bias:
                for r in range(m):
                    Y[r] += bias[r]
            return
    B = X.shape[1]
    for r in range(m):
        y = Y[r]
        y[:] = bias[r] if has_bias else 0.0
        j = 0
        while j + 4 <= k:  # four terms per pass over y (a quarter of its loads and stores), in the same order
            w0, w1, w2, w3 = W[r, j], W[r, j + 1], W[r, j + 2], W[r, j + 3]
            x0, x1, x2, x3 = X[j], X[j + 1], X[j + 2], X[j + 3]
            for e in range(B):
                y[e] = (((y[e] + w0 * x0[e]) + w1 * x1[e]) + w2 * x2[e]) + w3 * x3[e]
            j += 4
        for rest in range(j, k):  # the last k % 4 terms
            w, x = W[r, rest], X[rest]
            for e in range(B):
                y[e] += w * x[e]


@jit(fastmath={"reassoc", "contract"})
def dense_backward(W, X, Gy, gW, gbias, Gx, has_bias, need_x, blas):
    """gW = Gy @ X.T and gbias = Gy summed over the batch (written); Gx += W.T @ Gy when need_x.
    fastmath only lets LLVM vectorize the batch sums (round-off order, nothing else). blas: as dense_forward."""
    m, k = W.shape
    B = X.shape[1]
    if has_bias:
        for r in range(m):
            gbias[r] = Gy[r].sum()
    if blas is not None:
        if m * k * B >= SMALL:
            np.dot(Gy, X.T, gW)
            if need_x:
                Gx += np.dot(W.T, Gy)
            return
    for r in range(m):  # gW[r, j] = Gy[r] . X[j]: four columns per pass over Gy[r]
        g = Gy[r]
        j = 0
        while j + 4 <= k:
            x0, x1, x2, x3 = X[j], X[j + 1], X[j + 2], X[j + 3]
            a0 = a1 = a2 = a3 = 0.0
            for e in range(B):
                ge = g[e]
                a0 += ge * x0[e]
                a1 += ge * x1[e]
                a2 += ge * x2[e]
                a3 += ge * x3[e]
            gW[r, j], gW[r, j + 1], gW[r, j + 2], gW[r, j + 3] = a0, a1, a2, a3
            j += 4
        for rest in range(j, k):
            x, acc = X[rest], 0.0
            for e in range(B):
                acc += g[e] * x[e]
            gW[r, rest] = acc
    if need_x:
        for j in range(k):  # Gx[j] += sum_r W[r, j] Gy[r]: four rows per pass over Gx[j]
            gx = Gx[j]
            r = 0
            while r + 4 <= m:
                w0, w1, w2, w3 = W[r, j], W[r + 1, j], W[r + 2, j], W[r + 3, j]
                g0, g1, g2, g3 = Gy[r], Gy[r + 1], Gy[r + 2], Gy[r + 3]
                for e in range(B):
                    gx[e] += w0 * g0[e] + w1 * g1[e] + w2 * g2[e] + w3 * g3[e]
                r += 4
            for rest in range(r, m):
                w, g = W[rest, j], Gy[rest]
                for e in range(B):
                    gx[e] += w * g[e]


@jit()
def any_set(flags, start, count):
    for j in range(start, start + count):
        if flags[j]:
            return True
    return False


@jit(cold_s=COLD_S["forward"])
def forward(code_t, theta, V):
    """Run every instruction over the batch; V (n_slots, B) has its leaf slots filled. -1 or a bad index."""
    code = ir.Code(*code_t)
    op, out, a, b, n, k, p, arg = code.op, code.out, code.a, code.b, code.n, code.k, code.p, code.arg
    B = V.shape[1]
    Vf = V.reshape(-1)
    for i in range(op.shape[0]):
        c, o, m = op[i], out[i], n[i]
        if c == DENSE:
            kk, pp, bb = k[i], p[i], b[i]
            dense_forward(
                theta[pp : pp + m * kk].reshape((m, kk)),
                theta[max(bb, 0) : max(bb, 0) + m],
                V[a[i] : a[i] + kk],
                V[o : o + m],
                bb >= 0,
                code.blas,
            )
        elif c == GATHER:
            for j in range(m):
                src = code.gidx[a[i] + j] * B
                for e in range(B):
                    Vf[(o + j) * B + e] = Vf[src + e]
        elif m * B == 1:
            v, known = scalar_forward(c, Vf[a[i]], Vf[max(b[i], 0)], arg[i])
            if not known:
                return i
            Vf[o] = v
        elif not vec_forward(c, Vf, U(a[i] * B), U(max(b[i], 0) * B), U(o * B), U(m * B), arg[i]):
            return i
    return -1


@jit()
def backward(code_t, theta, V, G, gtheta):
    """Accumulate (+=) gradients from G's seeded rows back to every slot that requires one; write each DENSE
    block's W and bias gradients into gtheta (each block belongs to one instruction). -1 or a bad index."""
    code = ir.Code(*code_t)
    op, out, a, b, n, k, p, arg = code.op, code.out, code.a, code.b, code.n, code.k, code.p, code.arg
    rg = code.requires_grad
    B = V.shape[1]
    Vf, Gf = V.reshape(-1), G.reshape(-1)
    for i in range(op.shape[0] - 1, -1, -1):
        c, o, m = op[i], out[i], n[i]
        if not any_set(rg, o, m):
            continue  # nothing here depends on a parameter (DENSE outputs always do)
        if c == DENSE:
            kk, pp, bb, x0 = k[i], p[i], b[i], a[i]
            dense_backward(
                theta[pp : pp + m * kk].reshape((m, kk)),
                V[x0 : x0 + kk],
                G[o : o + m],
                gtheta[pp : pp + m * kk].reshape((m, kk)),
                gtheta[max(bb, 0) : max(bb, 0) + m],
                G[x0 : x0 + kk],
                bb >= 0,
                any_set(rg, x0, kk),
                code.blas,
            )
        elif c == GATHER:
            for j in range(m):
                dst = code.gidx[a[i] + j] * B
                for e in range(B):
                    Gf[dst + e] += Gf[(o + j) * B + e]
        elif m * B == 1:
            x, y = a[i], b[i]
            dx, dy, known = scalar_backward(c, Vf[x], Vf[max(y, 0)], arg[i], Vf[o])
            if not known:
                return i
            g = Gf[o]
            Gf[x] += dx * g
            if y >= 0:
                Gf[y] += dy * g
        elif not vec_backward(c, Vf, Gf, U(a[i] * B), U(max(b[i], 0) * B), U(o * B), U(m * B), arg[i]):
            return i
    return -1


@jit()
def transpose_rows(V, X, rows, slots):
    """V[slots[j], e] = X[rows[e], j], eight examples at a time: each write fills one cache line of V
    while eight rows of X are read sequentially (unsigned indices: no wraparound checks)."""
    B = U(rows.shape[0])
    Vf = V.reshape(-1)
    for e0 in range(U(0), B, U(8)):
        e1 = min(e0 + U(8), B)
        for j in range(U(slots.shape[0])):
            base = U(slots[j]) * B
            for e in range(e0, e1):
                Vf[base + e] = X[U(rows[e]), j]


@jit()
def load(V, X, Y, rows, leaves_t, theta):
    """Fill the leaf slots (``leaves_t``: an ir.Leaves as a plain tuple) for the examples X[rows], Y[rows]."""
    leaves = ir.Leaves(*leaves_t)
    transpose_rows(V, X, rows, leaves.input_slots)
    transpose_rows(V, Y, rows, leaves.target_slots)
    B = V.shape[1]
    Vf = V.reshape(-1)  # flat indexing: row slices would cost reference counting per slot
    c_slots, c_vals = leaves.const_slots, leaves.const_vals
    for j in range(c_slots.shape[0]):
        for e in range(B):
            Vf[c_slots[j] * B + e] = c_vals[j]
    p_slots, p_index = leaves.param_slots, leaves.param_index
    for j in range(p_slots.shape[0]):
        for e in range(B):
            Vf[p_slots[j] * B + e] = theta[p_index[j]]


@jit()
def add_l2(theta, gtheta, l2):
    """gtheta += d(l2 * sum(theta^2)); returns l2 * sum(theta^2)."""
    q = 0.0
    for j in range(theta.shape[0]):
        q += theta[j] * theta[j]
        gtheta[j] += 2.0 * l2 * theta[j]
    return l2 * q


@jit(cold_s=COLD_S["loss_and_grad"])
def loss_and_grad(code_t, leaves_t, theta, X, Y, rows, scale, l2, V, G, gtheta):
    """The examples X[rows] in V, G (n_slots, len(rows)): returns (sum of their losses, scale * that sum +
    l2 * sum(theta^2), status) and sets gtheta to the gradient of the second (fit and cm.loss_and_grad use
    it with scale = 1/len(rows); step_chunks with l2 = 0 per chunk, adding L2 once after the reduction)."""
    code, leaves = ir.Code(*code_t), ir.Leaves(*leaves_t)
    load(V, X, Y, rows, leaves_t, theta)
    status = forward(code_t, theta, V)
    if status >= 0:
        return np.nan, np.nan, status
    B = V.shape[1]
    loss_slot, rg = code.loss_slot, code.requires_grad
    total = 0.0
    for e in range(B):
        total += V[loss_slot, e]
    Gf = G.reshape(-1)
    for s in range(G.shape[0]):
        if rg[s]:
            for e in range(B):
                Gf[s * B + e] = 0.0
    for e in range(B):
        G[loss_slot, e] = scale
    gtheta[:] = 0.0
    status = backward(code_t, theta, V, G, gtheta)
    p_slots, p_index = leaves.param_slots, leaves.param_index
    for j in range(p_slots.shape[0]):  # parameters read by scalar ops: reduce over the batch, after the loop
        acc = 0.0
        for e in range(B):
            acc += Gf[p_slots[j] * B + e]
        gtheta[p_index[j]] += acc
    loss = total * scale
    if l2 != 0.0:
        loss += add_l2(theta, gtheta, l2)
    return total, loss, status


@jit(cold_s=COLD_S["step_chunks"], parallel=True)
def step_chunks(code_t, leaves_t, theta, X, Y, rows, l2, Vs, Gs, gthetas, gtheta):
    """loss_and_grad with the batch cut into Vs.shape[0] chunks of Vs.shape[2] examples, run in parallel
    (prange), each with its own buffers and gradient row, reduced in chunk order afterwards: the result does
    not depend on the number of threads. Vs, Gs: (chunks, n_slots, chunk); gthetas: (chunks, n_params)."""
    C, n_slots, Bc = Vs.shape
    B = rows.shape[0]
    totals = np.zeros(C)
    status = np.full(C, -1)
    for c in prange(C):
        lo = c * Bc
        bc = min(lo + Bc, B) - lo
        V = Vs[c].reshape(-1)[: n_slots * bc].reshape((n_slots, bc))
        G = Gs[c].reshape(-1)[: n_slots * bc].reshape((n_slots, bc))
        totals[c], _, status[c] = loss_and_grad(
            code_t, leaves_t, theta, X, Y, rows[lo : lo + bc], 1.0 / B, 0.0, V, G, gthetas[c]
        )
    gtheta[:] = 0.0
    total = 0.0
    for c in range(C):
        total += totals[c]
        gtheta += gthetas[c]
    loss = total * (1.0 / B)
    if l2 != 0.0:
        loss += add_l2(theta, gtheta, l2)
    return loss, status.max()


@jit()
def update(theta, gtheta, opt_t, lr, t):
    """One optimizer step over theta with micrograd.optim's formulas (opt_t: an OptState); t = steps taken."""
    opt = OptState(*opt_t)
    s1, s2 = opt.s1, opt.s2
    if opt.kind == SGD:
        for q in range(theta.shape[0]):
            theta[q], s1[q] = optim.sgd_update(
                theta[q], gtheta[q], s1[q], lr, opt.momentum, opt.dampening, opt.nesterov, opt.weight_decay, t == 0
            )
    else:
        for q in range(theta.shape[0]):
            theta[q], s1[q], s2[q] = optim.adam_update(
                theta[q], gtheta[q], s1[q], s2[q], t + 1, lr, opt.beta1, opt.beta2, opt.eps, opt.weight_decay
            )


@jit(fastmath={"reassoc"})
def clip_grad(gtheta, max_norm):
    """torch.nn.utils.clip_grad_norm_ (2-norm) on gtheta: times min(1, max_norm / (norm + 1e-6)); returns the
    norm. A non-finite norm leaves gtheta as it is. reassoc vectorizes the sum (NaN and inf still propagate)."""
    sq = 0.0
    for q in range(gtheta.shape[0]):
        sq += gtheta[q] * gtheta[q]
    norm = np.sqrt(sq)
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:
        for q in range(gtheta.shape[0]):
            gtheta[q] *= coef
    return norm


@jit(fastmath={"reassoc"})
def gradient_ok(gtheta, clip_norm):
    """Clip gtheta when clip_norm > 0 (clip_grad); False when the gradient, or its norm, is not finite."""
    if clip_norm > 0.0:
        return np.isfinite(clip_grad(gtheta, clip_norm))
    z = 0.0
    for q in range(gtheta.shape[0]):
        z += gtheta[q] * 0.0  # 0, or NaN when an element is inf or NaN
    return z == 0.0


class Plan(NamedTuple):
    """Which steps ``fit`` runs: the global steps s0 .. s1-1 of a training run."""

    s0: int
    s1: int
    row0: int  # where ``order`` begins in the epochs' concatenated row order (a whole epoch's start)
    batch_size: int
    l2: float
    clip_norm: float  # > 0: clip the gradient to this norm (clip_grad); 0: no clipping


OK, LOSS_NOT_FINITE, GRAD_NOT_FINITE = -1, -2, -3  # fit's status; an instruction's index (>= 0) otherwise


def check(status: int, prog: ir.Program) -> None:
    """A kernel's status: an instruction's index (>= 0) raises, naming the instruction."""
    if status >= 0:
        raise RuntimeError(f"compiled kernel cannot run instruction {status}: {ir.format_instruction(prog, status)}")


@jit(cold_s=COLD_S["fit"])
def fit(code_t, leaves_t, theta, X, Y, order, lrs, opt_t, plan_t, history, buffers_t, gtheta):
    """The steps s0 .. s1-1 of ``plan_t`` (a Plan) over the row order ``order`` (the epochs from the one at
    row0), batches of batch_size per epoch (the last one smaller, run in buffers.V_last/G_last):
    loss_and_grad into history[s] and gtheta, clipping, then ``update`` with learning rate lrs[s - s0]
    (opt: an OptState, its s1, s2 updated in place). Returns (OK, s1), or (status, s) at the first step s
    whose loss (LOSS_NOT_FINITE) or gradient (GRAD_NOT_FINITE) is not finite, s's update not applied, or
    whose program has an instruction the kernels cannot run (status: its index)."""
    buffers, t0, plan = Buffers(*buffers_t), OptState(*opt_t).t, Plan(*plan_t)
    N = X.shape[0]
    for s in range(plan.s0, plan.s1):
        start, count = batch_bounds(s, N, plan.batch_size)
        start -= plan.row0
        full = count == plan.batch_size
        _, history[s], status = loss_and_grad(
            code_t,
            leaves_t,
            theta,
            X,
            Y,
            order[start : start + count],
            1.0 / count,
            plan.l2,
            buffers.V if full else buffers.V_last,
            buffers.G if full else buffers.G_last,
            gtheta,
        )
        if status >= 0:
            return status, s
        if not np.isfinite(history[s]):
            return LOSS_NOT_FINITE, s
        if not gradient_ok(gtheta, plan.clip_norm):
            return GRAD_NOT_FINITE, s
        update(theta, gtheta, opt_t, lrs[s - plan.s0], t0 + s)
    return OK, plan.s1


@jit()
def batch_bounds(s, N, batch_size):
    """(start in the epochs' concatenated row order, size) of step s's mini-batch."""
    per_epoch = (N + batch_size - 1) // batch_size
    epoch, j = s // per_epoch, s % per_epoch
    return epoch * N + j * batch_size, min(batch_size, N - j * batch_size)


# The modules compiled into the kernels besides their own files (compiler.jit: the options every kernel is
# compiled with): a change to any of them flushes the cache.
DEPENDENCIES = (ops, opkernels, optim, ir, jit_module)


def _flush_if_dependencies_changed() -> None:
    """Numba's cache notices edits to a kernel's own file only; the kernels compile in the op table, the
    generated dispatch, the optimizer formulas and the IR's NamedTuples and constants, so a hash of those
    sources is kept next to the cache and a change flushes every kernel (this file's and opkernels')."""
    import hashlib
    import inspect
    import os

    digest = hashlib.sha256(b"".join(inspect.getsource(m).encode() for m in DEPENDENCIES)).hexdigest()
    kernels_ = [
        f
        for m in (globals(), vars(opkernels))
        for f in dict(m).values()
        if hasattr(f, "_cache") and hasattr(f._cache, "flush")
    ]
    kernels_ = list({id(f): f for f in kernels_}.values())  # opkernels' functions are imported here too
    path = getattr(kernels_[0]._cache, "_cache_path", None) if kernels_ else None
    if not path:
        return  # in-memory compilation: nothing cached to go stale
    stamp = os.path.join(path, "micrograd-kernels.deps")
    try:
        with open(stamp) as f:
            if f.read() == digest:
                return
    except OSError:
        pass
    for k in kernels_:
        k._cache.flush()
    try:
        with open(stamp, "w") as f:
            f.write(digest)
    except OSError:
        pass


_flush_if_dependencies_changed()
