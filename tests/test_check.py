"""micrograd.check and ``python -m micrograd check FILE``.

The Value path's numbers in the report are checked against closed forms (a linear model with MSE),
the verdict against a real disagreement (a Python ``if`` on ``.data``, frozen at trace time, so the
compiled path takes the other branch), and the command line through real subprocesses (exit 0 / 1 / 2).
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import micrograd
from micrograd import nn
from micrograd.check import CheckFileError, run_file
from micrograd.cli import main
from micrograd.engine import Value


def linear_model(rng):
    model = nn.MLP(3, [1], rng=0)  # one linear layer: y = x.w + b
    for p in model.parameters():
        p.data = rng.uniform(-1, 1)
    return model


def test_report_holds_both_paths_and_matches_closed_forms():
    rng = np.random.default_rng(0)
    model = linear_model(rng)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=6)
    r = micrograd.check(model, X, y, loss="mse", l2=0.01)
    w = np.array([v.data for v in model.layers[0].neurons[0].w])
    b = model.layers[0].neurons[0].b.data
    res = X @ w + b - y
    loss = np.mean(res**2) + 0.01 * (w @ w + b * b)
    grads = np.r_[2 * X.T @ res / 6 + 0.02 * w, 2 * res.mean() + 0.02 * b]
    for got in (r.loss_value, r.loss_compiled):
        assert got == pytest.approx(loss, rel=1e-13)
    np.testing.assert_allclose(r.grads_value, grads, rtol=1e-12)
    np.testing.assert_allclose(r.grads_compiled, grads, rtol=1e-12)
    np.testing.assert_allclose(r.outputs_value[:, 0], X @ w + b, rtol=1e-13)
    assert r and r.passed and r.max_abs_diff <= 1e-15
    assert r.names == [
        "layers.0.neurons.0.w.0",
        "layers.0.neurons.0.w.1",
        "layers.0.neurons.0.w.2",
        "layers.0.neurons.0.b",
    ]
    assert "passed" in str(r) and "grad layers.0.neurons.0.b" in str(r) and "CheckReport passed" in repr(r)


@pytest.mark.parametrize(
    "loss, make_y",
    [
        ("cross_entropy", lambda r: r.integers(0, 3, size=8)),
        ("cross_entropy", lambda r: r.dirichlet(np.ones(3), size=8)),
        ("mse", lambda r: r.normal(size=(8, 3))),
        (lambda out, t: sum((o - t) ** 2 for o in out), lambda r: r.normal(size=8)),
        (None, lambda r: None),
    ],
)
def test_paths_agree_on_an_mlp(loss, make_y):
    rng = np.random.default_rng(1)
    model = nn.MLP(2, [6, 3], activation="prelu", rng=1)
    r = micrograd.check(model, rng.normal(size=(8, 2)), make_y(rng), loss=loss)
    assert r, str(r)
    assert r.outputs_value.shape == (8, 3) and len(r.grads_value) == len(model.parameters())
    assert r.max_rel_diff < 1e-12 or r.max_abs_diff < 1e-15
    assert 0 < np.abs(r.grads_value).max()  # the gradients really were computed


def frozen_if_model():
    """A Python if on .data: traced at 0.5 (the else branch), the Value path takes the other one for x > 0.5."""
    w = Value(0.8)

    def fn(xs):
        z = w * xs[0]
        return z.tanh() if xs[0].data > 0.5 else z

    return fn, [w]


def test_a_real_disagreement_fails_and_names_the_parameter():
    fn, params = frozen_if_model()
    X = np.array([[0.1], [2.0], [-1.0]])
    r = micrograd.check(fn, X, params=params, n_inputs=1)
    assert not r and not r.passed
    assert r.worst_param == "params.0"
    assert r.outputs_value[1, 0] == pytest.approx(np.tanh(1.6)) and r.outputs_compiled[1, 0] == pytest.approx(1.6)
    assert r.max_abs_diff == pytest.approx(1.6 - np.tanh(1.6))
    assert r.worst_abs == "output[1, 0]"
    assert "FAILED" in str(r) and "NO" in str(r).splitlines()[4]  # the worst row is listed first
    with pytest.raises(AssertionError):
        assert micrograd.check(fn, X, params=params, n_inputs=1)
    assert micrograd.check(fn, X, params=params, n_inputs=1, atol=1.0)  # the tolerance is the user's


def test_check_leaves_the_model_as_it_was():
    model = nn.MLP(2, [3, 1], rng=2)
    for p in model.parameters():
        p.grad = 7.0
    before = [p.data for p in model.parameters()]
    micrograd.check(model, np.ones((2, 2)), np.ones(2))
    assert [p.data for p in model.parameters()] == before and {p.grad for p in model.parameters()} == {7.0}


def test_check_refuses_bad_usage():
    model = nn.MLP(2, [1], rng=0)
    with pytest.raises(ValueError, match="needs targets y"):
        micrograd.check(model, np.ones((2, 2)), loss="mse")
    with pytest.raises(ValueError, match=r"expected \(N, 2\)"):
        micrograd.check(model, np.ones((2, 5)))
    with pytest.raises(ValueError, match="rtol and atol"):
        micrograd.check(model, np.ones((2, 2)), rtol=-1)


def test_default_inputs_and_a_long_table():
    model = nn.MLP(4, [8, 8, 2], rng=3)
    r = micrograd.check(model)
    assert r.outputs_value.shape == (8, 2)
    text = str(r)
    assert "report.table() lists all" in text and len(r.table().splitlines()) == 1 + 1 + 16 + len(model.parameters())


# ---------------------------------------------------------------- the command line
def write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


GOOD = """
    import numpy as np
    from micrograd import nn
    model = nn.MLP(2, [4, 3], rng=0)
    X = np.random.default_rng(0).normal(size=(5, 2))
    y = np.array([0, 1, 2, 1, 0])
    loss = "cross_entropy"
