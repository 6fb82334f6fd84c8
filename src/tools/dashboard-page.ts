/**
 * The dashboard's one page (served by src/tools/dashboard.ts): plain HTML, CSS and a script, no
 * build step and no library. Members, leader, charts of the last minutes (inline SVG), the latest
 * blocks, and a chain explorer (a block by height or hash, a key's history). Every value shown is
 * put in with textContent, never as HTML: keys and values are user data.
 */

const STYLE = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2733; background: #f5f7fa; }
  header { background: #1d2733; color: #fff; padding: 10px 20px; display: flex; gap: 20px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  #contact { margin-left: auto; font-size: 12px; }
  #contact.lost { color: #ffb4a8; font-weight: bold; }
  main { padding: 16px 20px; display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
  section { background: #fff; border: 1px solid #dde3ea; border-radius: 6px; padding: 12px 14px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 3px 8px 3px 0; border-bottom: 1px solid #eef1f4; white-space: nowrap; }
  td.num { text-align: right; }
  tr.down td { color: #b3261e; }
  tr.leader td:first-child { font-weight: bold; }
  .charts { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; }
  .chart svg { width: 100%; height: 90px; background: #fafbfc; border: 1px solid #eef1f4; }
  .chart .now { font-weight: bold; }
  a { color: #0b57d0; cursor: pointer; }
  input { font: inherit; padding: 3px 6px; width: 60%; }
  pre { white-space: pre-wrap; word-break: break-all; background: #fafbfc; border: 1px solid #eef1f4; padding: 8px; overflow: auto; max-height: 360px; margin: 6px 0 0; }
  .error { color: #b3261e; }
`;

const SCRIPT = `
const $ = (id) => document.getElementById(id);
const cell = (row, text, cls) => { const td = document.createElement('td'); td.textContent = text ?? '-'; if (cls) td.className = cls; row.appendChild(td); return td; };
const clip = (text) => (text.length > 80 ? text.slice(0, 80) + '… (' + text.length + ' chars)' : text);
const fmt = (n, digits = 0) => (n === null || n === undefined ? '-' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits }));

async function getJson(path) {
  const response = await fetch(path, { cache: 'no-store' });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.code + ': ' + body.error.message : response.statusText);
  return body;
}

function members(list) {
  const body = $('members-body');
  body.replaceChildren();
  for (const m of list) {
    const row = document.createElement('tr');
    row.dataset.endpoint = m.endpoint;
    row.dataset.up = String(m.up);
    row.className = (m.up ? '' : 'down') + (m.role === 'leader' ? ' leader' : '');
    cell(row, m.nodeId === null ? '?' : String(m.nodeId));
    cell(row, m.endpoint);
    cell(row, m.up ? m.role : 'down', 'role');
    cell(row, m.ballot);
    cell(row, fmt(m.head), 'num head');
    cell(row, fmt(m.commitIndex), 'num');
    cell(row, fmt(m.lag), 'num');
    cell(row, fmt(m.keys), 'num');
    const health = cell(row, m.up ? m.health : 'down: ' + (m.error || ''), 'health');
    health.title = m.error || '';
    body.appendChild(row);
  }
}

function chart(id, points, unit) {
  const svg = $(id + '-svg');
  const values = points.map((p) => p.value);
  const known = values.filter((v) => v !== null);
  const max = Math.max(1, ...known);
  const width = 300, height = 90, n = Math.max(points.length - 1, 1);
  const path = points.map((p, i) => (p.value === null ? null : (i / n * width).toFixed(1) + ',' + (height - 4 - (p.value / max) * (height - 10)).toFixed(1))).filter(Boolean).join(' ');
  svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.innerHTML = '';
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', path);
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#0b57d0');
  line.setAttribute('stroke-width', '1.5');
  line.setAttribute('vector-effect', 'non-scaling-stroke');
  svg.appendChild(line);
  const last = values.length ? values[values.length - 1] : null;
  $(id + '-now').textContent = last === null ? '-' : fmt(last, unit === 'ms' ? 1 : 0) + ' ' + unit;
  $(id + '-max').textContent = 'max ' + fmt(max, unit === 'ms' ? 1 : 0);
}

async function refreshOverview() {
  try {
    const view = await getJson('/api/overview');
    members(view.members);
    $('leader').textContent = view.leader ? 'leader: node ' + view.leader.nodeId + ' (ballot ' + view.leader.ballot + ')' : 'no leader';
    $('leader').dataset.leader = view.leader ? String(view.leader.nodeId) : '';
    const series = view.series.slice(-300);
    chart('writes', series.map((p) => ({ value: p.writesPerSecond })), 'writes/s');
    chart('blocks', series.map((p) => ({ value: p.blocksPerSecond })), 'blocks/s');
    chart('read', series.map((p) => ({ value: p.readMs })), 'ms');
    $('contact').textContent = 'updated ' + new Date(view.sampledAtMs || Date.now()).toLocaleTimeString();
    $('contact').className = '';
  } catch (error) {
    $('contact').textContent = 'no contact with the dashboard: ' + error.message;
    $('contact').className = 'lost';
  }
}

async function refreshBlocks() {
  try {
    const { blocks } = await getJson('/api/blocks?limit=15');
    const body = $('blocks-body');
    body.replaceChildren();
    for (const b of blocks) {
      const row = document.createElement('tr');
      const link = document.createElement('a');
      link.textContent = String(b.height);
      link.dataset.height = String(b.height);
      link.onclick = () => showBlock(String(b.height));
      const first = document.createElement('td');
      first.appendChild(link);
      row.appendChild(first);
      cell(row, b.hash.slice(0, 16));
      cell(row, b.kind);
      cell(row, fmt(b.commands), 'num');
      cell(row, b.proposedAt ? new Date(b.proposedAt).toLocaleTimeString() : '-');
      body.appendChild(row);
    }
    $('blocks-error').textContent = '';
  } catch (error) {
    $('blocks-error').textContent = error.message;
  }
}

async function showBlock(id) {
  $('block-id').value = id;
  $('block-out').textContent = 'loading…';
  try {
    const view = await getJson('/api/block/' + encodeURIComponent(id.trim()));
    const b = view.block;
    const lines = ['block ' + b.height + '  ' + b.hash, 'prev   ' + b.prevHash, 'body   ' + b.bodyHash, 'state  ' + b.stateRoot, 'kind   ' + b.kind + ', ' + b.commands + ' commands' + (b.proposedAt ? ', proposed ' + b.proposedAt : ''), ''];
    for (const [i, c] of view.commands.entries()) lines.push(i + '  ' + c.op + (c.key !== undefined ? ' ' + c.key : '') + (c.value ? ' = ' + clip(c.value.data) : '') + (c.txn ? ' ' + clip(c.txn) : ''));
    $('block-out').textContent = lines.join('\\n');
    $('block-out').dataset.height = String(b.height);
    if (b.height > 0) $('block-prev').onclick = () => showBlock(String(b.height - 1));
  } catch (error) {
    $('block-out').textContent = error.message;
  }
}

async function showHistory(key) {
  $('history-out').textContent = 'replaying the chain…';
  try {
    const view = await getJson('/api/history?key=' + encodeURIComponent(key));
    const lines = view.changes.map((c) => c.height + '  ' + c.op + ' ' + c.result + '  ' + (c.value === null ? '(absent)' : clip(c.value)));
    $('history-out').textContent = (lines.length ? lines.join('\\n') : 'no change of ' + key) + '\\n(head ' + view.head.height + ')';
    $('history-out').dataset.changes = String(view.changes.length);
  } catch (error) {
    $('history-out').textContent = error.message;
  }
}

$('block-form').onsubmit = (event) => { event.preventDefault(); showBlock($('block-id').value); };
$('history-form').onsubmit = (event) => { event.preventDefault(); showHistory($('history-key').value); };
refreshOverview();
refreshBlocks();
setInterval(refreshOverview, 1000);
setInterval(refreshBlocks, 2000);
`;

const BODY = `
<header><h1>paxchain</h1><span id="leader">…</span><span id="contact">connecting…</span></header>
<main>
  <section class="wide"><h2>Members</h2>
    <table><thead><tr><th>id</th><th>endpoint</th><th>role</th><th>ballot</th><th>head</th><th>commit</th><th>lag</th><th>keys</th><th>health</th></tr></thead>
    <tbody id="members-body"></tbody></table>
  </section>
  <section class="wide"><h2>Last minutes</h2><div class="charts">
    <div class="chart"><div>writes/s <span class="now" id="writes-now"></span> <small id="writes-max"></small></div><svg id="writes-svg"></svg></div>
    <div class="chart"><div>blocks/s <span class="now" id="blocks-now"></span> <small id="blocks-max"></small></div><svg id="blocks-svg"></svg></div>
    <div class="chart"><div>linearizable read (probe) <span class="now" id="read-now"></span> <small id="read-max"></small></div><svg id="read-svg"></svg></div>
  </div></section>
  <section><h2>Latest blocks</h2>
    <table><thead><tr><th>height</th><th>hash</th><th>kind</th><th>commands</th><th>proposed</th></tr></thead><tbody id="blocks-body"></tbody></table>
    <div class="error" id="blocks-error"></div>
  </section>
  <section><h2>Chain explorer</h2>
    <form id="block-form">block <input id="block-id" placeholder="height or hash"> <button>show</button> <a id="block-prev">previous</a></form>
    <pre id="block-out"></pre>
    <form id="history-form">key history <input id="history-key" placeholder="key"> <button>show</button></form>
    <pre id="history-out"></pre>
  </section>
</main>`;

/** The page, complete. */
export function dashboardPage(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>paxchain dashboard</title><meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head><body>${BODY}<script>${SCRIPT}</script></body></html>`;
}
