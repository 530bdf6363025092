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
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

RANK_GAP = 40.0   # points between neighbouring ranks
NODE_GAP = 12.0   # points between neighbours on one rank


def _spread(ids: List[str], want: Dict[str, float], along: Dict[str, float]) -> Dict[str, float]:
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


def layered_positions(order: Sequence[str], preds: Dict[str, Sequence[str]],
                      size: Dict[str, Tuple[float, float]], rankdir: str = "LR") -> Dict[str, Tuple[float, float]]:
    lr = rankdir in ("LR", "RL")
    across = {n: size[n][0] if lr else size[n][1] for n in order}  # extent along the rank axis
    along = {n: size[n][1] if lr else size[n][0] for n in order}   # extent within a rank
    rank: Dict[str, int] = {}
    succs: Dict[str, List[str]] = {n: [] for n in order}
    for n in order:
        ps = preds.get(n, ())
        rank[n] = 1 + max((rank[p] for p in ps), default=-1)
        for p in ps:
            succs[p].append(n)
    by_rank: List[List[str]] = [[] for _ in range(max(rank.values(), default=0) + 1)]
    for n in order:
        by_rank[rank[n]].append(n)

    # forward pass: leaves in order of appearance, then each rank at its operands' mean
    slot: Dict[str, float] = {}
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


def _size(attrs: dict, lr: bool) -> tuple:
    """(width, height) in points, estimated generously from the label (Times 14: ~7.5 points a character)."""
    label = attrs["label"].replace("\\", "")
    if attrs.get("shape") == "record":
        fields = label.strip("{} ").split(" | ")
        if label.startswith("{") != lr:  # fields stacked
            return max(8.0 * len(f) + 18.0 for f in fields), 23.0 * len(fields)
        return sum(8.0 * len(f) + 18.0 for f in fields), 36.0
    return max(54.0, 8.0 * len(label) + 24.0), 36.0


def place_nodes(nodes: Dict[str, dict], edges: list, rankdir: str) -> None:
    """Set a 'pos' attribute (points, pinned) on every node of a drawing: {id: attrs}, [(src, dst, attrs)]."""
    preds: Dict[str, list] = {n: [] for n in nodes}
    succs: Dict[str, list] = {n: [] for n in nodes}
    for src, dst, _ in edges:
        preds[dst].append(src)
        succs[src].append(dst)
    missing = {n: len(p) for n, p in preds.items()}  # Kahn's algorithm: a topological order
    order = [n for n, k in missing.items() if k == 0]
    for n in order:  # the list grows while we walk it
        for s in succs[n]:
            missing[s] -= 1
            if missing[s] == 0:
                order.append(s)
    pos = layered_positions(order, preds, {n: _size(a, rankdir in ("LR", "RL")) for n, a in nodes.items()}, rankdir)
    for n, (x, y) in pos.items():
        nodes[n]["pos"] = "%.1f,%.1f!" % (x, y)


def legend_position(nodes: Dict[str, dict]) -> tuple:
    xy = [tuple(map(float, a["pos"].rstrip("!").split(","))) for a in nodes.values()]
    return min(x for x, _ in xy), max(y for _, y in xy) + 150.0
