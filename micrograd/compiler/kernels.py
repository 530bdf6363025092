"""Generic Numba kernels that interpret a Program; compiled once per machine, never per graph.

Layout: values ``V`` and gradients ``G`` are (n_slots, batch) arrays, so the
inner loops run over the examples of the batch (contiguous, SIMD). ``theta``
is the compiled parameter vector, ``gtheta`` its gradient. The instruction
arrays are those of ``ir.Program`` (``prog`` below is the tuple
``(op, out, a, b, n, k, p, arg, gidx)``).

- ``vec_forward`` / ``vec_backward``: one branch per op of the op table, each
  a loop calling the very function the Value path calls (``ops.mul``,
  ``ops.mul_back``, ...). An unknown opcode is reported, never run as 0: the
  interpreters return the index of an instruction they cannot run.
- ``scalar_forward`` / ``scalar_backward``: the same branches for one element (n == 1 on one example):
  the loop set-up of the vector branches cost ~4 ns per instruction on a scalar graph. Both stay calls:
  inlining them (inline='always') gained 2-4 ns per op more but cost 1.3-1.9 s of cold compile, because
  Numba re-optimizes every callee inside each entry point that links it (forward, forward_backward, fit,
  step_chunks).
- ``forward`` / ``backward``: the interpreters. DENSE runs ``np.dot`` on
  contiguous 2-D views (Numba calls BLAS), or plain loops when the layer is
  so small that a BLAS call costs more than its work. Backward accumulates
  (+=) into gradient rows zeroed before it, writes each DENSE block's
  parameter gradients (a block belongs to one instruction), and parameters
  read by scalar ops get their gradient reduced over the batch only after the
  instruction loop.
- ``forward_backward`` (load a batch, forward, loss, backward), ``fit`` (all
  epochs and mini-batches with L2 and ``update``, the optimizer's float
  functions from ``micrograd.optim``, registered with Numba here; also the
  one-step entry of ``loss_and_grad``) and ``step_chunks`` (one step over
  batch chunks in parallel, for big layers).
"""
from __future__ import annotations

import numpy as np
from numba import prange
from numba.extending import register_jitable

from micrograd import ops, optim
from micrograd.compiler.ir import DENSE, GATHER, NOPS
from micrograd.jit import jit

register_jitable(optim.sgd_update)
register_jitable(optim.adam_update)

SGD, ADAM = 0, 1
U = np.uint64  # offsets into the flat value/gradient arrays (see vec_forward)


@jit()
def vec_forward(c, V, x, y, o, m, w):
    """V[o+e] = OPS[c].forward(V[x+e], V[y+e], w) for e < m (V flat; y unused by unary ops). False: unknown c.
    Offsets, not slices: a slice per instruction costs reference counting that dominates scalar graphs.
    Unsigned offsets (``U``): Numba then drops its negative-index wraparound and the loops vectorize."""
    if c == ops.ADD:
        for e in range(m):
            V[o + e] = ops.add(V[x + e], V[y + e], w)
    elif c == ops.SUB:
        for e in range(m):
            V[o + e] = ops.sub(V[x + e], V[y + e], w)
    elif c == ops.MUL:
        for e in range(m):
            V[o + e] = ops.mul(V[x + e], V[y + e], w)
    elif c == ops.DIV:
        for e in range(m):
            V[o + e] = ops.div(V[x + e], V[y + e], w)
    elif c == ops.POWV:
        for e in range(m):
            V[o + e] = ops.powv(V[x + e], V[y + e], w)
    elif c == ops.PRELU:
        for e in range(m):
            V[o + e] = ops.prelu(V[x + e], V[y + e], w)
    elif c == ops.LOGADDEXP:
        for e in range(m):
            V[o + e] = ops.logaddexp(V[x + e], V[y + e], w)
    elif c == ops.POW:
        for e in range(m):
            V[o + e] = ops.pow(V[x + e], 0.0, w)
    elif c == ops.NEG:
        for e in range(m):
            V[o + e] = ops.neg(V[x + e], 0.0, w)
    elif c == ops.EXP:
        for e in range(m):
            V[o + e] = ops.exp(V[x + e], 0.0, w)
    elif c == ops.LOG:
        for e in range(m):
            V[o + e] = ops.log(V[x + e], 0.0, w)
    elif c == ops.TANH:
        for e in range(m):
            V[o + e] = ops.tanh(V[x + e], 0.0, w)
    elif c == ops.SIGMOID:
        for e in range(m):
            V[o + e] = ops.sigmoid(V[x + e], 0.0, w)
    elif c == ops.RELU:
        for e in range(m):
            V[o + e] = ops.relu(V[x + e], 0.0, w)
    elif c == ops.LEAKY_RELU:
        for e in range(m):
            V[o + e] = ops.leaky_relu(V[x + e], 0.0, w)
    elif c == ops.ELU:
        for e in range(m):
            V[o + e] = ops.elu(V[x + e], 0.0, w)
    elif c == ops.SELU:
        for e in range(m):
            V[o + e] = ops.selu(V[x + e], 0.0, w)
    elif c == ops.SOFTPLUS:
        for e in range(m):
            V[o + e] = ops.softplus(V[x + e], 0.0, w)
    elif c == ops.ABS:
        for e in range(m):
            V[o + e] = ops.abs_(V[x + e], 0.0, w)
    else:
        return False
    return True

