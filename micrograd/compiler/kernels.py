"""The building blocks of the generated kernels: dense layers, the fused losses, the optimizer updates.

Each is a plain function over flat arrays and offsets (shape comments give the
2-D view), made ``register_jitable``: it compiles into the one generated
``run`` of every kernel variant that calls it (``compiler.codegen``), so it is
never an entry point of its own and a program compiles only the blocks it uses.

- ``dense_forward`` / ``dense_backward``: a DENSE through one BLAS ``gemm``
  (``compiler.blas``), its input either slots of ``V`` (k, B) or the model's
  inputs where they are, the rows of X (B, k); a small layer's forward adds in
  the Neuron's order instead (bias first, terms in order), so its outputs are
  the Value path's to the bit. Bias gradients are summed over the batch in a
  fixed order (four partial sums), so results do not depend on the kernel
  variant.
- ``hinge``, ``mse``, ``bce_with_logits``, ``cross_entropy``: the named losses
  of ``micrograd.losses``, one pass over the batch each, forward and gradient,
  computed with the op table's own functions in the Value path's order where
  the loss is a short chain of them; each checks its labels on the way
  (hinge -1/+1, bce in [0, 1], a class index or a distribution) and returns
  the first bad example instead of a number.
- ``sgd`` / ``adam``: ``micrograd.optim``'s update formulas over the trainable
  parameters ``idx``; ``sum_of_squares`` of their gradient (clipping, and fit's
  check that a gradient is finite), an entry point of its own compiled with
  ``reassoc`` so the sum vectorizes (NaN and inf still propagate).
"""

from __future__ import annotations

import math

import numpy as np
from numba.extending import register_jitable

from micrograd import losses, ops, optim
from micrograd.compiler.blas import gemm
from micrograd.compiler.jit import jit

register_jitable(optim.sgd_update)
register_jitable(optim.adam_update)

U = np.uint64  # offsets into the flat arrays: unsigned, so Numba adds no wraparound check and loops vectorize
DISTRIBUTION_TOL = losses.DISTRIBUTION_TOL
FLOAT_MAX = 1.7976931348623157e308


SMALL = 1 << 16  # m*k*B below this: a DENSE's forward sums in the Neuron's order (docs/benchmarks.md)
MID = 1 << 19  # m*k*B up to this: the inputs copied into their slots, so the product has no transposed operand


@register_jitable
def dense_forward(bl, theta, p, ld, b, bs, Xs, xo, ldx, batch_major, V, a, o, m, k, B):
    """V[o:o+m] (m, B) = W (m, k) @ X + bias, W[r, j] = theta[p + r*ld + j], bias[r] = theta[b + r*bs].
    X: V's slots a .. a+k (k, B), or, when batch_major, the inputs (B, k) from Xs[xo] with row length ldx.
    A small layer adds as a Neuron does, bias first, then w_j * x_j for j in order (the Value path's numbers
    to the bit; its inputs copied into their slots first); a bigger one through BLAS, in its own order (equal
    to round-off): a mid-sized one from its inputs copied into their slots (BLAS's product of two untransposed
    operands is the faster one there, by more than the copy), a big one reading the inputs where they are."""
    small = m * k * B < SMALL
    if batch_major and m * k * B <= MID:  # the inputs into their slots (small ones too), eight rows at a time
        e0 = 0  # (each pass writes eight neighbours of every slot: 1.5x a slot at a time, at 128 x 64)
        while e0 + 8 <= B:
            for j in range(k):
                row = U((a + j) * B + e0)
                for d in range(8):
                    V[row + U(d)] = Xs[U(xo + j) + U(e0 + d) * U(ldx)]
            e0 += 8
        for e in range(e0, B):
            for j in range(k):
                V[U((a + j) * B + e)] = Xs[U(xo + j) + U(e) * U(ldx)]
        batch_major = False
    if small:
        dense_forward_in_order(theta, p, ld, b, bs, V, a, o, m, k, B)
        return
    beta = 0.0
    if b >= 0:
        beta = 1.0
        for r in range(m):
            br = theta[b + r * bs]
            row = U((o + r) * B)
            for e in range(U(B)):
                V[row + e] = br
    if batch_major:
        gemm(bl, 0, 1, m, B, k, 1.0, theta, p, ld, Xs, xo, ldx, beta, V, o * B, B)
    else:
        gemm(bl, 0, 0, m, B, k, 1.0, theta, p, ld, V, a * B, B, beta, V, o * B, B)


