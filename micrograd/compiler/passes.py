"""Lowering passes: a traced Graph becomes a Program with fused dense and vector ops.

0. ``live_nodes``: with a loss, only what the loss depends on is lowered (an
   output the loss does not read is not computed, so backward visits what the
   Value path's ``loss.backward()`` visits: no 0 * inf from an unused exp).
1. ``find_dots``: a sum added left to right, ``((e0 + e1) + t2) + t3 ...``
   (single-consumer ``add`` nodes down the left operand), is a dot product when
   every ``t`` is a single-consumer ``mul(param, v)`` / ``mul(v, param)`` (the
   parameter used nowhere else) and e0, e1 are such products, at most one bare
   parameter (the bias) or a zero constant (``sum()`` starts at 0). That is the
   order the fused product adds in (bias first, then the terms in order; the
   first two may swap: addition commutes), so the fused sum equals the Value
   path's: ``sum(terms, b)`` as a Neuron builds it, ``sum(terms)``. A sum written
   in another order (``t0 + (t1 + t2)``, ``(t0 + t1) + b``) keeps it: only its
   left-to-right parts are fused (``t1 + t2``; ``t0 + t1``), the other adds stay
   scalar ops.
2. ``group_dense``: dot products over the same input sequence become one DENSE
   op. ``theta`` is the model's own parameter order, so a DENSE reads its W
   rows and biases where they are (``strided``): the rows whose weights are
   consecutive, at one stride from row to row (a Neuron's ``w`` then ``b``:
   stride ``k + 1``), with their biases at one stride too; a layer whose
   parameters lie otherwise is cut into such runs, and a row whose own
   weights are not consecutive stays single ops.
3. ``vectorize``: a unary op applied with the same argument to every output of
   a block (a layer's activation) becomes one vector op over the block; its
   outputs form a block in turn.
4. ``order_groups``: every instruction-to-be (``emit.Group``: a DENSE, a
   vector op or a single op) is ordered topologically (Kahn, runs of one kind
   first, ties broken by graph position, so the result is deterministic).
5. ``emit.Emitter``: slots are allocated so each block is contiguous, and a
   DENSE whose inputs are not a contiguous block in order reads them through a
   GATHER into fresh contiguous slots.

Everything is iterative and costs a few list operations per node, so a
784x128 layer (100k scalar products) lowers in well under a second. The
result is checked by ``ir.validate``; the grouping is checked before emission
(``_check_fusion``).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import NamedTuple

from micrograd import ops
from micrograd.compiler.emit import Emitter, Group
from micrograd.compiler.ir import DENSE, Program
from micrograd.compiler.trace import CONST, PARAM, Graph

_ADD, _MUL = ops.ADD, ops.MUL
_ARITY = [op.arity for op in ops.OPS]


class Dot(NamedTuple):
    """A dot product found in the graph (node indices)."""

    root: int  # the add tree's root: the node whose value is the dot product
    inputs: list[int]  # the input node of each term, in term order
    weights: list[int]  # the parameter leaf of each term
    bias: int  # the bias parameter leaf, -1 without


class DenseGroup(NamedTuple):
    """Dot products over the same inputs: one future DENSE instruction, its rows in W's row order."""

    inputs: tuple  # the shared input nodes (W's columns)
    dots: list[Dot]


def live_nodes(g: Graph, has_loss: bool) -> list:
    """live[i]: the loss (the last root) depends on node i; every node when there is no loss."""
    if not has_loss:
        return [True] * len(g)
    live = [False] * len(g)
    live[g.roots[-1]] = True
    for i in range(len(g) - 1, -1, -1):  # topological order: operands come before their users
        if live[i] and g.code[i] >= 0:
            live[g.a[i]] = True
            if g.b[i] >= 0:
                live[g.b[i]] = True
    return live


