"""The kernel template: ``compiler.codegen`` writes one kernel module per set of features from this text.

Lines between ``#if FEATURE`` (or ``#if A|B``: either) and ``#endif`` are kept
only in kernels that have the feature; ``#forward_op`` and ``#backward_op``
become one branch per op-table op of the kernel (``codegen.op_branches``),
``#forward_ops`` and ``#backward_ops`` run's call of them or, in a kernel of a
few ops, the branches themselves (``codegen.INLINE_OPS``), ``#run_forward``
and ``#run_backward`` (with ``runs``) one loop per op over a run of
one-element instructions (``codegen.run_forward``, ``codegen.run_backward``),
``#losses`` one call per fused loss. This file is valid Python so linters read
it, but it is never imported as a kernel: its functions are the generated
ones' source, nothing more.

``run(mode, code, reals, theta, gtheta, X, Y, order, W, out, hs, st, ctl)``:

    mode    FORWARD: the outputs of rows s0*bs .. into out (N, n_outputs), batch after batch;
            GRAD: loss and gradient of one batch (all N rows); FIT: training steps s0 .. s1-1;
            EVAL: the outputs and the mean loss of one batch (no gradient: fit's validation)
    code    the program, Program.pack(): int64 header, instruction table, slot tables and scalar table
    reals   the program's float64 numbers: each instruction's arg, then the constants
    theta   (P,) the parameters, model order; gtheta (P,) their gradient (written by GRAD and FIT)
    X, Y    (N, n_inputs) inputs and (N, w) targets, C-contiguous, the kernel's dtype
    order   FIT with shuffling: the rows of epochs ctl[4].. in visiting order (E * N,); else unused
    W       workspace: values V and gradients G (n_slots, bs) each, then the shuffled batch's X and Y rows
    hs      (2, steps) float64: the learning rate of each step in row 0; the batch loss written in row 1
    st      float64: l2, clip_norm, optimizer kind, its hyper-parameters (ST_*), then its state (2 rows,
            one entry per trainable parameter)
    ctl     int64: s0, s1, bs, shuffled, first epoch of order, t0 (steps taken before this call), what
            went wrong (CTL_WHERE), the steps fit's mode applied (CTL_DONE), the BLAS settings
            (CTL_BLAS: gemm's address and ABI, OpenBLAS's thread setter's address or 0, the threads this
            call's products get or 0), then the trainable parameters from ctl[CTL_IDX] on
    returns OK, or UNKNOWN (instruction ctl[CTL_WHERE] has an opcode this kernel lacks), BAD_LABEL
    (row ctl[CTL_WHERE] has a label the loss refuses), DIVERGED or GRAD_DIVERGED (step ctl[CTL_WHERE]'s
    loss, or its gradient, is not finite: its update was not applied)
"""

# ruff: noqa: F401, F821, F841 - names the generated branches use, or the generated module's imports
import math

import numpy as np
from numba.extending import register_jitable

from micrograd.compiler.codegen import (
    BAD_LABEL,
    CTL_BLAS,
    CTL_DONE,
    CTL_IDX,
    CTL_T0,
    CTL_WHERE,
    DIVERGED,
    EVAL,
    FIT,
    FORWARD,
    GRAD,
    GRAD_DIVERGED,
    OK,
    ST_ADAM,
    ST_BETA1,
    ST_BETA2,
    ST_CLIP,
    ST_DAMPENING,
    ST_EPS,
    ST_KIND,
    ST_L2,
    ST_MOMENTUM,
    ST_NESTEROV,
    ST_STATE,
    ST_WEIGHT_DECAY,
    UNKNOWN,
)  # fmt: skip
from micrograd.compiler.ir import (
    DENSE,
    F_ASSIGN,
    F_GRAD,
    F_GRAD_X,
    F_RUN_END,
    F_RUN_START,
    GATHER,
    H_CONSTS,
    H_GIDX,
    H_INPUTS,
    H_NCONST,
    H_NI,
    H_NIN,
    H_NOUT,
    H_NPARAM,
    H_NTGT,
    H_NZERO,
    H_OUTS,
    H_PARAMS,
    H_SCALARS,
    H_SLOTS,
    H_TGTS,
    H_VLOSS,
    H_ZERO_G,
    H_ZERO_P,
    HEAD,
    LOSS,
    NF,
)  # fmt: skip

U = np.uint64