@register_jitable
def dense_forward_in_order(theta, p, ld, b, bs, V, a, o, m, k, B):
    """V[o+r] = ((b_r + w_r0 x_0) + w_r1 x_1) + ... for each row r, x_j = V[a+j] (rows of B): one term per pass
    over the batch (unrolling rows and terms ran A's forward ~0.5 us faster and cost ~0.7 s of cold compile)."""
    nb = U(B)
    for r in range(m):
        y = U((o + r) * B)
        c = theta[b + r * bs] if b >= 0 else 0.0
        for e in range(nb):
            V[y + e] = c
        w = p + r * ld
        for t in range(k):
            x, c = U((a + t) * B), theta[w + t]
            for e in range(nb):
                V[y + e] += c * V[x + e]


@register_jitable
def dense_backward(bl, theta, gtheta, p, ld, b, bs, Xs, xo, ldx, batch_major, G, o, m, k, B, gx, assign):
    """gW (m, k) = Gy (m, B) @ X^T and gbias = Gy summed over the batch, both written (a DENSE owns its
    parameters); G[gx:gx+k] (k, B) += W^T @ Gy when gx >= 0 (= when assign: nothing else reads X)."""
    if b >= 0:
        for r in range(m):
            row = U((o + r) * B)
            s0 = s1 = s2 = s3 = 0.0
            e = U(0)
            while e + U(4) <= U(B):
                s0 += G[row + e]
                s1 += G[row + e + U(1)]
                s2 += G[row + e + U(2)]
                s3 += G[row + e + U(3)]
                e += U(4)
            while e < U(B):
                s0 += G[row + e]
                e += U(1)
            gtheta[b + r * bs] = (s0 + s1) + (s2 + s3)
    gemm(bl, 0, 1 - batch_major, m, k, B, 1.0, G, o * B, B, Xs, xo, ldx, 0.0, gtheta, p, ld)
    if gx >= 0:
        gemm(bl, 1, 0, k, B, m, 1.0, theta, p, ld, G, o * B, B, 0.0 if assign else 1.0, G, gx * B, B)


@register_jitable
def hinge(V, G, Y, yo, s, B, scale):
    """micrograd.losses.hinge of each example, relu(1 + -y*z), labels y of -1/+1. Returns (sum of the losses,
    first example with a bad label or -1); G[s] = scale * d loss / dz."""
    total = 0.0
    for e in range(B):
        y = Y[yo + e]
        if y != 1.0 and y != -1.0:
            return total, e
        i = s * B + e
        t = ops.add(1.0, ops.mul(-y, V[i], 0.0), 0.0)
        loss = ops.relu(t, 0.0, 0.0)
        total += loss
        G[i] = -y * (1.0 * (ops.relu_back(t, 0.0, 0.0, loss)[0] * scale))
    return total, -1


@register_jitable
def mse(V, G, Y, yo, w, s, B, scale):
    """micrograd.losses.mse of each example: (z - t)**2, or the mean over the w outputs of (z_j - t_j)**2."""
    total = 0.0
    c = 1.0 / w
    for e in range(B):
        acc = 0.0
        for j in range(w):
            i = (s + j) * B + e
            d = V[i] - Y[yo + e * w + j]
            sq = ops.pow_(d, 0.0, 2.0)
            acc = sq if w == 1 else acc + sq
            G[i] = 1.0 * (ops.pow_back(d, 0.0, 2.0, sq)[0] * (scale if w == 1 else 1.0 * (c * scale)))
        total += acc if w == 1 else acc * c
    return total, -1


@register_jitable
def bce_with_logits(V, G, Y, yo, s, B, scale):
    """micrograd.losses.bce_with_logits of each example: softplus(z) - y*z, labels y in [0, 1]."""
    total = 0.0
    for e in range(B):
        y = Y[yo + e]
        if not (y >= 0.0 and y <= 1.0):
            return total, e
        i = s * B + e
        z = V[i]
        sp = ops.softplus(z, 0.0, 0.0)
        total += ops.sub(sp, ops.mul(y, z, 0.0), 0.0)
        G[i] = (0.0 + y * (-1.0 * scale)) + ops.softplus_back(z, 0.0, 0.0, sp)[0] * (1.0 * scale)
    return total, -1


