"""micrograd.interop against two oracles: the Value path and PyTorch autograd, in float64.

- to_torch: every op of the table alone, random Value graphs (hypothesis: scalar ops with shared
  parameters, shared sub-expressions, dense layers read through gathers, vector activations), MLPs
  with every activation, every loss program; outputs, input gradients and parameter gradients of the
  exported module (torch autograd) against backward() on Values.
- from_torch: random Sequentials with every supported activation against the PyTorch module itself
  (outputs and weight gradients), and the refusals.
- PyTorch stays optional: ``import micrograd`` never imports it; without it the error names the command.
The largest differences seen are printed by the last test (the closing note's numbers).
"""

import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import micrograd
from micrograd import losses, nn, ops
from micrograd.compiler.ir import OP_NAMES
from micrograd.engine import Value
from tests.op_cases import CASES
from tests.system import require

pytestmark = pytest.mark.system
torch = require("torch")  # before micrograd.interop, which needs it

import torch.nn.functional as F  # noqa: E402

from micrograd.interop import TORCH_OPS, from_torch, to_torch  # noqa: E402

TOL = 1e-12
WORST = {}  # what -> (largest absolute difference, largest relative difference), printed at the end
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def assert_close(got, want, what, tol=TOL):
    """|got - want| <= tol * (1 + |want|) elementwise; records the largest differences for the report."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    d = np.abs(got - want)
    a, r = WORST.get(what, (0.0, 0.0))
    if d.size:
        scale = np.maximum(np.maximum(np.abs(want), np.abs(got)), 1e-300)  # 1.0 when one side is 0
        WORST[what] = (max(a, float(d.max())), max(r, float((d / scale).max())))
    bad = ~(d <= tol * (1 + np.abs(want)))
    assert not bad.any(), f"{what}: {got[bad][:5]} != {want[bad][:5]}"


def value_path(model, params, X, C):
    """Outputs (N, nout) of the Value path, and the grads of sum(C * outputs) wrt params and X."""
    for p in params:
        p.grad = 0.0
    rows, xs = [], []
    for x in X:
        xv = [Value(float(v)) for v in x]
        out = model(xv)
        rows.append(list(out) if isinstance(out, (list, tuple)) else [out])
        xs.append(xv)
    Y = np.array([[o.data for o in r] for r in rows])
    total = sum(float(c) * o for r, cr in zip(rows, C) for o, c in zip(r, cr))
    total.backward()
    return Y, np.array([p.grad for p in params]), np.array([[v.grad for v in r] for r in xs])


def torch_path(net, X, C):
    """Outputs, {model parameter name: grad} and the input grads of the exported module."""
    for p in net.parameters():
        p.grad = None
    Xt = torch.tensor(X, requires_grad=True)
    Y = net(Xt)
    (Y * torch.tensor(C)).sum().backward()
    grads = {}
    for name, names in net.micrograd_names.items():
        g = net.get_parameter(name).grad
        g = np.zeros(names.shape) if g is None else g.numpy()  # a parameter the outputs do not read
        grads.update(zip(names.ravel().tolist(), g.ravel().tolist()))
    return Y.detach().numpy(), grads, np.zeros(X.shape) if Xt.grad is None else Xt.grad.numpy()


def compare(model, params, names, X, rng, what):
    """Export model (through micrograd.compile), run both paths on X, compare everything."""
    cm = micrograd.compile(model, n_inputs=X.shape[1], params=params)
    net = to_torch(cm)
    C = rng.normal(size=(X.shape[0], cm.n_outputs))
    Y, gp, gx = value_path(model, params, X, C)
    Yt, gt, gxt = torch_path(net, X, C)
    assert_close(Yt, Y, f"{what} outputs")
    assert_close([gt[n] for n in names], gp, f"{what} parameter grads")
    assert_close(gxt, gx, f"{what} input grads")
    return net


# ---------------------------------------------------------------- every op alone
def test_every_op_has_a_torch_mapping():
    assert set(TORCH_OPS) == {op.name for op in ops.OPS}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_op_exports(name):
    case = CASES[name]
    rng = np.random.default_rng(sorted(CASES).index(name))
    X = np.array([[rng.uniform(*case.x), rng.uniform(*case.y)] for _ in range(200)])
    X = X[[case.valid(x, y, case.arg) and all(abs(x - k) > 1e-3 for k in case.kinks) for x, y in X]][:24]
    slope = Value(0.3)  # the y operand as a parameter for prelu: a scalar-op parameter
    if name == "prelu":

        def model(xs):
            return case.build(xs[0], slope, case.arg)

        params = [slope]
    else:

        def model(xs):
            return case.build(xs[0], xs[1], case.arg)

        params = []
    compare(model, params, [f"params.{j}" for j in range(len(params))], X, rng, "single ops")


SPECIAL_X = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.5, -1.5]
PIECEWISE = sorted(ops.OPS[c].name for c in ops.PIECEWISE)
TORCH_BUILTIN = {  # PyTorch's own function of each piecewise op, on (x, slope) tensors
    "relu": lambda x, s: torch.relu(x),
    "abs": lambda x, s: torch.abs(x),
    "leaky_relu": lambda x, s: F.leaky_relu(x, 0.1),
    "elu": lambda x, s: F.elu(x, 0.7),
    "selu": lambda x, s: F.selu(x),
    "prelu": lambda x, s: F.prelu(x.reshape(1, 1), s.reshape(1)).reshape(()),
}


def piecewise_value(name, x):
    """(output, d/dx, d/dslope) of the piecewise op on the Value path."""
    a, s = Value(x), Value(0.25)
    arg = {"leaky_relu": 0.1, "elu": 0.7}.get(name)
    out = a.prelu(s) if name == "prelu" else abs(a) if name == "abs" else getattr(a, name)(*([arg] if arg else []))
    out.backward()
    return out.data, a.grad, s.grad


def nan_equal(got, want, rel=0.0) -> bool:
    """Equal to a relative tolerance, NaN equal to NaN, an infinity only to itself."""
    return all(
        (math.isnan(g) and math.isnan(w)) or math.isclose(g, w, rel_tol=rel, abs_tol=0.0) for g, w in zip(got, want)
    )


@pytest.mark.parametrize("name", PIECEWISE)
def test_piecewise_ops_equal_pytorch_float64_except_at_nan(name):
    """Away from NaN (infinities and both zeros included) each derivative is PyTorch's own. At NaN PyTorch's
    builtins have no common rule (relu's derivative is 1 there, abs's 0, leaky_relu's and prelu's the
    slope): the op table's is NaN for every piecewise op, and to_torch exports that (next test)."""
    for x in SPECIAL_X:
        xt, st_ = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x, 0.25))
        yt = TORCH_BUILTIN[name](xt, st_)
        yt.backward()
        torch_side = (yt.item(), xt.grad.item(), 0.0 if st_.grad is None else st_.grad.item())
        ours = piecewise_value(name, x)
        if math.isnan(x):
            assert all(math.isnan(v) for v in ours[: 3 if name == "prelu" else 2]), (name, ours)
        else:
            assert nan_equal(ours, torch_side, 1e-15), (name, x, ours, torch_side)  # elu: out + alpha vs alpha e^x