#if op_calls
@register_jitable
def forward_op(c, xx, yy, oo, wa, m, V):
    """One vector instruction of op c: V[oo + e] = op(V[xx + e], V[yy + e], wa) for e < m. False when this
    kernel lacks op c. A kernel of many ops calls it; one of a few has these branches in run itself."""
    known = True
#forward_op
    return known


@register_jitable
def backward_op(c, xx, yy, oo, wa, m, V, G):
    """The gradient of one vector instruction of op c added into its operands' rows of G. False when this
    kernel lacks op c."""
    known = True
#backward_op
    return known


#endif
#if runs
@register_jitable
def forward_scalars(i, ni, B, V, T, R, reals):
    """Instructions i, i+1, ... while they are one-element ops (a scalar graph at batch 1), a run of one op
    at a time with no dispatch inside it, their slots read from the flat scalar table R (4 entries an
    instruction). Returns (the first instruction that is not one, True), or (an instruction whose op this
    kernel lacks, False). The runs are while loops over R's entries: fewer Numba IR statements than a
    range loop over (instruction, column) pairs, so they compile faster."""
    while i < ni:
        c = T[i, 0]
        if c >= DENSE or T[i, 4] * B != 1:
            return i, True
        r = T[i, F_RUN_END]
        q, qr = 4 * i, 4 * r
        known = True
#run_forward
        if not known:
            return i, False
        i = r
    return i, True


@register_jitable
def backward_scalars(i, B, V, G, T, R, reals):
    """forward_scalars' gradients: instructions i, i-1, ... while they are one-element ops, those that need
    a gradient."""
    while i >= 0:
        c = T[i, 0]
        if c >= DENSE or T[i, 4] * B != 1:
            return i, True
        if not T[i, F_GRAD]:
            i -= 1
            continue
        r = T[i, F_RUN_START]
        q, qr = 4 * i, 4 * r - 4
        known = True
#run_backward
        if not known:
            return i, False
        i = r - 1
    return i, True


#endif
@jit()
def run(mode, code, reals, theta, gtheta, X, Y, order, W, out, hs, st, ctl):
    ni, S, nin, nout = code[H_NI], code[H_SLOTS], code[H_NIN], code[H_NOUT]
    T = code[HEAD : HEAD + ni * NF].reshape((ni, NF))
#if runs
    R = code[code[H_SCALARS] : code[H_SCALARS] + ni * 4]
#endif
    outs = code[code[H_OUTS] : code[H_OUTS] + nout]
    s0, s1, bs = ctl[0], ctl[1], ctl[2]
    bl = ctl[CTL_BLAS : CTL_BLAS + 4]
    N = X.shape[0]
    w = Y.shape[1]
    Xf, Yf, Of = X.reshape(-1), Y.reshape(-1), out.reshape(-1)
    V = W[: S * bs]
    G = W[S * bs : 2 * S * bs]
    per = (N + bs - 1) // bs
#if losses
    if mode == FIT and ni and T[ni - 1, 0] == LOSS:  # every label once, before the first step changes anything
        bad = k.first_bad_label(T[ni - 1, 5], Y, w, T[ni - 1, 4])
        if bad >= 0:
            ctl[CTL_WHERE] = bad
            return BAD_LABEL
#endif
    for s in range(s0, s1):
        start = (s % per) * bs
        B = min(bs, N - start)
        scale = 1.0 / B
        Xs, xo, Ys, yo = Xf, start * nin, Yf, start * w
