"""A drawing as SVG pieces without Graphviz, for the backprop stepper page: on a machine without ``dot``,
and for graphs too big to put in a page as one SVG.

``drawing_items(nodes, edges, rankdir)`` takes a ``dot.Drawing``'s nodes and edges, with pinned
positions on the nodes (``layout.place_nodes``, so ``dot.drawing(..., layout='fast')``), and cuts
the picture into items, each its bounding box and its SVG markup, which a page puts in the
document only while they are in view: a drawing of 15,000 Values is 100,000 SVG elements, which
take a browser many seconds to parse and lay out. Returns {'view': [x0, y0, width, height] (the
viewBox, points, y down), 'font': the labels' size, 'nodes': [[x0, y0, x1, y1, id, markup]...],
'edges': [[x0, y0, x1, y1, '', markup]...]}. A node is what Graphviz writes for it, in the parts the
stepper page relies on: one ``<g id=ID class="node">`` holding a ``polygon`` (record: the box, a
``path`` of its field separators, one ``text`` per field, the grad last) or an ``ellipse`` (op
node, one ``text``). Edges are straight lines with arrowheads, grouped by where they lie
(``CELL`` points square) and by colour and width, each group two ``path`` elements. The font is
set once, on the top group (``TOP_GROUP``). Text is escaped; sizes come from ``layout``'s estimate
(Times 14). Deterministic: the same drawing gives the same items.

``nest_groups(svg, size)`` wraps the node and edge groups of a drawing (dot's) in nested ``<g>``
elements of at most ``size`` children, in drawing order, ids and content unchanged. A browser
recomputes an SVG container's bounds over all of its children when one of them changes: nested,
a change costs about ``size`` per level instead of the whole drawing.
"""

from __future__ import annotations

import html
import math
import re
import xml.etree.ElementTree as ET

from micrograd.viz.layout import node_size

PAD = 8.0  # points around the drawing
SVG_NS, XLINK_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)  # written back as the drawing had them: no ns0: prefixes
ET.register_namespace("xlink", XLINK_NS)


def _fields(label: str) -> list[str]:
    """A record label's fields, unescaped: '{ x1 | data 2.0000 }' -> ['x1', 'data 2.0000']."""
    body = label.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    out, cur, i = [], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            cur.append(body[i + 1])
            i += 2
            continue
        if ch == "|":
            out.append("".join(cur).strip().replace("&amp;", "&"))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur).strip().replace("&amp;", "&"))
    return out


def _unescape(label: str) -> str:
    """A plain label as written: draw_dot's escapes (a backslash before one of \\{}|<>, '&amp;') removed."""
    return re.sub(r"\\(.)", r"\1", label).replace("&amp;", "&")


def _text(x: float, y: float, s: str, color: str) -> str:
    fill = "" if color == "black" else f' fill="{color}"'
    return f'<text x="{x:.1f}" y="{y + 4.5:.1f}"{fill}>{html.escape(s)}</text>'


FONT = 14.0  # the labels' size, in points (Graphviz's default)
CELL = 600.0  # points: edges are grouped by the cell of their midpoint
TOP_GROUP = '<g id="graph0" class="graph" font-family="Times,serif" font-size="14" text-anchor="middle">'


