// allot dashboard: fetches every number from the JSON API (/api/v1/...)
// and draws it; charts are inline SVG. No libraries, nothing loaded from
// elsewhere. Money arrives as exact decimals and is kept as strings: it is
// only turned into a float to size a bar.
'use strict';
(function () {
  const body = document.body;
  const page = body.dataset.page;
  const params = new URLSearchParams(location.search);
  setupFilters();
  if (!body.dataset.user) return; // sign-in and error pages
  const who = { user: body.dataset.user, team: body.dataset.team, role: body.dataset.role };
  const refreshMS = Number(body.dataset.refresh) || 5000;

  // ---------- DOM
  const SVG = 'http://www.w3.org/2000/svg';
  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  function append(el, kids) {
    for (const k of kids.flat(3)) {
      if (k === null || k === undefined || k === false) continue;
      el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
  }
  function h(tag, attrs, ...kids) { const el = document.createElement(tag); setAttrs(el, attrs); append(el, kids); return el; }
  function s(tag, attrs, ...kids) { const el = document.createElementNS(SVG, tag); setAttrs(el, attrs); append(el, kids); return el; }
  function fill(id, ...content) {
    const sec = document.getElementById(id);
    if (!sec) return;
    const b = sec.querySelector('.body') || sec;
    b.replaceChildren(...content.flat(3).filter((c) => c !== null && c !== undefined && c !== false));
  }
  const empty = (text) => h('p', { class: 'empty', text });
  const problem = (e) => h('p', { class: 'problem', role: 'alert', text: (e && e.message) || String(e) });

  // ---------- numbers
  // exactJSON parses JSON keeping every *_usd number as its exact decimal string.
  function exactJSON(text) {
    return JSON.parse(text.replace(/("[A-Za-z0-9_]*_usd"\s*:\s*)(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?=\s*[,}\]])/g, '$1"$2"'));
  }
  // fmtUSD shows a decimal string as dollars: cents (truncated, like the
  // CLI), four places below a cent.
  function fmtUSD(v) {
    if (v === null || v === undefined || v === '') return '–';
    let str = String(v);
    const neg = str.startsWith('-');
    if (neg) str = str.slice(1);
    if (/e/i.test(str)) str = Number(str).toFixed(9);
    const [w, f0 = ''] = str.split('.');
    const f = (f0 + '000000000').slice(0, 9);
    const whole = (w.replace(/^0+(?=\d)/, '') || '0');
    const tiny = whole === '0' && f.slice(0, 2) === '00' && /[1-9]/.test(f);
    return (neg ? '−' : '') + '$' + whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + (tiny ? f.slice(0, 4) : f.slice(0, 2));
  }
  const num = (v) => (v === null || v === undefined || v === '' ? 0 : Number(v));
  function money(v) {
    return h('span', { class: 'money', 'data-value': v === null || v === undefined ? '' : String(v), title: v === null || v === undefined ? null : '$' + v, text: fmtUSD(v) });
  }
  function fmtInt(n) {
    n = num(n);
    const a = Math.abs(n);
    if (a < 10000) return n.toLocaleString('en-US');
    if (a < 1e6) return (n / 1e3).toFixed(1) + 'k';
    if (a < 1e9) return (n / 1e6).toFixed(2) + 'M';
    return (n / 1e9).toFixed(2) + 'G';
  }
  function count(n) {
    return h('span', { class: 'count', 'data-value': String(n === null || n === undefined ? 0 : n), title: num(n).toLocaleString('en-US'), text: fmtInt(n) });
  }
  const fmtPct = (x) => (x === null || x === undefined ? '–' : (Math.round(num(x) * 10) / 10).toLocaleString('en-US') + '%');
  function bar(frac, state) {
    const inner = h('span');
    inner.style.setProperty('width', Math.max(0, Math.min(100, frac * 100)).toFixed(1) + '%');
    return h('span', { class: 'bar' + (state ? ' ' + state : ''), role: 'presentation' }, inner);
  }
  const usedState = (pct) => (pct >= 100 ? 'over' : pct >= 80 ? 'warn' : '');
  // nano reads an exact decimal (a string from exactJSON) as a BigInt of
  // billionths, so amounts compare exactly; null when absent.
  function nano(v) {
    if (v === null || v === undefined || v === '') return null;
    let str = String(v);
    if (/e/i.test(str)) str = Number(str).toFixed(9);
    const neg = str.startsWith('-');
    if (neg) str = str.slice(1);
    const [w, f = ''] = str.split('.');
    const n = BigInt(w || '0') * 1000000000n + BigInt((f + '000000000').slice(0, 9));
    return neg ? -n : n;
  }
  // budgetState is a budget's colour: 'over' (red) once its limit is
  // reached, 'warn' (amber) when the projection for its period passes the
  // limit, '' (green) otherwise. The browser test checks it the same way.
  function budgetState(b) {
    const unit = b.limit_usd !== undefined && b.limit_usd !== null ? '_usd' : '_tokens';
    const lim = nano(b['limit' + unit]);
    if (lim === null) return '';
    const spent = nano(b['spent' + unit]), proj = nano(b['projected' + unit]);
    if ((spent !== null && spent >= lim) || num(b.percent) >= 100) return 'over';
    if (proj !== null && proj > lim) return 'warn';
    return '';
  }
  const stateWords = { over: 'limit reached', warn: 'projected past the limit', '': 'on track' };
  const fmtTime = (t) => (t ? new Date(t).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '–');
  const fmtDay = (t) => (t ? new Date(t).toISOString().slice(0, 10) : '–');
  // spanText shows [from, to) as dates when both are midnights (to as the
  // last day included), else as times.
  function spanText(from, to) {
    const midnight = (t) => /T00:00:00(\.0+)?Z$/.test(t);
    if (midnight(from) && midnight(to)) {
      const last = new Date(new Date(to).getTime() - 86400000).toISOString();
      return fmtDay(from) + ' to ' + fmtDay(last) + ' (UTC)';
    }
    return fmtTime(from) + ' → ' + fmtTime(to);
  }
  const todayUTC = () => new Date().toISOString().slice(0, 10);
  const monthStart = () => todayUTC().slice(0, 8) + '01';
  // rangeQuery is the from/to the address sets or, when it sets neither,
  // this month up to today: the default of every page (pages.go
  // DefaultRange fills the date inputs with the same).
  const defaulted = () => !params.get('from') && !params.get('to');
  function rangeQuery() {
    return defaulted() ? { from: monthStart(), to: todayUTC() } : pick('from', 'to');
  }
  // widthOf is the drawing width of a section's body, for charts drawn
  // at the size they are shown.
  function widthOf(id) {
    const el = document.getElementById(id);
    const b = el && (el.querySelector('.body') || el);
    return b && b.clientWidth > 0 ? b.clientWidth : 760;
  }

  // ---------- API
  class HTTPError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }
  // lastData keeps each URL's last answer: a redraw for a new width
  // (redrawing) draws it again instead of asking the server.
  const lastData = new Map();
  let redrawing = false;
  async function api(path, query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) {
      if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
      else if (v !== undefined && v !== null && v !== '') q.set(k, v);
    }
    const qs = q.toString();
    const url = path + (qs ? '?' + qs : '');
    if (redrawing && lastData.has(url)) return lastData.get(url);
    const res = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (res.status === 401) {
      location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
      throw new HTTPError(401, 'Your session ended; signing in again.');
    }
    const text = await res.text();
    let data = null;
    try { data = text ? exactJSON(text) : null; } catch (e) { data = null; }
    if (!res.ok) throw new HTTPError(res.status, (data && data.error && data.error.message) || 'HTTP ' + res.status);
    lastData.set(url, data);
    return data;
  }
  // optional is api for endpoints that may not exist on this server yet:
  // 404 is an empty state, not an error.
  async function optional(path, query) {
    try { return await api(path, query); } catch (e) { if (e.status === 404) return null; throw e; }
  }
  function pick(...names) {
    const out = {};
    for (const n of names) if (params.get(n)) out[n] = params.get(n);
    return out;
  }
  // settle runs the loaders and hands each section its result or error.
  async function settle(jobs) {
    const keys = Object.keys(jobs);
    const results = await Promise.allSettled(keys.map((k) => jobs[k]()));
    const out = {};
    keys.forEach((k, i) => { out[k] = results[i].status === 'fulfilled' ? { ok: true, v: results[i].value } : { ok: false, e: results[i].reason }; });
    return out;
  }
  function section(id, r, render) {
    if (!r.ok) { fill(id, problem(r.e)); return; }
    try { fill(id, render(r.v)); } catch (e) { fill(id, problem(e)); console.error(e); }
  }

  // ---------- tables (every table has a CSV download of exactly what it shows)
  function value(c, r) { return c.get ? c.get(r) : r[c.key]; }
  function cell(c, r) {
    const v = value(c, r);
    const td = h(c.head ? 'th' : 'td', { class: c.kind || null, scope: c.head ? 'row' : null, 'data-label': c.label });
    // The value sits in its own span: on a phone a row shows as a card of
    // label (data-label) and value pairs.
    const out = h('span', { class: 'v' });
    td.append(out);
    switch (c.kind) {
      case 'usd': out.append(money(v)); break;
      case 'int': out.append(count(v)); break;
      case 'pct': out.append(fmtPct(v)); break;
      case 'share': out.append(bar(num(v)), ' ', fmtPct(num(v) * 100)); break;
      case 'used': { const st = budgetState(r); td.dataset.state = st; out.append(bar(num(v) / 100, st), ' ', fmtPct(v)); break; }
      case 'time': out.append(fmtTime(v)); break;
      case 'day': out.append(fmtDay(v)); break;
      case 'ms': out.append(v === null || v === undefined ? '–' : num(v).toLocaleString('en-US') + ' ms'); break;
      default:
        if (c.href && v) out.append(h('a', { href: c.href(r), text: v }));
        else if (c.render) out.append(c.render(r));
        else out.textContent = v === null || v === undefined ? '' : String(v);
    }
    return td;
  }
  // csvCell is allot.CSVCell (csv.go): a text cell a spreadsheet would
  // take for a formula (=, +, -, @, tab or CR first) gets a leading quote;
  // numbers and plain decimals stay as they are.
  function csvCell(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return String(v);
    v = Array.isArray(v) ? v.join('; ') : String(v);
    return /^[=+\-@\t\r]/.test(v) && !/^[+-]\d+(\.\d+)?$/.test(v) ? "'" + v : v;
  }
  // end csvCell
  function toCSV(cols, rows) {
    const esc = (v) => {
      v = csvCell(v);
      return /[",\n\r]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
    };
    return [cols.map((c) => esc(c.csv || c.key)).join(','), ...rows.map((r) => cols.map((c) => esc(value(c, r))).join(','))].join('\r\n') + '\r\n';
  }
  function download(filename, text) {
    const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
    const a = h('a', { href: url, download: filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 2000);
  }
  // Columns with csvOnly are in the CSV download but not on the page.
  function table(name, cols, rows, opts = {}) {
    if (!rows || rows.length === 0) return empty(opts.empty || 'Nothing in this range.');
    const shown = cols.filter((c) => !c.csvOnly);
    const t = h('table', { 'data-table': name, class: opts.compact ? 'compact' : null },
      opts.caption ? h('caption', { text: opts.caption }) : null,
      h('thead', {}, h('tr', {}, shown.map((c) => h('th', { scope: 'col', class: c.kind || null, text: c.label })))),
      h('tbody', {}, rows.map((r) => h('tr', { class: r.you ? 'you' : null }, shown.map((c) => cell(c, r))))));
    const csv = h('button', { type: 'button', class: 'csv', text: 'Download CSV', 'aria-label': 'Download ' + (opts.caption || name) + ' as CSV',
      onclick: () => download('allot-' + name + '.csv', toCSV(cols, rows)) });
    return h('div', { class: 'table' }, h('div', { class: 'scroll' }, t), csv);
  }
  const shareCols = (dim, link) => [
    { key: 'name', label: dim, head: true, href: link ? (r) => (r.name === '(other)' ? null : link(r)) : null },
    { key: 'requests', label: 'Requests', kind: 'int' },
    { key: 'input_tokens', label: 'Input', kind: 'int' },
    { key: 'output_tokens', label: 'Output', kind: 'int' },
    { key: 'cost_usd', label: 'Cost', kind: 'usd' },
    { key: 'share', label: 'Share', kind: 'share' },
  ];
  // withParam returns the current URL with one query value changed.
  function withParam(name, v) {
    const q = new URLSearchParams(location.search);
    if (v === null || v === undefined || v === '') q.delete(name); else q.set(name, v);
    q.delete('before');
    const qs = q.toString();
    return location.pathname + (qs ? '?' + qs : '');
  }

  // ---------- charts
  function niceTicks(max) {
    if (!(max > 0)) return [0, 1];
    const raw = max / 4;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((st) => st >= raw) || 10 * p;
    const out = [];
    for (let v = 0; v < max + step * 0.999; v += step) out.push(v);
    return out;
  }
  const shortUSD = (v) => (v === 0 ? '$0' : v >= 1000 ? '$' + (v / 1000).toFixed(v >= 10000 ? 0 : 1) + 'k' : v >= 1 ? '$' + v.toFixed(v >= 100 ? 0 : 2).replace(/\.00$/, '') : '$' + v.toPrecision(2));
  // stackedChart draws one column per day, stacked by the view's stack
  // dimension, with a legend and the same numbers as a table.
  function stackedChart(name, days, stackLabel, width) {
    if (!days || days.length === 0) return empty('No days in this range.');
    const totals = new Map();
    days.forEach((d) => d.parts.forEach((p) => totals.set(p.name, (totals.get(p.name) || 0) + num(p.cost_usd))));
    const keys = [...totals.keys()].sort((a, b) => (a === '(other)') - (b === '(other)') || totals.get(b) - totals.get(a) || (a < b ? -1 : 1));
    const color = (k) => 'c' + (k === '(other)' ? 8 : Math.min(keys.indexOf(k), 7));
    const W = Math.max(260, Math.round(width || 760)), H = W < 520 ? 200 : 240, L = 50, R = 8, T = 10, B = 26;
    const max = Math.max(0, ...days.map((d) => num(d.cost_usd)));
    const ticks = niceTicks(max);
    const top = ticks[ticks.length - 1] || 1;
    const y = (v) => T + (H - T - B) * (1 - v / top);
    const bw = (W - L - R) / days.length;
    const total = days.reduce((a, d) => a + num(d.cost_usd), 0);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
      'aria-label': `Spend per day by ${stackLabel}, ${days[0].day} to ${days[days.length - 1].day}: ${fmtUSD(total.toFixed(9))} in all; the table below has the numbers.` });
    ticks.forEach((v) => {
      svg.append(s('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }));
      svg.append(s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', text: shortUSD(v) }));
    });
    const every = Math.max(1, Math.ceil(days.length / Math.max(2, Math.floor((W - L) / 52))));
    days.forEach((d, i) => {
      let acc = 0;
      const x = L + i * bw + Math.min(2, bw * 0.15);
      const w = Math.max(1, bw - 2 * Math.min(2, bw * 0.15));
      d.parts.forEach((p) => {
        const v = num(p.cost_usd);
        if (v <= 0) return;
        const y0 = y(acc), y1 = y(acc + v);
        acc += v;
        svg.append(s('rect', { x: x.toFixed(2), y: y1.toFixed(2), width: w.toFixed(2), height: Math.max(0.5, y0 - y1).toFixed(2), class: 'col ' + color(p.name) },
          s('title', { text: `${d.day} · ${p.name}: ${fmtUSD(p.cost_usd)}` })));
      });
      if (i % every === 0) svg.append(s('text', { x: (L + i * bw + bw / 2).toFixed(2), y: H - 8, 'text-anchor': 'middle', text: d.day.slice(5) }));
    });
    const legend = h('ul', { class: 'legend', 'aria-label': 'Legend' },
      keys.map((k) => h('li', {}, h('span', { class: 'sw ' + color(k), 'aria-hidden': 'true' }), k)));
    const rows = days.map((d) => ({ day: d.day, requests: d.requests, tokens: d.tokens, cost_usd: d.cost_usd }));
    const details = h('details', {}, h('summary', { text: 'Days as a table' }),
      table(name + '-daily', [
        { key: 'day', label: 'Day', head: true },
        { key: 'requests', label: 'Requests', kind: 'int' },
        { key: 'tokens', label: 'Tokens', kind: 'int' },
        { key: 'cost_usd', label: 'Cost', kind: 'usd' },
      ], rows));
    return [svg, legend, details];
  }
  // gauge draws how much of a budget is used as a half circle.
  function gauge(title, pct, lines, state) {
    const p = Math.max(0, Math.min(100, num(pct)));
    const R = 80, cx = 100, cy = 96;
    const arc = (frac) => {
      const a = Math.PI * (1 - frac);
      return `M ${cx - R} ${cy} A ${R} ${R} 0 0 1 ${(cx + R * Math.cos(a)).toFixed(2)} ${(cy - R * Math.sin(a)).toFixed(2)}`;
    };
    const svg = s('svg', { viewBox: '0 0 200 110', role: 'img', 'aria-label': `${title}: ${fmtPct(pct)} used${state !== undefined ? ', ' + stateWords[state] : ''}` },
      s('path', { d: arc(1), class: 'track' }),
      p > 0 ? s('path', { d: arc(p / 100), class: 'val ' + (state === undefined ? usedState(num(pct)) : state) }) : null,
      s('text', { x: cx, y: cy - 8, text: fmtPct(pct) }));
    return h('figure', { class: 'gauge', 'data-budget': title, 'data-state': state === undefined ? usedState(num(pct)) : state }, svg,
      h('figcaption', {}, h('div', { class: 'name', text: title }), lines.map((l) => h('div', { class: 'sub' }, l))));
  }
  // amount shows a budget status amount: dollars or tokens.
  function amount(b, what) {
    if (b[what + '_usd'] !== undefined) return money(b[what + '_usd']);
    if (b[what + '_tokens'] !== undefined) return h('span', {}, count(b[what + '_tokens']), ' tokens');
    return '–';
  }
  function budgetGauge(b) {
    const lines = [h('span', {}, amount(b, 'spent'), ' of ', amount(b, 'limit'))];
    if (num(b.reserved_usd) > 0 || num(b.reserved_tokens) > 0) lines.push(h('span', {}, amount(b, 'reserved'), ' reserved'));
    const st = budgetState(b);
    lines.push(h('span', { class: st ? 'state ' + st : 'state' }, st === 'over' ? 'limit reached' : st === 'warn' ? ['heading for ', amount(b, 'projected')] : ['on track for ', amount(b, 'projected')]));
    lines.push(b.runs_out_at && st !== 'over' ? 'runs out ' + fmtTime(b.runs_out_at) : 'resets ' + fmtDay(b.period_end));
    return gauge(b.name, b.percent, lines, st);
  }
  // histogram draws a peer group's spend distribution with a "you" marker.
  function histogram(g, you, width) {
    const W = Math.max(240, Math.round(width || 380)), H = 170, L = 8, R = 8, T = 26, B = 30;
    const bins = g.histogram || [];
    const max = Math.max(1, ...bins.map((b) => b.count));
    const bw = (W - L - R) / Math.max(1, bins.length);
    const label = `${g.group === 'team' ? 'Team ' + g.name : 'Organization'}: ${g.people} people, median ${fmtUSD(g.median_usd)}, p75 ${fmtUSD(g.p75_usd)}, p90 ${fmtUSD(g.p90_usd)}; you (${fmtUSD(you)}) spent more than ${fmtPct(g.percentile)} of the others.`;
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': label });
    bins.forEach((b, i) => {
      const hgt = (H - T - B) * (b.count / max);
      svg.append(s('rect', { x: (L + i * bw + 1).toFixed(2), y: (H - B - hgt).toFixed(2), width: (bw - 2).toFixed(2), height: Math.max(0.5, hgt).toFixed(2), class: 'bin' + (i === g.you_bin ? ' you' : '') },
        s('title', { text: `${fmtUSD(b.lo_usd)}–${fmtUSD(b.hi_usd)}: ${b.count} ${b.count === 1 ? 'person' : 'people'}` })));
    });
    const cx = L + g.you_bin * bw + bw / 2;
    svg.append(s('path', { d: `M ${cx - 6} ${T - 12} L ${cx + 6} ${T - 12} L ${cx} ${T - 3} Z`, class: 'you-mark' }));
    svg.append(s('text', { x: cx, y: T - 15, 'text-anchor': 'middle', class: 'you-label', text: 'you' }));
    svg.append(s('text', { x: L, y: H - 10, text: '$0' }));
    svg.append(s('text', { x: W - R, y: H - 10, 'text-anchor': 'end', text: fmtUSD(bins.length ? bins[bins.length - 1].hi_usd : 0) }));
    return h('figure', { class: 'peer', 'data-group': g.group },
      h('figcaption', {}, h('strong', { text: g.group === 'team' ? 'Team ' + g.name : 'Organization' }),
        ' · you spent more than ', h('strong', { 'data-testid': 'percentile-' + g.group, text: fmtPct(g.percentile) }), ' of ' + (g.people - 1) + ' others'),
      svg,
      h('p', { class: 'hint' }, 'median ', money(g.median_usd), ' · p75 ', money(g.p75_usd), ' · p90 ', money(g.p90_usd)));
  }

  // ---------- shared sections
  function kpi(id, label, valueNode, sub) {
    return h('div', { class: 'kpi', 'data-testid': id }, h('div', { class: 'label', text: label }), h('div', { class: 'value' }, valueNode), sub ? h('div', { class: 'sub' }, sub) : null);
  }
  // kpis shows a view's totals and its month forecast: fc when given (the
  // one forecast of GET /api/v1/me or /api/v1/insights), else the overview's.
  function kpis(ov, fc) {
    const t = ov.totals;
    const cached = num(t.input_tokens) > 0 ? (100 * num(t.cache_read_tokens)) / num(t.input_tokens) : 0;
    const out = [
      kpi('total-cost', 'Spend', money(t.cost_usd)),
      kpi('total-requests', 'Requests', count(t.requests), num(t.estimated_requests) > 0 ? fmtInt(t.estimated_requests) + ' estimated' : null),
      kpi('total-input', 'Input tokens', count(t.input_tokens), fmtPct(cached) + ' from cache'),
      kpi('total-output', 'Output tokens', count(t.output_tokens), num(t.reasoning_tokens) > 0 ? fmtInt(t.reasoning_tokens) + ' reasoning' : null),
    ];
    const f = fc || ov.forecast;
    if (f) out.push(forecastKPI(f));
    return out;
  }
  function forecastKPI(f) {
    return kpi('forecast', 'Month forecast', money(f.projected_usd), h('span', { title: f.basis || null }, money(f.spent_usd), ' so far this month'));
  }
  function rangeText(ov) {
    const el = document.getElementById('range');
    if (!el || !ov) return;
    el.replaceChildren(h('span', { 'data-from': ov.from, 'data-to': ov.to, 'data-testid': 'range' },
      (defaulted() ? 'This month (the default range): ' : 'Range: ') + spanText(ov.from, ov.to)));
    const lists = { team: 'team', task: 'task', model: 'model', app: 'app' };
    for (const [dim, list] of Object.entries(lists)) {
      const dl = document.getElementById('list-' + list);
      if (dl && ov.by && ov.by[dim]) dl.replaceChildren(...ov.by[dim].filter((r) => r.name !== '(other)').map((r) => h('option', { value: r.name })));
    }
  }
  const kindLabels = {
    cheaper_model: 'cheaper model', prompt_caching: 'prompt caching', duplicate_requests: 'duplicate requests',
    context_growth: 'growing context', output_limits: 'output limits', failed_requests: 'failed calls', runaway_sessions: 'runaway session',
  };
  const kindLabel = (k) => kindLabels[k] || String(k || '').replace(/_/g, ' ');
  const bySavings = (a, b) => num(b.monthly_savings_usd) - num(a.monthly_savings_usd);
  const sumUSD = (xs) => xs.reduce((a, r) => a + num(r.monthly_savings_usd), 0).toFixed(9);
  // recommendations shows what to change: for an org or team view one item
  // per change with the people it concerns (recommendation_groups), for a
  // person the changes addressed to them.
  function recommendations(ins, emptyText) {
    if (!ins) return empty(emptyText || 'Recommendations appear here once insights are enabled on this allot.');
    const person = String(ins.scope || '').startsWith('user:');
    if (!person && Array.isArray(ins.recommendation_groups)) return groupedRecs(ins.recommendation_groups);
    const recs = (ins.recommendations || []).slice().sort(bySavings);
    if (recs.length === 0) return empty('Nothing to change: no habit here would save at least the configured minimum a month.');
    return [
      h('p', {}, (person ? 'Together these could save ' : 'Together these could save about '), h('strong', { 'data-testid': 'recs-total' }, money(sumUSD(recs))), ' a month.'),
      h('ol', { class: 'recs' }, recs.map((r) => h('li', { 'data-kind': r.kind },
        h('span', { class: 'save' }, money(r.monthly_savings_usd), '/month'),
        h('strong', { text: r.title || kindLabel(r.kind) }), ' ', h('span', { class: 'tag', text: kindLabel(r.kind) }),
        r.detail ? h('p', { class: 'detail', text: r.detail }) : null))),
    ];
  }
  function groupedRecs(groups) {
    const gs = groups.slice().sort(bySavings);
    if (gs.length === 0) return empty('Nothing to change: no habit here would save at least the configured minimum a month.');
    const whoText = (g) => (Array.isArray(g.people) && g.people.length ? g.people.join(', ') : null);
    const count = (g) => num(g.people_count) || (Array.isArray(g.people) ? g.people.length : 0);
    return [
      h('p', {}, 'Together these could save ', h('strong', { 'data-testid': 'recs-total' }, money(sumUSD(gs))), ' a month.'),
      h('ol', { class: 'recs' }, gs.map((g) => h('li', { 'data-kind': g.kind, 'data-group': [g.kind, g.task, g.model, g.to_model].filter(Boolean).join('|') },
        h('span', { class: 'save' }, money(g.monthly_savings_usd), '/month'),
        h('strong', { text: g.title || kindLabel(g.kind) }), ' ', h('span', { class: 'tag', text: kindLabel(g.kind) }),
        g.detail ? h('p', { class: 'detail', text: g.detail }) : null,
        h('p', { class: 'people' }, whoText(g)
          ? ['For ', h('span', { 'data-testid': 'rec-people', text: whoText(g) })]
          : [h('span', { 'data-testid': 'rec-count', text: String(count(g)) }), count(g) === 1 ? ' person' : ' people', ' (not named: the org shows peers anonymously)'])))),
    ];
  }
  function peopleTable(ov, link) {
    if (ov.people_note && (!ov.people || ov.people.length === 0)) return empty(ov.people_note);
    const cols = [
      { key: 'name', label: 'Person', head: true, href: ov.people_named && link ? (r) => '/?user=' + encodeURIComponent(r.name) : null },
      ...(ov.scope === 'org' ? [{ key: 'team', label: 'Team' }] : []),
      { key: 'requests', label: 'Requests', kind: 'int' },
      { key: 'input_tokens', label: 'Input', kind: 'int' },
      { key: 'output_tokens', label: 'Output', kind: 'int' },
      { key: 'cost_usd', label: 'Cost', kind: 'usd' },
      { key: 'share', label: 'Share', kind: 'share' },
    ];
    return [table('people', cols, ov.people, { empty: 'No one used AI in this range.' }), ov.people_note ? h('p', { class: 'hint', text: ov.people_note }) : null];
  }
  function budgetsList(data) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data.budgets)) return data.budgets;
    return [];
  }
  // budgetCols show a budget's status in few columns (so an admin's Edit
  // button stays in view); the CSV has every field.
  const budgetCols = [
    { key: 'name', label: 'Budget', head: true },
    { key: 'applies', label: 'Applies to', get: (b) => b.scope + ' · ' + b.period, csvOnly: false },
    { key: 'scope', label: 'Scope', csvOnly: true },
    { key: 'period', label: 'Period', csvOnly: true },
    { key: 'on_exceed', label: 'When exceeded' },
    { key: 'spent', label: 'Spent', render: (b) => amount(b, 'spent'), get: (b) => b.spent_usd ?? b.spent_tokens, csv: 'spent' },
    { key: 'reserved', label: 'Reserved', get: (b) => b.reserved_usd ?? b.reserved_tokens, csv: 'reserved', csvOnly: true },
    { key: 'limit', label: 'Limit', render: (b) => amount(b, 'limit'), get: (b) => b.limit_usd ?? b.limit_tokens, csv: 'limit' },
    { key: 'percent', label: 'Used', kind: 'used' },
    { key: 'projected', label: 'Projected', render: (b) => amount(b, 'projected'), get: (b) => b.projected_usd ?? b.projected_tokens, csv: 'projected' },
    { key: 'when', label: 'Runs out / resets', get: (b) => (b.runs_out_at && budgetState(b) !== 'over' ? 'runs out ' + fmtTime(b.runs_out_at) : 'resets ' + fmtDay(b.period_end)) },
    { key: 'runs_out_at', label: 'Runs out', csvOnly: true },
    { key: 'period_end', label: 'Resets', csvOnly: true },
  ];
  // Columns with render show nodes and export get's value as CSV.

  // ---------- pages
  let meOnce = null; // what does not change every few seconds: peers, insights, keys
  async function loadMe() {
    const user = params.get('user') || who.user;
    const range = rangeQuery();
    const filters = { ...range, ...pick('task', 'model', 'app') };
    const self = user === who.user;
    const first = meOnce === null;
    const r = await settle({
      ov: () => api('/api/v1/overview', { scope: 'user', user, stack: params.get('stack') || 'model', ...filters }),
      me: () => (self ? optional('/api/v1/me') : Promise.resolve(undefined)),
      budgets: () => (self ? Promise.resolve(undefined) : optional('/api/v1/budgets')),
      ...(first ? {
        peers: () => api('/api/v1/peers', { user, ...filters }),
        ins: () => optional('/api/v1/insights', { user, ...range }),
        keys: () => (self ? optional('/api/v1/keys') : who.role === 'admin' ? optional('/api/v1/keys', { user }) : Promise.resolve(undefined)),
      } : {}),
    });
    meOnce = true;
    if (r.ov.ok) rangeText(r.ov.v);
    section('kpis', r.ov, (ov) => kpis(ov, self && r.me.ok && r.me.v ? r.me.v.forecast : null));
    section('daily', r.ov, (ov) => stackedChart('my', ov.daily, ov.stack, widthOf('daily')));
    section('tasks', r.ov, (ov) => table('my-tasks', shareCols('Task', (x) => withParam('task', x.name)), ov.by.task));
    section('models', r.ov, (ov) => table('my-models', shareCols('Model', (x) => withParam('model', x.name)), ov.by.model));
    if (first) section('peers', r.peers, (p) => {
      const groups = [p.team_group, p.org_group].filter(Boolean);
      if (groups.length === 0) return empty(p.note || 'Not enough people to compare with.');
      return [h('p', {}, 'You spent ', money(p.you_usd), ' in this range.'), groups.map((g) => histogram(g, p.you_usd, widthOf('peers'))), p.note ? h('p', { class: 'hint', text: p.note }) : null];
    });
    if (self) {
      section('budget-gauges', r.me, (me) => {
        if (!me) return empty('No budget information on this allot yet.');
        const bs = budgetsList(me.budgets).slice().sort((a, b) => num(b.percent) - num(a.percent));
        if (bs.length === 0) return empty('No budget applies to you.');
        return [
          me.remaining_usd !== undefined && me.remaining_usd !== null ? h('p', { 'data-testid': 'remaining' }, 'You can still spend ', h('strong', {}, money(me.remaining_usd)), ' before the tightest budget stops you.') : null,
          h('div', { class: 'gauges' }, bs.slice(0, 4).map(budgetGauge)),
        ];
      });
    } else {
      section('budget-gauges', r.budgets, (all) => {
        const bs = budgetsList(all).filter((b) => b.scope === 'user:' + user || b.name.endsWith(':' + user));
        if (bs.length === 0) return empty('No budget of ' + user + ' is visible to you.');
        return h('div', { class: 'gauges' }, bs.slice(0, 4).map(budgetGauge));
      });
    }
    if (!first) return;
    section('recs', r.ins, (ins) => recommendations(ins));
    section('keys', r.keys, (ks) => {
      if (ks === undefined) return empty('Keys are shown to their owner and to admins.');
      if (!ks) return empty('Keys are not listed on this allot.');
      return table('keys', [
        { key: 'id', label: 'Key id', head: true },
        { key: 'label', label: 'Label' },
        { key: 'created_at', label: 'Created', kind: 'time' },
        { key: 'active', label: 'Status', get: (k) => (k.active ? 'active' : 'revoked') },
      ], ks, { empty: 'No keys.' });
    });
  }

  async function loadOrg() {
    const filters = { ...rangeQuery(), ...pick('team', 'task', 'model', 'app') };
    const stack = params.get('stack') || 'team';
    const tabs = document.getElementById('stack-tabs');
    if (tabs) tabs.replaceChildren(...['team', 'model', 'task', 'app'].map((d) => h('a', { href: withParam('stack', d), 'aria-current': d === stack ? 'true' : null, text: 'by ' + d })));
    const r = await settle({
      ov: () => api('/api/v1/overview', { scope: 'org', stack, ...filters }),
      budgets: () => optional('/api/v1/budgets'),
    });
    if (r.ov.ok) rangeText(r.ov.v);
    section('kpis', r.ov, kpis);
    section('daily', r.ov, (ov) => stackedChart('org', ov.daily, ov.stack, widthOf('daily')));
    for (const dim of ['team', 'model', 'task', 'app']) {
      section('by-' + dim, r.ov, (ov) => table('org-by-' + dim, shareCols(dim[0].toUpperCase() + dim.slice(1), dim === 'team' ? (x) => '/team?team=' + encodeURIComponent(x.name) : (x) => withParam(dim, x.name)), ov.by[dim]));
    }
    section('people', r.ov, (ov) => peopleTable(ov, true));
    section('forecast', r.ov, (ov) => {
      const out = [];
      if (ov.forecast) out.push(h('p', {}, 'This month so far ', money(ov.forecast.spent_usd), '; at this rate the month ends at ', h('strong', { 'data-testid': 'org-forecast' }, money(ov.forecast.projected_usd)), '.'));
      if (!r.budgets.ok) out.push(problem(r.budgets.e));
      else if (!r.budgets.v) out.push(empty('Budgets are not available on this allot yet.'));
      else {
        const bs = budgetsList(r.budgets.v).slice().sort((a, b) => num(b.percent) - num(a.percent));
        out.push(table('forecast-vs-budgets', budgetCols, bs, { empty: 'No budgets declared.' }));
      }
      return out;
    });
    section('unpriced', r.ov, (ov) => table('unpriced', [
      { key: 'provider', label: 'Provider' }, { key: 'model', label: 'Model', head: true },
      { key: 'requests', label: 'Requests', kind: 'int' },
      { key: 'input', label: 'Input', kind: 'int', get: (u) => (u.tokens ? u.tokens.input_tokens : 0) },
      { key: 'output', label: 'Output', kind: 'int', get: (u) => (u.tokens ? u.tokens.output_tokens : 0) },
      { key: 'last_seen', label: 'Last seen', kind: 'time' },
    ], ov.unpriced || [], { empty: 'Every model seen has a price.' }));
  }

  async function loadTeam() {
    const team = params.get('team') || who.team;
    const filters = { ...rangeQuery(), ...pick('task', 'model', 'app') };
    const r = await settle({
      ov: () => api('/api/v1/overview', { scope: 'team', team, stack: params.get('stack') || 'task', ...filters }),
      budgets: () => optional('/api/v1/budgets'),
    });
    if (r.ov.ok) rangeText(r.ov.v);
    section('kpis', r.ov, kpis);
    section('team-budgets', r.budgets, (all) => {
      if (!all) return empty('Budgets are not available on this allot yet.');
      const bs = budgetsList(all).filter((b) => b.scope === 'team:' + team);
      const out = [];
      if (r.ov.ok && r.ov.v.forecast) out.push(h('p', {}, 'Burn this month: ', money(r.ov.v.forecast.spent_usd), ' so far, ', h('strong', {}, money(r.ov.v.forecast.projected_usd)), ' projected by month end.'));
      out.push(bs.length ? h('div', { class: 'gauges' }, bs.map(budgetGauge)) : empty('No budget is declared for team ' + team + '.'));
      return out;
    });
    section('daily', r.ov, (ov) => stackedChart('team', ov.daily, ov.stack, widthOf('daily')));
    section('people', r.ov, (ov) => peopleTable(ov, true));
    section('tasks', r.ov, (ov) => table('team-tasks', shareCols('Task', (x) => withParam('task', x.name)), ov.by.task));
    section('models', r.ov, (ov) => table('team-models', shareCols('Model', (x) => withParam('model', x.name)), ov.by.model));
  }

  let policy = null;
  async function loadBudgets() {
    const admin = who.role === 'admin';
    const r = await settle({
      budgets: () => optional('/api/v1/budgets'),
      alerts: () => optional('/api/v1/alerts', { limit: 100, ...rangeQuery(), ...pick('kind', 'budget', 'before') }),
      me: () => optional('/api/v1/me'),
      grants: () => (admin ? optional('/api/v1/grants') : Promise.resolve(undefined)),
      policy: () => (admin && !policy ? optional('/api/v1/policy') : Promise.resolve(policy)),
    });
    section('budgets', r.budgets, (data) => {
      if (!data) return empty('Budgets are not available on this allot yet.');
      const bs = budgetsList(data);
      const cols = admin ? [...budgetCols, { key: 'edit', label: 'Edit', render: (b) => h('button', { type: 'button', class: 'link', text: 'Edit', 'aria-label': 'Edit ' + b.name, onclick: () => editBudget(b) }), get: () => '' }] : budgetCols;
      return [
        h('div', { class: 'gauges' }, bs.slice().sort((a, b) => num(b.percent) - num(a.percent)).slice(0, 6).map(budgetGauge)),
        table('budgets', cols, bs, { empty: 'No budgets declared.' }),
      ];
    });
    section('kpis', r.me, (me) => {
      if (!me) return empty('Your month is not available on this allot.');
      return [
        kpi('my-spend', 'You this month', money(me.spend_usd), h('span', {}, count(me.requests), ' requests')),
        me.forecast ? forecastKPI(me.forecast) : null,
        me.remaining_usd !== undefined && me.remaining_usd !== null ? kpi('remaining', 'You can still spend', money(me.remaining_usd), 'before the tightest budget stops you') : null,
      ];
    });
    const rng = document.getElementById('range');
    if (rng) { const q = rangeQuery(); rng.textContent = 'Budgets as of now; alerts ' + (defaulted() ? 'this month (the default range): ' : 'from ') + q.from + ' to ' + (q.to || 'now') + '.'; }
    section('alerts', r.alerts, (data) => alertsTable(data));
    if (!admin) fill('grants', empty('Grants are listed for admins.'));
    else section('grants', r.grants, (gs) => {
      if (!gs) return empty('Grants are not available on this allot yet.');
      return table('grants', [
        { key: 'budget', label: 'Budget', head: true }, { key: 'amount_usd', label: 'USD', kind: 'usd' },
        { key: 'tokens', label: 'Tokens', kind: 'int' }, { key: 'until', label: 'Until', kind: 'time' }, { key: 'reason', label: 'Reason' }], gs, { empty: 'No grants in force.' });
    });
    if (admin) {
      if (r.policy.ok && r.policy.v) policy = r.policy.v;
      const names = new Set(budgetsList(r.budgets.ok ? r.budgets.v : []).map((b) => b.name));
      ((policy && policy.budgets) || []).forEach((b) => names.add(b.name));
      const dl = document.getElementById('list-budgets');
      if (dl) dl.replaceChildren(...[...names].sort().map((n) => h('option', { value: n })));
    }
  }
  // alertsTable shows GET /api/v1/alerts: when, which budget, what
  // happened and whose call it was, with links to older pages.
  function alertsTable(data) {
    if (!data) return empty('Alerts are not available on this allot yet.');
    const list = Array.isArray(data) ? data : data.alerts || [];
    const kindTag = { refusal: ' bad', downgrade: ' warn' };
    const cols = [
      { key: 'time', label: 'Time', kind: 'time', head: true },
      { key: 'budget', label: 'Budget' },
      { key: 'kind', label: 'Kind', render: (a) => h('span', { class: 'tag' + (kindTag[a.kind] || ''), text: a.kind }), get: (a) => a.kind },
      { key: 'summary', label: 'What happened', render: (a) => h('span', { title: a.message || null, text: a.summary || a.message || '' }), get: (a) => a.summary || a.message },
      { key: 'user', label: 'Who', get: (a) => (a.user_hidden ? 'someone else' : a.user || '–') },
      { key: 'scope', label: 'Scope', csvOnly: true },
      { key: 'threshold', label: 'Threshold', csvOnly: true },
      { key: 'message', label: 'Message', csvOnly: true },
    ];
    const older = () => { const x = new URLSearchParams(location.search); x.set('before', data.next_before); return location.pathname + '?' + x; };
    const pager = params.get('before') || data.next_before ? h('nav', { class: 'pager', 'aria-label': 'Alert pages' },
      params.get('before') ? h('a', { href: withParam('before', null), text: '← Newest' }) : null,
      data.next_before ? h('a', { href: older(), rel: 'next', text: 'Older alerts →' }) : null) : null;
    return [table('alerts', cols, list, { empty: 'No alerts in this range: no budget crossed a threshold, downgraded or refused a call.' }), pager];
  }
  // editBudget fills the editor with a budget's declaration (from the
  // stored policy when available, else from its status).
  function editBudget(b) {
    const form = document.getElementById('budget-form');
    if (!form) return;
    const decl = ((policy && policy.budgets) || []).find((x) => x.name === b.name);
    const set = (n, v) => { const el = form.elements.namedItem(n); if (el) el.value = v === undefined || v === null ? '' : v; };
    const src = decl || { name: b.name, scope: b.scope, period: b.period, on_exceed: b.on_exceed, limit_usd: b.limit_usd, limit_tokens: b.limit_tokens };
    set('name', src.name);
    set('scope', src.scope);
    set('limit_usd', src.limit_usd);
    set('limit_tokens', src.limit_tokens || '');
    set('period', src.period);
    set('timezone', src.timezone);
    set('on_exceed', src.on_exceed || 'block');
    set('models', (src.models || []).join(', '));
    set('downgrade', Object.entries(src.downgrade || {}).map(([k, v]) => k + '=' + v).join(', '));
    set('alert_at', (src.alert_at || []).join(', '));
    const hint = document.getElementById('edit-hint');
    if (hint) hint.textContent = decl ? 'Loaded ' + b.name + ' as declared.' : 'Loaded ' + b.name + ' from its status: models, downgrade and alerts were not available, so check them before saving.';
    form.elements.namedItem('name').focus();
  }
  function setupBudgetEditor() {
    const form = document.getElementById('budget-form');
    if (!form) return;
    form.elements.namedItem('name').addEventListener('change', (e) => {
      const decl = ((policy && policy.budgets) || []).find((x) => x.name === e.target.value);
      if (decl) editBudget(decl);
    });
  }

  async function loadRequests() {
    const q = { limit: 50, ...rangeQuery(), ...pick('user', 'team', 'model', 'task', 'app', 'provider', 'before') };
    const r = await settle({ page: () => api('/api/v1/requests', q) });
    if (r.page.ok) rangeText(r.page.v);
    section('requests', r.page, (p) => {
      const cols = [
        { key: 'time', label: 'Time', kind: 'time', head: true },
        { key: 'user', label: 'User' }, { key: 'team', label: 'Team' }, { key: 'task', label: 'Task' }, { key: 'app', label: 'App' },
        { key: 'served_model', label: 'Model', get: (x) => (x.requested_model && x.requested_model !== x.served_model ? x.requested_model + ' → ' + x.served_model : x.served_model) },
        { key: 'status', label: 'Status', render: (x) => h('span', { class: 'tag' + (x.status >= 400 ? ' bad' : ''), text: String(x.status) }), get: (x) => x.status },
        { key: 'latency_ms', label: 'Latency', kind: 'ms' },
        { key: 'input_tokens', label: 'Input', kind: 'int' },
        { key: 'output_tokens', label: 'Output', kind: 'int' },
        { key: 'cost_usd', label: 'Cost', kind: 'usd' },
        { key: 'estimated', label: 'Estimated', get: (x) => (x.estimated ? 'estimated' : '') },
        { key: 'cost_known', label: 'Priced', get: (x) => (x.cost_known ? '' : 'no price') },
        { key: 'id', label: 'Id' },
      ];
      const csvQ = new URLSearchParams({ ...q, limit: 1000, format: 'csv' });
      const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
        params.get('before') ? h('a', { href: withParam('before', null), text: '← Newest' }) : null,
        p.next_before ? h('a', { href: (() => { const x = new URLSearchParams(location.search); x.set('before', p.next_before); return location.pathname + '?' + x; })(), rel: 'next', text: 'Older →' }) : null,
        h('a', { href: '/api/v1/requests?' + csvQ, download: 'allot-requests.csv', text: 'Download up to 1,000 rows as CSV' }));
      return [table('requests', cols, p.requests, { empty: 'No calls in this range.' }), pager];
    });
  }

  // insightScope is whose insights the address asks for: view=user:NAME
  // or team:NAME (the page's picker), or user= / team=.
  function insightScope() {
    const v = params.get('view');
    if (v) {
      const at = v.indexOf(':');
      const kind = at < 0 ? v : v.slice(0, at), name = at < 0 ? '' : v.slice(at + 1);
      if (kind === 'user' && name) return { user: name };
      if (kind === 'team' && name) return { team: name };
      return {};
    }
    return pick('user', 'team');
  }
  const daysAgo = (n) => { const d = new Date(); d.setUTCDate(d.getUTCDate() - n); return d.toISOString().slice(0, 10); };
  const fmtTokens = (n) => fmtInt(n) + ' tokens';
  const fmtFactor = (x) => '×' + (Math.round(num(x) * 10) / 10).toLocaleString('en-US');
  function fmtTrend(t) {
    if (t === null || t === undefined) return h('span', { class: 'muted', title: 'no spend in the previous period to compare with', text: 'new' });
    const p = Math.round(num(t) * 100);
    const text = Math.abs(p) > 999 ? (p > 0 ? 'more than +999%' : '−999%') : (p > 0 ? '+' : p < 0 ? '−' : '±') + Math.abs(p) + '%';
    return h('span', { class: p > 10 ? 'up' : p < -10 ? 'down' : null, text });
  }
  function show(id, on) { const el = document.getElementById(id); if (el) el.hidden = !on; }
  // strip draws where a person's value sits in a group's distribution:
  // the band from the median to p90, a tick at p75 and a dot for "you".
  function strip(you, spread, width) {
    const W = Math.max(120, Math.min(220, width || 160)), H = 22, pad = 6;
    const max = Math.max(num(you), num(spread.p90), 1) * 1.1;
    const x = (v) => (pad + (W - 2 * pad) * (num(v) / max)).toFixed(1);
    return s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'strip', role: 'img',
      'aria-label': `you ${fmtInt(you)}, median ${fmtInt(spread.median)}, p75 ${fmtInt(spread.p75)}, p90 ${fmtInt(spread.p90)}` },
      s('line', { x1: pad, x2: W - pad, y1: H / 2, y2: H / 2, class: 'axis' }),
      s('rect', { x: x(spread.median), y: 5, width: Math.max(1, x(spread.p90) - x(spread.median)).toFixed(1), height: H - 10, class: 'band' }),
      s('line', { x1: x(spread.median), x2: x(spread.median), y1: 3, y2: H - 3, class: 'median' }),
      s('line', { x1: x(spread.p75), x2: x(spread.p75), y1: 5, y2: H - 5, class: 'p75' }),
      s('circle', { cx: x(you), cy: H / 2, r: 5, class: 'you-mark' }));
  }
  const topCols = (dim) => [
    { key: 'name', label: dim, head: true },
    { key: 'spend_usd', label: 'Spend', kind: 'usd' },
    { key: 'share', label: 'Share', kind: 'share' },
    { key: 'tokens_per_request', label: 'Tokens per call', kind: 'int' },
    { key: 'trend', label: 'vs previous period', render: (r) => fmtTrend(r.trend), get: (r) => r.trend },
  ];

  async function loadInsights() {
    const scope = insightScope();
    const days = params.get('days') || '30';
    const personal = !!scope.user || (!scope.team && who.role !== 'admin');
    const user = scope.user || (personal ? who.user : '');
    const seat = params.get('seat_usd') || '30';
    const plans = params.getAll('plan').filter(Boolean);
    const r = await settle({
      ins: () => optional('/api/v1/insights', { ...scope, days }),
      peers: () => (personal ? api('/api/v1/peers', { user, from: daysAgo(num(days) - 1), to: todayUTC() }) : Promise.resolve(undefined)),
      plans: () => optional('/api/v1/pricing-plans', { ...scope, days, seat_usd: seat, plan: plans }),
    });
    const title = document.getElementById('ins-title');
    const whom = scope.team ? 'team ' + scope.team : personal ? (user === who.user ? 'you' : user) : 'the whole organization';
    if (title) title.textContent = 'Insights for ' + whom;
    ['peers', 'peer-tasks'].forEach((id) => show(id, personal));
    show('members', !personal);
    if (!r.ins.ok) { ['kpis', 'recs', 'forecast', 'anomalies', 'top-tasks', 'top-models', 'practice', 'members'].forEach((id) => fill(id, problem(r.ins.e))); }
    const ins = r.ins.ok ? r.ins.v : null;
    if (r.ins.ok && !ins) ['kpis', 'forecast', 'anomalies', 'top-tasks', 'top-models', 'practice', 'members'].forEach((id) => fill(id, empty('Insights are not available on this allot.')));
    if (ins) {
      const el = document.getElementById('range');
      if (el && ins.period) {
        el.replaceChildren(h('span', { 'data-testid': 'range', 'data-from': ins.period.from, 'data-to': ins.period.to },
          'Habits over the last ' + ins.period.days + ' days, ' + spanText(ins.period.from, ins.period.to) + '; the forecast is for this calendar month.'));
      }
      const f = ins.forecast;
      fill('kpis', [
        kpi('insights-spend', 'Spend, last ' + (ins.period ? ins.period.days : days) + ' days', money(ins.spend_usd)),
        kpi('insights-requests', 'Requests', count(ins.requests), h('span', {}, fmtInt(ins.tokens), ' tokens')),
        f ? forecastKPI(f) : null,
        ins.percentile_team !== null && ins.percentile_team !== undefined ? kpi('insights-pteam', 'Spend percentile in team', fmtPct(ins.percentile_team), 'more than this share of teammates') : null,
        ins.percentile_org !== null && ins.percentile_org !== undefined ? kpi('insights-porg', 'Spend percentile in org', fmtPct(ins.percentile_org), 'more than this share of the org') : null,
      ]);
      fill('recs', recommendations(ins));
      fill('forecast', forecastView(f));
      fill('anomalies', anomaliesView(f));
      fill('top-tasks', table('insights-tasks', topCols('Task'), ins.top_tasks, { empty: 'No calls in this period.' }));
      fill('top-models', table('insights-models', topCols('Model'), ins.top_models, { empty: 'No calls in this period.' }));
      fill('practice', practiceView(ins.good_practice));
      if (!personal) fill('members', Array.isArray(ins.members) && ins.members.length ? table('insights-members', [
        { key: 'user', label: 'Person', head: true, href: (m) => '/insights?view=' + encodeURIComponent('user:' + m.user) },
        { key: 'spend_usd', label: 'Spend', kind: 'usd' },
        { key: 'requests', label: 'Requests', kind: 'int' },
        { key: 'tokens_per_request', label: 'Tokens per call', kind: 'int' },
        { key: 'spend_percentile', label: 'Percentile', kind: 'pct' },
      ], ins.members) : empty('People are not named here: the org shows peers anonymously (peer_visibility), so this view shows totals only.'));
      if (personal) fill('peer-tasks', taskPeersView(ins.peers));
    }
    if (personal) section('peers', r.peers, (p) => {
      const groups = [p.team_group, p.org_group].filter(Boolean);
      if (groups.length === 0) return empty(p.note || 'Not enough people to compare with.');
      return [h('p', {}, (user === who.user ? 'You' : user) + ' spent ', money(p.you_usd), ' over these days.'), groups.map((g) => histogram(g, p.you_usd, widthOf('peers'))), p.note ? h('p', { class: 'hint', text: p.note }) : null];
    });
    section('seat', r.plans, (pv) => seatView(pv, seat));
  }
  function forecastView(f) {
    if (!f) return empty('No forecast for this view.');
    const month = new Date(f.period_start).toLocaleString('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });
    const out = [
      h('p', { class: 'big' }, h('span', { class: 'label', text: month + ' will end at about ' }), h('strong', { 'data-testid': 'forecast-projected' }, money(f.projected_usd))),
      f.basis ? h('p', { 'data-testid': 'forecast-basis', text: f.basis }) : h('p', {}, money(f.spent_usd), ' spent so far; about ', money(f.daily_rate_usd), ' a day.'),
      f.runs_out_at ? h('p', { class: 'problem' }, 'At this pace the limit is reached on ', h('strong', { text: fmtDay(f.runs_out_at) }), '.') : null,
    ];
    const wr = f.weekday_rates_usd;
    if (wr && typeof wr === 'object') {
      const order = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].filter((d) => wr[d] !== undefined);
      if (order.length) {
        const W = Math.max(240, Math.min(widthOf('forecast'), 520)), H = 120, B = 20, T = 16;
        const max = Math.max(1e-9, ...order.map((d) => num(wr[d])));
        const bw = W / order.length;
        const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': 'Usual spend per weekday over the last four weeks: ' + order.map((d) => d + ' ' + fmtUSD(wr[d])).join(', ') });
        order.forEach((d, i) => {
          const hh = (H - B - T) * (num(wr[d]) / max);
          svg.append(s('rect', { x: (i * bw + 4).toFixed(1), y: (H - B - hh).toFixed(1), width: (bw - 8).toFixed(1), height: Math.max(0.5, hh).toFixed(1), class: 'c0' }, s('title', { text: d + ': ' + fmtUSD(wr[d]) })));
          svg.append(s('text', { x: (i * bw + bw / 2).toFixed(1), y: H - 5, 'text-anchor': 'middle', text: d }));
          svg.append(s('text', { x: (i * bw + bw / 2).toFixed(1), y: (H - B - hh - 4).toFixed(1), 'text-anchor': 'middle', text: shortUSD(num(wr[d])) }));
        });
        out.push(h('h3', { text: 'A usual week' }), svg);
      }
    }
    return out;
  }
  function anomaliesView(f) {
    const list = (f && f.anomalies) || [];
    if (list.length === 0) return empty('No unusual days: none of the last 14 days spent far more than the days before it.');
    return table('anomalies', [
      { key: 'day', label: 'Day', kind: 'day', head: true },
      { key: 'spend_usd', label: 'Spend', kind: 'usd' },
      { key: 'median_usd', label: 'Usual (median)', kind: 'usd' },
      { key: 'factor', label: 'Times usual', render: (a) => fmtFactor(a.factor), get: (a) => a.factor },
    ], list);
  }
  function taskPeersView(pv) {
    const tasks = (pv && pv.tasks) || [];
    if (tasks.length === 0) return empty('No task with enough people doing it to compare with.');
    const rows = tasks.map((t) => ({ ...t, grp: t.team || t.org, grpName: t.team ? 'team' : 'org' })).filter((t) => t.grp && t.grp.input_per_request);
    if (rows.length === 0) return empty('Each task has too few people doing it to compare anonymously.');
    return [h('p', { class: 'hint', text: 'Input tokens per call against the others doing the same task: the band runs from their median to p90, the dot is you.' }),
      table('task-peers', [
        { key: 'task', label: 'Task', head: true },
        { key: 'input_per_request', label: 'Your input per call', kind: 'int' },
        { key: 'median', label: 'Their median', kind: 'int', get: (t) => t.grp.input_per_request.median },
        { key: 'vs', label: 'You vs median', render: (t) => fmtFactor(t.grp.vs_median), get: (t) => t.grp.vs_median },
        { key: 'dist', label: 'Where you are', render: (t) => strip(t.input_per_request, t.grp.input_per_request), get: (t) => t.grpName + ' of ' + t.grp.people },
        { key: 'spend_usd', label: 'Your spend', kind: 'usd' },
      ], rows)];
  }
  function practiceView(list) {
    if (!Array.isArray(list) || list.length === 0) return empty('Nothing to compare yet: good practice shows once enough people do the same task for the most efficient quarter to stay anonymous.');
    const pct = (x) => fmtPct(num(x) * 100);
    const mix = (g) => (g.model_mix || []).slice(0, 2).map((m) => m.model + ' ' + pct(m.share)).join(', ') || '–';
    return h('div', { class: 'practice' }, list.map((p) => h('article', { class: 'practice-task', 'data-task': p.task },
      h('h3', {}, p.task, ' ', h('span', { class: 'tag', text: p.people + ' people' })),
      (p.highlights || []).length ? h('ul', { class: 'highlights' }, p.highlights.map((x) => h('li', { text: x }))) : null,
      table('practice-' + p.task, [
        { key: 'what', label: '', head: true },
        { key: 'eff', label: 'Most efficient quarter', render: (r) => r.render(p.efficient), get: (r) => r.get(p.efficient) },
        { key: 'oth', label: 'The others', render: (r) => r.render(p.others), get: (r) => r.get(p.others) },
      ], [
        { what: 'People', render: (g) => String(g.people), get: (g) => g.people },
        { what: 'Cost per call', render: (g) => money(g.cost_per_request_usd), get: (g) => g.cost_per_request_usd },
        { what: 'Tokens per call', render: (g) => count(g.tokens_per_request), get: (g) => g.tokens_per_request },
        { what: 'Median input per call', render: (g) => count(g.median_input_per_request), get: (g) => g.median_input_per_request },
        { what: 'Input from the cache', render: (g) => pct(g.cache_hit_rate), get: (g) => g.cache_hit_rate },
        { what: 'Calls with an output limit', render: (g) => pct(g.limited_share), get: (g) => g.limited_share },
        { what: 'Models used most', render: (g) => mix(g), get: (g) => mix(g) },
      ]))));
  }
  function seatView(pv, seat) {
    const form = h('form', { method: 'get', class: 'seat-form', 'aria-label': 'Seat price' },
      [...params.entries()].filter(([k]) => k !== 'seat_usd' && k !== 'plan').map(([k, v]) => h('input', { type: 'hidden', name: k, value: v })),
      h('label', {}, 'Seat price (USD per person per month) ', h('input', { name: 'seat_usd', value: seat, inputmode: 'decimal', size: 6 })),
      h('button', { type: 'submit', text: 'Compare' }));
    if (!pv) return [form, empty('Seat plans cannot be compared on this allot.')];
    const plans = pv.plans || [];
    const total = (name) => ((pv.totals || []).find((t) => t.plan === name) || {}).total_usd;
    const n = num(pv.people_count);
    const out = [form];
    out.push(h('p', {}, 'Paying for what is used comes to ', h('strong', { 'data-testid': 'plan-consumption' }, money(total('consumption'))),
      ' a month for ' + n + (n === 1 ? ' person' : ' people') + ' (the last ' + pv.period.days + ' days scaled to 30).'));
    out.push(table('plans', [
      { key: 'plan', label: 'Plan', head: true },
      { key: 'per', label: 'Per person a month', render: (t) => (t.per === undefined ? '–' : money(t.per)), get: (t) => t.per },
      { key: 'total_usd', label: 'Total a month', kind: 'usd' },
      { key: 'who', label: 'Cheaper than consumption for', get: (t) => t.who },
    ], [
      { plan: 'Consumption (pay per use)', total_usd: total('consumption'), who: '–' },
      ...plans.map((p) => ({ plan: 'Seat plan "' + p.name + '"', per: p.usd_per_seat_month, total_usd: total(p.name), who: p.cheaper_for + ' of ' + n })),
      { plan: 'Each person on their cheapest option', total_usd: total('cheapest per person'), who: '–' },
    ], { caption: 'What ' + (pv.scope === 'org' ? 'the organization' : pv.scope.replace(/^team:/, 'team ').replace(/^user:/, '')) + ' would pay a month' }));
    plans.forEach((p) => out.push(h('p', { 'data-testid': 'break-even' }, 'Break-even: a "' + p.name + '" seat at ', money(p.usd_per_seat_month),
      ' pays off for whoever would spend more than that a month per use; ' + p.cheaper_for + ' of ' + n + (p.cheaper_for === 1 ? ' does.' : ' do.'))));
    if (Array.isArray(pv.people) && pv.people.length > 0 && n > 1) {
      out.push(h('details', {}, h('summary', { text: 'Person by person' }), table('plan-people', [
        { key: 'user', label: 'Person', head: true },
        { key: 'team', label: 'Team' },
        { key: 'consumption_usd', label: 'Consumption a month', kind: 'usd' },
        { key: 'cheapest', label: 'Cheapest option' },
        { key: 'saves_usd', label: 'Saves vs the dearest', kind: 'usd' },
      ], pv.people)));
    }
    return out;
  }

  // ---------- live refresh
  const loaders = { me: loadMe, org: loadOrg, team: loadTeam, budgets: loadBudgets, requests: loadRequests, insights: loadInsights };
  const live = { me: true, org: true, team: true, budgets: true };
  const load = loaders[page];
  if (!load) return;
  if (page === 'budgets') setupBudgetEditor();
  let busy = false, again = false;
  async function run() {
    if (busy) { again = true; return; }
    busy = true;
    try { await load(); } finally { busy = false; }
    if (again) { again = false; await run(); return; }
    const el = document.getElementById('live');
    if (el && live[page] && isLive()) el.textContent = 'Live · updated ' + new Date().toLocaleTimeString();
    body.dataset.loaded = String(Number(body.dataset.loaded || 0) + 1);
  }
  function isLive() {
    const to = params.get('to');
    return !to || to >= todayUTC();
  }
  run();
  // Charts are drawn for the width they are shown at: redraw on resize.
  let lastWidth = window.innerWidth, resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (window.innerWidth === lastWidth) return;
      lastWidth = window.innerWidth;
      meOnce = null;
      redrawing = true;
      run().finally(() => { redrawing = false; });
    }, 150);
  });
  if (live[page] && isLive()) {
    setInterval(() => { if (document.visibilityState === 'visible') run(); }, refreshMS);
  }

  // ---------- filters (also on pages without data)
  function setupFilters() {
    const form = document.querySelector('form.filters');
    if (!form) return;
    form.addEventListener('submit', () => {
      for (const el of form.elements) if (el.name && el.value === '') el.disabled = true;
    });
    window.addEventListener('pageshow', () => { for (const el of form.elements) el.disabled = false; });
    const presets = form.querySelector('.presets');
    if (!presets) return;
    const day = (d) => d.toISOString().slice(0, 10);
    const now = new Date();
    const ago = (n) => { const d = new Date(now); d.setUTCDate(d.getUTCDate() - n); return day(d); };
    const first = day(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)));
    const lastFirst = day(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)));
    const lastEnd = day(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 0)));
    const link = (label, from, to) => {
      const q = new URLSearchParams(location.search);
      q.set('from', from);
      if (to) q.set('to', to); else q.delete('to');
      q.delete('before');
      const a = document.createElement('a');
      a.href = location.pathname + '?' + q;
      a.textContent = label;
      return a;
    };
    presets.append(link('7 days', ago(6)), link('30 days', ago(29)), link('This month', first), link('Last month', lastFirst, lastEnd));
  }
})();
