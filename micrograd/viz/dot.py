"""draw_dot and save_graph: a Value graph as a Graphviz diagram, micrograd's look and more.

``draw_dot(root)`` returns a ``graphviz.Digraph`` (it renders inline in
Jupyter) drawn as micrograd draws it: one record node ``label | data | grad``
per Value, a small node with the op symbol for each computed Value, edges from
operands to the op. A Value used twice by one op (``x*x``) gets two edges.
Node ids are positions in ``topological_order`` (``v0``, ``v0op``, ...), so
the same graph gives the same DOT source byte for byte.

Options (keywords): ``show_grad``; ``color_by='grad'`` (fill by log10 |grad|,
with a legend); ``model=`` an nn module with ``cluster_modules=True`` (a
labelled box per module call) and ``collapse=`` a module kind ('neuron',
'layer', 'mlp'; None: automatic when the drawing would exceed ``max_nodes``;
False: never) drawing one summary node per call (with ``color_by='grad'`` it is filled by the largest
gradient the call passes to its module's weights, which it also prints: a ReLU at 0 shows grey, however
large its output's gradient); ``highlight=`` Values (a set
or a path) drawn with a thick red outline; ``layout='dot' | 'fast' | 'auto'``
('fast' places nodes in Python and lets Graphviz only draw: big graphs in
seconds instead of minutes; 'auto' picks it above ``FAST_ABOVE`` nodes, or when long edges would
make dot slow: ``layout.dot_cost`` above ``SLOW_ABOVE``; a drawing of up to 2,000 nodes takes under
2 s, except with ``cluster_modules``, which only dot can place).

``save_graph(root, path, **draw_kwargs)`` writes .svg, .png, .pdf, .dot or .gv
by the suffix. Without Graphviz's ``dot`` program it writes the DOT source
next to the path and raises a RuntimeError that says how to install Graphviz.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import graphviz

from micrograd._files import write_bytes, write_text
from micrograd.engine import OPS, Value, topological_order
from micrograd.ieee import ieee_call
from micrograd.viz.colors import GradScale
from micrograd.viz.layout import dot_cost, legend_position, place_nodes
from micrograd.viz.modules import Grouping

# The drawing times behind these two: docs/benchmarks.md, "Tuning decisions".
FAST_ABOVE = 1500  # drawn nodes above which layout='auto' skips dot's own layout
SLOW_ABOVE = 50_000  # layout.dot_cost above which it skips it too: dot would take seconds to minutes
MISSING_DOT = (
    "Graphviz's 'dot' program was not found; install it (apt-get install graphviz / "
    "brew install graphviz / conda install graphviz). The DOT source was written to {}"
)
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": None, ".gv": None}
HIGHLIGHT = {"color": "#d62728", "penwidth": "3"}


class DotNotFound(RuntimeError):
    """Graphviz's dot program is not installed (the message says how to install it)."""


class Diagram(graphviz.Digraph):
    """A graphviz.Digraph whose rendering says how to install Graphviz when ``dot`` is missing."""

    def pipe(self, *args, **kwargs):
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise DotNotFound(MISSING_DOT.format("nowhere yet: it is in the .source attribute")) from None

    def render(self, filename=None, *args, **kwargs):
        try:
            return super().render(filename, *args, **kwargs)
        except graphviz.ExecutableNotFound:  # render saved the source before running dot
            raise DotNotFound(MISSING_DOT.format(self.filepath)) from None


def _esc(text: str) -> str:
    """Escape the characters that structure a record label, and '&' (Graphviz reads '&amp;' as '&')."""
    text = text.replace("&", "&amp;")
    for ch in "\\{}|<>":
        text = text.replace(ch, "\\" + ch)
    return text


def _record(fields, braces: bool) -> str:
    body = " | ".join(fields)
    return f"{{ {body} }}" if braces else body


def _fmt(x: float) -> str:
    """micrograd's %.4f, except where it would hide the number (a vanishing grad is not 0.0000)."""
    return f"{x:.4f}" if x == 0.0 or 1e-3 <= abs(x) < 1e6 or x != x else f"{x:.3e}"


