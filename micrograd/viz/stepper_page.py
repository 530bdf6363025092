"""The HTML page of the backprop stepper: markup, CSS and JavaScript, all inline (no network).

``render_page(title, drawing, data)`` fills the template: ``drawing`` is an SVG (Graphviz's, for
graphs dot lays out itself) or ``svg.drawing_items``'s pieces (no dot, or a big graph), and
``data`` the steps of ``stepper.backprop_steps``, embedded as JSON.

A step costs the same at any graph size, and a big page loads in seconds:
- each step of the data lists the grads it sets (``set``: node, value, text); on load the page
  records, in one pass, what each entry replaces, so a step applies (or undoes) only its own
  entries and repaints only the nodes they touch. A jump (slider, Home, End) applies the steps
  in between the same way, array work only, and repaints each node it touched once. Nothing
  replays the steps from the start;
- the drawing in pieces and the table of Values are in the document only where they are in view
  (and around it): parts enter as the view scrolls or zooms to them and leave when it moves on.
  A whole Graphviz SVG has its groups nested (``svg.nest_groups``): a change in one re-measures
  a few dozen siblings, not all of them. A table of up to ``ALL_ROWS`` Values is there in full.

Every number on the page is printed one way, by ``number`` (``%.6g``: 1, -3, 0.5, 0.707107,
6.88137, 1e-05): the drawing's data and grad fields, the table, the explanations. The JavaScript
formats no number; it shows the texts the data carries.

The drawing opens at a zoom that keeps its labels at ``MIN_LABEL_PX`` (11) or more on screen, as
wide as the window allows; + and - (buttons or keys) zoom, never below that, dragging pans, and
each step scrolls the current node into view, in the drawing and in the table.

Stable hooks for scripts and tests: ``#prev #next #slider #step-label #explain #zoom-in
#zoom-out``, ``body[data-step]``, ``window.stepperReady`` (true once the page is set up),
``#graph[data-label-px]`` (the labels' size on screen), and per Value in view a row ``.row`` (the
current one ``.current``, its operands ``.operand``) whose grad cell ``.grad[data-node=i]`` has a
``data-grad`` attribute: the grad at the current step, written by JavaScript's ``String(x)`` (the
shortest text that reads back as the same float64). Keys: Left/Right one step, Home/End the first
/ last step, + and - zoom.
"""

from __future__ import annotations

import html
import json
import re

from micrograd.viz.svg import FONT, TOP_GROUP
from micrograd.viz.webpage import PAGE_HEAD, fill, script_json

MIN_LABEL_PX = 11  # the smallest on-screen size of the drawing's labels
ALL_ROWS = 1000  # Values in a table kept whole in the page; more: the rows in view (docs/benchmarks.md, Tuning)
ROW_PX = 22  # the height of a table row


def number(x: float) -> str:
    """How the page prints a number: six significant digits, trailing zeros dropped (1, -1.5, 0.707107)."""
    return f"{x:.6g}"


