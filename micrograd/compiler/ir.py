"""The IR: a program as flat typed NumPy arrays, its validator, its printer and its packed form.

A ``Program`` is plain data. Instruction ``i`` is the row ``i`` of

    op[i]   int32   opcode: 0..len(ops.OPS)-1 are the op table's ops, then DENSE, GATHER, LOSS
    out[i]  int64   first output slot
    a[i]    int64   first slot of operand x (DENSE: of its input block; GATHER: offset into gidx;
                    LOSS: of the model outputs it reads)
    b[i]    int64   first slot of operand y (binary ops), -1 for unary ops;
                    DENSE: theta position of the first bias, -1 without bias
    n[i]    int64   element count: an op-table op with n > 1 is the vector op
                    out[j] = f(x[j], y[j], arg) over n contiguous slots; DENSE: rows; LOSS: outputs read
    k[i]    int64   DENSE: inner dimension (columns of W); LOSS: which loss (index in LOSSES); else 0
    p[i]    int64   DENSE: theta position of W[0, 0]; else -1
    ld[i]   int64   DENSE: W's row stride in theta, W[r, j] = theta[p + r*ld + j] (ld >= k); else 0
    bs[i]   int64   DENSE: the bias stride, bias[r] = theta[b + r*bs]; else 0
    arg[i]  float64 the op's constant argument (exponent, slope, ...)

``theta`` is the compiled parameter vector: ``theta[j]`` is ``params[j]``, the
model's own parameter order (``model.parameters()``). A DENSE reads its
weights and biases where they are: a Neuron stores ``w`` then ``b``, so an
MLP layer's W rows are ``k + 1`` apart and its biases follow each row.

Slots hold one value per example (the kernels store them as rows of an
(n_slots, batch) array). Input slots are ``0 .. n_inputs-1``; a DENSE whose
input block lies inside them reads the inputs where they are, the rows of X.
Before the first instruction the kernel fills the input slots other
instructions read, the target slots (a loss built from Values), constant slots
(``const_slots``/``const_vals``) and the parameter slots of parameters used by
single ops (``param_slots`` holds ``theta[param_index]``). ``requires_grad[s]``
says whether backward needs slot ``s``'s gradient (``s`` depends on a
parameter). Every slot is written at most once (SSA).

A training program ends with its loss. A named loss is one LOSS instruction
(``%12 = loss.cross_entropy %9:3``) that reads the model's outputs and the
target rows of Y, writes each example's loss into its slot and, when training,
the loss's gradient into its inputs' gradient rows, in one pass over the batch.
A loss built from Values is lowered op by op; ``loss_slot`` is its last slot.

``validate`` checks all of that; ``format_program`` prints one line per
instruction, e.g. ``%12:16 = dense %0:2 W=p[0:48|3] b=p[2::3]``; ``pack`` gives
the two flat arrays the generated kernels read (layout: ``HEAD`` and ``F_*``).
"""

from __future__ import annotations

import os
from functools import cached_property

import numpy as np

from micrograd import ops

NOPS = len(ops.OPS)
DENSE = NOPS
GATHER = NOPS + 1
LOSS = NOPS + 2
OP_NAMES = tuple(op.name for op in ops.OPS) + ("dense", "gather", "loss")
LOSSES = ("hinge", "mse", "bce_with_logits", "cross_entropy")  # LOSS's k: the fused losses of micrograd.losses
INT_FIELDS = ("out", "a", "b", "n", "k", "p", "ld", "bs")
DEBUG_VALIDATE = os.environ.get("MICROGRAD_VALIDATE", "") == "1"

# ---------------------------------------------------------------- the packed form (Program.pack)
# I (int64): a header of HEAD entries, the instruction table (n_instr rows of NF fields), the slot tables, then
# the scalar table (H_SCALARS).
HEAD, NF = 24, 14
# header entries
H_NI, H_SLOTS, H_NIN, H_NOUT, H_NTGT, H_NCONST, H_NPARAM, H_NZERO = 0, 1, 2, 3, 4, 5, 6, 7
H_VLOSS = 8  # slot of a loss built from Values, -1 when the loss is a LOSS instruction or absent
H_ZERO_G, H_OUTS, H_TGTS, H_CONSTS, H_PARAMS, H_GIDX, H_ZERO_P = 9, 10, 11, 12, 13, 14, 15  # offsets
H_INPUTS = 16  # 1: instructions other than a first DENSE read the input slots (Program.inputs_read)
H_SCALARS = 17  # offset of the scalar table: per instruction out, a, b, F_GRAD (what a scalar run reads, in 32
# bytes a row rather than the instruction table's NF * 8: a scalar graph's walk reads a quarter of the memory)
# instruction fields, in this order: op out a b n k p ld bs, then
F_RUN_END, F_RUN_START = 9, 10  # the run of one-element instructions of one opcode this one belongs to
F_ASSIGN = 11  # 1: a DENSE, the only reader of its x block: its backward assigns G[x] (not zeroed with the rest)
F_GRAD = 12  # 1: backward visits this instruction (a slot it writes requires a gradient)
F_GRAD_X = 13  # 1: and computes its x block's gradient (a slot of the block requires one)


