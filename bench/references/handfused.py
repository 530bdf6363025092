"""The hand-fused yardstick: one Numba call = forward + loss + backward + SGD update of one MLP.

The yardstick the performance targets (``bench/targets.py``) measure the compiled
path against: float64, the parameters packed
in one flat array with every W stored (nin, nout) row-major, then its b;
activations and their gradients in two flat arrays (N, nout) per layer; ``np.dot``
(Numba's BLAS call) for every matrix product, written into its output; loops
for the bias, ReLU, loss and update. ``step`` is that kernel;
``forward`` is its forward half alone, the kernel ``cm(X)`` is compared with.

Loss: kind 0 mean hinge ``max(0, 1 - y*s)``, kind 1 mean softmax cross-entropy
(``y`` the class index as a float); plus ``alpha * sum(p*p)`` over every
parameter at the weights before the update; the update is
``p -= lr * (g + 2*alpha*p)``. ``G`` holds the data-loss gradient only.

    python -m bench.references.handfused OTHER.py   # time this kernel beside another file's version of it

(``OTHER.py`` defines ``WORKLOADS``, ``build_meta``, ``pack_params`` and ``step_blas`` in the same layout.)
"""

from __future__ import annotations

import math
import sys

import numpy as np
from numba import njit

from bench.workloads import Weights, Workload


def layout(sizes: list[int], N: int) -> tuple[np.ndarray, int, int]:
    """meta = [L, sizes..., W offsets, b offsets, activation offsets]; (meta, n_params, n_acts)."""
    L = len(sizes) - 1
    woff, boff, aoff = [], [], []
    p = a = 0
    for layer in range(L):
        woff.append(p)
        p += sizes[layer] * sizes[layer + 1]
        boff.append(p)
        p += sizes[layer + 1]
        aoff.append(a)
        a += N * sizes[layer + 1]
    return np.array([L] + list(sizes) + woff + boff + aoff, dtype=np.int64), p, a


@njit(cache=True)
def _dense_forward(P, X, acts, meta):
    """Every layer: A_out = A_in @ W + b, ReLU on hidden layers; returns the last layer's (N, nout) view."""
    L = meta[0]
    N = X.shape[0]
    A_in = X
    for layer in range(L):
        nin, nout = meta[1 + layer], meta[2 + layer]
        wo, bo, ao = meta[L + 2 + layer], meta[2 * L + 2 + layer], meta[3 * L + 2 + layer]
        W = P[wo : wo + nin * nout].reshape((nin, nout))
        A_out = acts[ao : ao + N * nout].reshape((N, nout))
        np.dot(A_in, W, A_out)
        for b in range(N):
            o = A_out[b]
            for j in range(nout):
                v = o[j] + P[bo + j]
                if layer < L - 1 and v < 0.0:
                    v = 0.0
                o[j] = v
        A_in = A_out
    return A_in


@njit(cache=True)
def forward(P, X, acts, meta):
    """The forward pass alone, one call: the outputs are the returned (N, nout) view of ``acts``."""
    return _dense_forward(P, X, acts, meta)


@njit(cache=True)
def step(P, G, X, yv, acts, dacts, meta, lr, alpha, kind):
    """One training step in place; returns the loss at the weights before the update."""
    L = meta[0]
    N = X.shape[0]
    invN = 1.0 / N
    A_in = _dense_forward(P, X, acts, meta)
    nL = meta[1 + L]
    aoL = meta[3 * L + 2 + L - 1]
    D = dacts[aoL : aoL + N * nL].reshape((N, nL))
    loss = 0.0
    if kind == 0:
        for b in range(N):
            margin = 1.0 - yv[b] * A_in[b, 0]
            if margin > 0.0:
                loss += margin
                D[b, 0] = -yv[b] * invN
            else:
                D[b, 0] = 0.0
    else:
        for b in range(N):
            z = A_in[b]
            d = D[b]
            m = z[0]
            for j in range(nL):
                if z[j] > m:
                    m = z[j]
            s = 0.0
            for j in range(nL):
                e = math.exp(z[j] - m)
                d[j] = e
                s += e
            yi = int(yv[b])
            loss += m + math.log(s) - z[yi]
            inv = 1.0 / s
            for j in range(nL):
                d[j] = d[j] * inv * invN
            d[yi] -= invN
    loss *= invN
    for layer in range(L - 1, -1, -1):
        nin, nout = meta[1 + layer], meta[2 + layer]
        wo, bo, ao = meta[L + 2 + layer], meta[2 * L + 2 + layer], meta[3 * L + 2 + layer]
        W = P[wo : wo + nin * nout].reshape((nin, nout))
        D = dacts[ao : ao + N * nout].reshape((N, nout))
        GW = G[wo : wo + nin * nout].reshape((nin, nout))
        aop = 0
        if layer > 0:
            aop = meta[3 * L + 2 + layer - 1]
            A_prev = acts[aop : aop + N * nin].reshape((N, nin))
        else:
            A_prev = X
        np.dot(A_prev.T, D, GW)
        for j in range(nout):
            G[bo + j] = 0.0
        for b in range(N):
            for j in range(nout):
                G[bo + j] += D[b, j]
        if layer > 0:
            Dp = dacts[aop : aop + N * nin].reshape((N, nin))
            np.dot(D, W.T, Dp)
            for b in range(N):
                for i in range(nin):
                    if not (A_prev[b, i] > 0.0):
                        Dp[b, i] = 0.0
    reg = 0.0
    if alpha != 0.0:
        for k in range(P.shape[0]):
            reg += P[k] * P[k]
    ta = 2.0 * alpha
    for k in range(P.shape[0]):
        P[k] -= lr * (G[k] + ta * P[k])
    return loss + alpha * reg


