"""The Value path as the oracle of the compiled path: the helpers the compiler tests share.

``value_path`` evaluates a function example by example on Values and backpropagates (outputs, batch loss,
parameter gradients); ``value_loop`` trains on Values in the order ``cm.fit`` documents; ``assert_close``
compares to ``RTOL`` relative, with an absolute floor of ``RTOL`` times the largest reference magnitude
(the round-off of sums that the compiled dense ops associate differently).
"""

import numpy as np

from micrograd import losses
from micrograd.engine import Value

RTOL = 1e-12


def assert_close(got, ref, what=""):
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=RTOL * scale, err_msg=what)


def value_path(fn, params, X, targets, loss_fn, l2=0.0):
    """(outputs (N, nout), batch loss, grads) computed example by example on Values."""
    for p in params:
        p.grad = 0.0
    outs, per = [], []
    for x, t in zip(X, targets):
        out = fn([Value(float(v)) for v in x])
        row = list(out) if isinstance(out, (list, tuple)) else [out]
        outs.append([o.data if isinstance(o, Value) else float(o) for o in row])
        per.append(loss_fn(out, t))
    total = losses.mean(per)
    if l2:
        total = total + losses.l2(params, l2)
    total.backward()
    return np.array(outs), total.data, np.array([p.grad for p in params])


def value_loop(model, opt, X, y, loss_name, l2, epochs, batch_size, seed, shuffle=True):
    """The reference: the documented order (epoch e uses the e-th permutation of default_rng(seed))."""
    gen = np.random.default_rng(seed)
    N = len(X)
    history = []
    loss_fn = losses.BY_NAME[loss_name]
    for _ in range(epochs):
        order = gen.permutation(N) if shuffle else np.arange(N)
        for start in range(0, N, batch_size):
            rows = order[start : start + batch_size]
            per = [
                loss_fn(
                    model([Value(float(v)) for v in X[r]]), int(y[r]) if loss_name == "cross_entropy" else float(y[r])
                )
                for r in rows
            ]
            total = losses.mean(per)
            if l2:
                total = total + losses.l2(model.parameters(), l2)
            model.zero_grad()
            total.backward()
            opt.step()
            history.append(total.data)
    return np.array(history)


def twin_models(make):
    a, b = make(), make()
    for p, q in zip(a.parameters(), b.parameters()):
        q.data = p.data
    return a, b


def moons_like(N=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 2))
    return X, np.where(X[:, 0] * X[:, 1] > 0, 1.0, -1.0)


def outputs_on_values(model, X):
    return np.array([[model([Value(float(v)) for v in x]).data] for x in X])