class Program:
    """A lowered program (see the module docstring for the meaning of every array)."""

    # the integer instruction columns (INT_FIELDS), set in __init__ by name
    out: np.ndarray
    a: np.ndarray
    b: np.ndarray
    n: np.ndarray
    k: np.ndarray
    p: np.ndarray
    ld: np.ndarray
    bs: np.ndarray

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
        n_params,
        requires_grad,
    ):
        """``rows``: one (op, out, a, b, n, k, p, ld, bs, arg) tuple per instruction."""
        cols = list(zip(*rows)) if rows else [()] * 10
        self.op = np.array(cols[0], dtype=np.int32)
        for name, col in zip(INT_FIELDS, cols[1:9]):
            setattr(self, name, np.array(col, dtype=np.int64))
        self.arg = np.array(cols[9], dtype=np.float64)
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
        self.n_params = int(n_params)
        self.requires_grad = np.asarray(requires_grad, dtype=np.uint8)
        self.source_nodes = 0  # how many Value nodes were lowered (set by passes.lower)

    def __len__(self) -> int:
        return len(self.op)

    @property
    def fused_loss(self) -> str | None:
        """The name of the loss a LOSS instruction computes, or None."""
        where = np.flatnonzero(self.op == LOSS)
        return LOSSES[int(self.k[where[0]])] if len(where) else None

    def rows(self) -> list:
        """The instructions as (op, out, a, b, n, k, p, ld, bs, arg) tuples (what __init__ takes)."""
        cols = [self.op.tolist()] + [getattr(self, f).tolist() for f in INT_FIELDS] + [self.arg.tolist()]
        return list(zip(*cols))

    def tobytes(self) -> bytes:
        """Every array's bytes plus the scalar fields: equal programs give equal bytes."""
        ints, reals = self.pack()
        return np.array([self.n_params], dtype=np.int64).tobytes() + ints.tobytes() + reals.tobytes()

    @cached_property
    def dense_work(self) -> int:
        """Multiply-adds of the DENSE ops per example (decides how many threads BLAS gets)."""
        return int((self.n * self.k)[self.op == DENSE].sum())

    @cached_property
    def inputs_read(self) -> bool:
        """Whether something other than a DENSE reads an input slot (then the kernel copies X into them)."""
        nin = len(self.input_slots)
        if nin == 0:
            return False
        for i in range(len(self)):
            op, a, b, n = int(self.op[i]), int(self.a[i]), int(self.b[i]), int(self.n[i])
            if op == GATHER:
                if (self.gidx[a : a + n] < nin).any():
                    return True
            elif op == DENSE:
                if a < nin < a + int(self.k[i]):  # straddles the inputs' end: reads them as slots
                    return True
            elif a < nin or 0 <= b < nin:
                return True
        return bool((self.output_slots < nin).any() or (self.loss_slot >= 0 and self.loss_slot < nin))

    def counts(self) -> dict:
        """How many instructions of each mnemonic (for summaries and diagrams)."""
        names, nums = np.unique(self.op, return_counts=True)
        return {OP_NAMES[c]: int(m) for c, m in zip(names, nums)}

    def pack(self) -> tuple[np.ndarray, np.ndarray]:
        """(ints, reals): the program as the generated kernels read it (cached; see HEAD and the F_* fields)."""
        if "_packed" not in self.__dict__:
            self.__dict__["_packed"] = _pack(self)
        return self.__dict__["_packed"]

    def __str__(self) -> str:
        return format_program(self)

    def __repr__(self) -> str:
        return (
            f"<Program {len(self)} instructions {self.counts()}, {self.n_slots} slots, "
            f"{self.n_params} params; print() it for the listing>"
        )