def drawing_items(nodes: dict[str, dict], edges: list, rankdir: str = "LR") -> dict:
    """The drawing cut into items to show while in view (see the module docstring)."""
    lr = rankdir in ("LR", "RL")
    box: dict[str, tuple[float, float, float, float]] = {}  # id -> (cx, cy, w, h), y down
    for nid, a in nodes.items():
        x, y = map(float, a["pos"].rstrip("!").split(","))
        w, h = node_size(a, lr)
        box[nid] = (x, -y, w, h)
    x0 = min(cx - w / 2 for cx, _, w, _ in box.values()) - PAD
    y0 = min(cy - h / 2 for _, cy, _, h in box.values()) - PAD
    width = max(cx + w / 2 for cx, _, w, _ in box.values()) - x0 + PAD
    height = max(cy + h / 2 for _, cy, _, h in box.values()) - y0 + PAD
    node_items = []
    for nid, a in nodes.items():
        cx, cy, w, h = box[nid]
        bbox = _r(cx - w / 2 - 3, cy - h / 2 - 3, cx + w / 2 + 3, cy + h / 2 + 3)  # a thick outline included
        node_items.append([*bbox, nid, _node(nid, a, box[nid], lr)])
    groups: dict[tuple, list] = {}  # (cell column, cell row, colour, width) -> [bbox, lines, heads]
    for src, dst, attrs in edges:
        (x1, y1), (x2, y2) = box[src][:2], box[dst][:2]
        key = (
            int((x1 + x2) / 2 // CELL),
            int((y1 + y2) / 2 // CELL),
            attrs.get("color", "black"),
            attrs.get("penwidth", "1"),
        )
        g = groups.setdefault(key, [[math.inf, math.inf, -math.inf, -math.inf], [], []])
        g[0] = [min(g[0][0], x1, x2), min(g[0][1], y1, y2), max(g[0][2], x1, x2), max(g[0][3], y1, y2)]
        line, head = _edge(box[src], box[dst])
        g[1].append(line)
        g[2].append(head)
    edge_items = []
    for (_, _, color, pen), (bb, lines, heads) in groups.items():
        markup = (
            f'<g class="edges"><path fill="none" stroke="{color}" stroke-width="{pen}" d="{"".join(lines)}"/>'
            f'<path fill="{color}" stroke="{color}" d="{"".join(heads)}"/></g>'
        )
        edge_items.append([*_r(bb[0] - 6, bb[1] - 6, bb[2] + 6, bb[3] + 6), "", markup])
    return {"view": _r(x0, y0, width, height), "font": FONT, "nodes": node_items, "edges": edge_items}


def _r(*xs: float) -> list[float]:
    return [round(x, 1) for x in xs]


def _border(box, x2: float, y2: float) -> tuple[float, float]:
    """Where the segment from the box's centre to (x2, y2) leaves the box."""
    cx, cy, w, h = box
    dx, dy = x2 - cx, y2 - cy
    if dx == 0 and dy == 0:
        return cx, cy
    t = min(w / 2 / abs(dx) if dx else math.inf, h / 2 / abs(dy) if dy else math.inf)
    return cx + dx * t, cy + dy * t


def _edge(a, b) -> tuple[str, str]:
    """An edge's line and arrowhead as path data (an arrowhead 10 points long, 7 wide, as Graphviz's)."""
    x1, y1 = _border(a, b[0], b[1])
    x2, y2 = _border(b, a[0], a[1])
    d = math.hypot(x2 - x1, y2 - y1) or 1.0
    ux, uy = (x2 - x1) / d, (y2 - y1) / d
    bx, by = x2 - 10 * ux, y2 - 10 * uy
    line = f"M{x1:.1f},{y1:.1f}L{bx:.1f},{by:.1f}"
    head = f"M{x2:.1f},{y2:.1f}L{bx - 3.5 * uy:.1f},{by + 3.5 * ux:.1f}L{bx + 3.5 * uy:.1f},{by - 3.5 * ux:.1f}Z"
    return line, head


def _node(nid: str, a: dict, box, lr: bool) -> str:
    cx, cy, w, h = box
    fill = a.get("fillcolor", "none") if "filled" in a.get("style", "") else "none"
    stroke, pen = a.get("color", "black"), a.get("penwidth", "1")
    font = a.get("fontcolor", "black")
    pen_attr = "" if pen == "1" else f' stroke-width="{pen}"'
    parts = [f'<g id="{html.escape(nid)}" class="node">']
    if a.get("shape") != "record":
        parts.append(
            f'<ellipse fill="{fill}" stroke="{stroke}"{pen_attr} cx="{cx:.1f}" cy="{cy:.1f}" '
            f'rx="{w / 2:.1f}" ry="{h / 2:.1f}"/>'
        )
        parts.append(_text(cx, cy, _unescape(a["label"]), font))
        return "".join(parts) + "</g>"
    left, top = cx - w / 2, cy - h / 2
    parts.append(
        f'<polygon fill="{fill}" stroke="{stroke}"{pen_attr} points="{left:.1f},{top:.1f} '
        f'{left + w:.1f},{top:.1f} {left + w:.1f},{top + h:.1f} {left:.1f},{top + h:.1f}"/>'
    )
    fields = _fields(a["label"])
    stacked = a["label"].startswith("{") != lr
    separators, texts = [], []
    if stacked:
        step = h / len(fields)
        for k, f in enumerate(fields):
            if k:
                separators.append(f"M{left:.1f},{top + k * step:.1f}H{left + w:.1f}")
            texts.append(_text(cx, top + (k + 0.5) * step, f, font))
    else:
        x = left
        for k, f in enumerate(fields):
            fw = 8.0 * len(f) + 18.0
            if k:
                separators.append(f"M{x:.1f},{top:.1f}V{top + h:.1f}")
            texts.append(_text(x + fw / 2, cy, f, font))
            x += fw
    if separators:  # the field separators: one path
        parts.append(f'<path fill="none" stroke="{stroke}" d="{"".join(separators)}"/>')
    return "".join(parts + texts) + "</g>"


def nest_groups(svg: str, size: int = 32) -> str:
    """svg with the ``<g>`` children of its top group wrapped, level by level, in ``<g>`` elements of at
    most ``size`` children (see the module docstring). Other children (dot's title, background) stay first."""
    if size < 2:
        raise ValueError(f"nest_groups: size must be at least 2, got {size}")
    root = ET.fromstring(svg)
    top = root.find(f"{{{SVG_NS}}}g")
    if top is None:
        return svg
    groups = [c for c in top if c.tag == f"{{{SVG_NS}}}g"]
    for c in groups:
        top.remove(c)
    while len(groups) > size:
        chunks = []
        for k in range(0, len(groups), size):
            g = ET.Element(f"{{{SVG_NS}}}g")
            g.extend(groups[k : k + size])
            chunks.append(g)
        groups = chunks
    top.extend(groups)
    return ET.tostring(root, encoding="unicode")
