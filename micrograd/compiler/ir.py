"""The IR: a program as flat typed NumPy arrays, its validator and its printer.

A ``Program`` is plain data. Instruction ``i`` is the row ``i`` of

    op[i]   int32   opcode: 0..len(ops.OPS)-1 are the op table's ops, then DENSE, GATHER
    out[i]  int64   first output slot
    a[i]    int64   first slot of operand x (DENSE: of its input block; GATHER: offset into gidx)
    b[i]    int64   first slot of operand y (binary ops), -1 for unary ops;
                    DENSE: the bias offset in the parameter vector, -1 without bias
    n[i]    int64   element count: an op-table op with n > 1 is the vector op
                    out[j] = f(x[j], y[j], arg) over n contiguous slots; DENSE: rows
    k[i]    int64   DENSE: inner dimension (columns of W); else 0
    p[i]    int64   DENSE: offset of the row-major (n, k) W block in the parameter vector; else -1
    arg[i]  float64 the op's constant argument (exponent, slope, ...)

Slots hold one value per example (the kernels store them as rows of an
(n_slots, batch) array). Before the first instruction the runtime fills the
input slots, target slots, constant slots (``const_slots``/``const_vals``) and
the parameter slots of parameters used by scalar ops (``param_slots`` holds
the value of ``theta[param_index]``). ``theta`` is the compiled parameter
vector, a permutation of ``model.parameters()``: ``theta[j] = params[perm[j]]``;
a training program (one with a loss) uses the layout of the model's forward
program, whatever its loss. ``requires_grad[s]`` says whether backward needs
slot ``s``'s gradient: ``s`` depends on a parameter (backward skips the rest).
A training program holds only what its loss depends on (``output_slots`` are
then the outputs the loss reads), so backward visits exactly what the Value
path's ``loss.backward()`` visits. Every slot is written at most once (SSA).

The kernels read a program as two NamedTuples, built once per program and
read by field name: ``Program.code`` (``Code``: the instruction arrays, the
gather indices, ``requires_grad`` and the loss slot) and ``Program.leaves``
(``Leaves``: the slot tables above); ``Program.kernel_args`` holds them as
the plain tuples the kernels are called with.

``validate`` checks all of that; ``format_program`` prints one line per
instruction, e.g. ``%12:16 = dense %0:2 W=p[0:32] b=p[32:48]``.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import NamedTuple

import numpy as np

from micrograd import ops

NOPS = len(ops.OPS)
DENSE = NOPS
GATHER = NOPS + 1
BLAS_MIN = 1024  # weights of a DENSE from which kernels include BLAS (docs/benchmarks.md, Tuning decisions)
OP_NAMES = tuple(op.name for op in ops.OPS) + ("dense", "gather")
INT_FIELDS = ("out", "a", "b", "n", "k", "p")
DEBUG_VALIDATE = os.environ.get("MICROGRAD_VALIDATE", "") == "1"


class Code(NamedTuple):
    """What the kernels' interpreters read: one row per instruction (fields as in the module docstring)."""

    op: np.ndarray  # (n_instr,) int32
    out: np.ndarray  # (n_instr,) int64
    a: np.ndarray  # (n_instr,) int64
    b: np.ndarray  # (n_instr,) int64
    n: np.ndarray  # (n_instr,) int64
    k: np.ndarray  # (n_instr,) int64
    p: np.ndarray  # (n_instr,) int64
    arg: np.ndarray  # (n_instr,) float64
    gidx: np.ndarray  # (total gathered,) int64 source slots of the GATHERs
    requires_grad: np.ndarray  # (n_slots,) uint8
    loss_slot: int  # -1 in a program without loss
    blas: np.ndarray | None  # None: every DENSE runs as loops; an empty array: big ones call BLAS (np.dot)


class Leaves(NamedTuple):
    """What ``kernels.load`` fills before the first instruction: slot tables, one entry per leaf."""

    input_slots: np.ndarray  # (n_inputs,) int64: slot of input column j
    target_slots: np.ndarray  # (target width,) int64: slot of target column j
    const_slots: np.ndarray  # (n_consts,) int64
    const_vals: np.ndarray  # (n_consts,) float64
    param_slots: np.ndarray  # (n_scalar_params,) int64: parameters read by scalar ops ...
    param_index: np.ndarray  # (n_scalar_params,) int64: ... hold theta[param_index]


# every array of a Program, in the order tobytes() writes them
ARRAYS = tuple(f for f in Code._fields if f not in ("loss_slot", "blas")) + Leaves._fields + ("output_slots", "perm")