def draw_dot(
    root: Value | Iterable[Value],
    format: str = "svg",
    rankdir: str = "LR",
    show_grad: bool = True,
    color_by: str | None = None,
    cluster_modules: bool = False,
    collapse: str | None | bool = None,
    highlight: Iterable[Value] | None = None,
    *,
    model=None,
    max_nodes: int = 200,
    layout: str = "auto",
    names: dict[Value, str] | None = None,
    svg_ids: bool = False,
    number_format: Callable[[float], str] | None = None,
) -> Diagram:
    """Draw the graph of root (a Value, or several) as a Graphviz Digraph; see the module docstring.

    names: labels to show instead of Value.label. svg_ids: give every SVG element its node id.
    number_format: how a Value's data and grad are written (default: micrograd's %.4f, exponent
    form where that would hide the number).
    """
    d = drawing(
        root,
        rankdir,
        show_grad,
        color_by,
        cluster_modules,
        collapse,
        highlight,
        model=model,
        max_nodes=max_nodes,
        layout=layout,
        names=names,
        number_format=number_format,
    )
    nodes, edges, container = d.nodes, d.edges, d.container
    g = Diagram(format=format, graph_attr={"rankdir": rankdir})
    if d.fast:
        g.graph_attr.update(layout="nop", splines="false", outputorder="edgesfirst")  # Graphviz only draws
    if svg_ids:
        for nid, attrs in nodes.items():
            attrs["id"] = nid
    boxes = _cluster_graphs(nodes, container) if cluster_modules else {}
    for nid, attrs in nodes.items():
        box = boxes.get(container[nid]) if cluster_modules else None
        (box if box is not None else g).node(nid, **attrs)
    _attach_clusters(g, boxes)
    for src, dst, attrs in edges:
        g.edge(src, dst, **attrs)
    if d.scale is not None:
        g.node(
            "legend",
            label=d.scale.legend_label(),
            shape="plaintext",
            **({"pos": "{:.1f},{:.1f}!".format(*legend_position(nodes))} if d.fast else {}),
        )
    return g


class Drawing(NamedTuple):
    """What draw_dot draws, before Graphviz: nodes {id: attributes} in drawing order, edges (src, dst,
    attributes), the module call whose box holds each node, the colour scale, and whether the nodes
    carry pinned positions ('pos', from the linear-time layout) instead of being left to dot."""

    nodes: dict[str, dict]
    edges: list
    container: dict[str, object]
    scale: GradScale | None
    fast: bool


def drawing(
    root: Value | Iterable[Value],
    rankdir: str = "LR",
    show_grad: bool = True,
    color_by: str | None = None,
    cluster_modules: bool = False,
    collapse: str | None | bool = None,
    highlight: Iterable[Value] | None = None,
    *,
    model=None,
    max_nodes: int = 200,
    layout: str = "auto",
    names: dict[Value, str] | None = None,
    number_format: Callable[[float], str] | None = None,
) -> Drawing:
    """The nodes and edges of draw_dot's drawing (same options), placed by layout.py when it is fast."""
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be 'LR', 'TB', 'RL' or 'BT', got {rankdir!r}")
    if color_by not in (None, "grad"):
        raise ValueError(f"color_by must be None or 'grad', got {color_by!r}")
    if layout not in ("auto", "dot", "fast"):
        raise ValueError(f"layout must be 'auto', 'dot' or 'fast', got {layout!r}")
    if cluster_modules and layout == "fast":
        raise ValueError(
            "cluster_modules draws boxes that only Graphviz's own layout places: use layout='auto' or 'dot'"
        )
    if (cluster_modules or collapse) and model is None:
        raise ValueError("cluster_modules and collapse need the model: draw_dot(loss, model=model, ...)")
    roots = [root] if isinstance(root, Value) else list(root)
    topo = topological_order(roots)
    index = {v: i for i, v in enumerate(topo)}
    hl = set(highlight) if highlight is not None else set()
    stray = [v for v in hl if v not in index]
    if stray:
        raise ValueError(f"highlight holds {len(stray)} Value(s) that are not in the drawn graph, e.g. {stray[0]!r}")

    grouping = Grouping(topo, model) if model is not None else None
    level = _collapse_level(topo, grouping, collapse, max_nodes)
    group = {v: c for v in topo if (c := grouping.group_at(v, level)) is not None} if level else {}
    members: dict[object, int] = {}
    for c in group.values():
        members[c] = members.get(c, 0) + 1
    weights = _weight_grads(topo, group, grouping) if level else {}
    scale = GradScale([v.grad for v in topo] + list(weights.values())) if color_by == "grad" else None
    names = names or {}
    num = number_format or _fmt

    b = _Builder(index, group, grouping, hl)
    for v in topo:
        c = group.get(v)
        if c is not None:
            b.member(v, c, functools.partial(_summary_attrs, c, members[c], show_grad, scale, rankdir, weights.get(c)))
            continue
        fields = [_esc(names.get(v, v.label)), "data " + _esc(num(v.data))]
        if show_grad:
            fields.append("grad " + _esc(num(v.grad)))
        attrs = {"label": _record(fields, braces=rankdir in ("LR", "RL")), "shape": "record"}
        if scale is not None:
            fill, font = scale.colors(v.grad)
            attrs.update(style="filled", fillcolor=fill, fontcolor=font)
        b.value(v, attrs)
    nodes, edges = b.nodes, b.edges
    # dot's own layout takes minutes on big graphs and on long edges (x*x*...*x, Horner polynomials):
    # place those in linear time and let Graphviz only draw (see layout.dot_cost for the measurements)
    fast = layout == "fast" or (
        layout == "auto" and not cluster_modules and (len(nodes) > FAST_ABOVE or dot_cost(nodes, edges) > SLOW_ABOVE)
    )
    if fast:
        place_nodes(nodes, edges, rankdir)
    return Drawing(nodes, edges, b.container, scale, fast)


