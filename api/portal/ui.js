// ui.js: building the page from data without ever parsing data as HTML.
// h() makes elements; every string child becomes a text node (after
// visible()), attributes are set one by one, links may only point inside
// the portal. No innerHTML anywhere in the portal.

const SVG = 'http://www.w3.org/2000/svg';

// Control characters, bidirectional overrides and zero-width characters
// of attacker-controlled text shown as \u{...} so they can neither colour
// a terminal-minded copy nor reorder or hide what is displayed.
// eslint-disable-next-line no-control-regex
const HIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
export function visible(s) {
  return String(s).replace(HIDDEN, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'href') {
      if (!/^#\/[A-Za-z0-9_\-/?=&.%]*$/.test(v)) throw new Error('portal links stay inside the portal');
      el.setAttribute('href', v);
    } else if (k === 'class') el.setAttribute('class', v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(visible(k)));
  }
}

export function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  append(el, kids);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let statusTimer;
export function say(text, error = false) {
  const st = document.getElementById('status');
  st.textContent = visible(text);
  st.classList.toggle('error', error);
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { st.textContent = ''; }, error ? 8000 : 4000);
}

export function when(t) {
  if (!t) return 'never';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// A labelled form control: <label for=id> and the control.
let seq = 0;
export function field(label, control) {
  const id = control.id || `f${++seq}`;
  control.id = id;
  return [h('label', { for: id }, label), control];
}

// A 24-bar sparkline of succeeded (up) and failed (down) attempts, from
// GET /v1/webhooks/{sid}/stats's hours.
export function sparkline(buckets) {
  const max = Math.max(1, ...buckets.map((x) => Math.max(x.succeeded, x.failed)));
  const ok = buckets.reduce((n, x) => n + x.succeeded, 0);
  const bad = buckets.reduce((n, x) => n + x.failed, 0);
  const svg = s('svg', { class: 'spark', width: 96, height: 24, viewBox: '0 0 96 24', role: 'img',
    'aria-label': `last 24 h: ${ok} succeeded, ${bad} failed` });
  buckets.forEach((x, i) => {
    const hu = Math.round((x.succeeded / max) * 11);
    const hd = Math.round((x.failed / max) * 11);
    if (hu) svg.append(s('rect', { class: 's-ok', x: i * 4, y: 12 - hu, width: 3, height: hu }));
    if (hd) svg.append(s('rect', { class: 's-bad', x: i * 4, y: 12, width: 3, height: hd }));
  });
  return svg;
}

// Deliveries per hour (stacked bars) and latency p50/p95 (lines), 24 h.
export function charts(buckets) {
  const W = 480;
  const H = 120;
  const bw = W / 24;
  const max = Math.max(1, ...buckets.map((x) => x.succeeded + x.failed));
  const bars = s('svg', { width: W, height: H + 14, viewBox: `0 0 ${W} ${H + 14}`, role: 'img',
    'aria-labelledby': 'c-del' });
  bars.append(s('title', { id: 'c-del' }, `Deliveries per hour, last 24 h: ${buckets.map((x) => `${x.succeeded} ok/${x.failed} failed`).join(', ')}`));
  buckets.forEach((x, i) => {
    const ho = (x.succeeded / max) * H;
    const hb = (x.failed / max) * H;
    bars.append(s('rect', { class: 's-ok', x: i * bw + 1, y: H - ho, width: bw - 2, height: ho }));
    bars.append(s('rect', { class: 's-bad', x: i * bw + 1, y: H - ho - hb, width: bw - 2, height: hb }));
  });
  bars.append(s('line', { class: 'axis', x1: 0, y1: H, x2: W, y2: H }));
  bars.append(s('text', { x: 0, y: H + 12 }, '24 h ago'), s('text', { x: W - 24, y: H + 12 }, 'now'));
  const lmax = Math.max(1, ...buckets.map((x) => x.latency_p95_ms || 0));
  // Latency y: room above the highest point for its mark and the scale.
  const ly = (v) => H - (v / lmax) * (H - 14);
  const line = (key) => buckets.map((x, i) => (x[key] === null ? null : `${i * bw + bw / 2},${ly(x[key])}`))
    .filter(Boolean).join(' ');
  const lat = s('svg', { width: W, height: H + 14, viewBox: `0 0 ${W} ${H + 14}`, role: 'img',
    'aria-labelledby': 'c-lat' });
  lat.append(s('title', { id: 'c-lat' }, `Latency per hour, p50 and p95 in ms: ${buckets.map((x) => `${x.latency_p50_ms ?? '-'}/${x.latency_p95_ms ?? '-'}`).join(', ')}`));
  lat.append(s('polyline', { class: 'l-p50', points: line('latency_p50_ms') }), s('polyline', { class: 'l-p95', points: line('latency_p95_ms') }));
  buckets.forEach((x, i) => {
    for (const [key, cls] of [['latency_p50_ms', 's-p50'], ['latency_p95_ms', 's-p95']]) {
      if (x[key] !== null) lat.append(s('circle', { class: cls, cx: i * bw + bw / 2, cy: ly(x[key]), r: 3 }));
    }
  });
  lat.append(s('line', { class: 'axis', x1: 0, y1: H, x2: W, y2: H }));
  lat.append(s('text', { x: 0, y: 10 }, `${lmax} ms`), s('text', { x: 0, y: H + 12 }, '24 h ago'), s('text', { x: W - 24, y: H + 12 }, 'now'));
  return h('div', { class: 'row' },
    h('figure', null, bars, h('figcaption', { class: 'legend' },
      h('span', null, h('i', { class: 'sw sw-ok' }), 'succeeded'), h('span', null, h('i', { class: 'sw sw-bad' }), 'failed'), ' per hour')),
    h('figure', null, lat, h('figcaption', { class: 'legend' },
      h('span', null, h('i', { class: 'sw sw-p50' }), 'p50'), h('span', null, h('i', { class: 'sw sw-p95' }), 'p95'), ' latency')));
}