# ---------------------------------------------------------------- packing
def _readers(prog: Program) -> np.ndarray:
    """How many times each slot is read (instructions, outputs, the loss slot)."""
    counts = np.zeros(prog.n_slots, dtype=np.int64)
    for i in range(len(prog)):
        op, a, b, n, k = (int(prog.op[i]), int(prog.a[i]), int(prog.b[i]), int(prog.n[i]), int(prog.k[i]))
        if op == DENSE:
            counts[a : a + k] += 1
        elif op == GATHER:
            np.add.at(counts, prog.gidx[a : a + n], 1)
        else:  # an op-table op or LOSS
            counts[a : a + n] += 1
            if op < NOPS and b >= 0:
                counts[b : b + n] += 1
    np.add.at(counts, prog.output_slots, 1)
    if prog.loss_slot >= 0:
        counts[prog.loss_slot] += 1
    return counts


def _pack(prog: Program) -> tuple[np.ndarray, np.ndarray]:
    ni, S = len(prog), prog.n_slots
    T = np.zeros((ni, NF), dtype=np.int64)
    T[:, 0] = prog.op
    for c, name in enumerate(INT_FIELDS, start=1):
        T[:, c] = getattr(prog, name)
    # runs of one-element instructions with one opcode: a scalar graph's kernel loops over a run without dispatch
    start = 0
    for i in range(1, ni + 1):
        if i == ni or prog.op[i] != prog.op[start] or prog.n[i] != 1 or prog.n[start] != 1 or prog.op[i] >= NOPS:
            T[start:i, F_RUN_END], T[start:i, F_RUN_START] = i, start
            start = i
    rg = prog.requires_grad.astype(bool)
    for i in range(ni):
        op, o, a, n = int(prog.op[i]), int(prog.out[i]), int(prog.a[i]), int(prog.n[i])
        T[i, F_GRAD] = rg[o : o + (1 if op == LOSS else n)].any()
        if op == DENSE:
            T[i, F_GRAD_X] = rg[a : a + int(prog.k[i])].any()
    # gradient rows a DENSE's backward assigns (its x block, when nothing else reads it and the loss does not
    # seed it), so not zeroed up front; every op of the table adds into its operands' rows, zeroed up front
    readers = _readers(prog)
    zero_g = prog.requires_grad.astype(np.int64)
    for i in range(ni):
        op, a, n = int(prog.op[i]), int(prog.a[i]), int(prog.n[i])
        if op == DENSE:
            width = int(prog.k[i])
            if a >= len(prog.input_slots) and (readers[a : a + width] == 1).all():
                T[i, F_ASSIGN] = 1
                zero_g[a : a + width] = 0
        elif op == LOSS:  # the loss writes its inputs' gradient rows before backward starts
            zero_g[a : a + n] = 0
    # parameters whose gradient no DENSE writes: zeroed before backward accumulates into them (as ranges)
    covered = np.zeros(prog.n_params, dtype=bool)
    for i in np.flatnonzero(prog.op == DENSE).tolist():
        n, k, p, ld, b, bs = (
            int(prog.n[i]),
            int(prog.k[i]),
            int(prog.p[i]),
            int(prog.ld[i]),
            int(prog.b[i]),
            int(prog.bs[i]),
        )
        for r in range(n):
            covered[p + r * ld : p + r * ld + k] = True
        if b >= 0:
            covered[b : b + (n - 1) * bs + 1 : max(bs, 1)] = True
    edges = np.flatnonzero(np.diff(np.concatenate([[1], covered.astype(np.int8), [1]])))
    zero_p = np.stack([edges[0::2], edges[1::2] - edges[0::2]], axis=1).ravel() if len(edges) else np.zeros(0)
    vloss = prog.loss_slot if prog.fused_loss is None else -1
    parts = [
        T.ravel(),
        zero_g,
        prog.output_slots,
        prog.target_slots,
        prog.const_slots,
        np.concatenate([prog.param_slots, prog.param_index]),
        prog.gidx,
        np.asarray(zero_p, dtype=np.int64),
        T[:, [1, 2, 3, F_GRAD]].ravel(),
    ]
    head = np.zeros(HEAD, dtype=np.int64)
    head[[H_NI, H_SLOTS, H_NIN, H_NOUT, H_NTGT, H_NCONST, H_NPARAM, H_NZERO, H_VLOSS]] = (
        ni, S, len(prog.input_slots), len(prog.output_slots), len(prog.target_slots), len(prog.const_slots),
        len(prog.param_slots), len(zero_p) // 2, vloss,
    )  # fmt: skip
    head[H_INPUTS] = prog.inputs_read
    offset = HEAD
    for field, part in zip((None, H_ZERO_G, H_OUTS, H_TGTS, H_CONSTS, H_PARAMS, H_GIDX, H_ZERO_P, H_SCALARS), parts):
        if field is not None:
            head[field] = offset
        offset += len(part)
    ints = np.concatenate([head] + [np.asarray(x, dtype=np.int64) for x in parts])
    reals = np.concatenate([prog.arg, prog.const_vals]).astype(np.float64)
    ints.flags.writeable = reals.flags.writeable = False
    return ints, reals


