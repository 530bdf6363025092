"""PyTorch float64 as the oracle: every op, an MLP forward and backward, every loss (logits of 1000 too),
20 optimizer steps of SGD (momentum, Nesterov, dampening, weight decay, a schedule) and Adam (weight
decay), and clip_grad_norm_, to 1e-12 relative. Skipped only when torch is not installed (the `reference`
extra), and then failed instead under MICROGRAD_REQUIRE_SYSTEM=1 (tests/system.py)."""

import math

import numpy as np
import pytest

from micrograd import losses
from micrograd.engine import Value
from micrograd.nn import MLP
from micrograd.optim import SGD, Adam, clip_grad_norm_
from tests.op_cases import CASES
from tests.system import require

pytestmark = pytest.mark.system
torch = require("torch")
F = torch.nn.functional

REL = 1e-12
TORCH_OPS = {
    "add": lambda a, b, c: a + b,
    "sub": lambda a, b, c: a - b,
    "mul": lambda a, b, c: a * b,
    "div": lambda a, b, c: a / b,
    "powv": lambda a, b, c: a**b,
    "prelu": lambda a, b, c: F.prelu(a, b),
    "logaddexp": lambda a, b, c: torch.logaddexp(a, b),
    "pow": lambda a, b, c: a**c,
    "neg": lambda a, b, c: -a,
    "exp": lambda a, b, c: a.exp(),
    "log": lambda a, b, c: a.log(),
    "tanh": lambda a, b, c: a.tanh(),
    "sigmoid": lambda a, b, c: a.sigmoid(),
    "relu": lambda a, b, c: a.relu(),
    "leaky_relu": lambda a, b, c: F.leaky_relu(a, c),
    "elu": lambda a, b, c: F.elu(a, c),
    "selu": lambda a, b, c: F.selu(a),
    "abs": lambda a, b, c: a.abs(),
    # torch's softplus is linear above `threshold` (20 by default): lift it to compare the exact function
    "softplus": lambda a, b, c: F.softplus(a, threshold=700.0),
}


def close(a, b, rel=REL, abs_=1e-300):
    return abs(a - b) <= rel * abs(b) + abs_


def t64(x, grad=True):
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)