@pytest.mark.parametrize("name", PIECEWISE)
def test_to_torch_agrees_with_both_paths_on_nan_and_infinities(name):
    b, s = Value(0.0), Value(0.25)
    arg = {"leaky_relu": 0.1, "elu": 0.7}.get(name)

    def fn(xs):
        z = xs[0] + b  # the gradient of b is the op's derivative at x
        return z.prelu(s) if name == "prelu" else abs(z) if name == "abs" else getattr(z, name)(*([arg] if arg else []))

    params = [b, s] if name == "prelu" else [b]
    cm = micrograd.compile(fn, n_inputs=1, params=params)
    net = to_torch(cm)
    for x in SPECIAL_X:
        X = np.array([[x]])
        Y, gp, _ = value_path(fn, params, X, np.ones((1, 1)))
        _, gc = cm.loss_and_grad(X, np.zeros(1), loss=lambda o, t: o)
        Yt, gt, _ = torch_path(net, X, np.ones((1, 1)))
        gt = [gt[f"params.{j}"] for j in range(len(params))]
        assert nan_equal(cm(X).ravel(), Y.ravel()) and nan_equal(Yt.ravel(), Y.ravel(), 1e-15), (name, x, Y, Yt)
        assert nan_equal(gc, gp) and nan_equal(gt, gp, 1e-15), (name, x, gp, gc, gt)
        assert not math.isnan(x) or all(math.isnan(g) for g in gp), (name, gp)


