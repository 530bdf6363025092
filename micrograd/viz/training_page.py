"""The HTML page that replays a recorded training run: markup, CSS and JavaScript, all inline.

``TEMPLATE`` has two holes, ``__TITLE__`` (escaped text) and ``__DATA__`` (the record as
script-safe JSON, see ``training.script_json``). Every number shown comes from the record.
Hooks for scripts and tests:
- ``#play`` (text Play / Pause), ``#slider`` (one position per frame), ``#frame-label``;
  ``body[data-frame]`` is the frame shown; keys: Left/Right one frame, Home/End, Space play/pause.
- ``#epoch``, ``#step``, ``#loss``: ``data-value`` holds the frame's number, written by
  JavaScript's ``String(x)`` (the shortest text that reads back as the same float64).
- ``td.norm[data-layer=i]`` with ``data-value``: the gradient norm of layer i.
- ``canvas#boundary`` (2-D inputs): grid cell (i, j) of the frame's outputs is painted in the
  rectangle ``cellRect(i, j)`` (a global function): one output, red-ish where it is > 0 and
  blue-ish else; several outputs, one pale colour per predicted class (``CLASS_FILL``). A data
  point is a dot of its class's colour (``CLASS_DOT[classOf(y)]``): the palettes come from
  ``micrograd.viz.colors`` with the data (``R.colors``), so the page and the pictures agree.
- ``svg#loss-curve``: every step's batch loss, and ``#marker`` at the frame's step; the data's
  ``log_scale`` (``training.loss_scale``) puts it on a log scale (``svg#loss-curve[data-scale]`` says
  which), and ``#not-finite`` (``data-step``) marks the step where training diverged (the record's
  ``extra["diverged"]``, else the first loss that is not finite).
"""

from micrograd.viz.webpage import PAGE_HEAD