"""
BAD = """
    from micrograd.engine import Value
    w = Value(0.8)
    def model(xs):
        z = w * xs[0]
        return z.tanh() if xs[0].data > 0.5 else z
    params, n_inputs = [w], 1
    X = [[0.1], [2.0]]
"""


FIRST_RUN = "micrograd: compiling the kernel for "  # the line a kernel's first compilation prints


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "micrograd", "check", *args], capture_output=True, text=True, timeout=300
    )


def one_line(r, status, fragment):
    """The outcome of a run: exit status, and one line saying it (stdout for a verdict, stderr for an error)."""
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    text = r.stdout if status in (0, 1) else r.stderr
    text = "".join(ln for ln in text.splitlines(True) if not ln.startswith(FIRST_RUN))  # an empty cache says it
    assert text.count("\n") == 1 and fragment in text, text
    assert "Traceback" not in r.stdout + r.stderr, r.stderr
    if status == 2:
        assert text.startswith("micrograd: error:") and "micrograd.check passed" not in r.stdout


@pytest.mark.slow
def test_cli_exit_status_0_on_pass_and_1_on_fail(tmp_path):
    ok = cli(write(tmp_path, "good.py", GOOD))
    one_line(ok, 0, "micrograd.check passed")
    assert "loss 'cross_entropy'" in ok.stdout and "5 examples" in ok.stdout
    bad = cli(write(tmp_path, "bad.py", BAD))
    one_line(bad, 1, "micrograd.check FAILED")
    assert "worst parameter: params.0" in bad.stdout
    table = cli(write(tmp_path, "bad.py", BAD), "--all")  # the verdict line, then every quantity
    assert table.returncode == 1 and table.stdout.splitlines()[0] == bad.stdout.strip()
    assert "output[1, 0]" in table.stdout and len(table.stdout.splitlines()) == 2 + 1 + 2 + 1


# A file that cannot be checked: one line on stderr, exit status 2, whatever it does.
UNRUNNABLE = {
    "sys.exit(0) in the file": ("import sys\nsys.exit(0)\n", "called sys.exit(0)"),
    "sys.exit() in the model": (
        "import sys\nfrom micrograd.engine import Value\nw = Value(1.0)\n"
        "def model(xs):\n    sys.exit(3)\nparams, n_inputs = [w], 1\n",
        "called sys.exit(3)",
    ),
    "os._exit(0) in the file": ("import os\nos._exit(0)\n", "ended its process (exit status 0)"),
    "an exception in the model": (
        "from micrograd.engine import Value\nw = Value(1.0)\n"
        "def model(xs):\n    return [xs[0] * w, {}['missing']]\nparams, n_inputs = [w], 1\n",
        "KeyError: 'missing'",
    ),
    "a division by zero for one row of X": (
        "from micrograd.engine import Value\nw = Value(1.0)\n"
        "def model(xs):\n    return w / xs[0]\nparams, n_inputs = [w], 1\nX = [[1.0], [0.0]]\n",
        "ZeroDivisionError: division by zero: 1.0 / 0.0",
    ),
    "a log of a negative row of X": (
        "from micrograd.engine import Value\nw = Value(1.0)\n"
        "def model(xs):\n    return (w * xs[0]).log()\nparams, n_inputs = [w], 1\nX = [[1.0], [-2.0]]\n",
        "log(-2.0): log needs a positive input",
    ),
    "input() in the file": ("name = input()\n", "raised EOFError"),
    "a syntax error": ("model = (\n", "SyntaxError"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", UNRUNNABLE)
def test_a_file_that_cannot_be_checked_is_one_line_with_status_2(tmp_path, case):
    body, fragment = UNRUNNABLE[case]
    one_line(cli(write(tmp_path, "m.py", body)), 2, fragment)


@pytest.mark.slow
@pytest.mark.parametrize(
    "body, phase",
    [
        ("while True:\n    pass\n", "running the file"),
        (
            "from micrograd.engine import Value\nw = Value(1.0)\ndef model(xs):\n    while True:\n        pass\n"
            "params, n_inputs = [w], 1\n",
            "checking its model",
        ),
    ],
    ids=["a file", "a model"],
)
def test_timeout_ends_what_never_returns(tmp_path, body, phase):
    import time

    start = time.monotonic()
    r = cli(write(tmp_path, "m.py", body), "--timeout", "3")
    assert time.monotonic() - start < 30  # the 3 s of the file (or of the check), plus starting Python twice
    one_line(r, 2, f"did not finish within 3 s ({phase})")
    assert "--timeout" in r.stderr


@pytest.mark.slow
def test_the_file_runs_as_python_file_would(tmp_path):
    """Its folder on sys.path (a helper module beside it imports), sys.argv[0] the file, the caller's cwd."""
    (tmp_path / "helper.py").write_text("from micrograd import nn\nMODEL = nn.MLP(2, [3, 1], rng=0)\n")
    body = "import os, sys\nfrom helper import MODEL as model\nprint(sys.argv[0], os.getcwd())\n"
    path = write(tmp_path, "m.py", body)
    r = subprocess.run(
        [sys.executable, "-m", "micrograd", "check", path], capture_output=True, text=True, timeout=300, cwd="/"
    )
    assert r.returncode == 0, r.stderr
    printed, verdict = r.stdout.splitlines()
    assert printed == f"{path} /" and verdict.startswith("micrograd.check passed")


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("x = 1\n", "defines no 'model'"),
        ("raise RuntimeError('boom')\n", "raised RuntimeError: boom"),
        ("from micrograd import nn\nmodel = nn.MLP(2, [1])\nX = [[1.0, 2.0, 3.0]]\n", "expected (N, 2)"),
        ("model = lambda xs: xs[0]\n", "pass params="),
    ],
)
def test_run_file_refuses_in_one_line(tmp_path, body, fragment):
    """The file checked in this process (micrograd.check.run_file): a CheckFileError of one line."""
    with pytest.raises(CheckFileError) as e:
        run_file(write(tmp_path, "m.py", body))
    assert fragment in str(e.value) and "\n" not in str(e.value)