_TEMPLATE = (
    PAGE_HEAD
    + """#controls { display: flex; align-items: center; gap: 10px; margin: 8px 0; flex-wrap: wrap; }
#controls button { font-size: 15px; padding: 4px 14px; }
#controls button:disabled { opacity: 0.4; }
#slider { width: 320px; }
#step-label { font-weight: 600; min-width: 110px; }
#explain { font-family: ui-monospace, monospace; font-size: 14px; background: #f6f8fa; border: 1px solid #d0d7de;
           border-radius: 6px; padding: 8px 12px; min-height: 3.5em; white-space: pre-wrap; }
#main { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 12px; margin-top: 10px; }
#graph { flex: 1 1 420px; max-height: 72vh; overflow: auto; border: 1px solid #eee; cursor: grab; }
#graph.panning { cursor: grabbing; user-select: none; }
#graph svg { display: block; }
#table-box { flex: none; max-height: 72vh; overflow-y: auto; overflow-x: hidden; font-size: 14px;
             font-family: ui-monospace, monospace; }
#rows { position: relative; }
.row { display: grid; grid-template-columns: 15em 8em 8em; height: __ROW_PX__px; box-sizing: border-box; }
#rows > .row { position: absolute; left: 0; content-visibility: auto; contain-intrinsic-size: auto __ROW_PX__px; }
.row > span { border: 1px solid #ccc; margin: 0 -1px -1px 0; padding: 1px 8px; text-align: right;
              overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.row.head { position: sticky; top: 0; background: #fff; font-weight: 600; z-index: 1; }
.row.current > span { background: #fde2e2; }
.row.operand > span { background: #dbe9f6; }
.current > polygon, .current > ellipse { stroke: #d62728; stroke-width: 4; }
.operand > polygon, .operand > ellipse { stroke: #1f77b4; stroke-width: 4; }
.changed > polygon { fill: #fff3b0; }
.hint { color: #666; font-size: 13px; }
</style></head>
<body data-step="0">
<h1>__TITLE__</h1>
<div class="hint">Backpropagation one node at a time, in reverse topological order.
Red: the node whose gradient flows back; blue: its operands; yellow: grads that changed.
Keys: &larr; &rarr; one step, Home / End the first / last step, + / &minus; zoom; drag the drawing to pan.</div>
<div id="controls">
  <button id="prev" type="button">&larr; Previous</button>
  <input id="slider" type="range" min="0" max="0" value="0" step="1" aria-label="step">
  <button id="next" type="button">Next &rarr;</button>
  <span id="step-label"></span>
  <button id="zoom-out" type="button" title="zoom out (-)">&minus;</button>
  <button id="zoom-in" type="button" title="zoom in (+)">+</button>
</div>
<div id="explain"></div>
<script>
// the drawing's first zoom (screen pixels per point), set before it is parsed, since a later change lays
// all of it out again: as wide as the window allows, labels never below MIN_LABEL_PX, at most 100%
const VIEW = __VIEW__, MIN_ZOOM = __MIN_LABEL_PX__ / __FONT__, MAX_ZOOM = 4;
let zoom = Math.min(4 / 3, Math.max(MIN_ZOOM, (document.documentElement.clientWidth - 60) / VIEW[2]));
document.head.insertAdjacentHTML('beforeend',
  `<style id="zoom">#graph svg { width: ${VIEW[2] * zoom}px; height: ${VIEW[3] * zoom}px; }</style>`);
</script>
<div id="main">
  <div id="graph">__SVG__</div>
  <div id="table-box" role="table"><div class="row head" role="row"><span>Value</span><span>data</span><span>grad</span>
  </div><div id="rows"></div></div>
</div>
<script>
const DATA = __DATA__;
const steps = DATA.steps, last = steps.length - 1, n = DATA.names.length, ITEMS = DATA.items;
const slider = document.getElementById('slider'), prevBtn = document.getElementById('prev');
const nextBtn = document.getElementById('next'), graph = document.getElementById('graph');
const tableBox = document.getElementById('table-box'), rowsBox = document.getElementById('rows');
slider.max = String(last);

// ---- state: the grad of every node at the current step, and for each set entry what it replaced
const grad = new Float64Array(n), text = new Array(n).fill('0');
const before = steps.map(st => st.set.map(() => 0)), beforeText = steps.map(st => st.set.map(() => '0'));
steps.forEach((st, s) => st.set.forEach(([i, v, t], j) => {  // one pass over the steps, at load only
  before[s][j] = grad[i]; beforeText[s][j] = text[i]; grad[i] = v; text[i] = t;
}));
grad.fill(0); text.fill('0');  // the page opens at step 0: every grad 0

// ---- the marks of the current step: [element id, class], applied to what is in the document
let marks = [];
function applyMarks(el) { for (const [id, cls] of marks) if (id === el.id) el.classList.add(cls); }

// ---- the table: the rows in view (all of them for a short table), each made from the data
const rows = new Map();
function makeRow(i) {
  const r = document.createElement('div');
  r.className = 'row'; r.id = 'r' + i; r.setAttribute('role', 'row'); r.style.top = i * __ROW_PX__ + 'px';
  r.innerHTML = '<span class="name"></span><span></span><span class="grad"></span>';
  r.children[0].textContent = r.children[0].title = DATA.names[i];
  r.children[1].textContent = DATA.data[i];
  r.children[2].id = 'g' + i; r.children[2].dataset.node = String(i);
  r.children[2].textContent = text[i]; r.children[2].dataset.grad = String(grad[i]);
  applyMarks(r);
  return r;
}
rowsBox.style.height = n * __ROW_PX__ + 'px';
let rowRange = null;  // [a, b): the rows in the document
function syncRows() {
  let a = 0, b = n;
  if (n > __ALL_ROWS__) {  // the rows in view and one view above and below; kept while half a view is left
    const first = Math.floor(tableBox.scrollTop / __ROW_PX__), shown = Math.ceil(tableBox.clientHeight / __ROW_PX__);
    if (rowRange && first - shown / 2 >= rowRange[0] && first + 1.5 * shown <= rowRange[1]) return;
    a = Math.max(0, first - shown);
    b = Math.min(n, first + 2 * shown);
  } else if (rowRange) return;
  rowRange = [a, b];
  for (const [i, r] of rows) if (i < a || i >= b) { r.remove(); rows.delete(i); }
  const add = document.createDocumentFragment();
  for (let i = a; i < b; i++) if (!rows.has(i)) { const r = makeRow(i); rows.set(i, r); add.appendChild(r); }
  rowsBox.appendChild(add);
}

// ---- the drawing: a whole SVG, or (ITEMS) the pieces in view, kept in a grid of CELL-point cells
const svg = graph.querySelector('svg');
const layers = ITEMS ? [svg.querySelector('#edges'), svg.querySelector('#nodes')] : null;
const items = ITEMS ? [...ITEMS.edges.map(e => [0, ...e]), ...ITEMS.nodes.map(e => [1, ...e])] : [];
const CELL = 800, cols = Math.ceil(VIEW[2] / CELL) + 1, cells = new Map();
items.forEach((it, k) => {
  for (let cx = Math.floor((it[1] - VIEW[0]) / CELL); cx <= Math.floor((it[3] - VIEW[0]) / CELL); cx++)
    for (let cy = Math.floor((it[2] - VIEW[1]) / CELL); cy <= Math.floor((it[4] - VIEW[1]) / CELL); cy++) {
      const key = cy * cols + cx;
      if (!cells.has(key)) cells.set(key, []);
      cells.get(key).push(k);
    }
});
// In the document: the items of the view, then (when the page is idle) of a quarter view around it,
// and of the views seen before, up to LIVE_MAX items (then the longest unseen go): stepping back and
// forth between two places of a big graph adds nothing twice
const LIVE_MAX = 3000, live = new Map(), seen = new Int32Array(items.length);
let stamp = 0, region = null, idle = null;  // region: [x0, y0, x1, y1] (points) whose items are in the document
const later = window.requestIdleCallback || (f => setTimeout(f, 30));
function syncDrawing() {
  if (!ITEMS) return;
  const w = graph.clientWidth / zoom, h = graph.clientHeight / zoom;  // the view, in points
  const x = VIEW[0] + graph.scrollLeft / zoom, y = VIEW[1] + graph.scrollTop / zoom;
  if (region && x >= region[0] && y >= region[1] && x + w <= region[2] && y + h <= region[3]) return;
  region = [x, y, x + w, y + h];
  addItems(region);
  if (idle === null) idle = later(() => {
    idle = null;
    const [x0, y0, x1, y1] = region, mw = (x1 - x0) / 4, mh = (y1 - y0) / 4;
    region = [x0 - mw, y0 - mh, x1 + mw, y1 + mh];
    addItems(region);
  });
}
function addItems(r) {
  stamp += 1;
  const add = [[], []];  // per layer
  for (let cx = Math.floor((r[0] - VIEW[0]) / CELL); cx <= Math.floor((r[2] - VIEW[0]) / CELL); cx++)
    for (let cy = Math.floor((r[1] - VIEW[1]) / CELL); cy <= Math.floor((r[3] - VIEW[1]) / CELL); cy++)
      for (const k of cells.get(cy * cols + cx) || []) {
        if (seen[k] === stamp) continue;
        const it = items[k];
        if (it[3] < r[0] || it[1] > r[2] || it[4] < r[1] || it[2] > r[3]) continue;
        seen[k] = stamp;
        if (!live.has(k)) add[it[0]].push(k);
      }
  for (const layer of [0, 1]) {  // the new items of a layer in one piece of markup: one parse
    const ks = add[layer];
    if (!ks.length) continue;
    layers[layer].insertAdjacentHTML('beforeend', ks.map(k => items[k][6]).join(''));
    let el = layers[layer].lastElementChild;
    for (let j = ks.length - 1; j >= 0; j--, el = el.previousElementSibling) {
      const k = ks[j], value = /^v(\\d+)$/.exec(items[k][5]);  // a Value's box (not an op's): its grad now
      live.set(k, el);
      if (value) setGradText(el, Number(value[1]));
      applyMarks(el);
    }
  }
  if (live.size > LIVE_MAX) {
    const old = [...live.keys()].sort((a, b) => seen[a] - seen[b]).slice(0, live.size - LIVE_MAX / 2);
    for (const k of old) { live.get(k).remove(); live.delete(k); }
  }
}

// ---- repaint a node: its row (if in the document) and its drawing's grad text (if in the document)
function setGradText(el, i) {
  for (const t of el.querySelectorAll('text')) if (t.textContent.startsWith('grad ')) t.textContent = 'grad ' + text[i];
}
function paint(i) {
  const c = document.getElementById('g' + i);
  if (c) { c.textContent = text[i]; c.dataset.grad = String(grad[i]); }
  const el = document.getElementById('v' + i);
  if (el) setGradText(el, i);
}

// ---- highlights: the current node red, its operands blue, the grads that changed yellow
function highlight(st) {
  for (const [id, cls] of marks) { const el = document.getElementById(id); if (el) el.classList.remove(cls); }
  marks = [];
  if (st.node === null) return;
  const tag = (i, cls) => marks.push(['r' + i, cls], ['v' + i, cls], ['v' + i + 'op', cls]);
  tag(st.node, 'current');
  st.operands.forEach(i => tag(i, 'operand'));
  st.set.forEach(([i]) => marks.push(['v' + i, 'changed']));
  for (const [id, cls] of marks) { const el = document.getElementById(id); if (el) el.classList.add(cls); }
}

// ---- keep the current node in view, in the drawing and in the table. Backprop walks against the
// drawing's direction (right to left for rankdir LR) and up the table: a node that left the view is
// put back at 3/4 of it, where the next steps stay in view for a while
const AHEAD = {LR: [0.75, 0.5], RL: [0.25, 0.5], TB: [0.5, 0.75], BT: [0.5, 0.25]}[DATA.rankdir];
function revealNode(i) {
  let box = null;
  if (ITEMS) {
    const it = nodeBox.get('v' + i), at = (v, o) => (v - o) * zoom;
    if (it) box = [at(it[0], VIEW[0]), at(it[1], VIEW[1]), at(it[2], VIEW[0]), at(it[3], VIEW[1])];
  } else {
    const el = document.getElementById('v' + i);
    if (el) {
      const r = el.getBoundingClientRect(), g = graph.getBoundingClientRect();
      box = [r.left - g.left + graph.scrollLeft, r.top - g.top + graph.scrollTop,
             r.right - g.left + graph.scrollLeft, r.bottom - g.top + graph.scrollTop];
    }
  }
  if (box) {
    const [l, t, r, b] = box, w = graph.clientWidth, h = graph.clientHeight;
    if (l < graph.scrollLeft || r > graph.scrollLeft + w || t < graph.scrollTop || b > graph.scrollTop + h) {
      graph.scrollLeft = (l + r) / 2 - w * AHEAD[0];
      graph.scrollTop = (t + b) / 2 - h * AHEAD[1];
    }
  }
  const top = i * __ROW_PX__;
  if (top < tableBox.scrollTop + __ROW_PX__ || top + __ROW_PX__ > tableBox.scrollTop + tableBox.clientHeight)
    tableBox.scrollTop = top - tableBox.clientHeight * 0.75;
}
const nodeBox = new Map(ITEMS ? ITEMS.nodes.map(e => [e[4], e]) : []);  // id -> [x0, y0, x1, y1, ...]

// ---- moving: apply (or undo) the set entries of the steps in between, repaint what they touched
let step = 0;
function show(k) {
  k = Math.max(0, Math.min(last, k));
  const touched = new Set();
  while (step < k) {
    step += 1;
    for (const [i, v, t] of steps[step].set) { grad[i] = v; text[i] = t; touched.add(i); }
  }
  while (step > k) {
    const st = steps[step];
    for (let j = st.set.length - 1; j >= 0; j--) {
      const i = st.set[j][0];
      grad[i] = before[step][j]; text[i] = beforeText[step][j]; touched.add(i);
    }
    step -= 1;
  }
  const st = steps[step];
  if (st.node !== null) revealNode(st.node);
  syncRows();
  syncDrawing();
  for (const i of touched) paint(i);
  highlight(st);
  document.getElementById('explain').textContent = st.title + (st.lines.length ? '\\n' + st.lines.join('\\n') : '');
  document.getElementById('step-label').textContent = 'Step ' + step + ' / ' + last;
  document.body.dataset.step = String(step);
  slider.value = String(step);
  prevBtn.disabled = step === 0;
  nextBtn.disabled = step === last;
}

// ---- zoom and pan
const zoomStyle = document.getElementById('zoom');
function setZoom(z) {
  const cx = (graph.scrollLeft + graph.clientWidth / 2) / zoom, cy = (graph.scrollTop + graph.clientHeight / 2) / zoom;
  z = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, z));
  if (z !== zoom) {
    zoom = z;
    zoomStyle.textContent = `#graph svg { width: ${VIEW[2] * zoom}px; height: ${VIEW[3] * zoom}px; }`;
    graph.scrollLeft = cx * zoom - graph.clientWidth / 2;
    graph.scrollTop = cy * zoom - graph.clientHeight / 2;
  }
  graph.dataset.labelPx = String(__FONT__ * zoom);
  document.getElementById('zoom-out').disabled = zoom <= MIN_ZOOM;
  document.getElementById('zoom-in').disabled = zoom >= MAX_ZOOM;
  syncDrawing();
}
let pan = null, pending = false;
graph.addEventListener('mousedown', e => {
  pan = [e.clientX, e.clientY, graph.scrollLeft, graph.scrollTop];
  graph.classList.add('panning');
});
window.addEventListener('mousemove', e => {
  if (pan === null) return;
  graph.scrollLeft = pan[2] - (e.clientX - pan[0]);
  graph.scrollTop = pan[3] - (e.clientY - pan[1]);
});
window.addEventListener('mouseup', () => { pan = null; graph.classList.remove('panning'); });
graph.addEventListener('scroll', () => {
  if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; syncDrawing(); }); }
});
tableBox.addEventListener('scroll', () => { if (n > __ALL_ROWS__) requestAnimationFrame(syncRows); });

prevBtn.addEventListener('click', () => show(step - 1));
nextBtn.addEventListener('click', () => show(step + 1));
slider.addEventListener('input', () => show(Number(slider.value)));
document.getElementById('zoom-in').addEventListener('click', () => setZoom(zoom * 1.25));
document.getElementById('zoom-out').addEventListener('click', () => setZoom(zoom / 1.25));
document.addEventListener('keydown', e => {
  if (e.target === slider && ['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) return;  // it moves itself
  const go = {ArrowRight: step + 1, ArrowLeft: step - 1, Home: 0, End: last}[e.key];
  if (go !== undefined) { show(go); e.preventDefault(); }
  else if (e.key === '+' || e.key === '=') setZoom(zoom * 1.25);
  else if (e.key === '-') setZoom(zoom / 1.25);
});
setZoom(zoom);
if (!ITEMS) for (let i = 0; i < n; i++) paint(i);  // the boxes were drawn wide enough for their longest grad
show(0);
window.stepperReady = true;
</script>
</body></html>
"""
)