def test_an_op_without_mapping_is_refused_by_name(monkeypatch):
    monkeypatch.delitem(TORCH_OPS, "softplus")
    cm = micrograd.compile(lambda xs: xs[0].softplus(), n_inputs=1, params=[])
    with pytest.raises(NotImplementedError, match="op 'softplus' has no PyTorch mapping"):
        to_torch(cm)


# ---------------------------------------------------------------- random Value graphs
BOUNDED = ("tanh", "sigmoid", "relu", "abs", "neg", "leaky_relu", "elu", "selu", "softplus")


def apply(name, x, y, arg):
    """The op on Values, its operands passed through ops (never through Python ifs) into its domain."""
    if name in ("mul", "pow", "exp"):  # growth-prone: bounded operands
        x, y = x.tanh(), y.tanh()
    if name == "div":
        return x.tanh() / (abs(y) + 0.5)
    if name == "log":
        return (abs(x) + 0.5).log()
    if name == "powv":
        return (abs(x) + 0.5) ** y.tanh()
    if name == "pow":
        return (abs(x) + 0.5) ** arg if arg < 0 or not float(arg).is_integer() else x**arg
    op = ops.BY_NAME[name]
    if op.arity == 2:
        return getattr(x, {"add": "__add__", "sub": "__sub__", "mul": "__mul__"}.get(name, name))(y)
    method = {"abs": "__abs__", "neg": "__neg__"}.get(name, name)
    return getattr(x, method)(arg) if name in ("leaky_relu", "elu") else getattr(x, method)()


class RandomGraph:
    """A Value graph drawn by hypothesis: steps over a pool of inputs, shared parameters and results."""

    def __init__(self, n_inputs, shared, steps, outputs):
        self.shared = [Value(v) for v in shared]
        self.params = list(self.shared)
        self.steps = []
        for step in steps:  # fresh parameters of the layer steps, made once
            if step[0] == "layer":
                _, src, width, bias, act, wvals = step
                ws = [[Value(wvals[(r * len(src) + c) % len(wvals)]) for c in range(len(src))] for r in range(width)]
                bs = [Value(0.1 * r) for r in range(width)] if bias else None
                self.params += [w for row in ws for w in row] + (bs or [])
                step = ("layer", src, ws, bs, act)
            self.steps.append(step)
        self.n_inputs, self.outputs = n_inputs, outputs

    def __call__(self, xs):
        pool = list(xs) + self.shared
        for step in self.steps:
            if step[0] == "layer":
                _, src, ws, bs, act = step
                ins = [pool[i % len(pool)] for i in src]
                for r, row in enumerate(ws):
                    z = sum((w * v for w, v in zip(row, ins)), bs[r] if bs else 0)
                    pool.append(z if act is None else apply(act, z, z, 0.2))
            else:
                _, name, i, j, arg = step
                pool.append(apply(name, pool[i % len(pool)], pool[j % len(pool)], arg))
        return [pool[-1 - (o % len(pool))] for o in self.outputs]


floats = st.floats(-1.5, 1.5, allow_nan=False)
op_step = st.tuples(
    st.just("op"),
    st.sampled_from(sorted(TORCH_OPS)),
    st.integers(0, 60),
    st.integers(0, 60),
    st.sampled_from([2.0, 3.0, -1.0, 0.5, 0.2]),
)
layer_step = st.tuples(
    st.just("layer"),
    st.lists(st.integers(0, 60), min_size=1, max_size=4),
    st.integers(1, 3),
    st.booleans(),
    st.sampled_from([None, *BOUNDED]),
    st.lists(floats, min_size=1, max_size=6),
)


