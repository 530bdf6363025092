"""Lowering passes: a traced Graph becomes a Program with fused dense and vector ops.

1. ``find_dots``: a single-consumer tree of ``add`` nodes whose terms are
   single-consumer ``mul(param, v)`` / ``mul(v, param)`` (the parameter used
   nowhere else) plus at most one bare parameter (the bias) and any zero
   constants (``sum()`` starts at 0) is a dot product. This is what a Neuron
   builds, and what a hand-written Value network builds too.
2. ``group_dense``: dot products over the same input sequence become one DENSE
   op whose (n, k) row-major W block and bias sit contiguously in the compiled
   parameter vector ``theta`` (``Program.perm`` maps it back to model order).
3. ``vectorize``: a unary op applied with the same argument to every output of
   a block (a layer's activation) becomes one vector op over the block; its
   outputs form a block in turn.
4. ``emit``: groups are ordered topologically (Kahn, runs of one kind first,
   ties broken by graph position, so the result is deterministic), slots are allocated so each
   block is contiguous, and a DENSE whose inputs are not a contiguous block in
   order reads them through a GATHER into fresh contiguous slots.

Everything is iterative and costs a few list operations per node, so a
784x128 layer (100k scalar products) lowers in well under a second. The
result is checked by ``ir.validate``; the grouping is checked before emission
(``_check_fusion``).
"""
from __future__ import annotations

import heapq

from micrograd import ops
from micrograd.compiler.ir import DENSE, GATHER, Program, validate
from micrograd.compiler.trace import CONST, PARAM, Graph

_ADD, _MUL = ops.ADD, ops.MUL
_ARITY = [op.arity for op in ops.OPS]


def find_dots(g: Graph) -> list:
    """[(root, inputs, weights, bias)] for every add tree that is a dot product; node indices.

    ``weights`` and ``bias`` are node indices of parameter leaves (bias -1 when absent).
    """
    code, a, b, uses, leaf = g.code, g.a, g.b, g.uses, g.leaf
    dots = []
    for r in range(len(code)):
        if code[r] != _ADD or (uses[r] == 1 and g.user[r] >= 0 and code[g.user[r]] == _ADD):
            continue  # not an add, or an inner add of a larger tree
        inputs, weights, bias = [], [], -1
        stack = [b[r], a[r]]
        ok = True
        while stack:
            t = stack.pop()
            c = code[t]
            if c == _ADD and uses[t] == 1:
                stack.append(b[t])
                stack.append(a[t])
            elif c == _MUL and uses[t] == 1:
                x, y = a[t], b[t]
                if code[x] == PARAM and uses[x] == 1:
                    weights.append(x)
                    inputs.append(y)
                elif code[y] == PARAM and uses[y] == 1:
                    weights.append(y)
                    inputs.append(x)
                else:
                    ok = False
                    break
            elif c == PARAM and uses[t] == 1 and bias < 0:
                bias = t
            elif c == CONST and leaf[t] == 0.0:
                continue
            else:
                ok = False
                break
        if ok and weights:
            dots.append((r, inputs, weights, bias))
    return dots


def group_dense(dots: list) -> list:
    """Dots with the same input sequence (and both with or without bias) -> [(inputs, [dots])]."""
    groups: dict = {}
    for d in dots:
        groups.setdefault((tuple(d[1]), d[3] >= 0), []).append(d)
    return [(key[0], rows) for key, rows in groups.items()]


def vectorize(g: Graph, blocks: list, grouped: list) -> list:
    """Unary ops applied uniformly over a block -> new blocks [(code, arg, members)], iteratively."""
    code, a = g.code, g.a
    unary_of: dict = {}
    for i in range(len(code)):
        c = code[i]
        if 0 <= c and _ARITY[c] == 1:
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
                out.append((c, arg, row))
                work.append(row)
    return out


def _check_fusion(g: Graph, groups: list, node_group: list) -> None:
    """The fusion passes' invariant, checked before emission: every value an instruction reads or the
    program returns is a leaf or the output of exactly one group (nothing read was absorbed into a dot)."""
    for gi, (_, _, operands) in enumerate(groups):
        for x in list(operands) + ([] if gi else g.roots):
            if g.code[x] >= 0 and node_group[x] < 0:
                raise AssertionError(f"micrograd.compile: internal error, node {x} ({g.nodes[x]._op}) is read "
                                     f"but was fused away")


def _order(groups: list, node_group: list, kinds: list) -> list:
    """Topological order of groups [(key, members, operand nodes)]; deterministic (Kahn + one heap per kind).

    Among the ready groups, one of the same kind as the last one placed comes first (smallest key); when
    there is none, the kind with the most ready groups (ties: the smallest key). A scalar graph then runs
    as long stretches of one op, which the kernels' dispatch predicts: on a random graph of 10,000 ops
    a mispredicted op branch cost 4-9 ns per instruction, more than most ops' math."""
    indeg = [0] * len(groups)
    users = [[] for _ in groups]
    for gi, (_, _, operands) in enumerate(groups):
        deps = {node_group[x] for x in operands if node_group[x] >= 0}
        deps.discard(gi)
        indeg[gi] = len(deps)
        for d in deps:
            users[d].append(gi)
    ready: dict = {}
    for gi in range(len(groups)):
        if indeg[gi] == 0:
            ready.setdefault(kinds[gi], []).append((groups[gi][0], gi))
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
                heapq.heappush(ready.setdefault(kinds[u], []), (groups[u][0], u))
    if len(order) != len(groups):
        raise AssertionError("micrograd.compile: internal error, fused groups form a cycle")
    return order