class Program:
    """A lowered program (see the module docstring for the meaning of every array)."""

    # the integer instruction columns (INT_FIELDS), set in __init__ by name
    out: np.ndarray
    a: np.ndarray
    b: np.ndarray
    n: np.ndarray
    k: np.ndarray
    p: np.ndarray

    def __init__(
        self,
        rows,
        gidx,
        n_slots,
        input_slots,
        target_slots,
        output_slots,
        loss_slot,
        param_slots,
        param_index,
        const_slots,
        const_vals,
        perm,
        requires_grad,
    ):
        cols = list(zip(*rows)) if rows else [()] * 8
        self.op = np.array(cols[0], dtype=np.int32)
        for name, col in zip(INT_FIELDS, cols[1:7]):
            setattr(self, name, np.array(col, dtype=np.int64))
        self.arg = np.array(cols[7], dtype=np.float64)
        self.gidx = np.asarray(gidx, dtype=np.int64)
        self.n_slots = int(n_slots)
        self.input_slots = np.asarray(input_slots, dtype=np.int64)
        self.target_slots = np.asarray(target_slots, dtype=np.int64)
        self.output_slots = np.asarray(output_slots, dtype=np.int64)
        self.loss_slot = int(loss_slot)
        self.param_slots = np.asarray(param_slots, dtype=np.int64)
        self.param_index = np.asarray(param_index, dtype=np.int64)
        self.const_slots = np.asarray(const_slots, dtype=np.int64)
        self.const_vals = np.asarray(const_vals, dtype=np.float64)
        self.perm = np.asarray(perm, dtype=np.int64)
        self.requires_grad = np.asarray(requires_grad, dtype=np.uint8)
        self.source_nodes = 0  # how many Value nodes were lowered (set by passes.lower)

    def __len__(self) -> int:
        return len(self.op)

    @property
    def n_params(self) -> int:
        return len(self.perm)

    def tobytes(self) -> bytes:
        """Every array's bytes plus the scalar fields: equal programs give equal bytes."""
        head = np.array([self.n_slots, self.loss_slot], dtype=np.int64).tobytes()
        return head + b"".join(getattr(self, f).tobytes() for f in ARRAYS)

    @cached_property
    def blas(self) -> np.ndarray | None:
        """None when no DENSE has BLAS_MIN weights: the kernels then compile without np.dot (whose code is
        most of their cold compile time), else an empty array. ``kernels.SMALL`` decides per call."""
        big = (self.n * self.k)[self.op == DENSE]
        return np.zeros(0) if big.size and big.max() >= BLAS_MIN else None

    @cached_property
    def code(self) -> Code:
        """The instruction arrays as the kernels take them (the same arrays, not copies)."""
        return Code(*(getattr(self, f) for f in Code._fields))

    @cached_property
    def leaves(self) -> Leaves:
        """The leaf slot tables as ``kernels.load`` takes them (the same arrays, not copies)."""
        return Leaves(*(getattr(self, f) for f in Leaves._fields))

    @cached_property
    def kernel_args(self) -> tuple:
        """(tuple(code), tuple(leaves)): what the kernels are called with (plain tuples: see kernels.py)."""
        return tuple(self.code), tuple(self.leaves)

    @cached_property
    def dense_work(self) -> int:
        """Multiply-adds of the DENSE ops per example (decides whether batch chunks run in parallel)."""
        return int((self.n * self.k)[self.op == DENSE].sum())

    def counts(self) -> dict:
        """How many instructions of each mnemonic (for summaries and diagrams)."""
        names, nums = np.unique(self.op, return_counts=True)
        return {OP_NAMES[c]: int(m) for c, m in zip(names, nums)}

    def __str__(self) -> str:
        return format_program(self)

    def __repr__(self) -> str:
        return (
            f"<Program {len(self)} instructions {self.counts()}, {self.n_slots} slots, "
            f"{self.n_params} params; print() it for the listing>"
        )


# ---------------------------------------------------------------- printer
def _slots(s: int, n: int) -> str:
    return f"%{s}" if n == 1 else f"%{s}:{n}"