#if shuffle
        if ctl[3]:  # shuffled: this batch's rows of X and Y, gathered in visiting order
            Xg = W[2 * S * bs : 2 * S * bs + bs * nin]
            Yg = W[2 * S * bs + bs * nin : 2 * S * bs + bs * (nin + w)]
            base = (s // per - ctl[4]) * N + start
            for e in range(B):
                r = order[base + e]
                for j in range(nin):
                    Xg[e * nin + j] = Xf[r * nin + j]
                for j in range(w):
                    Yg[e * w + j] = Yf[r * w + j]
            Xs, xo, Ys, yo = Xg, 0, Yg, 0
#endif
#if inputs
        if code[H_INPUTS]:  # the input slots, read by instructions other than a first DENSE
            for j in range(nin):
                for e in range(B):
                    V[j * B + e] = Xs[xo + e * nin + j]
#endif
#if targets
        tgt = code[code[H_TGTS] : code[H_TGTS] + code[H_NTGT]]
        for j in range(code[H_NTGT]):  # the target slots of a loss built from Values
            for e in range(B):
                V[tgt[j] * B + e] = Ys[yo + e * w + j]
#endif
#if consts
        cst = code[code[H_CONSTS] : code[H_CONSTS] + code[H_NCONST]]
        for j in range(code[H_NCONST]):
            c = reals[ni + j]
            for e in range(B):
                V[cst[j] * B + e] = c
#endif
#if params
        psl = code[code[H_PARAMS] : code[H_PARAMS] + code[H_NPARAM]]
        pix = code[code[H_PARAMS] + code[H_NPARAM] : code[H_PARAMS] + 2 * code[H_NPARAM]]
        for j in range(code[H_NPARAM]):  # parameters read by single ops, one copy per example
            c = theta[pix[j]]
            for e in range(B):
                V[psl[j] * B + e] = c
#endif
#if train
        if mode == GRAD or mode == FIT:
            zg = code[code[H_ZERO_G] : code[H_ZERO_G] + S]
            for j in range(S):  # gradient rows that backward accumulates into
                if zg[j]:
                    for e in range(U(j * B), U((j + 1) * B)):
                        G[e] = 0.0
#endif
        total = 0.0
        i = 0
        while i < ni:
            c, o, a, b, n = T[i, 0], T[i, 1], T[i, 2], T[i, 3], T[i, 4]
            if c == DENSE:
                k.dense_forward(bl, theta, T[i, 6], T[i, 7], b, T[i, 8], Xs, xo + a, nin, a + T[i, 5] <= nin,
                                V, a, o, n, T[i, 5], B)  # fmt: skip
#if gather
            elif c == GATHER:
                gi = code[code[H_GIDX] + a : code[H_GIDX] + a + n]
                for j in range(n):
                    src, dst = U(gi[j] * B), U((o + j) * B)
                    for e in range(U(B)):
                        V[dst + e] = V[src + e]
#endif
#if losses
            elif c == LOSS:
                if mode != FORWARD:
                    kind = T[i, 5]
#losses
                    total = tl
                    if bad >= 0:
                        ctl[CTL_WHERE] = start + bad
#if shuffle
                        if ctl[3]:
                            ctl[CTL_WHERE] = order[(s // per - ctl[4]) * N + start + bad]
#endif
                        return BAD_LABEL
#endif
            elif c < DENSE:  # an op of the op table
#if runs
                if n * B == 1:  # a scalar graph at batch 1
                    i, known = forward_scalars(i, ni, B, V, T, R, reals)
                    if not known:
                        ctl[CTL_WHERE] = i
                        return UNKNOWN
                    continue
#endif
                xx, yy, oo, wa, m = U(a * B), U(max(b, 0) * B), U(o * B), reals[i], n * B
#forward_ops
                if not known:
                    ctl[CTL_WHERE] = i
                    return UNKNOWN
            else:
                ctl[CTL_WHERE] = i
                return UNKNOWN
            i += 1
        if mode == FORWARD or mode == EVAL:
            for e in range(B):  # a row of out at a time: its entries are neighbours (2x a column at a time)
                r = U((start + e) * nout)
                for j in range(nout):
                    Of[r + U(j)] = V[U(outs[j] * B + e)]
            if mode == FORWARD:
                continue
#if train
        idx = ctl[CTL_IDX:]
#if valueloss
        if code[H_VLOSS] >= 0:  # a loss built from Values: its slot holds each example's loss
            ls = code[H_VLOSS] * B
            for e in range(B):
                total += V[ls + e]
                G[ls + e] = scale
#endif
        if mode == EVAL:
            loss = total * scale
            if st[ST_L2] != 0.0:
                loss += st[ST_L2] * k.sum_of_squares(theta, idx, idx.shape[0] == theta.shape[0])
            hs[1, s] = loss
            continue
        zp = code[code[H_ZERO_P] : code[H_ZERO_P] + 2 * code[H_NZERO]]
        for j in range(code[H_NZERO]):  # parameters whose gradient no DENSE writes: backward accumulates them
            for q in range(zp[2 * j], zp[2 * j] + zp[2 * j + 1]):
                gtheta[q] = 0.0
        i = ni - 1
        while i >= 0:
            c, o, a, b, n = T[i, 0], T[i, 1], T[i, 2], T[i, 3], T[i, 4]
            if not T[i, F_GRAD]:
                i -= 1
                continue
            if c == DENSE:
                if a + T[i, 5] <= nin:
                    k.dense_backward(bl, theta, gtheta, T[i, 6], T[i, 7], b, T[i, 8], Xs, xo + a, nin, 1, G, o,
                                     n, T[i, 5], B, -1, 0)  # fmt: skip
                else:
                    k.dense_backward(bl, theta, gtheta, T[i, 6], T[i, 7], b, T[i, 8], V, a * B, B, 0, G, o, n,
                                     T[i, 5], B, a if T[i, F_GRAD_X] else -1, T[i, F_ASSIGN])  # fmt: skip
#if gather
            elif c == GATHER:
                gi = code[code[H_GIDX] + a : code[H_GIDX] + a + n]
                for j in range(n):
                    src, dst = U((o + j) * B), U(gi[j] * B)
                    for e in range(U(B)):
                        G[dst + e] += G[src + e]
#endif
#if losses
            elif c == LOSS:
                pass  # it wrote its inputs' gradient rows in the forward pass
#endif
            elif c < DENSE:
#if runs
                if n * B == 1:
                    i, known = backward_scalars(i, B, V, G, T, R, reals)
                    if not known:
                        ctl[CTL_WHERE] = i
                        return UNKNOWN
                    continue
#endif
                xx, yy, oo, wa, m = U(a * B), U(max(b, 0) * B), U(o * B), reals[i], n * B
#backward_ops
                if not known:
                    ctl[CTL_WHERE] = i
                    return UNKNOWN
            else:
                ctl[CTL_WHERE] = i
                return UNKNOWN
            i -= 1
#if params
        for j in range(code[H_NPARAM]):  # parameters read by single ops: their gradient summed over the batch
            acc = 0.0
            for e in range(B):
                acc += G[psl[j] * B + e]
            gtheta[pix[j]] += acc
#endif
        loss = total * scale
        l2 = st[ST_L2]
        if l2 != 0.0:
            sq = 0.0
            for j in range(idx.shape[0]):
                q = idx[j]
                sq += theta[q] * theta[q]
                gtheta[q] += 2.0 * l2 * theta[q]
            loss += l2 * sq
        hs[1, s] = loss
#if sgd|adam
        if mode == FIT and not abs(loss) <= 1.7976931348623157e308:  # not finite: stop before this update
            ctl[CTL_WHERE] = s
            return DIVERGED
#endif
#if clip|sgd|adam
        if mode == FIT or st[ST_CLIP] > 0.0:
            sq = k.sum_of_squares(gtheta, idx, idx.shape[0] == gtheta.shape[0])
#if sgd|adam
            if mode == FIT and not sq <= 1.7976931348623157e308:  # a gradient not finite: stop before it too
                ctl[CTL_WHERE] = s
                return GRAD_DIVERGED
#endif
#if clip
            coef = st[ST_CLIP] / (math.sqrt(sq) + 1e-6)  # clip_norm: torch.nn.utils.clip_grad_norm_'s rule
            if st[ST_CLIP] > 0.0 and not coef >= 1.0:  # clamped to 1 (a NaN norm: NaN, as in PyTorch)
                for j in range(idx.shape[0]):
                    gtheta[idx[j]] *= coef
#endif
#endif
#if sgd|adam
        if mode == FIT:
            m = idx.shape[0]
            state = st[ST_STATE : ST_STATE + 2 * m]
#if sgd
            if st[ST_KIND] != ST_ADAM:
                k.sgd(theta, gtheta, idx, state[:m], hs[0, s], ctl[CTL_T0] + s, st[ST_MOMENTUM], st[ST_DAMPENING],
                      st[ST_NESTEROV] != 0.0, st[ST_WEIGHT_DECAY])  # fmt: skip
#endif
#if adam
            if st[ST_KIND] == ST_ADAM:
                k.adam(theta, gtheta, idx, state[:m], state[m:], hs[0, s], ctl[CTL_T0] + s, st[ST_BETA1], st[ST_BETA2],
                       st[ST_EPS], st[ST_WEIGHT_DECAY])  # fmt: skip
#endif
            ctl[CTL_DONE] = s + 1  # the steps applied: what the caller records, even when interrupted as this returns
#endif
#endif
    return OK