TEMPLATE = (
    PAGE_HEAD
    + """#controls { display: flex; align-items: center; gap: 10px; margin: 8px 0 14px 0; }
#controls button { font-size: 15px; padding: 4px 14px; min-width: 80px; }
#slider { width: 420px; }
#frame-label { font-weight: 600; }
#panels { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.panel h2 { font-size: 15px; margin: 0 0 6px 0; }
.hint { color: #666; font-size: 13px; }
table { border-collapse: collapse; font-size: 14px; }
td, th { border: 1px solid #ccc; padding: 2px 8px; font-family: ui-monospace, monospace; }
td.norm { text-align: right; }
.bar { height: 10px; background: #4a6fa5; }
#numbers td:first-child { font-family: system-ui, sans-serif; }
</style></head>
<body data-frame="0">
<h1>__TITLE__</h1>
<div class="hint">A recorded training run of the compiled path. Drag the slider, press Play,
or use the keys &larr; &rarr; (Home, End, Space).</div>
<div id="controls">
  <button id="play" type="button">Play</button>
  <input id="slider" type="range" min="0" max="0" value="0" step="1">
  <span id="frame-label"></span>
</div>
<div id="panels">
  <div class="panel" id="boundary-panel"><h2>Decision boundary (the model's output on a grid)</h2>
    <canvas id="boundary" width="360" height="360"></canvas>
    <div class="hint" id="boundary-hint">red: output &gt; 0, blue: output &le; 0; paler near the boundary.</div></div>
  <div class="panel"><h2>Loss of every step</h2>
    <svg id="loss-curve" width="420" height="260"></svg>
    <table id="numbers">
      <tr><td>epoch</td><td id="epoch"></td></tr>
      <tr><td>step</td><td id="step"></td></tr>
      <tr><td>loss on all data</td><td id="loss"></td></tr>
    </table></div>
  <div class="panel"><h2>Gradient norm per layer</h2>
    <table id="norms"><thead><tr><th>layer</th><th>|grad|</th><th></th></tr></thead><tbody></tbody></table>
    <div class="hint">sqrt(sum of squared gradients of the layer's parameters), on all data;
    the bar is on a log scale over the whole run.</div></div>
</div>
<script id="data" type="application/json">__DATA__</script>
<script>
const R = JSON.parse(document.getElementById('data').textContent);
const frames = R.frames, last = frames.length - 1;
const slider = document.getElementById('slider'), play = document.getElementById('play');
slider.max = String(last);
const fmt = x => (x === null ? 'not finite'
                  : Number.isInteger(x) && Math.abs(x) < 1e15 ? String(x)
                  : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e6 ? x.toFixed(6) : x.toExponential(4));
function setNumber(el, x) { el.dataset.value = String(x); el.textContent = fmt(x); }

// ---- gradient norms: one row per layer, bars on a log scale over the run
const tbody = document.querySelector('#norms tbody');
const allNorms = frames.flatMap(f => f.grad_norms).filter(v => v !== null && v > 0);
const lo = Math.log10(Math.min(...allNorms, 1)), hi = Math.log10(Math.max(...allNorms, 1e-300));
R.layers.forEach((name, i) => {
  const tr = document.createElement('tr');
  tr.innerHTML = '<td></td><td class="norm"></td><td><div class="bar"></div></td>';
  tr.children[0].textContent = name;
  tr.children[1].dataset.layer = String(i);
  tbody.appendChild(tr);
});
const normCells = [...document.querySelectorAll('td.norm')], bars = [...document.querySelectorAll('.bar')];

// ---- loss curve: a log scale when the finite losses span more than three decades (R.log_scale)
const svgNS = 'http://www.w3.org/2000/svg', svg = document.getElementById('loss-curve');
const W = 420, H = 260, PAD = 62, hist = R.history, logScale = R.log_scale;
svg.dataset.scale = logScale ? 'log' : 'linear';
const tr = v => (logScale ? Math.log10(v) : v);
const diverged = R.extra.diverged || {step: hist.findIndex(v => v === null), what: 'loss'};
const bad = diverged.step;  // where the loss (or its gradient) was first not finite: a diverged run
const ys = hist.filter(v => v !== null).map(tr);
const ymin = ys.length ? Math.min(...ys) : 0, ymax = (ys.length ? Math.max(...ys) : 1) + 1e-12;
const px = s => PAD + (W - PAD - 10) * (hist.length > 1 ? s / (hist.length - 1) : 0);
const py = v => 10 + (H - PAD - 10) * (1 - (tr(v) - ymin) / (ymax - ymin));
function el(name, attrs) {
  const e = document.createElementNS(svgNS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  svg.appendChild(e);
  return e;
}
el('rect', {x: PAD, y: 10, width: W - PAD - 10, height: H - PAD - 10, fill: 'none', stroke: '#ccc'});
el('polyline', {points: hist.map((v, s) => v === null ? '' : px(s) + ',' + py(v)).filter(Boolean).join(' '),
                fill: 'none', stroke: '#1f77b4', 'stroke-width': 1.5});
el('text', {x: PAD, y: H - 8, 'font-size': 12}).textContent =
  'step (' + hist.length + ' in all)' + (logScale ? ', loss on a log scale' : '');
el('text', {x: 2, y: 20, 'font-size': 11}).textContent = fmt(logScale ? 10 ** ymax : ymax);
el('text', {x: 2, y: H - PAD, 'font-size': 11}).textContent = fmt(logScale ? 10 ** ymin : ymin);
if (bad >= 0) {
  el('line', {x1: px(bad), x2: px(bad), y1: 10, y2: H - PAD, stroke: '#d62728', 'stroke-dasharray': '3,3'});
  const note = el('text', {id: 'not-finite', x: PAD + 4, y: H - 26, 'font-size': 12, fill: '#d62728'});
  note.dataset.step = String(bad);
  note.textContent = diverged.what + ' not finite at step ' + bad + ': training diverged';
}
const marker = el('line', {id: 'marker', stroke: '#d62728', 'stroke-width': 2, y1: 10, y2: H - PAD});

// ---- decision boundary
const canvas = document.getElementById('boundary');
const two = R.grid_x !== null;
if (!two) document.getElementById('boundary-panel').style.display = 'none';
if (R.extra.outputs > 1) {
  document.getElementById('boundary-hint').textContent =
    'each colour: the class the model predicts there (argmax of its outputs)';
}
const ctx = canvas.getContext('2d');
const nx = two ? R.grid_x.length : 0, ny = two ? R.grid_y.length : 0;
function cellRect(i, j) {  // grid row i (grid_y[i], bottom to top), column j (grid_x[j])
  const w = canvas.width / nx, h = canvas.height / ny;
  return [j * w, canvas.height - (i + 1) * h, w, h];
}
const toPx = (x, y) => [(x - R.grid_x[0]) / (R.grid_x[nx - 1] - R.grid_x[0]) * canvas.width,
                        canvas.height - (y - R.grid_y[0]) / (R.grid_y[ny - 1] - R.grid_y[0]) * canvas.height];
// one colour per class, as in every picture (micrograd.viz.colors): class 0 blue, class 1 red, ...;
// several outputs: the grid holds the predicted class (argmax), one pale colour per class
const CLASS_FILL = R.colors.fill, CLASS_DOT = R.colors.dot;
// a point's class: with one output, 1 for a label > 0 (the red one) and 0 else (colors.class_index)
const classOf = v => (R.extra.outputs > 1 ? Math.round(v) : v > 0 ? 1 : 0) % CLASS_DOT.length;
function drawBoundary(f) {
  const out = f.outputs, classes = R.extra.outputs > 1;
  for (let i = 0; i < ny; i++) for (let j = 0; j < nx; j++) {
    const v = out[i * nx + j], pos = v !== null && v > 0;
    const t = Math.min(1, Math.abs(v === null ? 0 : v));  // paler near the boundary
    ctx.fillStyle = classes ? CLASS_FILL[(v === null ? 0 : v) % CLASS_FILL.length]
                  : pos ? `rgb(255, ${Math.round(230 - 120 * t)}, ${Math.round(220 - 120 * t)})`
                        : `rgb(${Math.round(220 - 120 * t)}, ${Math.round(230 - 100 * t)}, 255)`;
    const [x, y, w, h] = cellRect(i, j);
    ctx.fillRect(x, y, w + 0.5, h + 0.5);
  }
  R.X.forEach((p, k) => {
    const [x, y] = toPx(p[0], p[1]);
    ctx.beginPath(); ctx.arc(x, y, 3.5, 0, 2 * Math.PI);
    ctx.fillStyle = CLASS_DOT[classOf(R.y[k])];
    ctx.fill();
    ctx.strokeStyle = '#000'; ctx.lineWidth = 1; ctx.stroke();
  });
}

// ---- one frame
let current = 0, timer = null;
function show(k) {
  k = Math.max(0, Math.min(last, k));
  current = k;
  const f = frames[k];
  document.body.dataset.frame = String(k);
  slider.value = String(k);
  document.getElementById('frame-label').textContent =
    'frame ' + k + ' / ' + last + ', epoch ' + f.epoch + ' / ' + R.epochs;
  setNumber(document.getElementById('epoch'), f.epoch);
  setNumber(document.getElementById('step'), f.step);
  setNumber(document.getElementById('loss'), f.loss);
  f.grad_norms.forEach((v, i) => {
    setNumber(normCells[i], v);
    const t = v === null || v <= 0 || hi <= lo ? 0 : (Math.log10(v) - lo) / (hi - lo);
    bars[i].style.width = Math.round(4 + 160 * t) + 'px';
  });
  const x = px(Math.max(0, f.step - 1));
  marker.setAttribute('x1', x); marker.setAttribute('x2', x);
  if (two) drawBoundary(f);
}
function stop() { if (timer !== null) { clearInterval(timer); timer = null; } play.textContent = 'Play'; }
function start() {
  if (current >= last) show(0);
  play.textContent = 'Pause';
  timer = setInterval(() => { show(current + 1); if (current >= last) stop(); }, 150);  // stops on the last frame
}
play.addEventListener('click', () => (timer === null ? start() : stop()));
slider.addEventListener('input', () => { stop(); show(Number(slider.value)); });
document.addEventListener('keydown', e => {
  if (e.target === slider && (e.key === 'ArrowLeft' || e.key === 'ArrowRight')) e.preventDefault();
  if (e.key === 'ArrowRight') { stop(); show(current + 1); }
  else if (e.key === 'ArrowLeft') { stop(); show(current - 1); }
  else if (e.key === 'Home') { stop(); show(0); }
  else if (e.key === 'End') { stop(); show(last); }
  else if (e.key === ' ') { e.preventDefault(); timer === null ? start() : stop(); }
});
show(0);
</script>
</body></html>
"""
)