@jit()
def vec_backward(c, V, G, x, y, o, m, w):
    """G[x+e] += d/dx * G[o+e] and G[y+e] += d/dy * G[o+e] with OPS[c].backward, for e < m (flat V, G)."""
    if c == ops.ADD:
        for e in range(m):
            dx, dy = ops.add_back(V[x + e], V[y + e], w, V[o + e])
            G[x + e] += dx * G[o + e]
            G[y + e] += dy * G[o + e]
    elif c == ops.SUB:
        for e in range(m):
            dx, dy = ops.sub_back(V[x + e], V[y + e], w, V[o + e])
            G[x + e] += dx * G[o + e]
            G[y + e] += dy * G[o + e]
    elif c == ops.MUL:
        for e in range(m):
            dx, dy = ops.mul_back(V[x + e], V[y + e], w, V[o + e])
            G[x + e] += dx * G[o + e]
            G[y + e] += dy * G[o + e]
    elif c == ops.DIV:
        for e in range(m):
            dx, dy = ops.div_back(V[x + e], V[y + e], w, V[o + e])
            G[x + e] += dx * G[o + e]
            G[y + e] += dy * G[o + e]
    elif c == ops.POWV:
        for e in range(m):
            dx, dy = ops.powv_back(V[x + e], V[y + e], w, V[o + e])
            G[x + e] += dx * G[o + e]
            G[y + e] += dy * G[o + e]
    elif c == ops.PRELU:
        for e in range(m):
            dx, dy = ops.prelu_back(V[x + e], V[y + e], w, V[o + e])
            G[x + e] += dx * G[o + e]
            G[y + e] += dy * G[o + e]
    elif c == ops.LOGADDEXP:
        for e in range(m):
            dx, dy = ops.logaddexp_back(V[x + e], V[y + e], w, V[o + e])
            G[x + e] += dx * G[o + e]
            G[y + e] += dy * G[o + e]
    elif c == ops.POW:
        for e in range(m):
            G[x + e] += ops.pow_back(V[x + e], 0.0, w, V[o + e])[0] * G[o + e]
    elif c == ops.NEG:
        for e in range(m):
            G[x + e] += ops.neg_back(V[x + e], 0.0, w, V[o + e])[0] * G[o + e]
    elif c == ops.EXP:
        for e in range(m):
            G[x + e] += ops.exp_back(V[x + e], 0.0, w, V[o + e])[0] * G[o + e]
    elif c == ops.LOG:
        for e in range(m):
            G[x + e] += ops.log_back(V[x + e], 0.0, w, V[o + e])[0] * G[o + e]
    elif c == ops.TANH:
        for e in range(m):
            G[x + e] += ops.tanh_back(V[x + e], 0.0, w, V[o + e])[0] * G[o + e]
    elif c == ops.SIGMOID:
        for e in range(m):
            G[x + e] += ops.sigmoid_back(V[x + e], 0.0, w, V[o + e])[0] * G[o + e]
    elif c == ops.RELU:
        for e in range(m):
            G[x + e] += ops.relu_back(V[x + e], 0.0, w, V[o + e])[0] * G[o + e]
    elif c == ops.LEAKY_RELU:
        for e in range(m):
            G[x + e] += ops.leaky_relu_back(V[x + e], 0.0, w, V[o + e])[0] * G[o + e]
    elif c == ops.ELU:
        for e in range(m):
            G[x + e] += ops.elu_back(V[x + e], 0.0, w, V[o + e])[0] * G[o + e]
    elif c == ops.SELU:
        for e in range(m):
            G[x + e] += ops.selu_back(V[x + e], 0.0, w, V[o + e])[0] * G[o + e]
    elif c == ops.SOFTPLUS:
        for e in range(m):
            G[x + e] += ops.softplus_back(V[x + e], 0.0, w, V[o + e])[0] * G[o + e]
    elif c == ops.ABS:
        for e in range(m):
            G[x + e] += ops.abs_back(V[x + e], 0.0, w, V[o + e])[0] * G[o + e]
    else:
        return False
    return True