class Kernel:
    """The workload's MLP in the hand-fused layout: ``step()``, ``forward()``, and the arrays to validate."""

    def __init__(self, wl: Workload):
        self.wl = wl
        self.meta, n_params, n_acts = layout(wl.sizes, wl.batch)
        self.P = np.concatenate([a.ravel() for W, b in wl.weights for a in (W.T, b)])  # W as (nin, nout)
        assert self.P.shape == (n_params,)
        self.G = np.zeros(n_params)
        self.acts, self.dacts = np.zeros(n_acts), np.zeros(n_acts)
        self.X = np.ascontiguousarray(wl.X, dtype=np.float64)
        self.y = np.asarray(wl.y, dtype=np.float64)
        self.kind = {"hinge": 0, "cross_entropy": 1}[wl.loss]

    def step(self) -> float:
        return step(self.P, self.G, self.X, self.y, self.acts, self.dacts, self.meta, self.wl.lr, self.wl.l2, self.kind)

    def forward(self) -> np.ndarray:
        return forward(self.P, self.X, self.acts, self.meta)

    def weights(self, flat: np.ndarray = None) -> Weights:
        """A flat parameter-shaped array (default: P) as [(W (nout, nin), b), ...]."""
        flat = self.P if flat is None else flat
        out, sizes = [], self.wl.sizes
        p = 0
        for nin, nout in zip(sizes[:-1], sizes[1:]):
            W = flat[p : p + nin * nout].reshape(nin, nout).T.copy()
            p += nin * nout
            out.append((W, flat[p : p + nout].copy()))
            p += nout
        return out

    def loss_and_grad(self):
        """(loss, grads) at the current weights, from one step taken on a copy of P (P is left as it was)."""
        before = self.P.copy()
        loss = self.step()
        grads = self.weights(self.G + 2.0 * self.wl.l2 * before)
        self.P[:] = before
        return loss, grads


def _compare(reference_path: str) -> None:
    """Time this copy and the reference kernel in turn on their own workloads, with the same arrays."""
    import importlib.util
    import time

    spec = importlib.util.spec_from_file_location("handfused_reference", reference_path)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    for name, (sizes, N, kind, alpha) in ref.WORKLOADS.items():
        rng = np.random.default_rng(0)
        X = rng.normal(size=(N, sizes[0]))
        y = np.where(rng.random(N) > 0.5, 1.0, -1.0) if kind == 0 else rng.integers(0, sizes[-1], N).astype(float)
        params = [(rng.uniform(-1, 1, (a, b)) / math.sqrt(a), np.zeros(b)) for a, b in zip(sizes[:-1], sizes[1:])]
        rmeta, n_params, n_acts, nwt = ref.build_meta(sizes, N, "io")
        P0 = ref.pack_params(params, rmeta, "io")
        meta = layout(sizes, N)[0]
        ours = _bound(step, (X, y), (meta, 1e-3, alpha, kind))
        theirs = _bound(ref.step_blas, (np.zeros(nwt), X, y), (rmeta, 1e-3, alpha, kind))
        states = {k: (P0.copy(), np.zeros(n_params), np.zeros(n_acts), np.zeros(n_acts)) for k in ("ours", "ref")}
        losses = {k: [f(*states[k]) for _ in range(3)] for k, f in (("ours", ours), ("ref", theirs))}
        times = {"ours": [], "ref": []}
        reps = max(1, int(0.02 / max(1e-7, _time_once(ours, states["ours"]))))
        for _ in range(15):
            for k, f in (("ours", ours), ("ref", theirs)):
                t0 = time.perf_counter()
                for _ in range(reps):
                    f(*states[k])
                times[k].append((time.perf_counter() - t0) / reps)
        print(
            f"{name}: this copy {np.median(times['ours']) * 1e6:.1f} us, reference "
            f"{np.median(times['ref']) * 1e6:.1f} us per step; losses of 3 steps agree to "
            f"{max(abs(a - b) / abs(b) for a, b in zip(losses['ours'], losses['ref'])):.1e}"
        )


def _bound(kernel, middle: tuple, tail: tuple):
    """The step as f(P, G, a, d): kernel(P, G, *middle, a, d, *tail)."""
    return lambda P, G, a, d: kernel(P, G, *middle, a, d, *tail)


def _time_once(f, state) -> float:
    import time

    t0 = time.perf_counter()
    f(*state)
    return time.perf_counter() - t0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m bench.references.handfused OTHER.py")
    _compare(sys.argv[1])
