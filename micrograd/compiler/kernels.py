"""Generic Numba kernels that interpret a Program; compiled once per machine, never per graph.

Layout: values ``V`` and gradients ``G`` are (n_slots, batch) arrays, so the
inner loops run over the examples of the batch (contiguous, SIMD). ``theta``
is the compiled parameter vector, ``gtheta`` its gradient. The instruction
arrays are those of ``ir.Program`` (``prog`` below is the tuple
``(op, out, a, b, n, k, p, arg, gidx)``).

- ``op_forward`` / ``op_backward``: one branch per op of the op table, each
  calling the very function the Value path calls (``ops.mul``,
  ``ops.mul_back``, ...). An unknown opcode gives NaN, never 0, and the
  interpreters return the index of an instruction they cannot run.
- ``forward`` / ``backward``: the interpreters. DENSE runs ``np.dot`` on
  contiguous 2-D views (Numba calls BLAS); backward accumulates (+=) into
  rows zeroed by ``zero_grads`` and reduces parameter gradients over the batch
  only after the instruction loop (``reduce_param_slots``).
- ``step`` (load a batch, forward, loss, backward, L2) and ``fit`` (all epochs
  and mini-batches with the optimizer's float functions from
  ``micrograd.optim``, registered with Numba here).
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from micrograd import ops, optim
from micrograd.compiler.ir import DENSE, GATHER, NOPS
from micrograd.jit import jit

register_jitable(optim.sgd_update)
register_jitable(optim.adam_update)

SGD, ADAM = 0, 1


@jit()
def op_forward(c, x, y, arg):
    """out = OPS[c].forward(x, y, arg); NaN for an unknown opcode."""
    if c == ops.ADD:
        return ops.add(x, y, arg)
    elif c == ops.SUB:
        return ops.sub(x, y, arg)
    elif c == ops.MUL:
        return ops.mul(x, y, arg)
    elif c == ops.DIV:
        return ops.div(x, y, arg)
    elif c == ops.POWV:
        return ops.powv(x, y, arg)
    elif c == ops.PRELU:
        return ops.prelu(x, y, arg)
    elif c == ops.LOGADDEXP:
        return ops.logaddexp(x, y, arg)
    elif c == ops.POW:
        return ops.pow(x, y, arg)
    elif c == ops.NEG:
        return ops.neg(x, y, arg)
    elif c == ops.EXP:
        return ops.exp(x, y, arg)
    elif c == ops.LOG:
        return ops.log(x, y, arg)
    elif c == ops.TANH:
        return ops.tanh(x, y, arg)
    elif c == ops.SIGMOID:
        return ops.sigmoid(x, y, arg)
    elif c == ops.RELU:
        return ops.relu(x, y, arg)
    elif c == ops.LEAKY_RELU:
        return ops.leaky_relu(x, y, arg)
    elif c == ops.ELU:
        return ops.elu(x, y, arg)
    elif c == ops.SELU:
        return ops.selu(x, y, arg)
    elif c == ops.SOFTPLUS:
        return ops.softplus(x, y, arg)
    elif c == ops.ABS:
        return ops.abs_(x, y, arg)
    return np.nan


@jit()
def op_backward(c, x, y, arg, out):
    """(d out/dx, d out/dy) = OPS[c].backward(x, y, arg, out); NaNs for an unknown opcode."""
    if c == ops.ADD:
        return ops.add_back(x, y, arg, out)
    elif c == ops.SUB:
        return ops.sub_back(x, y, arg, out)
    elif c == ops.MUL:
        return ops.mul_back(x, y, arg, out)
    elif c == ops.DIV:
        return ops.div_back(x, y, arg, out)
    elif c == ops.POWV:
        return ops.powv_back(x, y, arg, out)
    elif c == ops.PRELU:
        return ops.prelu_back(x, y, arg, out)
    elif c == ops.LOGADDEXP:
        return ops.logaddexp_back(x, y, arg, out)
    elif c == ops.POW:
        return ops.pow_back(x, y, arg, out)
    elif c == ops.NEG:
        return ops.neg_back(x, y, arg, out)
    elif c == ops.EXP:
        return ops.exp_back(x, y, arg, out)
    elif c == ops.LOG:
        return ops.log_back(x, y, arg, out)
    elif c == ops.TANH:
        return ops.tanh_back(x, y, arg, out)
    elif c == ops.SIGMOID:
        return ops.sigmoid_back(x, y, arg, out)
    elif c == ops.RELU:
        return ops.relu_back(x, y, arg, out)
    elif c == ops.LEAKY_RELU:
        return ops.leaky_relu_back(x, y, arg, out)
    elif c == ops.ELU:
        return ops.elu_back(x, y, arg, out)
    elif c == ops.SELU:
        return ops.selu_back(x, y, arg, out)
    elif c == ops.SOFTPLUS:
        return ops.softplus_back(x, y, arg, out)
    elif c == ops.ABS:
        return ops.abs_back(x, y, arg, out)
    return np.nan, np.nan


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
            Y = V[o:o + m]                                     # (m, B)
            np.dot(theta[pp:pp + m * kk].reshape((m, kk)), V[a[i]:a[i] + kk], Y)
            if bb >= 0:
                for r in range(m):
                    br = theta[bb + r]
                    for e in range(B):
                        Y[r, e] += br
        elif c == GATHER:
            for j in range(m):
                V[o + j] = V[gidx[a[i] + j]]
        elif 0 <= c < NOPS:
            x0, y0, o0, w = a[i] * B, b[i] * B, o * B, arg[i]
            if y0 >= 0:
                for e in range(m * B):
                    Vf[o0 + e] = op_forward(c, Vf[x0 + e], Vf[y0 + e], w)
            else:
                for e in range(m * B):
                    Vf[o0 + e] = op_forward(c, Vf[x0 + e], 0.0, w)
        else:
            return i
    return -1


@jit()
def backward(prog, theta, V, G, gtheta, rg):
    """Accumulate gradients from G's seeded rows back to every slot and DENSE block. -1 or a bad index."""
    op, out, a, b, n, k, p, arg, gidx = prog
    B = V.shape[1]
    Vf, Gf = V.reshape(-1), G.reshape(-1)
    for i in range(op.shape[0] - 1, -1, -1):
        c, o, m = op[i], out[i], n[i]
        if not rg[o:o + m].any():
            continue  # nothing here depends on a parameter
        if c == DENSE:
            kk, pp, bb, x0 = k[i], p[i], b[i], a[i]
            Gy = G[o:o + m]                                    # (m, B)
            gW = gtheta[pp:pp + m * kk].reshape((m, kk))
            gW += np.dot(Gy, V[x0:x0 + kk].T)
            if bb >= 0:
                for r in range(m):
                    gtheta[bb + r] += Gy[r].sum()
            if rg[x0:x0 + kk].any():
                G[x0:x0 + kk] += np.dot(theta[pp:pp + m * kk].reshape((m, kk)).T, Gy)
        elif c == GATHER:
            for j in range(m):
                G[gidx[a[i] + j]] += G[o + j]
        elif 0 <= c < NOPS:
            x0, y0, o0, w = a[i] * B, b[i] * B, o * B, arg[i]
            for e in range(m * B):
                g = Gf[o0 + e]
                if y0 >= 0:
                    dx, dy = op_backward(c, Vf[x0 + e], Vf[y0 + e], w, Vf[o0 + e])
                    Gf[x0 + e] += dx * g
                    Gf[y0 + e] += dy * g
                else:
                    dx, dy = op_backward(c, Vf[x0 + e], 0.0, w, Vf[o0 + e])
                    Gf[x0 + e] += dx * g
        else:
            return i
    return -1