@register_jitable
def cross_entropy(V, G, Y, yo, w, s, m, B, scale):
    """micrograd.losses.cross_entropy of each example: logsumexp(z) - z[y] for a class index y (w == 1), or
    logsumexp(z) - sum_j y_j z_j for a distribution y (w == m). G[s:s+m] = scale * (softmax(z) - y).

    A row with an infinite or NaN logit takes the Value path's own fold of ``ops.logaddexp`` and its
    derivatives instead of the max-shifted sum, so inf and NaN come out as they do there."""
    total = 0.0
    for e in range(B):
        ci = -1
        if w == 1:
            c = Y[yo + e]
            if c == c and abs(c) < 1e18:
                ci = int(c)
            if ci != c or ci < 0 or ci >= m:
                return total, e
        else:
            low, tot = 0.0, 0.0
            for j in range(m):
                yj = Y[yo + e * w + j]
                if not yj >= low:
                    low = yj
                tot += yj
            if not (low >= 0.0 and abs(tot - 1.0) <= DISTRIBUTION_TOL):
                return total, e
        mx = V[s * B + e]
        for j in range(1, m):
            v = V[(s + j) * B + e]
            if v > mx or v != v:
                mx = v
        if abs(mx) <= FLOAT_MAX:  # the max-shifted sum: one exp per logit
            z = 0.0
            for j in range(m):
                ej = math.exp(V[(s + j) * B + e] - mx)
                G[(s + j) * B + e] = ej
                z += ej
            lse = mx + math.log(z)
            q = scale / z
            for j in range(m):
                G[(s + j) * B + e] *= q
        else:  # the Value path's fold, acc_j = logaddexp(acc_{j-1}, z_j), and its chain rule backwards
            acc = V[s * B + e]
            for j in range(1, m):
                G[(s + j) * B + e] = acc  # acc_{j-1}, kept for the backward pass
                acc = ops.logaddexp(acc, V[(s + j) * B + e], 0.0)
            lse = acc
            g = scale
            for j in range(m - 1, 0, -1):
                dx, dy = ops.logaddexp_back(G[(s + j) * B + e], V[(s + j) * B + e], 0.0, 0.0)
                G[(s + j) * B + e] = dy * g
                g = dx * g
            G[s * B + e] = g
        if w == 1:
            total += lse - V[(s + ci) * B + e]
            G[(s + ci) * B + e] -= scale
        else:
            dot = 0.0
            for j in range(m):
                dot += Y[yo + e * w + j] * V[(s + j) * B + e]
                G[(s + j) * B + e] -= Y[yo + e * w + j] * scale
            total += lse - dot
    return total, -1


@jit(fastmath={"reassoc"})
def sum_of_squares(v, idx, whole):
    """sum_j v[idx[j]]**2 (all of v when whole), in any order: a different rounding, no other change."""
    s = 0.0
    if whole:
        for q in range(v.shape[0]):
            s += v[q] * v[q]
    else:
        for j in range(idx.shape[0]):
            s += v[idx[j]] * v[idx[j]]
    return s


@register_jitable
def first_bad_label(kind, Y, w, m):
    """The first row of Y (N, w) whose label the fused loss ``kind`` (an index in ir.LOSSES: hinge, mse,
    bce_with_logits, cross_entropy) refuses, or -1: fit checks every row once, before its first step."""
    N = Y.shape[0]
    for e in range(N):
        if kind == 0:
            if Y[e, 0] != 1.0 and Y[e, 0] != -1.0:
                return e
        elif kind == 2:
            if not (Y[e, 0] >= 0.0 and Y[e, 0] <= 1.0):
                return e
        elif kind == 3:
            if w == 1:
                c = Y[e, 0]
                if not (c == c and abs(c) < 1e18) or int(c) != c or c < 0 or c >= m:
                    return e
            else:
                low, tot = 0.0, 0.0
                for j in range(m):
                    if not Y[e, j] >= low:
                        low = Y[e, j]
                    tot += Y[e, j]
                if not (low >= 0.0 and abs(tot - 1.0) <= DISTRIBUTION_TOL):
                    return e
    return -1


@register_jitable
def sgd(theta, gtheta, idx, buf, lr, t, momentum, dampening, nesterov, weight_decay):
    """One torch.optim.SGD step of the trainable parameters theta[idx] (micrograd.optim.sgd_update), their
    momentum buffers buf in the optimizer's order (buf[j] belongs to theta[idx[j]]); t = steps already taken."""
    for j in range(idx.shape[0]):
        q = idx[j]
        theta[q], buf[j] = optim.sgd_update(
            theta[q], gtheta[q], buf[j], lr, momentum, dampening, nesterov, weight_decay, t == 0
        )


@register_jitable
def adam(theta, gtheta, idx, m, v, lr, t, beta1, beta2, eps, weight_decay):
    """One torch.optim.Adam step of theta[idx] (micrograd.optim.adam_update), moments m, v as in sgd."""
    for j in range(idx.shape[0]):
        q = idx[j]
        theta[q], m[j], v[j] = optim.adam_update(
            theta[q], gtheta[q], m[j], v[j], t + 1, lr, beta1, beta2, eps, weight_decay
        )