class _Builder:
    """Nodes and edges of a drawing; Values inside a collapsed call become one summary node."""

    def __init__(self, index, group, grouping, hl):
        self.index, self.group, self.grouping, self.hl = index, group, grouping, hl
        self.nodes: dict[str, dict] = {}  # id -> attributes, in drawing order (op before its value)
        self.container: dict[str, object] = {}  # id -> the module call whose box holds it
        self.edges: list = []  # (src, dst, attributes)
        self._seen = set()  # edges from or to summary nodes, drawn once

    def rep(self, v: Value) -> str:
        c = self.group.get(v)
        return f"m{c.key}" if c is not None else f"v{self.index[v]}"

    def _edge_once(self, src: str, dst: str) -> None:
        if (src, dst) not in self._seen:
            self._seen.add((src, dst))
            self.edges.append((src, dst, {}))

    def member(self, v: Value, c, summary) -> None:
        """v is inside call c's summary node: only edges that enter the group are drawn."""
        gid = f"m{c.key}"
        if gid not in self.nodes:
            self.nodes[gid] = summary()
            self.container[gid] = c.parent
        if v in self.hl:
            self.nodes[gid].update(HIGHLIGHT)
        for ch in v._children:
            src = self.rep(ch)
            if src != gid and not self.grouping.is_param_of(ch, c):  # parameters live inside
                self._edge_once(src, gid)

    def value(self, v: Value, attrs: dict) -> None:
        """v's record node, its op node, and edges operand -> op -> v (an operand used twice: two edges)."""
        hl = self.hl
        vid = f"v{self.index[v]}"
        if v in hl:
            attrs.update(HIGHLIGHT)
        box = self.grouping.owner.get(v) if self.grouping else None
        if v._children:
            opid = vid + "op"
            self.nodes[opid] = {"label": _esc(v._op or "?")} | (HIGHLIGHT if v in hl else {})
            self.container[opid] = box
        self.nodes[vid] = attrs
        self.container[vid] = box
        if v._children:
            self.edges.append((opid, vid, HIGHLIGHT if v in hl and any(ch in hl for ch in v._children) else {}))
            for ch in v._children:
                src = self.rep(ch)
                if src.startswith("m"):
                    self._edge_once(src, opid)
                else:
                    self.edges.append((src, opid, HIGHLIGHT if v in hl and ch in hl else {}))


def _collapse_level(topo, grouping, collapse, max_nodes: int) -> str | None:
    """The module kind to collapse, or None."""
    if grouping is None or collapse is False:
        return None
    levels = grouping.levels()
    if isinstance(collapse, str):
        if collapse.lower() not in levels:
            raise ValueError(f"collapse={collapse!r}: this model has module kinds {levels}, or use None/False")
        return collapse.lower()
    if collapse is not None:
        raise ValueError(f"collapse must be a module kind {levels}, None (automatic) or False, got {collapse!r}")
    if _count(topo, lambda v: None) <= max_nodes:
        return None
    for lvl in levels:  # finest level that fits the budget, else the coarsest
        if _count(topo, lambda v, lvl=lvl: grouping.group_at(v, lvl)) <= max_nodes:
            return lvl
    return levels[-1] if levels else None


def _count(topo, group_of) -> int:
    """Nodes a drawing would have: summary nodes plus visible Values and their op nodes."""
    groups, n = set(), 0
    for v in topo:
        c = group_of(v)
        if c is None:
            n += 2 if v._children else 1
        else:
            groups.add(c.key)
    return n + len(groups)