def test_every_op_has_a_torch_counterpart():
    assert set(TORCH_OPS) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_value_and_grads_match_torch(name):
    case = CASES[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    for _ in range(12):
        x, y = rng.uniform(*case.x), rng.uniform(*case.y)
        if any(abs(x - k) < 1e-3 for k in case.kinks) or not case.valid(x, y, case.arg):
            continue
        a, b = Value(x), Value(y)
        out = case.build(a, b, case.arg)
        out.backward()
        ta, tb = t64([x]), t64([y])
        tout = TORCH_OPS[name](ta, tb, case.arg)
        tout.sum().backward()
        assert close(out.data, tout.item()), (x, y, out.data, tout.item())
        assert close(a.grad, ta.grad.item(), abs_=1e-15), (x, y, a.grad, ta.grad.item())
        if case.arity == 2:
            assert close(b.grad, tb.grad.item(), abs_=1e-15), (x, y, b.grad, tb.grad.item())


# ---------------------------------------------------------------- the MLP, scalar by scalar in torch
def torch_mlp(model, params, x):
    """model's forward in torch, one scalar tensor per parameter, in micrograd's summation order."""
    by_id = {id(p): t for p, t in zip(model.parameters(), params)}
    acts = {"relu": torch.relu, "tanh": torch.tanh, "identity": lambda z: z}
    for layer in model.layers:
        outs = []
        for n in layer.neurons:
            act = by_id[id(n.b)]
            for w, xi in zip(n.w, x):
                act = act + by_id[id(w)] * xi
            outs.append(acts[n.activation](act))
        x = outs
    return x


def torch_params(model):
    return [t64(p.data) for p in model.parameters()]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_forward_and_backward_match_torch(activation):
    model = MLP(3, [5, 4, 2], activation=activation, rng=4)
    X = np.random.default_rng(0).normal(size=(6, 3))
    rows = [model(list(x)) for x in X]
    loss = losses.batch_loss(losses.cross_entropy, rows, [0, 1, 1, 0, 1, 0])
    model.zero_grad()
    loss.backward()
    params = torch_params(model)
    logits = torch.stack([torch.stack(torch_mlp(model, params, list(map(float, x)))) for x in X])
    tloss = F.cross_entropy(logits, torch.tensor([0, 1, 1, 0, 1, 0]))
    tloss.backward()
    assert np.allclose([[v.data for v in r] for r in rows], logits.detach().numpy(), rtol=REL, atol=0)
    assert close(loss.data, tloss.item())
    for p, t in zip(model.parameters(), params):
        assert close(p.grad, t.grad.item(), abs_=1e-15), (p.grad, t.grad.item())


LOSS_CASES = [
    ("hinge", [0.4], -1.0, lambda o, t: torch.relu(1 - t * o[0])),
    ("mse", [0.4, -0.2, 2.5], [1.0, 0.5, -1.0], lambda o, t: F.mse_loss(o, t)),
    ("bce_with_logits", [0.4], 1.0, lambda o, t: F.binary_cross_entropy_with_logits(o[0], t)),
    ("bce_with_logits", [-3.0], 0.25, lambda o, t: F.binary_cross_entropy_with_logits(o[0], t)),
    ("cross_entropy", [0.4, -0.2, 1.1], 2, lambda o, t: F.cross_entropy(o[None], torch.tensor([t]))),
    ("cross_entropy", [1000.0, -1000.0, 999.0], 1, lambda o, t: F.cross_entropy(o[None], torch.tensor([t]))),
    ("cross_entropy", [0.4, -0.2, 1.1], [0.2, 0.5, 0.3], lambda o, t: F.cross_entropy(o[None], t[None])),
]


@pytest.mark.parametrize("name, outputs, target, reference", LOSS_CASES)
def test_losses_match_torch(name, outputs, target, reference):
    vs = [Value(o) for o in outputs]
    out = losses.BY_NAME[name](vs, target)
    out.backward()
    to = t64(outputs)
    tt = target if isinstance(target, int) else t64(target, grad=False)
    tout = reference(to, tt)
    tout.backward()
    assert close(out.data, tout.item()), (out.data, tout.item())
    assert all(close(v.grad, g, abs_=1e-15) for v, g in zip(vs, to.grad.tolist())), (
        [v.grad for v in vs],
        to.grad.tolist(),
    )
    assert all(math.isfinite(v.grad) for v in vs)


def test_batch_mse_matches_torch_mean_over_batch():
    P = [[0.3, -1.0], [2.0, 0.5], [-0.7, 0.1]]
    T = [[1.0, 0.0], [1.5, -0.5], [0.0, 0.0]]
    rows = [[Value(p) for p in r] for r in P]
    out = losses.batch_loss(losses.mse, rows, T)
    out.backward()
    tp = t64(P)
    tout = F.mse_loss(tp, t64(T, grad=False))
    tout.backward()
    assert close(out.data, tout.item())
    assert np.allclose([[v.grad for v in r] for r in rows], tp.grad.numpy(), rtol=REL, atol=1e-16)


# ---------------------------------------------------------------- 20 optimizer steps
OPTIMIZERS = [
    ("sgd momentum", lambda ps: SGD(ps, lr=0.05, momentum=0.9), lambda ts: torch.optim.SGD(ts, lr=0.05, momentum=0.9)),
    (
        "sgd nesterov + weight decay",
        lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
        lambda ts: torch.optim.SGD(ts, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
    ),
    (
        "sgd dampening",
        lambda ps: SGD(ps, lr=0.05, momentum=0.5, dampening=0.3, weight_decay=1e-3),
        lambda ts: torch.optim.SGD(ts, lr=0.05, momentum=0.5, dampening=0.3, weight_decay=1e-3),
    ),
    ("adam", lambda ps: Adam(ps, lr=0.01), lambda ts: torch.optim.Adam(ts, lr=0.01)),
    (
        "adam weight decay",
        lambda ps: Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
        lambda ts: torch.optim.Adam(ts, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
    ),
]


@pytest.mark.parametrize("label, ours, theirs", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
@pytest.mark.parametrize("scheduled", [False, True])
def test_twenty_optimizer_steps_match_torch(label, ours, theirs, scheduled):
    model = MLP(2, [4, 1], activation="tanh", rng=2)
    X = np.random.default_rng(1).normal(size=(5, 2))
    Y = [1.0, -1.0, 1.0, 1.0, -1.0]
    params = torch_params(model)
    opt, topt = ours(model.parameters()), theirs(params)
    base = topt.param_groups[0]["lr"]
    if scheduled:
        opt.lr = lambda t: base * 0.9**t
    for step in range(20):
        loss = losses.batch_loss(losses.mse, [model(list(x)) for x in X], Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        topt.zero_grad()
        tl = sum((torch_mlp(model, params, list(map(float, x)))[0] - y) ** 2 for x, y in zip(X, Y)) * (1.0 / len(Y))
        tl.backward()
        if scheduled:
            topt.param_groups[0]["lr"] = base * 0.9**step
        topt.step()
    for p, t in zip(model.parameters(), params):
        assert close(p.data, t.item(), abs_=1e-15), (label, p.data, t.item())


# ---------------------------------------------------------------- gradient clipping
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.0, 0.5, 3.0, 1e9])
@pytest.mark.parametrize("seed", [0, 1])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, seed):
    """Each Value as a one-element tensor; the total norm returned and every clipped gradient to 1e-12."""
    rng = np.random.default_rng(seed)
    grads = rng.normal(size=40) * 10.0 ** rng.uniform(-3, 2, 40)
    ps = [Value(1.0) for _ in grads]
    ts = [torch.tensor(1.0, dtype=torch.float64, requires_grad=True) for _ in grads]
    for p, t, g in zip(ps, ts, grads.tolist()):
        p.grad, t.grad = g, torch.tensor(g, dtype=torch.float64)
    got = clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    want = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=norm_type)
    assert type(got) is float and close(got, want.item())
    for p, t in zip(ps, ts):
        assert close(p.grad, t.grad.item(), abs_=1e-300), (p.grad, t.grad.item())


@pytest.mark.parametrize("grads", [[1e200, 1e200, 1.0], [math.inf, 1.0], [math.nan, 2.0], [0.0, 0.0], [-3.0]])
def test_clip_grad_norm_of_extreme_gradients_matches_torch(grads):
    """Overflow to an infinite norm (gradients become 0, or NaN where one was inf), NaN, all zeros."""
    ps = [Value(1.0) for _ in grads]
    ts = [torch.tensor(1.0, dtype=torch.float64, requires_grad=True) for _ in grads]
    for p, t, g in zip(ps, ts, grads):
        p.grad, t.grad = g, torch.tensor(g, dtype=torch.float64)
    got = clip_grad_norm_(ps, 1.0)
    want = torch.nn.utils.clip_grad_norm_(ts, 1.0).item()
    assert got == want or (math.isnan(got) and math.isnan(want))
    np.testing.assert_array_equal([p.grad for p in ps], [t.grad.item() for t in ts])