def _view(svg: str) -> list[float]:
    """The drawing's viewBox: x, y, width, height, in points."""
    m = re.search(r'viewBox="([-\d.e]+)[ ,]+([-\d.e]+)[ ,]+([-\d.e]+)[ ,]+([-\d.e]+)"', svg[: svg.index(">")])
    if m is None:
        raise ValueError("the stepper's drawing has no viewBox")
    return [float(m[k]) for k in range(1, 5)]


def render_page(title: str, drawing: str | dict, data: dict, rankdir: str = "LR") -> str:
    """The stepper page for ``drawing`` (an SVG, or ``svg.drawing_items``'s pieces, laid out in the
    direction ``rankdir``) and ``data`` (``backprop_steps``'s): the steps, each set entry with the text
    of its number, as script-safe JSON."""
    if isinstance(drawing, str):
        svg, view, items, font = drawing, _view(drawing), None, FONT
    else:
        view, items, font = drawing["view"], drawing, drawing["font"]
        svg = (
            f'<svg viewBox="{" ".join(map(str, view))}" xmlns="http://www.w3.org/2000/svg">{TOP_GROUP}'
            '<g id="edges"></g><g id="nodes"></g></g></svg>'
        )
    steps = [
        {
            "title": st["title"],
            "node": st["node"],
            "operands": st["operands"],
            "lines": st["lines"],
            "set": [[i, v, number(v)] for i, v in st["set"]],
        }
        for st in data["steps"]
    ]
    payload = {
        "names": [v["name"] for v in data["nodes"]],
        "data": [number(v["data"]) for v in data["nodes"]],
        "steps": steps,
        "items": items,
        "rankdir": rankdir,
    }
    parts = {
        "__TITLE__": html.escape(title),
        "__SVG__": svg,
        "__DATA__": script_json(payload),
        "__VIEW__": json.dumps(view),
        "__MIN_LABEL_PX__": str(MIN_LABEL_PX),
        "__FONT__": str(font),
        "__ROW_PX__": str(ROW_PX),
        "__ALL_ROWS__": str(ALL_ROWS),
    }
    return fill(_TEMPLATE, parts)