@jit()
def scalar_forward(c, x, y, w):
    """(OPS[c].forward(x, y, w), True), or (nan, False) for an unknown c: the one-element case of vec_forward
    without its loop set-up (a scalar graph on one example is nothing but such instructions)."""
    if c == ops.ADD:
        return ops.add(x, y, w), True
    elif c == ops.SUB:
        return ops.sub(x, y, w), True
    elif c == ops.MUL:
        return ops.mul(x, y, w), True
    elif c == ops.DIV:
        return ops.div(x, y, w), True
    elif c == ops.POWV:
        return ops.powv(x, y, w), True
    elif c == ops.PRELU:
        return ops.prelu(x, y, w), True
    elif c == ops.LOGADDEXP:
        return ops.logaddexp(x, y, w), True
    elif c == ops.POW:
        return ops.pow(x, y, w), True
    elif c == ops.NEG:
        return ops.neg(x, y, w), True
    elif c == ops.EXP:
        return ops.exp(x, y, w), True
    elif c == ops.LOG:
        return ops.log(x, y, w), True
    elif c == ops.TANH:
        return ops.tanh(x, y, w), True
    elif c == ops.SIGMOID:
        return ops.sigmoid(x, y, w), True
    elif c == ops.RELU:
        return ops.relu(x, y, w), True
    elif c == ops.LEAKY_RELU:
        return ops.leaky_relu(x, y, w), True
    elif c == ops.ELU:
        return ops.elu(x, y, w), True
    elif c == ops.SELU:
        return ops.selu(x, y, w), True
    elif c == ops.SOFTPLUS:
        return ops.softplus(x, y, w), True
    elif c == ops.ABS:
        return ops.abs_(x, y, w), True
    return np.nan, False


@jit()
def scalar_backward(c, x, y, w, out):
    """(d/dx, d/dy, True) with OPS[c].backward, or (nan, nan, False) for an unknown c (see scalar_forward)."""
    if c == ops.ADD:
        return ops.add_back(x, y, w, out) + (True,)
    elif c == ops.SUB:
        return ops.sub_back(x, y, w, out) + (True,)
    elif c == ops.MUL:
        return ops.mul_back(x, y, w, out) + (True,)
    elif c == ops.DIV:
        return ops.div_back(x, y, w, out) + (True,)
    elif c == ops.POWV:
        return ops.powv_back(x, y, w, out) + (True,)
    elif c == ops.PRELU:
        return ops.prelu_back(x, y, w, out) + (True,)
    elif c == ops.LOGADDEXP:
        return ops.logaddexp_back(x, y, w, out) + (True,)
    elif c == ops.POW:
        return ops.pow_back(x, y, w, out) + (True,)
    elif c == ops.NEG:
        return ops.neg_back(x, y, w, out) + (True,)
    elif c == ops.EXP:
        return ops.exp_back(x, y, w, out) + (True,)
    elif c == ops.LOG:
        return ops.log_back(x, y, w, out) + (True,)
    elif c == ops.TANH:
        return ops.tanh_back(x, y, w, out) + (True,)
    elif c == ops.SIGMOID:
        return ops.sigmoid_back(x, y, w, out) + (True,)
    elif c == ops.RELU:
        return ops.relu_back(x, y, w, out) + (True,)
    elif c == ops.LEAKY_RELU:
        return ops.leaky_relu_back(x, y, w, out) + (True,)
    elif c == ops.ELU:
        return ops.elu_back(x, y, w, out) + (True,)
    elif c == ops.SELU:
        return ops.selu_back(x, y, w, out) + (True,)
    elif c == ops.SOFTPLUS:
        return ops.softplus_back(x, y, w, out) + (True,)
    elif c == ops.ABS:
        return ops.abs_back(x, y, w, out) + (True,)
    return np.nan, np.nan, False


SMALL = 1 << 16  # DENSE ops with m*k*B below this run as loops (a BLAS call costs more than the work)


@jit()
def dense_forward(W, bias, X, Y, has_bias):
    """Y (m, B) = W (m, k) @ X (k, B) + bias, bias first as a Neuron sums (b + w0*x0 + w1*x1 + ...)."""
    m, k = W.shape
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
        for j in range(k):
            w, x = W[r, j], X[j]
            for e in range(B):
                y[e] += w * x[e]