# ---------------------------------------------------------------- printer
def _slots(s: int, n: int) -> str:
    return f"%{s}" if n == 1 else f"%{s}:{n}"


def _block(start: int, rows: int, cols: int, stride: int) -> str:
    """p[start:end] for a contiguous block, p[start:end|stride] for rows of cols, stride apart."""
    if rows == 1 or stride == cols:
        return f"p[{start}:{start + rows * cols}]"
    return f"p[{start}:{start + (rows - 1) * stride + cols}|{stride}]"


def format_instruction(prog: Program, i: int) -> str:
    op, o, a, b, n, k, p, ld, bs = (int(getattr(prog, f)[i]) for f in ("op",) + INT_FIELDS)
    if op == DENSE:
        if b < 0:
            bias = ""
        elif n == 1 or bs == 1:
            bias = f" b=p[{b}:{b + n}]"
        else:
            bias = f" b=p[{b}:{b + (n - 1) * bs + 1}:{bs}]"
        return f"{_slots(o, n)} = dense {_slots(a, k)} W={_block(p, n, k, ld)}{bias}"
    if op == GATHER:
        src = " ".join(f"%{s}" for s in prog.gidx[a : a + n])
        return f"{_slots(o, n)} = gather [{src}]"
    if op == LOSS:
        name = LOSSES[k] if 0 <= k < len(LOSSES) else f"<bad loss {k}>"
        return f"%{o} = loss.{name} {_slots(a, n)} y"
    if not 0 <= op < NOPS:
        return f"{_slots(o, n)} = <bad opcode {op}> {_slots(a, n)}"
    text = f"{_slots(o, n)} = {OP_NAMES[op]} {_slots(a, n)}"
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

    if not np.array_equal(prog.input_slots, np.arange(len(prog.input_slots))):
        fail("input slots must be 0 .. n_inputs-1")
    for name, slots in (
        ("input", prog.input_slots),
        ("target", prog.target_slots),
        ("const", prog.const_slots),
        ("param", prog.param_slots),
    ):
        for s in slots:
            define(int(s), 1, f"{name} slot {s}")
    if len(prog.param_index) and (prog.param_index.min() < 0 or prog.param_index.max() >= P):
        fail("param_index out of range")
    if len(prog.requires_grad) != S:
        fail("requires_grad must have one entry per slot")
    losses = np.flatnonzero(prog.op == LOSS)
    if len(losses) > 1 or (len(losses) == 1 and (losses[0] != len(prog) - 1 or prog.out[losses[0]] != prog.loss_slot)):
        fail("a LOSS instruction must be the last one, and the program's loss slot its output")
    for i in range(len(prog)):
        op, o, a, b, n, k, p, ld, bs = (int(getattr(prog, f)[i]) for f in ("op",) + INT_FIELDS)
        what = Where(i)
        if op == DENSE:
            use(a, k, what)
            if k < 1 or ld < k or p < 0 or p + (n - 1) * ld + k > P:
                fail(f"{what}: W block out of range 0:{P}")
            if b >= 0 and (bs < 0 or (n > 1 and bs == 0) or b + (n - 1) * bs >= P):
                fail(f"{what}: bias out of range 0:{P}")
        elif op == GATHER:
            if a < 0 or a + n > len(prog.gidx):
                fail(f"{what}: gather indices out of range")
            for s in prog.gidx[a : a + n]:
                use(int(s), 1, what)
        elif op == LOSS:
            use(a, n, what)
            if not 0 <= k < len(LOSSES):
                fail(f"{what}: unknown loss {k}")
        elif 0 <= op < NOPS:
            use(a, n, what)
            if (ops.OPS[op].arity == 2) != (b >= 0):
                fail(f"{what}: arity {ops.OPS[op].arity} does not match operand b={b}")
            if b >= 0:
                use(b, n, what)
        else:
            fail(f"{what}: unknown opcode {op}")
        define(o, 1 if op == LOSS else n, what)
    for s in prog.output_slots:
        use(int(s), 1, f"output slot {s}")
    if prog.loss_slot >= 0:
        use(prog.loss_slot, 1, f"loss slot {prog.loss_slot}")
    return prog
