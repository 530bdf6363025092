"""A drawing as SVG without Graphviz: for the backprop stepper page on a machine without ``dot``.

``render_svg(drawing, rankdir)`` takes a ``dot.Drawing`` whose nodes carry
pinned positions (``layout.place_nodes``, so ``dot.drawing(..., layout='fast')``)
and writes the SVG that Graphviz would write for it, in the parts the stepper
page relies on: one ``<g id=ID class="node">`` per node holding a ``polygon``
(record: the box and its field separators, one ``text`` per field) or an
``ellipse`` (op node, one ``text``), and one ``<g class="edge">`` per edge with
a straight line and an arrowhead. Text is escaped; sizes come from
``layout``'s estimate (Times 14). Deterministic: the same drawing gives the
same bytes.
"""

from __future__ import annotations

import html
import math
import re

from micrograd.viz.layout import node_size

PAD = 8.0  # points around the drawing


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
    return (
        f'<text text-anchor="middle" x="{x:.1f}" y="{y + 4.5:.1f}" font-family="Times,serif" '
        f'font-size="14.00" fill="{color}">{html.escape(s)}</text>'
    )


def render_svg(nodes: dict[str, dict], edges: list, rankdir: str = "LR") -> str:
    """SVG text for a drawing with pinned 'pos' on every node (see the module docstring)."""
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
    out = [
        f'<svg width="{width:.0f}pt" height="{height:.0f}pt" viewBox="{x0:.1f} {y0:.1f} {width:.1f} {height:.1f}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        '<g id="graph0" class="graph">',
    ]
    for src, dst, attrs in edges:  # edges first: nodes are drawn over them, as outputorder=edgesfirst
        out.append(_edge(box[src], box[dst], attrs.get("color", "black"), attrs.get("penwidth", "1")))
    for nid, a in nodes.items():
        out.append(_node(nid, a, box[nid], lr))
    out.append("</g></svg>")
    return "\n".join(out)


def _border(box, x2: float, y2: float) -> tuple[float, float]:
    """Where the segment from the box's centre to (x2, y2) leaves the box."""
    cx, cy, w, h = box
    dx, dy = x2 - cx, y2 - cy
    if dx == 0 and dy == 0:
        return cx, cy
    t = min(w / 2 / abs(dx) if dx else math.inf, h / 2 / abs(dy) if dy else math.inf)
    return cx + dx * t, cy + dy * t


def _edge(a, b, color: str, width: str) -> str:
    x1, y1 = _border(a, b[0], b[1])
    x2, y2 = _border(b, a[0], a[1])
    d = math.hypot(x2 - x1, y2 - y1) or 1.0
    ux, uy = (x2 - x1) / d, (y2 - y1) / d
    bx, by = x2 - 10 * ux, y2 - 10 * uy  # arrowhead: 10 points long, 7 wide, as Graphviz's
    head = f"{x2:.1f},{y2:.1f} {bx - 3.5 * uy:.1f},{by + 3.5 * ux:.1f} {bx + 3.5 * uy:.1f},{by - 3.5 * ux:.1f}"
    return (
        f'<g class="edge"><path fill="none" stroke="{color}" stroke-width="{width}" '
        f'd="M{x1:.1f},{y1:.1f}L{bx:.1f},{by:.1f}"/>'
        f'<polygon fill="{color}" stroke="{color}" points="{head}"/></g>'
    )


def _node(nid: str, a: dict, box, lr: bool) -> str:
    cx, cy, w, h = box
    fill = a.get("fillcolor", "none") if "filled" in a.get("style", "") else "none"
    stroke, pen = a.get("color", "black"), a.get("penwidth", "1")
    font = a.get("fontcolor", "black")
    parts = [f'<g id="{html.escape(nid)}" class="node"><title>{html.escape(nid)}</title>']
    if a.get("shape") != "record":
        parts.append(
            f'<ellipse fill="{fill}" stroke="{stroke}" stroke-width="{pen}" cx="{cx:.1f}" cy="{cy:.1f}" '
            f'rx="{w / 2:.1f}" ry="{h / 2:.1f}"/>'
        )
        parts.append(_text(cx, cy, _unescape(a["label"]), font))
        return "".join(parts) + "</g>"
    left, top = cx - w / 2, cy - h / 2
    parts.append(
        f'<polygon fill="{fill}" stroke="{stroke}" stroke-width="{pen}" points="{left:.1f},{top:.1f} '
        f'{left + w:.1f},{top:.1f} {left + w:.1f},{top + h:.1f} {left:.1f},{top + h:.1f}"/>'
    )
    fields = _fields(a["label"])
    stacked = a["label"].startswith("{") != lr
    if stacked:
        step = h / len(fields)
        for k, f in enumerate(fields):
            if k:
                parts.append(
                    f'<polyline fill="none" stroke="{stroke}" points="{left:.1f},{top + k * step:.1f} '
                    f'{left + w:.1f},{top + k * step:.1f}"/>'
                )
            parts.append(_text(cx, top + (k + 0.5) * step, f, font))
    else:
        x = left
        for k, f in enumerate(fields):
            fw = 8.0 * len(f) + 18.0
            if k:
                parts.append(
                    f'<polyline fill="none" stroke="{stroke}" points="{x:.1f},{top:.1f} {x:.1f},{top + h:.1f}"/>'
                )
            parts.append(_text(x + fw / 2, cy, f, font))
            x += fw
    return "".join(parts) + "</g>"
