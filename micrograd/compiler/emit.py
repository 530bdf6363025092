"""The last lowering pass: slots, parameter positions and instruction rows, one group at a time.

``passes.lower`` hands over ``Group``s (one per future instruction) in the
order they will run. ``Emitter.leaves`` gives every input and target a slot
and then every constant and parameter that an instruction reads;
``Emitter.emit`` writes a group's instruction and gives its members
consecutive slots (a DENSE whose inputs are not such a block reads them
through a GATHER); ``Emitter.program`` returns the validated ``Program``.

Parameters: in a free layout (a forward program) each DENSE's W block and
biases are placed in theta in the order the DENSEs run, then every other
parameter in model order; in a fixed layout (a training program, which keeps
its forward program's) ``passes.fit_layout`` has already checked that each
DENSE's blocks lie consecutively there, and positions are looked up.
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


def inverse(perm: Sequence[int]) -> list:
    """theta_of[j] = the theta position of model parameter j, for a layout perm (theta[t] = params[perm[t]])."""
    theta_of = [0] * len(perm)
    for t, j in enumerate(perm):
        theta_of[j] = t
    return theta_of


class Emitter:
    """The last pass: allocates slots and parameter positions while it writes the instruction rows.

    Call ``leaves`` once, ``emit`` for every group in order, then ``program``."""

    def __init__(self, g: Graph, theta_of: Sequence[int] | None):
        self.g = g
        self.theta_of = theta_of  # fixed layout (model index -> theta), or None: allocate in order
        self.slot = [-1] * len(g)  # node -> its slot
        self.rg: list = []  # slot -> 1 if it depends on a parameter (Program.requires_grad)
        self.rows: list = []  # (op, out, a, b, n, k, p, arg) per instruction
        self.gidx: list = []
        self.gathers: dict = {}  # source slots -> first slot of the GATHER that copied them
        self.perm: list = []  # free layout: model index of theta[j], in the order DENSEs run
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
        p, bias = self.place([w for d in grp.dots for w in d.weights]), -1
        if grp.dots[0].bias >= 0:
            bias = self.place([d.bias for d in grp.dots])
        n = len(grp.members)
        out = self.new_slots([1] * n)
        self.rows.append((DENSE, out, x0, bias, n, k, p, 0.0))
        return out

    def gather(self, src: list) -> int:
        """First slot of a contiguous copy of the slots src (one GATHER per distinct src)."""
        key = tuple(src)
        if key not in self.gathers:
            self.gathers[key] = start = self.new_slots([self.rg[s] for s in src])
            self.rows.append((GATHER, start, len(self.gidx), -1, len(src), 0, -1, 0.0))
            self.gidx += src
        return self.gathers[key]

    def place(self, leaves: list) -> int:
        """theta position of the first of these parameter leaves, which sit there consecutively."""
        if self.theta_of is not None:  # fixed layout: fit_layout checked that they are consecutive
            return self.theta_of[int(self.g.leaf[leaves[0]])]
        start = len(self.perm)
        self.perm += [int(self.g.leaf[w]) for w in leaves]
        return start

    def op(self, grp: Group) -> int:
        n = len(grp.members)
        x = self.slot[grp.operands[0]]
        y = self.slot[grp.operands[n]] if _ARITY[grp.kind] == 2 else -1
        need = any(self.rg[x : x + n]) or (y >= 0 and any(self.rg[y : y + n]))
        out = self.new_slots([1 if need else 0] * n)
        self.rows.append((grp.kind, out, x, y, n, 0, -1, float(grp.arg)))
        return out

    def program(self, outputs: Sequence[int], loss: int, layout: Sequence[int] | None) -> Program:
        """The validated Program; parameters no DENSE placed go last, in model order (free layout)."""
        perm = list(layout) if layout is not None else self.perm
        theta_of = self.theta_of
        if theta_of is None:
            used = set(perm)
            perm += [j for j in range(self.g.n_params) if j not in used]
            theta_of = inverse(perm)
        prog = Program(
            self.rows,
            self.gidx,
            len(self.rg),
            self.inputs,
            self.targets,
            [self.slot[r] for r in outputs],
            self.slot[loss] if loss >= 0 else -1,
            [s for s, _ in self.params],
            [theta_of[j] for _, j in self.params],
            [s for s, _ in self.consts],
            [v for _, v in self.consts],
            perm,
            self.rg,
        )
        return validate(prog)
