"""Lowering passes: a traced Graph becomes a Program with fused dense and vector ops.

0. ``live_nodes``: with a loss, only what the loss depends on is lowered (an
   output the loss does not read is not computed, so backward visits what the
   Value path's ``loss.backward()`` visits: no 0 * inf from an unused exp).
1. ``add_trees``, ``find_dots``: a single-consumer tree of ``add`` nodes whose terms are
   single-consumer ``mul(param, v)`` / ``mul(v, param)`` (the parameter used
   nowhere else) plus at most one bare parameter (the bias) and any zero
   constants (``sum()`` starts at 0) is a dot product. This is what a Neuron
   builds, and what a hand-written Value network builds too.
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

The passes that look at every node (add trees, dot products, what they absorb,
the single ops) are NumPy operations on the Graph's columns; Python loops run
per dot product, group and instruction, so a 784-512-512-10 MLP (2.0M nodes)
lowers in a fraction of a second. Everything is iterative. The result is
checked by ``ir.validate``; the grouping is checked before emission
(``_check_fusion``). ``lower_model`` is what ``CompiledModel`` calls: trace,
free the Value graph, lower.
"""

from __future__ import annotations

import ctypes
import functools
import heapq
from array import array
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from micrograd import ops
from micrograd.compiler.emit import Emitter, Group
from micrograd.compiler.ir import DENSE, OP_NAMES, Program
from micrograd.compiler.trace import CONST, PARAM, Graph, call_model, trace_model
from micrograd.engine import Value, gc_paused

_ADD, _MUL = ops.ADD, ops.MUL
_UNARY = np.array([op.arity == 1 for op in ops.OPS] + [False])  # indexed by max(code, -1): leaves are False


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


def live_nodes(g: Graph, has_loss: bool) -> np.ndarray:
    """live[i]: the loss (the last root) depends on node i; every node when there is no loss."""
    if not has_loss:
        return np.ones(len(g), dtype=bool)
    live = np.zeros(len(g), dtype=np.uint8)
    flag, code, a, b = live.data, g.code.data, g.a.data, g.b.data  # memoryviews: items are Python ints
    flag[g.roots[-1]] = 1
    for i in range(len(g) - 1, -1, -1):  # topological order: operands come before their users
        if flag[i] and code[i] >= 0:
            flag[a[i]] = 1
            if b[i] >= 0:
                flag[b[i]] = 1
    return live.view(bool)


class AddTrees(NamedTuple):
    """The graph's trees of adds: an add read once, by an add, is an inner node of that add's tree.

    A tree's terms are the operands of its adds that are not inner adds. Every inner add and every term
    with one use is reachable only through its tree's root, so the walk placed them in left-to-right
    order: a tree's terms in position order are its terms from left to right."""

    top: np.ndarray  # top[i]: the root of the tree of add i, -1 for other nodes
    terms: np.ndarray  # every tree's terms, in position order within a tree
    tree: np.ndarray  # the root of each term's tree


def add_trees(g: Graph) -> AddTrees:
    code, uses, user = g.code, g.uses, g.user
    adds = np.flatnonzero(code == _ADD)
    once = adds[(uses[adds] == 1) & (user[adds] >= 0)]
    inner = np.zeros(len(g), dtype=bool)
    inner[once[code[user[once]] == _ADD]] = True
    top = np.full(len(g), -1, dtype=np.int64)
    top[adds] = np.where(inner[adds], user[adds], adds)
    hop = adds[inner[adds]]
    while len(hop):  # pointer jumping: each round doubles how far up a node sees (log2 of the depth rounds)
        up = top[top[hop]]
        top[hop] = up
        hop = hop[inner[up]]
    terms, tree = [], []
    for operand in (g.a[adds], g.b[adds]):
        outer = ~inner[operand]
        terms.append(operand[outer])
        tree.append(top[adds][outer])
    terms_, tree_ = np.concatenate(terms), np.concatenate(tree)
    order = np.lexsort((terms_, tree_))
    return AddTrees(top, terms_[order], tree_[order])


def find_dots(g: Graph, trees: AddTrees) -> list[Dot]:
    """Every add tree that is a dot product (see the module docstring), in root order."""
    code, a, b, uses, leaf = g.code, g.a, g.b, g.uses, g.leaf
    t, tree = trees.terms, trees.tree
    roots, where = np.unique(tree, return_inverse=True)
    mul = (code[t] == _MUL) & (uses[t] == 1)
    x, y = np.where(mul, a[t], 0), np.where(mul, b[t], 0)
    wx = mul & (code[x] == PARAM) & (uses[x] == 1)  # mul(param, v): the parameter read nowhere else
    wy = mul & ~wx & (code[y] == PARAM) & (uses[y] == 1)  # mul(v, param)
    bias = (code[t] == PARAM) & (uses[t] == 1)
    zero = (code[t] == CONST) & (leaf[t] == 0.0)  # sum() starts at 0
    term = wx | wy
    count = functools.partial(np.bincount, minlength=len(roots))
    ok = (count(where[~(term | bias | zero)]) == 0) & (count(where[bias]) <= 1) & (count(where[term]) > 0)
    first_bias = np.full(len(roots), -1, dtype=np.int64)
    first_bias[where[bias]] = t[bias]
    weights = np.where(wx, x, y)[term].tolist()
    inputs = np.where(wx, y, x)[term].tolist()
    ends = np.cumsum(count(where[term])).tolist()
    dots = []
    for k in np.flatnonzero(ok).tolist():
        start = ends[k - 1] if k else 0
        dots.append(Dot(int(roots[k]), inputs[start : ends[k]], weights[start : ends[k]], int(first_bias[k])))
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
        consecutive = np.arange(k)
        for d in grp.dots:
            w = g.leaf[d.weights]
            if np.array_equal(w, w[0] + consecutive):
                rows.append((int(w[0]), int(g.leaf[d.bias]) if d.bias >= 0 else -1, d))
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