def _weight_grads(topo, group, grouping) -> dict:
    """Per collapsed call: the largest |gradient| it passes to its module's parameters (w.grad's and
    b.grad's share from this call: each op that takes a parameter, its local derivative times its
    grad, as backward() adds it). A ReLU at 0 passes none, however large the gradient of its output.
    Calls whose parameters only enter custom ops (no op-table derivative) are left out."""
    found: dict = {}
    for v in topo:
        c = group.get(v)
        if c is None or not v._children or v._code < 0 or v._custom_backward is not None:
            continue
        takes = [k for k, ch in enumerate(v._children) if grouping.is_param_of(ch, c)]
        if not takes:
            continue
        x = v._children[0].data
        y = v._children[1].data if len(v._children) == 2 else 0.0
        local = ieee_call(OPS[v._code].backward, x, y, v._arg, v.data)
        for k in takes:
            g = abs(local[k] * v.grad)
            best = found.get(c, 0.0)
            found[c] = g if g != g or g > best else best  # NaN sticks: it is what the picture must show
    return found


def _summary_attrs(call, members: int, show_grad: bool, scale, rankdir: str, weights: float | None = None) -> dict:
    fields = [_esc(call.title), f"{members} nodes"]
    outs = call.outputs
    for k, o in enumerate(outs[:3]):
        tag = "out" if len(outs) == 1 else f"out[{k}]"
        fields.append(f"{tag} data {_fmt(o.data)}" + (f" grad {_fmt(o.grad)}" if show_grad else ""))
    if len(outs) > 3:
        fields.append(f"... {len(outs)} outputs")
    if show_grad and weights is not None:
        reach = _esc(f"to its weights: |grad| {_fmt(weights)}")
        fields.append("no gradient reaches its weights" if weights == 0.0 else reach)
    # fields stacked (a narrow box): braces flip the record's direction, and LR flips it again
    attrs = {
        "label": _record(fields, braces=rankdir in ("TB", "BT")),
        "shape": "record",
        "style": "rounded,filled",
        "fillcolor": "#dbe9f6",
    }
    if scale is not None:  # what reaches the weights speaks for the module (else its largest output gradient)
        shown = weights if weights is not None else max((o.grad for o in outs), key=abs)
        attrs["fillcolor"], attrs["fontcolor"] = scale.colors(shown)
    return attrs


def _cluster_graphs(nodes: dict[str, dict], container: dict) -> dict:
    """One cluster subgraph per module call that holds a node, and per enclosing call."""
    boxes = {}
    for call in set(container.values()):
        while call is not None and call not in boxes:
            boxes[call] = graphviz.Digraph(
                name=f"cluster_m{call.key}",
                graph_attr={"label": _esc(call.title), "style": "rounded", "color": "#4a6fa5", "fontcolor": "#4a6fa5"},
            )
            call = call.parent
    return boxes


def _attach_clusters(g: graphviz.Digraph, boxes: dict) -> None:
    """Nest the clusters, innermost first (subgraph() copies the body it is given)."""

    def depth(call):
        d = 0
        while call.parent is not None:
            call, d = call.parent, d + 1
        return d

    for call in sorted(boxes, key=lambda c: (-depth(c), c.key)):
        (boxes[call.parent] if call.parent is not None else g).subgraph(boxes[call])


def save_graph(root: Value | Iterable[Value], path: str | Path, **draw_kwargs) -> Path:
    """Draw root and write it to path: .svg, .png, .pdf (rendered by dot) or .dot/.gv (DOT source).

    Without Graphviz's dot program, the DOT source goes to path with suffix .dot
    and a RuntimeError says how to install Graphviz.
    """
    _format_of(path)  # a bad suffix is refused before any drawing
    return save_diagram(draw_dot(root, **draw_kwargs), path)


def _format_of(path: str | Path) -> str | None:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"save_graph: unknown suffix {Path(path).suffix!r} in {str(path)!r}; use one of {sorted(FORMATS)}"
        )
    return FORMATS[suffix]


def save_diagram(g: graphviz.Digraph, path: str | Path) -> Path:
    """Write a drawn graph (any graphviz Digraph) to path as ``save_graph`` does, atomically."""
    path = Path(path)
    fmt = _format_of(path)
    if fmt is None:
        write_text(path, g.source)
        return path
    dot_path = path.with_suffix(".dot")
    try:
        if shutil.which("dot") is None:
            raise graphviz.ExecutableNotFound(["dot"])
        data = graphviz.Digraph.pipe(g, format=fmt)
    except graphviz.ExecutableNotFound:
        write_text(dot_path, g.source)
        raise DotNotFound(MISSING_DOT.format(dot_path)) from None
    write_bytes(path, data)  # atomically: an old picture stays whole until the new one is complete
    return path
