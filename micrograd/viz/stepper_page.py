"""The HTML page of the backprop stepper: markup, CSS and JavaScript, all inline (no network).

``render_page(title, svg, data)`` fills the template. The page reads the
steps from the embedded JSON (see ``stepper.backprop_steps``); every value
shown comes from there. Stable hooks for scripts and tests:
``#prev #next #slider #step-label #explain``, ``body[data-step]``, and per
Value a table cell ``td.grad[data-node=i]`` whose ``data-grad`` attribute is
the grad at the current step, written by JavaScript's ``String(x)`` (the
shortest text that reads back as the same float64).
"""

from __future__ import annotations

import html

from micrograd.viz.webpage import PAGE_HEAD, fill, script_json

_TEMPLATE = (
    PAGE_HEAD
    + """#controls { display: flex; align-items: center; gap: 10px; margin: 8px 0; }
#controls button { font-size: 15px; padding: 4px 14px; }
#slider { width: 320px; }
#step-label { font-weight: 600; min-width: 110px; }
#explain { font-family: ui-monospace, monospace; font-size: 14px; background: #f6f8fa; border: 1px solid #d0d7de;
           border-radius: 6px; padding: 8px 12px; min-height: 3.5em; white-space: pre-wrap; }
#main { display: flex; flex-direction: column; align-items: flex-start; gap: 12px; margin-top: 10px; }
#graph { overflow: auto; border: 1px solid #eee; }
#graph svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 14px; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; font-family: ui-monospace, monospace; }
tr.current td { background: #fde2e2; }
tr.operand td { background: #dbe9f6; }
.current > polygon, .current > ellipse { stroke: #d62728; stroke-width: 4; }
.operand > polygon, .operand > ellipse { stroke: #1f77b4; stroke-width: 4; }
.changed > polygon { fill: #fff3b0; }
.hint { color: #666; font-size: 13px; }
</style></head>
<body data-step="0">
<h1>__TITLE__</h1>
<div class="hint">Backpropagation one node at a time, in reverse topological order.
Red: the node whose gradient flows back; blue: its operands; yellow: grads that changed. Keys: &larr; &rarr;.</div>
<div id="controls">
  <button id="prev" type="button">&larr; Previous</button>
  <input id="slider" type="range" min="0" max="0" value="0" step="1">
  <button id="next" type="button">Next &rarr;</button>
  <span id="step-label"></span>
</div>
<div id="explain"></div>
<div id="main">
  <div id="graph">__SVG__</div>
  <table id="grad-table"><thead><tr><th>Value</th><th>data</th><th>grad</th></tr></thead><tbody></tbody></table>
</div>
<script>
const DATA = __DATA__;
const nodes = DATA.nodes, steps = DATA.steps, last = steps.length - 1;
const slider = document.getElementById('slider');
slider.max = String(last);
// as the drawing does: %.4f, exponent form where that would hide the number
const fmt = x => (!Number.isFinite(x) ? String(x) :
  (x === 0 || (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e6)) ? x.toFixed(4) : x.toExponential(3));
const tbody = document.querySelector('#grad-table tbody');
const rows = nodes.map((n, i) => {
  const tr = document.createElement('tr');
  tr.innerHTML = '<td></td><td></td><td class="grad"></td>';
  tr.children[0].textContent = n.name;
  tr.children[1].textContent = fmt(n.data);
  tr.children[2].dataset.node = String(i);
  tbody.appendChild(tr);
  return tr;
});
function svgNode(id) { return document.getElementById(id); }
function gradsAt(k) {
  const g = nodes.map(() => 0);
  for (let s = 1; s <= k; s++) for (const [i, v] of steps[s].set) g[i] = v;
  return g;
}
let step = 0;
function show(k) {
  step = Math.max(0, Math.min(last, k));
  const g = gradsAt(step), st = steps[step];
  const changed = new Set(st.set.map(p => p[0]));
  document.querySelectorAll('.current, .operand, .changed')
    .forEach(e => e.classList.remove('current', 'operand', 'changed'));
  nodes.forEach((n, i) => {
    const cell = rows[i].children[2];
    cell.textContent = fmt(g[i]);
    cell.dataset.grad = String(g[i]);
    const el = svgNode(n.id);
    if (el) {
      for (const t of el.querySelectorAll('text')) {
        if (t.textContent.startsWith('grad ')) t.textContent = 'grad ' + fmt(g[i]);
      }
      if (changed.has(i)) el.classList.add('changed');
    }
  });
  const mark = (i, cls) => {
    rows[i].classList.add(cls);
    for (const id of [nodes[i].id, nodes[i].id + 'op']) {
      const el = svgNode(id);
      if (el) el.classList.add(cls);
    }
  };
  if (st.node !== null) { mark(st.node, 'current'); st.operands.forEach(i => mark(i, 'operand')); }
  document.getElementById('explain').textContent = st.title + (st.lines.length ? '\\n' + st.lines.join('\\n') : '');
  document.getElementById('step-label').textContent = 'Step ' + step + ' / ' + last;
  document.body.dataset.step = String(step);
  slider.value = String(step);
}
document.getElementById('prev').addEventListener('click', () => show(step - 1));
document.getElementById('next').addEventListener('click', () => show(step + 1));
slider.addEventListener('input', () => show(Number(slider.value)));
document.addEventListener('keydown', e => {
  if (e.target === slider) return;  // the slider moves itself with the arrow keys
  if (e.key === 'ArrowRight') { show(step + 1); e.preventDefault(); }
  if (e.key === 'ArrowLeft') { show(step - 1); e.preventDefault(); }
});
show(0);
</script>
</body></html>
"""
)


def render_page(title: str, svg: str, data) -> str:
    """The stepper page: the SVG drawing and the steps (embedded as script-safe JSON) in the template."""
    return fill(_TEMPLATE, {"__TITLE__": html.escape(title), "__SVG__": svg, "__DATA__": script_json(data)})