@pytest.mark.slow
def test_cli_usage_errors_are_one_line_with_status_2(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    path = write(tmp_path, "bad.py", BAD)
    assert main(["check", path, "--atol", "10"]) == 0  # a loose tolerance from the command line wins
    assert "passed" in capsys.readouterr().out
    for bad in ("0", "-1", "nan", "soon"):
        assert main(["check", path, "--timeout", bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--timeout" in err, err


# ---------------------------------------------------------------- PyTorch stays optional
HIDE_TORCH = """
import sys
class HideTorch:  # as if torch were not installed
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, HideTorch())
"""


def python(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_import_micrograd_and_check_never_import_torch():
    r = python("""
        import sys
        import numpy as np
        import micrograd
        from micrograd import nn
        assert "torch" not in sys.modules, "import micrograd imported torch"
        assert micrograd.check(nn.MLP(2, [3, 1], rng=0), np.ones((2, 2)), np.ones(2))
        micrograd.compile(nn.MLP(2, [1], rng=0))(np.ones((1, 2)))
        print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_interop_without_torch_names_the_install_command():
    r = python(
        HIDE_TORCH
        + textwrap.dedent("""
        import numpy as np
        import micrograd
        from micrograd import nn
        assert micrograd.check(nn.MLP(2, [1], rng=0), np.ones((2, 2)))  # everything but interop still works
        try:
            import micrograd.interop
        except ImportError as e:
            print(e)
        else:
            print("imported")
    """)
    )
    assert r.returncode == 0, r.stderr
    assert "micrograd.interop needs PyTorch" in r.stdout and "pip install torch==2.13.0" in r.stdout
    assert "'reference' extra" in r.stdout