@jit()
def load(V, X, Y, rows, leaves, theta):
    """Fill the leaf slots for the examples X[rows], Y[rows]; leaves = the Program's slot maps."""
    in_slots, t_slots, c_slots, c_vals, p_slots, p_index = leaves
    for e in range(rows.shape[0]):
        r = rows[e]
        for j in range(in_slots.shape[0]):
            V[in_slots[j], e] = X[r, j]
        for j in range(t_slots.shape[0]):
            V[t_slots[j], e] = Y[r, j]
    for j in range(c_slots.shape[0]):
        V[c_slots[j]] = c_vals[j]
    for j in range(p_slots.shape[0]):
        V[p_slots[j]] = theta[p_index[j]]


@jit()
def step(prog, leaves, rg, loss_slot, theta, X, Y, rows, l2, V, G, gtheta):
    """Batch loss mean(loss) + l2*sum(theta^2) of X[rows] and its gradient in gtheta. Returns (loss, status)."""
    load(V, X, Y, rows, leaves, theta)
    status = forward(prog, theta, V)
    if status >= 0:
        return np.nan, status
    B = V.shape[1]
    total = 0.0
    for e in range(B):
        total += V[loss_slot, e]
    loss = total * (1.0 / B)
    for s in range(G.shape[0]):
        if rg[s]:
            G[s] = 0.0
    G[loss_slot] = 1.0 / B
    gtheta[:] = 0.0
    status = backward(prog, theta, V, G, gtheta, rg)
    p_slots, p_index = leaves[4], leaves[5]
    for j in range(p_slots.shape[0]):  # parameters read by scalar ops: reduce over the batch
        gtheta[p_index[j]] += G[p_slots[j]].sum()
    if l2 != 0.0:
        q = 0.0
        for j in range(theta.shape[0]):
            q += theta[j] * theta[j]
        loss += l2 * q
        for j in range(theta.shape[0]):
            gtheta[j] += 2.0 * l2 * theta[j]
    return loss, status