def format_instruction(prog: Program, i: int) -> str:
    op, o, a, b, n, k, p = (int(getattr(prog, f)[i]) for f in ("op",) + INT_FIELDS)
    if op == DENSE:
        bias = f" b=p[{b}:{b + n}]" if b >= 0 else ""
        return f"{_slots(o, n)} = dense {_slots(a, k)} W=p[{p}:{p + n * k}]{bias}"
    if op == GATHER:
        src = " ".join(f"%{s}" for s in prog.gidx[a : a + n])
        return f"{_slots(o, n)} = gather [{src}]"
    if not 0 <= op < NOPS:
        return f"{_slots(o, n)} = <bad opcode {op}> {_slots(a, n)}"
    name = OP_NAMES[op]
    text = f"{_slots(o, n)} = {name} {_slots(a, n)}"
    if b >= 0:
        text += f" {_slots(b, n)}"
    if ops.OPS[op].symbol.find("{arg}") >= 0 or prog.arg[i] != 0.0:
        text += f" arg={float(prog.arg[i])!r}"
    return text


def format_program(prog: Program) -> str:
    """The program, one line per instruction, preceded by its slot maps."""
    lines = [f"# {len(prog)} instructions, {prog.n_slots} slots, {prog.n_params} parameters"]
    if len(prog.input_slots):
        lines.append("inputs  " + " ".join(f"%{s}" for s in prog.input_slots))
    if len(prog.target_slots):
        lines.append("targets " + " ".join(f"%{s}" for s in prog.target_slots))
    for s, v in zip(prog.const_slots, prog.const_vals):
        lines.append(f"const   %{s} = {float(v)!r}")
    for s, j in zip(prog.param_slots, prog.param_index):
        lines.append(f"param   %{s} = p[{j}]")
    lines += [format_instruction(prog, i) for i in range(len(prog))]
    lines.append("outputs " + " ".join(f"%{s}" for s in prog.output_slots))
    if prog.loss_slot >= 0:
        lines.append(f"loss    %{prog.loss_slot}")
    return "\n".join(lines)


# ---------------------------------------------------------------- validator
def validate(prog: Program) -> Program:
    """Check the program's invariants; raise ValueError naming the first broken one. Returns prog."""
    S, P = prog.n_slots, prog.n_params
    defined = np.zeros(S, dtype=bool)

    def fail(msg):
        raise ValueError(f"invalid program: {msg}")

    class Where:  # the failing instruction's text, formatted only when a check fails
        def __init__(self, i):
            self.i = i

        def __str__(self):
            return f"instruction {self.i} ({format_instruction(prog, self.i)})"

    def define(s, n, what):
        if s < 0 or s + n > S or n < 1:
            fail(f"{what}: slots {s}:{s + n} out of range 0:{S}")
        if defined[s : s + n].any():
            fail(f"{what}: slot written twice in {s}:{s + n}")
        defined[s : s + n] = True

    def use(s, n, what):
        if s < 0 or s + n > S or not defined[s : s + n].all():
            fail(f"{what}: reads slots {s}:{s + n} before they are defined")

    for name, slots in (
        ("input", prog.input_slots),
        ("target", prog.target_slots),
        ("const", prog.const_slots),
        ("param", prog.param_slots),
    ):
        for s in slots:
            define(int(s), 1, f"{name} slot {s}")
    if sorted(prog.perm.tolist()) != list(range(P)):
        fail("perm is not a permutation of the parameters")
    if len(prog.param_index) and (prog.param_index.min() < 0 or prog.param_index.max() >= P):
        fail("param_index out of range")
    if len(prog.requires_grad) != S:
        fail("requires_grad must have one entry per slot")
    for i in range(len(prog)):
        op, o, a, b, n, k, p = (int(getattr(prog, f)[i]) for f in ("op",) + INT_FIELDS)
        what = Where(i)
        if op == DENSE:
            use(a, k, what)
            if p < 0 or p + n * k > P or (b >= 0 and b + n > P) or k < 1:
                fail(f"{what}: parameter block out of range 0:{P}")
        elif op == GATHER:
            if a < 0 or a + n > len(prog.gidx):
                fail(f"{what}: gather indices out of range")
            for s in prog.gidx[a : a + n]:
                use(int(s), 1, what)
        elif 0 <= op < NOPS:
            use(a, n, what)
            if (ops.OPS[op].arity == 2) != (b >= 0):
                fail(f"{what}: arity {ops.OPS[op].arity} does not match operand b={b}")
            if b >= 0:
                use(b, n, what)
        else:
            fail(f"{what}: unknown opcode {op}")
        define(o, n, what)
    for s in prog.output_slots:
        use(int(s), 1, f"output slot {s}")
    if prog.loss_slot >= 0:
        use(prog.loss_slot, 1, f"loss slot {prog.loss_slot}")
    return prog