def find_dots(g: Graph) -> list[Dot]:
    """Every sum that is a dot product added left to right (see the module docstring)."""
    code, a, b, uses, user, leaf = g.code, g.a, g.b, g.uses, g.user, g.leaf

    def product(t: int) -> tuple[int, int]:  # (weight, input) of a product term, (-1, -1) if t is none
        if code[t] == _MUL and uses[t] == 1:
            x, y = a[t], b[t]
            if code[x] == PARAM and uses[x] == 1:
                return x, y
            if code[y] == PARAM and uses[y] == 1:
                return y, x
        return -1, -1

    def first_pair(x: int, y: int) -> bool:  # e0 + e1: products, at most one bias, zero constants
        biases = 0
        for e in (x, y):
            if code[e] == PARAM and uses[e] == 1:
                biases += 1
            elif not (code[e] == CONST and leaf[e] == 0.0) and product(e)[0] < 0:
                return False
        return biases <= 1

    def extends(x: int) -> bool:  # x is an add this chain continues (its left operand)
        return code[x] == _ADD and uses[x] == 1 and chain[x]

    chain = [False] * len(code)  # chain[i]: the add i ends a left-to-right sum of the form above
    for r in range(len(code)):  # operands come before their users
        if code[r] == _ADD:
            chain[r] = product(b[r])[0] >= 0 if extends(a[r]) else first_pair(a[r], b[r])
    dots = []
    for r in range(len(code)):
        u = user[r]
        if not chain[r] or (uses[r] == 1 and u >= 0 and code[u] == _ADD and a[u] == r and chain[u]):
            continue  # not such a sum, or the start of a longer one
        terms, bias, t = [], -1, r  # terms from the last to the first
        while extends(a[t]):
            terms.append(product(b[t]))
            t = a[t]
        for e in (b[t], a[t]):
            p = product(e)
            if p[0] >= 0:
                terms.append(p)
            elif code[e] == PARAM:
                bias = e
        if terms:
            terms.reverse()
            dots.append(Dot(r, [x for _, x in terms], [w for w, _ in terms], bias))
    return dots


def group_dense(dots: Sequence[Dot]) -> list[DenseGroup]:
    """Dots with the same input sequence (and all with or all without bias) -> one DenseGroup each."""
    groups: dict = {}
    for d in dots:
        groups.setdefault((tuple(d.inputs), d.bias >= 0), []).append(d)
    return [DenseGroup(inputs, rows) for (inputs, _), rows in groups.items()]


def strided(dense: Sequence[DenseGroup], g: Graph) -> list[DenseGroup]:
    """The dense groups cut into runs of rows a DENSE can read from theta where they are.

    A row qualifies when its weights are consecutive parameters; rows are sorted by where their weights start
    and cut into runs with one row stride (and one bias stride) throughout. An MLP layer is one run."""
    out = []
    for grp in dense:
        k = len(grp.inputs)
        rows = []
        for d in grp.dots:
            w = [int(g.leaf[x]) for x in d.weights]
            if w == list(range(w[0], w[0] + k)):
                rows.append((w[0], int(g.leaf[d.bias]) if d.bias >= 0 else -1, d))
        rows.sort(key=lambda row: row[0])
        run: list = []
        for w0, b0, d in rows:
            if len(run) >= 2:
                ld, bs = run[1][0] - run[0][0], run[1][1] - run[0][1]
                fits = w0 - run[-1][0] == ld and b0 - run[-1][1] == bs
            else:
                fits = len(run) == 1 and w0 - run[0][0] >= k and (b0 < 0 or b0 > run[0][1])
            if run and not fits:
                out.append(DenseGroup(grp.inputs, [row[2] for row in run]))
                run = []
            run.append((w0, b0, d))
        if run:
            out.append(DenseGroup(grp.inputs, [row[2] for row in run]))
    return out


def absorbed(g: Graph, dots: Sequence[Dot]) -> list:
    """grouped[i]: node i is part of one of the dots (its add tree and products, not its inputs)."""
    grouped = [False] * len(g)
    for d in dots:
        stack = [d.root]
        while stack:
            t = stack.pop()
            if grouped[t]:
                continue
            grouped[t] = True
            if g.code[t] == _ADD and (t == d.root or g.uses[t] == 1):
                stack += [g.a[t], g.b[t]]
    return grouped


