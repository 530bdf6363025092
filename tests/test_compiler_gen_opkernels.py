"""The generated per-op dispatch (micrograd/compiler/opkernels.py): checked in, current, derived from the op
table alone, and covered by the kernel cache's staleness hash; the opcode constants are plain names."""

import ast
import inspect
from pathlib import Path

import pytest

from micrograd import ops
from micrograd.compiler import gen_opkernels, jit, kernels, opkernels

FUNCTIONS = ("vec_forward", "vec_backward", "scalar_forward", "scalar_backward")


def test_checked_in_opkernels_is_what_the_generator_writes():
    text = Path(opkernels.__file__).read_text(encoding="utf-8")
    assert text == gen_opkernels.source(), f"micrograd/compiler/opkernels.py is stale: run {gen_opkernels.COMMAND}"
    assert gen_opkernels.main(["--check"]) == 0


def _branches(text: str) -> dict:
    """{function name: [opcode constant of each branch, in order]} of a generated module's source."""
    out = {}
    for fn in ast.parse(text).body:
        if isinstance(fn, ast.FunctionDef):
            names, node = [], fn.body[1]  # body[0] is the docstring
            while isinstance(node, ast.If):
                names.append(node.test.comparators[0].attr)
                node = node.orelse[0] if node.orelse else None
            out[fn.name] = names
    return out


def test_every_op_has_one_branch_per_generated_function_in_table_order():
    want = [op.name.upper() for op in ops.OPS]
    assert _branches(Path(opkernels.__file__).read_text(encoding="utf-8")) == {f: want for f in FUNCTIONS}


def test_a_new_row_in_the_table_makes_the_file_stale_and_gets_its_branches(monkeypatch, capsys):
    def cube(x, y, arg):
        return x * x * x

    def cube_back(x, y, arg, out):
        return 3.0 * x * x, 0.0

    code = len(ops.OPS)
    new = ops.Op(name="cube", arity=1, symbol="cube", forward=cube, backward=cube_back, grad_text=("3{x}²",), code=code)
    for name, value in (("cube", cube), ("cube_back", cube_back), ("CUBE", code), ("OPS", ops.OPS + (new,))):
        monkeypatch.setattr(ops, name, value, raising=False)
    assert gen_opkernels.stale()
    assert gen_opkernels.main(["--check"]) == 1
    assert gen_opkernels.COMMAND in capsys.readouterr().err
    text = gen_opkernels.source()
    assert {f: names[-1] for f, names in _branches(text).items()} == {f: "CUBE" for f in FUNCTIONS}
    assert text.count("ops.cube(") == 2 and text.count("ops.cube_back(") == 2


def test_the_generator_refuses_a_row_it_cannot_reach_by_name(monkeypatch):
    row = ops.OPS[0]._replace(forward=lambda x, y, arg: x)
    with pytest.raises(ValueError, match="top level of micrograd/ops.py"):
        gen_opkernels.source((row,))
    with pytest.raises(ValueError, match="opcode constant CUBE"):
        gen_opkernels.source((ops.OPS[0]._replace(name="cube"),))


def test_the_kernel_cache_hash_covers_the_generated_file_and_the_table():
    assert opkernels in kernels.DEPENDENCIES and ops in kernels.DEPENDENCIES
    assert jit in kernels.DEPENDENCIES  # the options every kernel is compiled with (error_model, cache)
    # the dispatch the interpreters call is the generated one
    assert kernels.vec_forward is opkernels.vec_forward and kernels.scalar_backward is opkernels.scalar_backward


def test_opcodes_are_explicit_constants_not_globals_update():
    source = inspect.getsource(ops)
    assert "globals()" not in source
    for op in ops.OPS:
        assert getattr(ops, op.name.upper()) == op.code, op.name
    assert "pow" not in vars(ops), "ops.pow would shadow the builtin in `from micrograd.ops import *`"
    assert ops.BY_NAME["pow"].forward is ops.pow_
