"""Generated kernels (micrograd/compiler/codegen.py): a kernel holds exactly the features asked for, every op
of the table gets its branches from the table alone, a process compiles a few kernels at most, kernels of
the current sources are found again on disk, and the generated text of the moons kernel is pinned."""

import ast
import random
import re
from pathlib import Path

import numpy as np

import micrograd
from micrograd import losses, nn, ops
from micrograd.compiler import codegen
from micrograd.compiler.ir import LOSSES
from micrograd.engine import Value

GOLDEN = Path(__file__).parent / "golden" / "kernel_relu_hinge_sgd.txt"
MOONS = frozenset({"relu", "loss:hinge", "train", "sgd"})


def _branches(text: str, where: str) -> list:
    """The op names of the branches in ``where``: a function of the kernel (``forward_op``,
    ``backward_scalars``, ...), or run's loop over the instructions ("run forward", "run backward")."""
    lines = text.splitlines()
    if where.startswith("run "):
        first = "i = 0" if where == "run forward" else "i = ni - 1"
        start = next(i for i, line in enumerate(lines) if line.strip() == first)
        end = next(i for i in range(start, len(lines)) if lines[i] in ("            i += 1", "            i -= 1"))
    else:
        start = lines.index(next(line for line in lines if line.startswith(f"def {where}(")))
        end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(("def ", "@")))
    found = (re.match(r"\s*(?:el)?if c == \d+:  # (\w+)$", line) for line in lines[start:end])
    return [m.group(1) for m in found if m]


def test_every_op_of_the_table_has_a_forward_and_a_backward_branch_calling_its_functions():
    text = codegen.source(codegen.FULL)
    ast.parse(text)
    want = [op.name for op in ops.OPS]
    for where in ("forward_op", "backward_op", "forward_scalars", "backward_scalars"):
        assert _branches(text, where) == want, where
    assert _branches(text, "run forward") == [] and "known = forward_op(c, " in text  # run calls them
    for op in ops.OPS:  # vector loop and scalar run, forward and backward
        assert text.count(f"ops.{op.forward.__name__}(") == 2, op.name
        assert text.count(f"ops.{op.backward.__name__}(") == 2, op.name


def test_a_kernel_holds_only_the_ops_and_losses_asked_for():
    text = codegen.source(MOONS)
    assert _branches(text, "run forward") == ["relu"] and _branches(text, "run backward") == ["relu"]
    assert "def forward_op" not in text  # a kernel of a few ops has their branches in run
    assert "k.hinge(" in text and "k.cross_entropy(" not in text and "k.adam(" not in text
    assert "n * B == 1" not in text  # no scalar runs unless asked
    assert "k.sgd(" in text and "shuffled" not in text and "clip_norm" not in text
    forward_only = codegen.source(frozenset({"relu"}))
    assert "k.sgd(" not in forward_only and "zg[j]" not in forward_only and "k.dense_backward" not in forward_only


def test_a_new_row_of_the_table_gets_its_branches(monkeypatch):
    def cube(x, y, arg):
        return x * x * x

    def cube_back(x, y, arg, out):
        return 3.0 * x * x, 0.0

    new = ops.Op(name="cube", arity=1, symbol="cube", forward=cube, backward=cube_back, grad_text=("3x²",),
                 code=len(ops.OPS))  # fmt: skip
    monkeypatch.setattr(ops, "OPS", ops.OPS + (new,))
    monkeypatch.setattr(ops, "cube", cube, raising=False)
    monkeypatch.setattr(ops, "cube_back", cube_back, raising=False)
    text = codegen.source(frozenset({"relu", "cube", "train", codegen.RUNS}))
    assert _branches(text, "run forward") == ["relu", "cube"] == _branches(text, "run backward")
    assert _branches(text, "forward_scalars") == ["relu", "cube"] == _branches(text, "backward_scalars")
    assert text.count("ops.cube(") == 2 and text.count("ops.cube_back(") == 2  # a vector loop and a scalar run


def test_the_generated_moons_kernel_is_the_golden_one():
    """A change to the template or the generator shows here as a diff (update the golden file with it)."""
    text = codegen.source(MOONS)
    body = "\n".join(line for line in text.splitlines() if not line.startswith("Sources digest:"))
    assert body + "\n" == GOLDEN.read_text(encoding="utf-8")