@jit()
def fit(prog, leaves, rg, loss_slot, theta, X, Y, order, batch_size, lrs, kind, hyper, s1, s2, t0, l2, history):
    """Train in place: len(lrs) steps over the shuffled row order ``order`` (epochs*N,), batches of batch_size
    per epoch (the last one smaller). SGD: s1 = momentum buffers; Adam: s1, s2 = m, v; t0 = steps already
    taken. Writes each step's batch loss to history. Returns -1 or the index of a bad instruction."""
    N = X.shape[0]
    n_slots = rg.shape[0]
    per_epoch = (N + batch_size - 1) // batch_size
    last = N - (per_epoch - 1) * batch_size
    dt = theta.dtype
    Vfull, Gfull = np.empty((n_slots, batch_size), dt), np.empty((n_slots, batch_size), dt)
    Vlast, Glast = np.empty((n_slots, last), dt), np.empty((n_slots, last), dt)
    gtheta = np.zeros_like(theta)
    for s in range(lrs.shape[0]):
        epoch, j = s // per_epoch, s % per_epoch
        start = epoch * N + j * batch_size
        if j == per_epoch - 1:
            V, G, rows = Vlast, Glast, order[start:start + last]
        else:
            V, G, rows = Vfull, Gfull, order[start:start + batch_size]
        loss, status = step(prog, leaves, rg, loss_slot, theta, X, Y, rows, l2, V, G, gtheta)
        if status >= 0:
            return status
        history[s] = loss
        lr, t = lrs[s], t0 + s
        if kind == SGD:
            for q in range(theta.shape[0]):
                theta[q], s1[q] = optim.sgd_update(theta[q], gtheta[q], s1[q], lr, hyper[0], hyper[1],
                                                   hyper[2] != 0.0, hyper[3], t == 0)
        else:
            for q in range(theta.shape[0]):
                theta[q], s1[q], s2[q] = optim.adam_update(theta[q], gtheta[q], s1[q], s2[q], t + 1, lr,
                                                           hyper[0], hyper[1], hyper[2], hyper[3])
    return -1