def absorbed(g: Graph, trees: AddTrees, dots: Sequence[Dot]) -> np.ndarray:
    """grouped[i]: node i is part of one of the dots (its add tree and terms, not its inputs)."""
    chosen = np.zeros(len(g), dtype=bool)
    chosen[[d.root for d in dots]] = True
    grouped = np.zeros(len(g), dtype=bool)
    adds = np.flatnonzero(trees.top >= 0)
    grouped[adds] = chosen[trees.top[adds]]
    grouped[trees.terms[chosen[trees.tree]]] = True
    return grouped


def vectorize(g: Graph, blocks: list, grouped: np.ndarray, live: np.ndarray) -> list[Group]:
    """Unary ops applied uniformly over a block -> vector-op Groups over new blocks, iteratively.
    Marks their members in ``grouped``; dead nodes (``live``) are not lowered."""
    code, a, arg = g.code.data, g.a.data, g.arg.data
    unary_of: dict = {}
    for i in np.flatnonzero(_UNARY[np.maximum(g.code, -1)] & live).tolist():
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
                    row = cands.setdefault((code[u], arg[u]), [-1] * n)
                    if row[q] < 0:
                        row[q] = u
        for (c, arg_), row in cands.items():
            if min(row) >= 0:
                grouped[row] = True
                out.append(Group(max(row), row, [a[u] for u in row], c, arg_, []))
                work.append(row)
    return out


def _check_fusion(g: Graph, groups: Sequence[Group], node_group: Sequence[int], roots: Sequence[int]) -> None:
    """The fusion passes' invariant, checked before emission: every value an instruction reads or the
    program returns is a leaf or the output of exactly one group (nothing read was absorbed into a dot)."""
    code = g.code.data
    for x in [x for grp in groups for x in grp.operands] + list(roots):
        if code[x] >= 0 and node_group[x] < 0:
            raise AssertionError(
                f"micrograd.compile: internal error, node {x} ({OP_NAMES[code[x]]}) is read but was fused away"
            )


def order_groups(groups: Sequence[Group], node_group: Sequence[int]) -> list:
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
    trees = add_trees(g)
    dense = strided(group_dense([d for d in find_dots(g, trees) if live[d.root]]), g)
    grouped = absorbed(g, trees, [d for grp in dense for d in grp.dots])
    del trees
    groups = [
        Group(max(d.root for d in grp.dots), [d.root for d in grp.dots], list(grp.inputs), DENSE, 0.0, grp.dots)
        for grp in dense
    ]
    groups += vectorize(g, [grp.members for grp in groups], grouped, live)
    single = np.flatnonzero((g.code >= 0) & live & ~grouped)
    groups += [
        Group(i, [i], [x] if y < 0 else [x, y], c, arg, [])
        for i, x, y, c, arg in zip(
            single.tolist(), g.a[single].tolist(), g.b[single].tolist(), g.code[single].tolist(), g.arg[single].tolist()
        )
    ]
    node_group = array("q", [-1]) * len(g)
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


def lower_model(model: Callable, n_inputs: int, params: Sequence[Value], *loss_spec) -> tuple[Program, int]:
    """(program, number of outputs) of model traced on placeholders (``trace.call_model``), with
    ``trace_model``'s loss, target width and target_scalar when ``loss_spec`` is given.

    The Value graph lives only inside this call, and Python's cyclic collector is paused for it (the
    graph holds no cycles; the collector would only rescan its millions of nodes: docs/benchmarks.md,
    "Tuning decisions")."""
    with gc_paused():
        inputs, outputs = call_model(model, n_inputs)
        g = trace_model(inputs, outputs, params, *loss_spec)
        n_outputs = len(outputs)
        del inputs, outputs  # the Value graph: freed here, before lowering allocates
        prog = lower(g, has_loss=bool(loss_spec))
    del g
    _trim_heap()
    return prog, n_outputs


def _trim_heap() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``; elsewhere nothing): glibc
    keeps the tens of MiB of arrays tracing frees as holes in its heap (docs/benchmarks.md, "Tuning decisions")."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # no malloc_trim (not glibc), or no C library by that name
        pass