GRAPHS = dict(
    n_inputs=st.integers(1, 3),
    shared=st.lists(floats, max_size=3),
    steps=st.lists(st.one_of(op_step, layer_step), min_size=1, max_size=10),
    outputs=st.lists(st.integers(0, 8), min_size=1, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)


@settings(max_examples=30, deadline=None)
@given(**GRAPHS)
def test_random_value_graphs_export(n_inputs, shared, steps, outputs, seed):
    g = RandomGraph(n_inputs, shared, steps, outputs)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(5, n_inputs))
    net = compare(g, g.params, [f"params.{j}" for j in range(len(g.params))], X, rng, "random graphs")
    kinds = [kind for kind, *_ in net._mg_plan]
    for kind in sorted(set(kinds)):  # pytest --hypothesis-show-statistics: how often each instruction ran
        event(OP_NAMES[kind])


def test_hand_written_network_with_shared_parts():
    """A shared hidden unit read by two heads, a parameter used by scalar ops twice, inputs out of order."""
    w = [Value(v) for v in (0.3, -0.7, 0.5, 1.1, -0.4)]
    b, s = Value(0.2), Value(0.25)

    def net(xs):
        h = (w[0] * xs[1] + w[1] * xs[0] + b).tanh()  # dense over (x1, x0): a gather
        u = (w[2] * h + w[3] * xs[1]).prelu(s)
        return [u * h + s, (w[4] * h).exp() - h.prelu(s)]  # h shared, s read three times

    rng = np.random.default_rng(1)
    exported = compare(net, w + [b, s], [f"params.{j}" for j in range(7)], rng.normal(size=(7, 2)), rng, "hand-written")
    assert exported.micrograd_names["params.6"].item() == "params.6"  # s: a 0-d parameter of its own


# ---------------------------------------------------------------- MLPs, names, losses
@pytest.mark.parametrize("activation, prelu", [(a, "neuron") for a in nn.ACTIVATIONS] + [("prelu", "layer")])
def test_mlp_exports_with_its_names(activation, prelu):
    model = nn.MLP(3, [4, 3, 2], activation=activation, prelu=prelu, rng=7)
    rng = np.random.default_rng(2)
    for p in model.parameters():  # slopes and biases away from their defaults, so a mix-up shows
        p.data = rng.uniform(-1, 1)
    names = [n for n, _ in model.named_parameters()]
    net = compare(model, model.parameters(), names, rng.normal(size=(6, 3)), rng, "MLPs")
    keys = list(net.state_dict())
    assert "layers.0.neurons.w" in keys and net.state_dict()["layers.0.neurons.w"].shape == (4, 3)
    assert net.state_dict()["layers.2.neurons.b"].shape == (2,)
    assert sorted(n for v in net.micrograd_names.values() for n in v.ravel()) == sorted(names)
    if activation == "prelu":
        want = "layers.0.slope" if prelu == "layer" else "layers.0.neurons.1.slope"
        assert want in keys and net.state_dict()[want].shape == ()
    # the names map back: a torch-side edit lands in the right micrograd parameter
    with torch.no_grad():
        net.get_parameter("layers.1.neurons.w")[2, 1] = 42.0
    model.load_state_dict(net.micrograd_state_dict())
    assert model.layers[1].neurons[2].w[1].data == 42.0


def test_state_dict_keys_of_a_function_use_the_fallback():
    w = [Value(0.5), Value(-1.0), Value(2.0)]
    cm = micrograd.compile(lambda xs: (w[0] * xs[0] + w[1] * xs[1]).tanh() * w[2], n_inputs=2, params=w)
    sd = to_torch(cm).state_dict()
    assert list(sd) == ["dense0.weight", "params.2"]
    assert sd["dense0.weight"].tolist() == [[0.5, -1.0]] and sd["params.2"].item() == 2.0