def _mlp(**kw):
    return micrograd.compile(nn.MLP(2, [4, 3], rng=random.Random(0), **kw))


def test_features_of_a_program_are_its_ops_its_loss_and_what_the_call_adds():
    cm = _mlp()
    assert codegen.features(cm.program) == {"relu"}
    prog = cm.training_program("cross_entropy")
    assert codegen.features(prog, train=True, update="adam") == {"relu", "loss:cross_entropy", "train", "adam"}
    assert codegen.features(prog, train=True, shuffle=True, clip=True) >= {"shuffle", "clip"}
    assert codegen.features(_mlp(activation="tanh").program) == {"tanh"}
    custom = cm.training_program(lambda out, t: (out[0] - t[0]) ** 2, target_width=1)
    assert codegen.features(custom, train=True) == {"relu", "sub", "pow", "targets", "valueloss", "train"}
    a, b = Value(0.5), Value(-1.0)
    chain = micrograd.compile(lambda xs: sum((a * xs[0] * b).tanh() for _ in range(70)), n_inputs=1, params=[a, b])
    feats = codegen.features(chain.program)
    assert codegen.RUNS in feats and {"mul", "tanh", "add", "inputs", "params", "consts"} <= feats


class RecordingStore(codegen.KernelStore):
    """A store that records which kernels it would write instead of compiling them."""

    def __init__(self, folder):
        super().__init__(str(folder))
        self.written: list = []

    def _load(self, feats):
        for _, module in self.loaded:
            if module.FEATURES == feats:
                return module
        self.written.append(feats)
        module = type(f"Kernel{len(self.written)}", (), {"FEATURES": feats})
        self.loaded.append((feats, module))
        return module


def test_a_process_compiles_what_it_needs_then_the_union_then_everything(tmp_path):
    store = RecordingStore(tmp_path)
    first = store.kernel(MOONS)
    assert store.written == [MOONS]
    assert store.kernel(frozenset({"relu"})) is first  # covered: nothing new
    store.kernel(frozenset({"tanh", "loss:mse", "train"}))
    assert store.written[1] == MOONS | {"tanh", "loss:mse"} | codegen.TRAINING  # it trains: all of training
    store.kernel(frozenset({"sigmoid"}))
    assert store.written[2] == codegen.FULL
    store.kernel(frozenset({"exp", "loss:cross_entropy", "adam", "gather", codegen.RUNS}))
    assert len(store.written) == 3  # the full kernel covers it


def test_a_second_kernel_that_does_not_train_holds_no_training(tmp_path):
    store = RecordingStore(tmp_path)
    store.kernel(frozenset({"relu"}))
    store.kernel(frozenset({"tanh"}))
    assert store.written == [{"relu"}, {"relu", "tanh"}]


def test_each_dtype_compiles_what_it_needs_not_the_other_dtypes_full_kernel(tmp_path):
    store = RecordingStore(tmp_path)
    for needs in (MOONS, MOONS | {"adam"}, frozenset({"sigmoid"})):
        store.kernel(needs)
    assert store.written == [MOONS, MOONS | codegen.TRAINING, codegen.FULL]
    first32 = store.kernel(MOONS, np.float32)  # float64's first kernel, now compiled for float32 too
    assert len(store.written) == 3 and first32.FEATURES == MOONS
    assert store.kernel(MOONS | {"adam"}, "float32").FEATURES == MOONS | codegen.TRAINING  # the union, not FULL
    assert store.kernel(frozenset({"relu"}), "float32").FEATURES == MOONS  # the smallest compiled for float32
    assert store.kernel(frozenset({"tanh"}), "float32").FEATURES == codegen.FULL
    assert len(store.written) == 3 and store.compiled == {"float64": 3, "float32": 3}


