"""Lowering passes: a traced Graph becomes a Program with fused dense and vector ops.

0. ``live_nodes``: with a loss, only what the loss depends on is lowered (an
   output the loss does not read is not computed, so backward visits what the
   Value path's ``loss.backward()`` visits: no 0 * inf from an unused exp).
1. ``add_chains``, ``find_dots``: a sum added left to right, ``((e0 + e1) + t2) + t3 ...``
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

The passes that look at every node (sums, dot products, what they absorb,
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

    root: int  # the sum's last add: the node whose value is the dot product
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


class AddChains(NamedTuple):
    """The graph's left-to-right sums ``((e0 + e1) + t2) + t3 ...`` of the form ``find_dots`` fuses."""

    top: np.ndarray  # top[i]: the last add of the sum add i belongs to, -1 for other nodes
    terms: np.ndarray  # every sum's terms (e0, e1, t2, ...): grouped by sum, left to right within one
    sum: np.ndarray  # the last add of each term's sum


def add_chains(g: Graph) -> AddChains:
    """Each add whose left operand is an add read only by it continues that add's sum; a sum is kept from
    its first add up to the last one whose added terms are all products (the first pair: products, at most
    one bias, zero constants). Pointer jumping along the left operands: log2 of the longest sum rounds."""
    code, a, b, uses, leaf = g.code, g.a, g.b, g.uses, g.leaf
    n = len(g)
    param1 = (code == PARAM) & (uses == 1)
    mul = (code == _MUL) & (uses == 1)
    ma, mb = np.where(mul, a, 0), np.where(mul, b, 0)
    product = mul & (param1[ma] | param1[mb])  # mul(param, v) or mul(v, param), the parameter read only here
    zero = (code == CONST) & (leaf == 0.0)  # sum() starts at 0
    adds = np.flatnonzero(code == _ADD)
    x, y = a[adds], b[adds]
    links = (code[x] == _ADD) & (uses[x] == 1)  # x continues into this add
    pair = (product[x] | param1[x] | zero[x]) & (product[y] | param1[y] | zero[y]) & ~(param1[x] & param1[y])
    ok = np.zeros(n, dtype=bool)
    ok[adds] = np.where(links, product[y], pair)
    down = np.full(n, -1, dtype=np.int64)
    down[adds[links]] = x[links]
    hop = adds[links]  # ok[i] becomes: every add from i down to its sum's first add is ok
    while len(hop):
        below = down[hop]
        ok[hop] &= ok[below]
        down[hop] = down[below]
        hop = hop[down[hop] >= 0]
    mine = adds[ok[adds]]
    top = np.full(n, -1, dtype=np.int64)
    top[mine] = mine
    inner = links & ok[adds]  # x is in the sum this add continues
    top[x[inner]] = adds[inner]
    hop = x[inner]
    while len(hop):  # each round doubles how far up a node sees
        up = top[top[hop]]
        moved = up != top[hop]
        top[hop] = up
        hop = hop[moved]
    first = mine[top[a[mine]] != top[mine]]  # a sum's first add: its left operand is a term
    terms = np.concatenate([a[first], b[mine]])
    sums = np.concatenate([top[first], top[mine]])
    rank = np.concatenate([first * 2, mine * 2 + 1])  # by add position (operands before users), e0 before e1
    order = np.lexsort((rank, sums))
    return AddChains(top, terms[order], sums[order])


def find_dots(g: Graph, chains: AddChains) -> list[Dot]:
    """Every left-to-right sum that is a dot product (see the module docstring), in the order of its last add."""
    code, a, b, uses = g.code, g.a, g.b, g.uses
    t, tree = chains.terms, chains.sum
    roots, where = np.unique(tree, return_inverse=True)
    param1 = (code == PARAM) & (uses == 1)
    wx = (code[t] == _MUL) & param1[a[t]]  # mul(param, v)
    wy = (code[t] == _MUL) & ~wx & param1[b[t]]  # mul(v, param)
    bias = param1[t]
    term = wx | wy
    count = functools.partial(np.bincount, minlength=len(roots))
    first_bias = np.full(len(roots), -1, dtype=np.int64)
    first_bias[where[bias]] = t[bias]
    weights = np.where(wx, a[t], b[t])[term].tolist()
    inputs = np.where(wx, b[t], a[t])[term].tolist()
    per = count(where[term])
    ends = np.cumsum(per).tolist()
    dots = []
    for k in np.flatnonzero(per > 0).tolist():
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


def absorbed(g: Graph, chains: AddChains, dots: Sequence[Dot]) -> np.ndarray:
    """grouped[i]: node i is part of one of the dots (its adds and terms, not its inputs)."""
    chosen = np.zeros(len(g), dtype=bool)
    chosen[[d.root for d in dots]] = True
    grouped = np.zeros(len(g), dtype=bool)
    adds = np.flatnonzero(chains.top >= 0)
    grouped[adds] = chosen[chains.top[adds]]
    grouped[chains.terms[chosen[chains.sum]]] = True
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
    chains = add_chains(g)
    dense = strided(group_dense([d for d in find_dots(g, chains) if live[d.root]]), g)
    grouped = absorbed(g, chains, [d for grp in dense for d in grp.dots])
    del chains
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