class Custom(nn.Module):
    """A user Module whose fields make awkward names: a list used as one neuron, a field called forward."""

    _fields = ("params", "forward")

    def __init__(self):
        self.params = [Value(0.5), Value(-1.0), Value(0.25)]  # w0, w1, bias: collapse to 'params' and 'params.2'
        self.forward = Value(2.0)  # a torch Module attribute

    def parameters(self):
        return self.params + [self.forward]

    def __call__(self, xs):
        # bias first, as a Neuron adds: one fused dense with its bias (a bias added last stays a scalar add)
        return (self.params[2] + self.params[0] * xs[0] + self.params[1] * xs[1]).tanh() * self.forward


def test_names_that_cannot_be_keys_fall_back_to_numbers():
    model = Custom()
    rng = np.random.default_rng(5)
    names = [n for n, _ in model.named_parameters()]
    assert names == ["params.0", "params.1", "params.2", "forward"]
    net = compare(model, model.parameters(), names, rng.normal(size=(4, 2)), rng, "hand-written")
    assert list(net.state_dict()) == ["dense0.weight", "dense0.bias", "params.3"]
    assert net.micrograd_names["params.3"].item() == "forward"  # the model's own names are kept in the map
    model.forward.data = 0.0
    model.load_state_dict(net.micrograd_state_dict())
    assert model.forward.data == 2.0


def _value_loss(model, X, y, loss):
    model.zero_grad()
    rows = [model([Value(float(v)) for v in x]) for x in X]
    fn = losses.BY_NAME[loss] if isinstance(loss, str) else loss
    targets = [
        int(t) if loss == "cross_entropy" and np.ndim(t) == 0 else (list(map(float, t)) if np.ndim(t) else float(t))
        for t in y
    ]
    L = losses.batch_loss(fn, rows, targets)
    L.backward()
    return L.data, np.array([p.grad for p in model.parameters()])


@pytest.mark.parametrize(
    "loss, nout, make_y",
    [
        ("mse", 1, lambda r, N, k: r.normal(size=N)),
        ("mse", 3, lambda r, N, k: r.normal(size=(N, k))),
        ("hinge", 1, lambda r, N, k: r.choice([-1.0, 1.0], size=N)),
        ("bce_with_logits", 1, lambda r, N, k: r.integers(0, 2, size=N).astype(float)),
        ("cross_entropy", 3, lambda r, N, k: r.integers(0, k, size=N)),
        ("cross_entropy", 3, lambda r, N, k: r.dirichlet(np.ones(k), size=N)),
        (lambda out, t: abs(out - t), 1, lambda r, N, k: r.normal(size=N)),
    ],
)
def test_loss_programs_export(loss, nout, make_y):
    model = nn.MLP(2, [5, nout], activation="tanh", rng=3)
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(9, 2)), make_y(rng, 9, nout)
    crit = to_torch(model, loss=loss)
    L = crit(torch.tensor(X), torch.tensor(y))
    L.backward()
    want, grads = _value_loss(model, X, y, loss)
    assert_close(L.item(), want, "losses")
    got = {
        n: g
        for name, names in crit.micrograd_names.items()
        for n, g in zip(names.ravel(), crit.get_parameter(name).grad.numpy().ravel())
    }
    assert_close([got[n] for n, _ in model.named_parameters()], grads, "loss grads")


def test_loss_module_checks_its_targets():
    crit = to_torch(nn.MLP(2, [3], rng=0), loss="cross_entropy")
    X = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"integer class indices in \[0, 3\)"):
        crit(X, np.array([0, 3]))
    with pytest.raises(TypeError, match="module\\(X, y\\)"):
        crit(X)
    with pytest.raises(ValueError, match=r"expected \(N, 2\)"):
        to_torch(nn.MLP(2, [3], rng=0))(np.zeros((2, 5)))