@jit(fastmath={"reassoc", "contract"})
def dense_backward(W, X, Gy, gW, gbias, Gx, has_bias, need_x):
    """gW = Gy @ X.T and gbias = Gy summed over the batch (written); Gx += W.T @ Gy when need_x.
    fastmath only lets LLVM vectorize the batch sums (round-off order, nothing else)."""
    m, k = W.shape
    B = X.shape[1]
    if has_bias:
        for r in range(m):
            gbias[r] = Gy[r].sum()
    if m * k * B >= SMALL:
        np.dot(Gy, X.T, gW)
        if need_x:
            Gx += np.dot(W.T, Gy)
        return
    for r in range(m):
        for j in range(k):
            acc = 0.0
            for e in range(B):
                acc += Gy[r, e] * X[j, e]
            gW[r, j] = acc
    if need_x:
        for r in range(m):
            g = Gy[r]
            for j in range(k):
                w, gx = W[r, j], Gx[j]
                for e in range(B):
                    gx[e] += w * g[e]


@jit()
def any_set(flags, start, count):
    for j in range(start, start + count):
        if flags[j]:
            return True
    return False


@jit()
def forward(prog, theta, V):
    """Run every instruction over the batch; V (n_slots, B) has its leaf slots filled. -1 or a bad index."""
    op, out, a, b, n, k, p, arg, gidx = prog
    B = V.shape[1]
    Vf = V.reshape(-1)
    for i in range(op.shape[0]):
        c, o, m = op[i], out[i], n[i]
        if c == DENSE:
            kk, pp, bb = k[i], p[i], b[i]
            dense_forward(theta[pp:pp + m * kk].reshape((m, kk)), theta[max(bb, 0):max(bb, 0) + m],
                          V[a[i]:a[i] + kk], V[o:o + m], bb >= 0)
        elif c == GATHER:
            for j in range(m):
                src = gidx[a[i] + j] * B
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
def backward(prog, theta, V, G, gtheta, rg):
    """Accumulate (+=) gradients from G's seeded rows back to every slot; write each DENSE block's W and bias
    gradients into gtheta (each block belongs to one instruction). Returns -1 or a bad instruction's index."""
    op, out, a, b, n, k, p, arg, gidx = prog
    B = V.shape[1]
    Vf, Gf = V.reshape(-1), G.reshape(-1)
    for i in range(op.shape[0] - 1, -1, -1):
        c, o, m = op[i], out[i], n[i]
        if not any_set(rg, o, m):
            continue  # nothing here depends on a parameter (DENSE outputs always do)
        if c == DENSE:
            kk, pp, bb, x0 = k[i], p[i], b[i], a[i]
            dense_backward(theta[pp:pp + m * kk].reshape((m, kk)), V[x0:x0 + kk], G[o:o + m],
                           gtheta[pp:pp + m * kk].reshape((m, kk)), gtheta[max(bb, 0):max(bb, 0) + m],
                           G[x0:x0 + kk], bb >= 0, any_set(rg, x0, kk))
        elif c == GATHER:
            for j in range(m):
                dst = gidx[a[i] + j] * B
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
def load(V, X, Y, rows, leaves, theta):
    """Fill the leaf slots for the examples X[rows], Y[rows]; leaves = the Program's slot maps."""
    in_slots, t_slots, c_slots, c_vals, p_slots, p_index = leaves
    transpose_rows(V, X, rows, in_slots)
    transpose_rows(V, Y, rows, t_slots)
    B = V.shape[1]
    Vf = V.reshape(-1)  # flat indexing: row slices would cost reference counting per slot
    for j in range(c_slots.shape[0]):
        for e in range(B):
            Vf[c_slots[j] * B + e] = c_vals[j]
    for j in range(p_slots.shape[0]):
        for e in range(B):
            Vf[p_slots[j] * B + e] = theta[p_index[j]]


@jit()
def forward_backward(prog, leaves, rg, loss_slot, theta, X, Y, rows, scale, V, G, gtheta):
    """The examples X[rows]: returns (sum of their losses, status); gtheta <- gradient of scale * that sum."""
    load(V, X, Y, rows, leaves, theta)
    status = forward(prog, theta, V)
    if status >= 0:
        return np.nan, status
    B = V.shape[1]
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
    status = backward(prog, theta, V, G, gtheta, rg)
    p_slots, p_index = leaves[4], leaves[5]
    for j in range(p_slots.shape[0]):  # parameters read by scalar ops: reduce over the batch, after the loop
        acc = 0.0
        for e in range(B):
            acc += Gf[p_slots[j] * B + e]
        gtheta[p_index[j]] += acc
    return total, status


