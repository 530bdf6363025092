"""The kernels' per-op dispatch. GENERATED from micrograd.ops.OPS: do not edit; after editing
micrograd/ops.py run ``python -m micrograd.compiler.gen_opkernels``.

What the four functions do and why they look like this: micrograd/compiler/gen_opkernels.py.
"""
from __future__ import annotations

import numpy as np

from micrograd import ops
from micrograd.compiler.jit import jit


@jit()
def vec_forward(c, V, x, y, o, m, w):
    """V[o+e] = OPS[c].forward(V[x+e], V[y+e], w) for e < m (V flat; y unused by unary ops). False: unknown c."""
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
            V[o + e] = ops.pow_(V[x + e], 0.0, w)
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
    """(OPS[c].forward(x, y, w), True), or (nan, False) for an unknown c: vec_forward for one element."""
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
        return ops.pow_(x, 0.0, w), True
    elif c == ops.NEG:
        return ops.neg(x, 0.0, w), True
    elif c == ops.EXP:
        return ops.exp(x, 0.0, w), True
    elif c == ops.LOG:
        return ops.log(x, 0.0, w), True
    elif c == ops.TANH:
        return ops.tanh(x, 0.0, w), True
    elif c == ops.SIGMOID:
        return ops.sigmoid(x, 0.0, w), True
    elif c == ops.RELU:
        return ops.relu(x, 0.0, w), True
    elif c == ops.LEAKY_RELU:
        return ops.leaky_relu(x, 0.0, w), True
    elif c == ops.ELU:
        return ops.elu(x, 0.0, w), True
    elif c == ops.SELU:
        return ops.selu(x, 0.0, w), True
    elif c == ops.SOFTPLUS:
        return ops.softplus(x, 0.0, w), True
    elif c == ops.ABS:
        return ops.abs_(x, 0.0, w), True
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
        return ops.pow_back(x, 0.0, w, out) + (True,)
    elif c == ops.NEG:
        return ops.neg_back(x, 0.0, w, out) + (True,)
    elif c == ops.EXP:
        return ops.exp_back(x, 0.0, w, out) + (True,)
    elif c == ops.LOG:
        return ops.log_back(x, 0.0, w, out) + (True,)
    elif c == ops.TANH:
        return ops.tanh_back(x, 0.0, w, out) + (True,)
    elif c == ops.SIGMOID:
        return ops.sigmoid_back(x, 0.0, w, out) + (True,)
    elif c == ops.RELU:
        return ops.relu_back(x, 0.0, w, out) + (True,)
    elif c == ops.LEAKY_RELU:
        return ops.leaky_relu_back(x, 0.0, w, out) + (True,)
    elif c == ops.ELU:
        return ops.elu_back(x, 0.0, w, out) + (True,)
    elif c == ops.SELU:
        return ops.selu_back(x, 0.0, w, out) + (True,)
    elif c == ops.SOFTPLUS:
        return ops.softplus_back(x, 0.0, w, out) + (True,)
    elif c == ops.ABS:
        return ops.abs_back(x, 0.0, w, out) + (True,)
    return np.nan, np.nan, False