def test_the_module_converts_like_any_torch_module():
    model = nn.MLP(3, [4, 2], activation="prelu", rng=6)
    X = np.random.default_rng(6).normal(size=(4, 3))
    net = to_torch(model).float()  # parameters and the constant pool follow .float() / .to()
    Y = net(X)  # float64 input is cast to the module's dtype
    assert Y.dtype == torch.float32
    np.testing.assert_allclose(Y.detach().numpy(), micrograd.compile(model)(X), rtol=1e-5, atol=1e-6)
    assert "prelu" in repr(net) and "w: (4, 3)" in repr(net)


# ---------------------------------------------------------------- from_torch
def activation(kind, width, value):
    T = torch.nn
    return {
        "relu": lambda: T.ReLU(),
        "tanh": lambda: T.Tanh(),
        "sigmoid": lambda: T.Sigmoid(),
        "leaky_relu": lambda: T.LeakyReLU(value),
        "elu": lambda: T.ELU(value),
        "selu": lambda: T.SELU(),
        "prelu1": lambda: T.PReLU(1, init=value),
        "prelu": lambda: T.PReLU(width, init=value),
        "identity": lambda: T.Identity(),
    }[kind]()


KINDS = ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "prelu1", "prelu", "identity", None]


MLPS = dict(
    nin=st.integers(1, 3),
    layers=st.lists(
        st.tuples(st.integers(1, 4), st.booleans(), st.sampled_from(KINDS), st.floats(0.05, 1.5)),
        min_size=1,
        max_size=3,
    ),
    seed=st.integers(0, 2**31 - 1),
)


@settings(max_examples=30, deadline=None)
@given(**MLPS)
def test_random_torch_mlps_import(nin, layers, seed):
    torch.manual_seed(seed)
    mods, width = [], nin
    for nout, bias, kind, value in layers:
        mods.append(torch.nn.Linear(width, nout, bias=bias, dtype=torch.float64))
        if kind is not None:
            mods.append(activation(kind, nout, value))
        width = nout
    seq = torch.nn.Sequential(*mods).double()
    with torch.no_grad():  # PReLU slopes off their init, per channel, so a channel mix-up shows
        for m in seq:
            if isinstance(m, torch.nn.PReLU):
                m.weight.copy_(torch.rand(m.weight.shape, dtype=torch.float64))
    mlp = from_torch(seq)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(5, nin))
    C = rng.normal(size=(5, width))
    Xt = torch.tensor(X, requires_grad=True)
    Y = seq(Xt)
    (Y * torch.tensor(C)).sum().backward()
    # the oracle's parameters, paired with micrograd's in the order from_torch documents
    pairs = []
    linears = [m for m in seq if isinstance(m, torch.nn.Linear)]
    for lin, layer in zip(linears, mlp.layers):
        for r, neuron in enumerate(layer.neurons):
            pairs += [(lin.weight.grad[r, c], w) for c, w in enumerate(neuron.w)]
            if lin.bias is not None:
                pairs.append((lin.bias.grad[r], neuron.b))
    prelus = [m for m in seq if isinstance(m, torch.nn.PReLU)]
    slopes = [
        p
        for layer in mlp.layers
        for p in ([layer.slope] if layer.slope is not None else [n.slope for n in layer.neurons if n.slope is not None])
    ]
    pairs += list(zip([g for m in prelus for g in m.weight.grad], slopes))
    assert len(slopes) == sum(m.weight.numel() for m in prelus)
    Yv, gp, gx = value_path(mlp, [v for _, v in pairs], X, C)
    assert_close(Yv, Y.detach().numpy(), "from_torch outputs")
    assert_close(gp, [float(t) for t, _ in pairs], "from_torch parameter grads")
    assert_close(gx, Xt.grad.numpy(), "from_torch input grads")
    # and back: the exported module holds the very same weights and computes the same outputs
    back = to_torch(mlp)
    sd = back.micrograd_state_dict()  # read from the exported tensors, by model name
    for i, lin in enumerate(linears):
        W = [[sd[f"layers.{i}.neurons.{r}.w.{c}"] for c in range(lin.in_features)] for r in range(lin.out_features)]
        assert W == lin.weight.tolist()
    assert_close(back(X).detach().numpy(), Y.detach().numpy(), "round trip outputs")