def vectorize(g: Graph, blocks: list, grouped: list, live: list) -> list[Group]:
    """Unary ops applied uniformly over a block -> vector-op Groups over new blocks, iteratively.
    Marks their members in ``grouped``; dead nodes (``live``) are not lowered."""
    code, a = g.code, g.a
    unary_of: dict = {}
    for i in range(len(code)):
        c = code[i]
        if 0 <= c and _ARITY[c] == 1 and live[i]:
            unary_of.setdefault(a[i], []).append(i)
    out = []
    work = [m for m in blocks if len(m) > 1]
    while work:
        members = work.pop(0)
        n = len(members)
        cands: dict = {}
        for q, m in enumerate(members):
            for u in unary_of.get(m, ()):
                if not grouped[u]:
                    row = cands.setdefault((code[u], g.arg[u]), [-1] * n)
                    if row[q] < 0:
                        row[q] = u
        for (c, arg), row in cands.items():
            if min(row) >= 0:
                for u in row:
                    grouped[u] = True
                out.append(Group(max(row), row, [a[u] for u in row], c, arg, []))
                work.append(row)
    return out


def _check_fusion(g: Graph, groups: Sequence[Group], node_group: list, roots: Sequence[int]) -> None:
    """The fusion passes' invariant, checked before emission: every value an instruction reads or the
    program returns is a leaf or the output of exactly one group (nothing read was absorbed into a dot)."""
    for x in [x for grp in groups for x in grp.operands] + list(roots):
        if g.code[x] >= 0 and node_group[x] < 0:
            raise AssertionError(
                f"micrograd.compile: internal error, node {x} ({g.nodes[x]._op}) is read but was fused away"
            )


def order_groups(groups: Sequence[Group], node_group: list) -> list:
    """Topological order of the groups; deterministic (Kahn + one heap per kind).

    Among the ready groups, one of the same kind as the last one placed comes first (smallest key); when
    there is none, the kind with the most ready groups (ties: the smallest key). A scalar graph then runs
    as long stretches of one op, which the kernels' dispatch predicts: a mispredicted op branch costs
    more than most ops' math (docs/benchmarks.md, "Tuning decisions")."""
    indeg = [0] * len(groups)
    users: list = [[] for _ in groups]
    for gi, grp in enumerate(groups):
        deps = {node_group[x] for x in grp.operands if node_group[x] >= 0}
        deps.discard(gi)
        indeg[gi] = len(deps)
        for d in deps:
            users[d].append(gi)
    ready: dict = {}
    for gi, grp in enumerate(groups):
        if indeg[gi] == 0:
            ready.setdefault(grp.kind, []).append((grp.key, gi))
    for heap in ready.values():
        heapq.heapify(heap)
    order, last = [], None
    while True:
        if not ready.get(last):
            live = [(-len(h), h[0][0], kind) for kind, h in ready.items() if h]
            if not live:
                break
            last = min(live)[2]
        _, gi = heapq.heappop(ready[last])
        order.append(gi)
        for u in users[gi]:
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(ready.setdefault(groups[u].kind, []), (groups[u].key, u))
    if len(order) != len(groups):
        raise AssertionError("micrograd.compile: internal error, fused groups form a cycle")
    return order


def lower(g: Graph, has_loss: bool = False) -> Program:
    """The Program of a traced Graph (the last root is the loss when has_loss)."""
    live = live_nodes(g, has_loss)
    dense = strided(group_dense([d for d in find_dots(g) if live[d.root]]), g)
    grouped = absorbed(g, [d for grp in dense for d in grp.dots])
    groups = [
        Group(max(d.root for d in grp.dots), [d.root for d in grp.dots], list(grp.inputs), DENSE, 0.0, grp.dots)
        for grp in dense
    ]
    groups += vectorize(g, [grp.members for grp in groups], grouped, live)
    groups += [
        Group(i, [i], [g.a[i]] if g.b[i] < 0 else [g.a[i], g.b[i]], g.code[i], g.arg[i], [])
        for i in range(len(g))
        if g.code[i] >= 0 and live[i] and not grouped[i]
    ]
    node_group = [-1] * len(g)
    for gi, grp in enumerate(groups):
        for m in grp.members:
            node_group[m] = gi
    outputs = [r for r in (g.roots[:-1] if has_loss else g.roots) if live[r]]
    _check_fusion(g, groups, node_group, outputs + g.roots[-1:])
    em = Emitter(g)
    em.leaves([x for grp in groups for x in grp.operands] + outputs + g.roots[-1:])
    for gi in order_groups(groups, node_group):
        em.emit(groups[gi])
    prog = em.program(outputs, g.roots[-1] if has_loss else -1)
    prog.source_nodes = len(g)  # for summaries and diagrams; not part of the program's bytes
    return prog
