"""A fast layered layout for graphs too big for Graphviz's ``dot`` to lay out quickly.

``dot`` spends minutes placing the ~13,000 nodes of a 2-16-16-1 MLP with its
loss over 10 samples (network simplex and crossing minimisation). This module
places nodes itself in linear time, the way ``dot`` would in spirit: each node
on the rank one past its deepest operand, and within a rank at the average
position of its neighbours, pushed apart so nothing overlaps. Graphviz then
only draws (``layout=nop``: positions given, straight edges), which takes a
second or two.

Contract: ``layered_positions(order, preds, size, rankdir)`` takes node ids in
topological order (operands first), each node's operand ids, and each node's
(width, height) in points; it returns ``{id: (x, y)}`` in points. Iterative.
``place_nodes(nodes, edges, rankdir)`` does it for a drawing (Graphviz
attribute dicts), sizing nodes from their labels, and pins ``pos`` on each.
``dot_cost(nodes, edges)`` tells when dot's own layout would be slow (long
edges), so ``draw_dot(layout='auto')`` can use this layout instead.
"""

from __future__ import annotations

from collections.abc import Sequence

RANK_GAP = 40.0  # points between neighbouring ranks
NODE_GAP = 12.0  # points between neighbours on one rank


def _spread(ids: list[str], want: dict[str, float], along: dict[str, float]) -> dict[str, float]:
    """Positions on one rank: as close to `want` as possible without overlapping."""
    ids = sorted(ids, key=lambda n: want[n])  # stable: ties keep their order
    pos, prev = {}, None
    for n in ids:
        p = want[n]
        if prev is not None:
            p = max(p, pos[prev] + (along[prev] + along[n]) / 2 + NODE_GAP)
        pos[n] = p
        prev = n
    return pos


def layered_positions(
    order: Sequence[str], preds: dict[str, Sequence[str]], size: dict[str, tuple[float, float]], rankdir: str = "LR"
) -> dict[str, tuple[float, float]]:
    lr = rankdir in ("LR", "RL")
    across = {n: size[n][0] if lr else size[n][1] for n in order}  # extent along the rank axis
    along = {n: size[n][1] if lr else size[n][0] for n in order}  # extent within a rank
    rank: dict[str, int] = {}
    succs: dict[str, list[str]] = {n: [] for n in order}
    for n in order:
        ps = preds.get(n, ())
        rank[n] = 1 + max((rank[p] for p in ps), default=-1)
        for p in ps:
            succs[p].append(n)
    by_rank: list[list[str]] = [[] for _ in range(max(rank.values(), default=0) + 1)]
    for n in order:
        by_rank[rank[n]].append(n)

    # forward pass: leaves in order of appearance, then each rank at its operands' mean
    slot: dict[str, float] = {}
    for r, ids in enumerate(by_rank):
        if r == 0:
            want, acc = {}, 0.0
            for n in ids:
                want[n] = acc
                acc += along[n] + NODE_GAP
        else:
            want = {n: sum(slot[p] for p in preds[n]) / len(preds[n]) for n in ids}
        slot.update(_spread(ids, want, along))
    # backward pass: leaves move next to the nodes that use them
    leaves = [n for n in by_rank[0] if succs[n]]
    want = {n: sum(slot[s] for s in succs[n]) / len(succs[n]) for n in leaves}
    want.update({n: slot[n] for n in by_rank[0] if not succs[n]})
    slot.update(_spread(by_rank[0], want, along))

    # rank coordinates: each rank as thick as its thickest node
    depth, acc = [], 0.0
    for ids in by_rank:
        thick = max(across[n] for n in ids)
        depth.append(acc + thick / 2)
        acc += thick + RANK_GAP
    flip = rankdir in ("RL", "BT")
    out = {}
    for n in order:
        d = depth[rank[n]]
        d = acc - d if flip else d
        out[n] = (d, -slot[n]) if lr else (slot[n], -d)
    return out


def node_size(attrs: dict, lr: bool) -> tuple:
    """(width, height) in points, estimated generously from the label (Times 14: ~7.5 points a character)."""
    label = attrs["label"].replace("\\", "")
    if attrs.get("shape") == "record":
        fields = label.strip("{} ").split(" | ")
        if label.startswith("{") != lr:  # fields stacked
            return max(8.0 * len(f) + 18.0 for f in fields), 23.0 * len(fields)
        return sum(8.0 * len(f) + 18.0 for f in fields), 36.0
    return max(54.0, 8.0 * len(label) + 24.0), 36.0


def _topological(nodes: dict[str, dict], edges: list) -> tuple:
    """(order, preds, succs) of a drawing: Kahn's algorithm, operands first, iterative."""
    preds: dict[str, list] = {n: [] for n in nodes}
    succs: dict[str, list] = {n: [] for n in nodes}
    for src, dst, _ in edges:
        preds[dst].append(src)
        succs[src].append(dst)
    missing = {n: len(p) for n, p in preds.items()}
    order = [n for n, k in missing.items() if k == 0]
    for n in order:  # the list grows while we walk it
        for s in succs[n]:
            missing[s] -= 1
            if missing[s] == 0:
                order.append(s)
    return order, preds, succs


def dot_cost(nodes: dict[str, dict], edges: list) -> int:
    """How hard a drawing is for dot's own layout: the sum over edges of (ranks skipped)².

    dot splits an edge that spans k ranks into k - 1 virtual nodes, and its crossing minimisation
    grows much faster than linearly when long edges pile up, while many nodes with short edges stay
    fast (the times per graph shape: docs/benchmarks.md, "Tuning decisions", ``dot.SLOW_ABOVE``).

    Ranks as dot picks them in spirit: a node one past its deepest operand, and a leaf right before
    its first use (dot's network simplex pulls a constant next to the op that takes it).
    """
    order, preds, succs = _topological(nodes, edges)
    rank: dict[str, int] = {}
    for n in order:
        rank[n] = 1 + max((rank[p] for p in preds[n]), default=-1)
    for n in order:
        if not preds[n] and succs[n]:
            rank[n] = min(rank[s] for s in succs[n]) - 1
    return sum(max(0, rank[d] - rank[s] - 1) ** 2 for s, d, _ in edges)


def place_nodes(nodes: dict[str, dict], edges: list, rankdir: str) -> None:
    """Set a 'pos' attribute (points, pinned) on every node of a drawing: {id: attrs}, [(src, dst, attrs)]."""
    order, preds, _ = _topological(nodes, edges)
    pos = layered_positions(order, preds, {n: node_size(a, rankdir in ("LR", "RL")) for n, a in nodes.items()}, rankdir)
    for n, (x, y) in pos.items():
        nodes[n]["pos"] = f"{x:.1f},{y:.1f}!"


def legend_position(nodes: dict[str, dict]) -> tuple:
    xy = [tuple(map(float, a["pos"].rstrip("!").split(","))) for a in nodes.values()]
    return min(x for x, _ in xy), max(y for _, y in xy) + 150.0