@pytest.mark.parametrize(
    "layers, fragment",
    [
        (lambda T: [T.Linear(2, 3), T.Conv1d(1, 1, 1)], "layer 1 (Conv1d"),
        (lambda T: [T.ReLU(), T.Linear(2, 3)], "layer 0 (ReLU()) comes before any Linear"),
        (lambda T: [T.Linear(2, 3), T.ReLU(), T.Tanh()], "layer 2 (Tanh()) follows another activation (layer 1)"),
        (lambda T: [T.Linear(2, 3), T.Linear(4, 1)], "layer 1 (Linear(in_features=4"),
        (lambda T: [T.Linear(2, 3), T.PReLU(2)], "has 2 slopes for a Linear of 3 outputs"),
        (lambda T: [T.Linear(2, 3), T.Softmax(dim=1)], "layer 1 (Softmax(dim=1)) is not supported"),
        (lambda T: [T.Identity()], "has no Linear layer"),
        (lambda T: [T.Linear(2, 0)], "layer 0 (Linear(in_features=2, out_features=0, bias=True)) has no outputs"),
        (lambda T: [T.Linear(2, 3), T.ReLU(), T.Linear(3, 0)], "layer 2 (Linear(in_features=3, out_features=0"),
    ],
)
def test_from_torch_refuses_naming_the_layer(layers, fragment):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors")  # torch, building Linear(n, 0)
        module = torch.nn.Sequential(*layers(torch.nn))
    with pytest.raises(ValueError) as e:
        from_torch(module)
    assert fragment in str(e.value)


def test_from_torch_takes_a_linear_of_no_inputs():
    """Linear(0, 2) computes its bias alone: an MLP of no inputs (n_inputs 0), on both paths."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors")
        module = torch.nn.Sequential(torch.nn.Linear(0, 2)).double()
    mlp = from_torch(module)
    assert [v.data for v in mlp([])] == module(torch.zeros(1, 0, dtype=torch.float64))[0].tolist()
    X = torch.zeros(3, 0, dtype=torch.float64)
    np.testing.assert_array_equal(micrograd.compile(mlp)(X.numpy()), module(X).detach().numpy())


def test_from_torch_takes_a_sequential_only():
    with pytest.raises(ValueError, match="wrap a single Linear"):
        from_torch(torch.nn.Linear(2, 2))


# ---------------------------------------------------------------- the lesson in docs/interop.md
def python_blocks(path):
    """The ```python blocks of a Markdown file, in order."""
    text, blocks = open(path).read(), []
    for part in text.split("```python\n")[1:]:
        blocks.append(part.split("```", 1)[0])
    return blocks


def test_docs_lesson_continues_the_same_loss_curve_in_pytorch(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(os.path.join(ROOT, "docs", "interop.md"))
    assert sum("mixed_curve" in b for b in blocks) == 1
    for block in blocks:  # every snippet of the page runs; the lesson's variables are kept
        namespace = {"__name__": "__docs__"}
        exec(compile(block, "docs/interop.md", "exec"), namespace)
        if "mixed_curve" in block:
            env = namespace
    ref, mixed = env["micrograd_curve"], env["mixed_curve"]
    assert len(ref) == len(mixed) == env["STEPS"] and ref[-1] < ref[0] / 5  # it learned
    assert isinstance(env["criterion"], torch.nn.Module) and len(env["second_half"]) == env["STEPS"] - env["SWITCH"]
    assert_close(mixed, ref, "the lesson's loss curves")
    assert "largest difference between the two curves" in capsys.readouterr().out


def test_zz_print_the_largest_differences(capsys):
    """Prints the largest differences the tests above measured (the closing note's numbers)."""
    if not WORST:  # run on its own: measure one model first
        test_mlp_exports_with_its_names("tanh", "neuron")
    with capsys.disabled():
        print("\nlargest differences measured (absolute, relative):")
        for what, (a, r) in sorted(WORST.items()):
            print(f"  {what:<34} {a:9.2e} {r:9.2e}")