def test_kernels_written_before_are_found_through_the_index_for_their_dtypes(tmp_path):
    store = codegen.KernelStore(str(tmp_path))
    name = "micrograd_kernel_test"
    (tmp_path / f"{name}.py").write_text("FEATURES = None\n")
    store._record(name, MOONS | {"tanh"}, "float64")
    assert store._index() == {name: (MOONS | {"tanh"}, {"float64"})}
    later = codegen.KernelStore(str(tmp_path))  # another process: it loads the file instead of writing a kernel
    loaded = []

    def load(feats):
        loaded.append(feats)
        return type(name, (), {"FEATURES": feats})

    later._load = load  # type: ignore[method-assign]
    recorded: list = []
    later._record = lambda *a: recorded.append(a)  # type: ignore[method-assign]
    assert later.kernel(frozenset({"tanh", "train"})).FEATURES == MOONS | {"tanh"} and later.compiled == {}
    assert recorded == []  # found through the index: nothing to write back
    later.kernel(frozenset({"tanh", "train"}), "float32")  # not compiled for float32 before: its own kernel
    assert loaded[1] == {"tanh", "train"} and later.compiled == {"float32": 1}
    assert recorded == [(name, frozenset({"tanh", "train"}), "float32")]
    store._record(name, MOONS | {"tanh"}, "float32")
    assert store._index()[name][1] == {"float64", "float32"}
    # an index entry of other sources is ignored
    entries = (tmp_path / "index.json").read_text().replace(codegen._digest(), "0" * 16)
    (tmp_path / "index.json").write_text(entries)
    assert store._index() == {}


def test_named_losses_are_fused_into_one_instruction_and_agree_with_the_value_path():
    rng = np.random.default_rng(0)
    model = nn.MLP(3, [5, 4], rng=random.Random(1))
    cm = micrograd.compile(model)
    X = rng.normal(size=(6, 3))
    targets = {"mse": rng.normal(size=(6, 4)), "cross_entropy": rng.integers(0, 4, 6)}
    for name, y in targets.items():
        prog = cm.training_program(name)
        assert prog.fused_loss == name and prog.counts()["loss"] == 1 and len(prog) == len(cm.program) + 1
        loss, grads = cm.loss_and_grad(X, y, loss=name)
        model.zero_grad()
        fn = losses.BY_NAME[name]
        rows = [list(r) if np.ndim(r) else int(r) for r in y]
        ref = losses.batch_loss(fn, [model(list(x)) for x in X], rows)
        ref.backward()
        assert abs(loss - ref.data) <= 1e-12 * abs(ref.data)
        want = np.array([p.grad for p in model.parameters()])
        np.testing.assert_allclose(grads, want, rtol=1e-12, atol=1e-14)
    assert set(LOSSES) == {n for n, spec in losses.REGISTRY.items()}


def test_a_model_whose_outputs_are_not_one_block_in_order_gets_a_gather_before_its_loss():
    a, b = Value(0.3), Value(-0.7)

    def fn(xs):
        y = a * xs[0] + b
        return [y, y]  # one slot, read twice

    cm = micrograd.compile(fn, n_inputs=1, params=[a, b])
    prog = cm.training_program("mse")
    assert prog.fused_loss == "mse" and prog.counts()["gather"] == 1
    X = np.array([[0.5], [-2.0]])
    y = np.array([[1.0, 2.0], [-1.0, 0.5]])
    value, grads = cm.loss_and_grad(X, y, loss="mse")
    a.grad = b.grad = 0.0
    ref = losses.batch_loss(losses.mse, [fn(list(x)) for x in X], [list(r) for r in y])
    ref.backward()
    assert abs(value - ref.data) <= 1e-15
    np.testing.assert_allclose(grads, [a.grad, b.grad], rtol=1e-15)


def test_a_learner_can_read_the_kernel_a_call_runs(capsys):
    m = nn.MLP(2, [4, 1], rng=random.Random(0))
    cm = micrograd.compile(m)
    text = cm.kernel_source("hinge", micrograd.optim.SGD(m.parameters(), lr=0.1))
    assert text.startswith('"""A micrograd kernel for relu, loss hinge, training (sgd).')
    assert "k.hinge(" in text and "k.sgd(" in text and _branches(text, "run forward") == ["relu"]
    assert "loss" not in codegen.describe(codegen.features(cm.program)) and "k.dense_backward" not in cm.kernel_source()
    assert codegen.main(["relu", "loss:hinge", "train", "sgd"]) == 0
    assert capsys.readouterr().out == codegen.source(MOONS)
    assert codegen.main(["relux"]) == 2 and "unknown features ['relux']" in capsys.readouterr().err