@jit()
def add_l2(theta, gtheta, l2):
    """gtheta += d(l2 * sum(theta^2)); returns l2 * sum(theta^2)."""
    q = 0.0
    for j in range(theta.shape[0]):
        q += theta[j] * theta[j]
        gtheta[j] += 2.0 * l2 * theta[j]
    return l2 * q


@jit(parallel=True)
def step_chunks(prog, leaves, rg, loss_slot, theta, X, Y, rows, l2, Vs, Gs, gthetas, gtheta):
    """step() with the batch cut into Vs.shape[0] chunks of Vs.shape[2] examples, run in parallel (prange),
    each with its own buffers and gradient row, reduced in chunk order afterwards: the result does not
    depend on the number of threads. Vs, Gs: (chunks, n_slots, chunk); gthetas: (chunks, n_params)."""
    C, n_slots, Bc = Vs.shape
    B = rows.shape[0]
    totals = np.zeros(C)
    status = np.full(C, -1)
    for c in prange(C):
        lo = c * Bc
        bc = min(lo + Bc, B) - lo
        V = Vs[c].reshape(-1)[:n_slots * bc].reshape((n_slots, bc))
        G = Gs[c].reshape(-1)[:n_slots * bc].reshape((n_slots, bc))
        totals[c], status[c] = forward_backward(prog, leaves, rg, loss_slot, theta, X, Y, rows[lo:lo + bc],
                                                1.0 / B, V, G, gthetas[c])
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
def update(theta, gtheta, kind, hyper, s1, s2, lr, t):
    """One optimizer step over theta with micrograd.optim's formulas; t = steps already taken."""
    if kind == SGD:
        for q in range(theta.shape[0]):
            theta[q], s1[q] = optim.sgd_update(theta[q], gtheta[q], s1[q], lr, hyper[0], hyper[1],
                                               hyper[2] != 0.0, hyper[3], t == 0)
    else:
        for q in range(theta.shape[0]):
            theta[q], s1[q], s2[q] = optim.adam_update(theta[q], gtheta[q], s1[q], s2[q], t + 1, lr,
                                                       hyper[0], hyper[1], hyper[2], hyper[3])


@jit()
def fit(prog, leaves, rg, loss_slot, theta, X, Y, order, batch_size, lrs, kind, hyper, s1, s2, t0, l2, history,
        train, buffers, gtheta):
    """len(lrs) steps over the row order ``order`` (epochs*N,), batches of batch_size per epoch (the last one
    smaller): forward, mean loss + l2*sum(theta^2) into history, backward into gtheta, and when ``train`` the
    optimizer's update (SGD: s1 = momentum buffers; Adam: s1, s2 = m, v; t0 = steps already taken).
    ``buffers`` = (V, G) for full batches and (V, G) for the last one, (n_slots, batch) each.
    With train=False and one step this is loss_and_grad: one entry point keeps Numba's compile time down.
    Returns -1 or the index of a bad instruction."""
    N = X.shape[0]
    Vfull, Gfull, Vlast, Glast = buffers
    for s in range(lrs.shape[0]):
        start, count = batch_bounds(s, N, batch_size)
        V, G = (Vfull, Gfull) if count == batch_size else (Vlast, Glast)
        total, status = forward_backward(prog, leaves, rg, loss_slot, theta, X, Y, order[start:start + count],
                                         1.0 / count, V, G, gtheta)
        if status >= 0:
            return status
        history[s] = total * (1.0 / count)
        if l2 != 0.0:
            history[s] += add_l2(theta, gtheta, l2)
        if train:
            update(theta, gtheta, kind, hyper, s1, s2, lrs[s], t0 + s)
    return -1


@jit()
def batch_bounds(s, N, batch_size):
    """(start in the epochs' concatenated row order, size) of step s's mini-batch."""
    per_epoch = (N + batch_size - 1) // batch_size
    epoch, j = s // per_epoch, s % per_epoch
    return epoch * N + j * batch_size, min(batch_size, N - j * batch_size)


def _flush_if_dependencies_changed() -> None:
    """Numba's cache notices edits to this file only; the kernels inline the op table and the optimizer
    formulas, so a hash of those sources is kept next to the cache and a change flushes every kernel."""
    import hashlib
    import inspect
    import os
    digest = hashlib.sha256(b"".join(inspect.getsource(m).encode() for m in (ops, optim))).hexdigest()
    kernels_ = [f for f in globals().values() if hasattr(f, "_cache") and hasattr(f._cache, "flush")]
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