def lower(g: Graph, has_loss: bool = False) -> Program:
    """The Program of a traced Graph (the last root is the loss when has_loss)."""
    code, a, b = g.code, g.a, g.b
    n_nodes = len(code)
    dots = find_dots(g)
    dense = group_dense(dots)
    grouped = [False] * n_nodes     # absorbed into a dot, or member of a dense / vector group
    for d in dots:
        stack = [d[0]]
        while stack:  # mark the dot's add tree and its products as absorbed
            t = stack.pop()
            if grouped[t]:
                continue
            grouped[t] = True
            if code[t] == _ADD and (t == d[0] or g.uses[t] == 1):
                stack += [a[t], b[t]]
    vec = vectorize(g, [[d[0] for d in rows] for _, rows in dense], grouped)

    # groups: (sort key = last member position, members, operand nodes) + kind payload
    groups, payload = [], []
    for inputs, rows in dense:
        members = [d[0] for d in rows]
        groups.append((max(members), members, list(inputs)))
        payload.append((DENSE, rows))
    for c, arg, members in vec:
        groups.append((max(members), members, [a[m] for m in members]))
        payload.append((c, arg))
    for i in range(n_nodes):
        if code[i] >= 0 and not grouped[i]:
            groups.append((i, [i], [a[i]] if b[i] < 0 else [a[i], b[i]]))
            payload.append((code[i], g.arg[i]))
    node_group = [-1] * n_nodes
    for gi, (_, members, _) in enumerate(groups):
        for m in members:
            node_group[m] = gi
    _check_fusion(g, groups, node_group)
    order = _order(groups, node_group, [kind for kind, _ in payload])
    prog = _emit(g, groups, payload, order, has_loss)
    prog.source_nodes = n_nodes  # for summaries and diagrams; not part of the program's bytes
    return prog


def _emit(g: Graph, groups, payload, order, has_loss) -> Program:
    """Allocate slots and the parameter vector, write the instruction rows."""
    code, leaf = g.code, g.leaf
    slot = [-1] * len(code)
    n_slots = 0
    input_slots, target_slots = [], []
    for nodes, dest in ((g.inputs, input_slots), (g.targets, target_slots)):
        for node in nodes:
            if node >= 0:
                slot[node] = n_slots
            dest.append(n_slots)
            n_slots += 1
    needed = set(g.roots)  # leaves read by some instruction or returned
    for _, _, operands in groups:
        needed.update(operands)
    const_slots, const_vals, slot_params = [], [], []
    for i in sorted(needed):
        if code[i] == CONST:
            slot[i] = n_slots
            const_slots.append(n_slots)
            const_vals.append(leaf[i])
            n_slots += 1
        elif code[i] == PARAM:
            slot[i] = n_slots
            slot_params.append((n_slots, leaf[i]))
            n_slots += 1
    rg = [0] * n_slots
    for s, _ in slot_params:
        rg[s] = 1

    perm, rows, gidx, gathers = [], [], [], {}
    for gi in order:
        _, members, operands = groups[gi]
        kind, extra = payload[gi]
        n = len(members)
        if kind == DENSE:
            src = [slot[x] for x in operands]
            k, start = len(src), src[0]
            if src != list(range(start, start + k)):  # inputs not a contiguous block: gather them
                start = gathers.get(tuple(src), -1)
                if start < 0:
                    start = gathers[tuple(src)] = n_slots
                    rows.append((GATHER, start, len(gidx), -1, k, 0, -1, 0.0))
                    gidx += src
                    rg += [rg[s] for s in src]
                    n_slots += k
            p = len(perm)
            perm += [int(leaf[w]) for d in extra for w in d[2]]
            bias = -1
            if extra[0][3] >= 0:
                bias = len(perm)
                perm += [int(leaf[d[3]]) for d in extra]
            rows.append((DENSE, n_slots, start, bias, n, k, p, 0.0))
            rg += [1] * n
        else:
            x = slot[operands[0]]
            y = slot[operands[1]] if _ARITY[kind] == 2 else -1
            need = any(rg[x:x + n]) or (y >= 0 and rg[y] == 1)
            rows.append((kind, n_slots, x, y, n, 0, -1, float(extra)))
            rg += [1 if need else 0] * n
        for q, m in enumerate(members):
            slot[m] = n_slots + q
        n_slots += n
    used = set(perm)
    rest = [j for j in range(g.n_params) if j not in used]
    theta_of = {j: len(perm) + r for r, j in enumerate(rest)}
    perm += rest
    output_roots = g.roots[:-1] if has_loss else g.roots
    prog = Program(rows, gidx, n_slots, input_slots, target_slots, [slot[r] for r in output_roots],
                   slot[g.roots[-1]] if has_loss else -1,
                   [s for s, _ in slot_params], [theta_of[int(j)] for _, j in slot_params],
                   const_slots, const_vals, perm, rg)
    return validate(prog)
