"""The last lowering pass: slots, parameter positions and instruction rows, one group at a time.

``passes.lower`` hands over ``Group``s (one per future instruction) in the
order they will run. ``Emitter.leaves`` gives every input and target a slot
and then every constant and parameter that an instruction reads;
``Emitter.emit`` writes a group's instruction and gives its members
consecutive slots (a DENSE whose inputs are not such a block reads them
through a GATHER); ``Emitter.program`` returns the validated ``Program``.

Parameters stay where the model lists them (``theta[j]`` is ``params[j]``):
``passes.strided`` has already cut each DENSE's rows to runs whose weights and
biases lie at one stride in that order, so a DENSE records where its first
weight and bias are and the two strides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from micrograd import ops
from micrograd.compiler.ir import DENSE, GATHER, Program, validate
from micrograd.compiler.trace import CONST, PARAM, Graph

_ARITY = [op.arity for op in ops.OPS]


class Group(NamedTuple):
    """One future instruction: a DENSE, an op over a block (vector op) or a single op."""

    key: int  # sort key for ordering: position of the last member
    members: list[int]  # nodes whose values it computes, in output-slot order
    operands: list[int]  # nodes it reads (DENSE: the inputs; an op: x, then y, of every member)
    kind: int  # DENSE or an op-table opcode
    arg: float  # the op's constant argument (0.0 for DENSE)
    dots: list  # DENSE: its rows (passes.Dot); else empty


class Emitter:
    """The last pass: allocates slots and parameter positions while it writes the instruction rows.

    Call ``leaves`` once, ``emit`` for every group in order, then ``program``."""

    def __init__(self, g: Graph):
        self.g = g
        self.slot = [-1] * len(g)  # node -> its slot
        self.rg: list = []  # slot -> 1 if it depends on a parameter (Program.requires_grad)
        self.rows: list = []  # (op, out, a, b, n, k, p, ld, bs, arg) per instruction
        self.gidx: list = []
        self.gathers: dict = {}  # source slots -> first slot of the GATHER that copied them
        self.inputs: list = []
        self.targets: list = []
        self.consts: list = []  # (slot, value)
        self.params: list = []  # (slot, model index) of parameters read by single ops

    def new_slots(self, requires_grad: list) -> int:
        """Allocate len(requires_grad) consecutive slots; returns the first."""
        start = len(self.rg)
        self.rg += requires_grad
        return start

    def leaves(self, read: Sequence[int]) -> None:
        """Slots for every input and target (in order), then for the constants and parameters in ``read``."""
        g = self.g
        for nodes, dest in ((g.inputs, self.inputs), (g.targets, self.targets)):
            for node in nodes:
                s = self.new_slots([0])
                if node >= 0:
                    self.slot[node] = s
                dest.append(s)
        for i in sorted(set(read)):
            if g.code[i] == CONST:
                self.slot[i] = self.new_slots([0])
                self.consts.append((self.slot[i], g.leaf[i]))
            elif g.code[i] == PARAM:
                self.slot[i] = self.new_slots([1])
                self.params.append((self.slot[i], int(g.leaf[i])))

    def emit(self, grp: Group) -> None:
        """Write the instruction of one group and give its members their (consecutive) slots."""
        start = self.dense(grp) if grp.kind == DENSE else self.op(grp)
        for q, m in enumerate(grp.members):
            self.slot[m] = start + q

    def dense(self, grp: Group) -> int:
        src = [self.slot[x] for x in grp.operands]
        k, x0 = len(src), src[0]
        if src != list(range(x0, x0 + k)):  # inputs not a contiguous block: gather them
            x0 = self.gather(src)
        leaf = self.g.leaf
        rows = [int(leaf[d.weights[0]]) for d in grp.dots]  # where each row's weights start in theta
        ld = rows[1] - rows[0] if len(rows) > 1 else k
        bias, bs = -1, 0
        if grp.dots[0].bias >= 0:
            biases = [int(leaf[d.bias]) for d in grp.dots]
            bias, bs = biases[0], (biases[1] - biases[0] if len(biases) > 1 else 1)
        n = len(grp.members)
        out = self.new_slots([1] * n)
        self.rows.append((DENSE, out, x0, bias, n, k, rows[0], ld, bs, 0.0))
        return out

    def gather(self, src: list) -> int:
        """First slot of a contiguous copy of the slots src (one GATHER per distinct src)."""
        key = tuple(src)
        if key not in self.gathers:
            self.gathers[key] = start = self.new_slots([self.rg[s] for s in src])
            self.rows.append((GATHER, start, len(self.gidx), -1, len(src), 0, -1, 0, 0, 0.0))
            self.gidx += src
        return self.gathers[key]

    def op(self, grp: Group) -> int:
        n = len(grp.members)
        x = self.slot[grp.operands[0]]
        y = self.slot[grp.operands[n]] if _ARITY[grp.kind] == 2 else -1
        need = any(self.rg[x : x + n]) or (y >= 0 and any(self.rg[y : y + n]))
        out = self.new_slots([1 if need else 0] * n)
        self.rows.append((grp.kind, out, x, y, n, 0, -1, 0, 0, float(grp.arg)))
        return out

    def program(self, outputs: Sequence[int], loss: int) -> Program:
        """The validated Program."""
        prog = Program(
            self.rows,
            self.gidx,
            len(self.rg),
            self.inputs,
            self.targets,
            [self.slot[r] for r in outputs],
            self.slot[loss] if loss >= 0 else -1,
            [s for s, _ in self.params],
            [j for _, j in self.params],
            [s for s, _ in self.consts],
            [v for _, v in self.consts],
            self.g.n_params,
            self.rg,
        )
        return validate(prog)
