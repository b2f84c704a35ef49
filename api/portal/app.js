// app.js: the delivery portal's pages, one function each, chosen by the
// fragment (#/endpoints, #/endpoint/<sid>, #/attempt/<sid>/<id>,
// #/debugger). Everything comes from the public API with the session's
// token (api.js); everything shown that a receiver, a publisher or a user
// wrote goes in as text (ui.js).

import { call, enc, takeToken, whenUnauthorized, markReadOnly, isReadOnly, ApiError } from './api.js';
import { h, clear, say, when, field, sparkline, charts } from './ui.js';
import { debug } from './sig.js';

const PAGE = 25;
const main = () => document.getElementById('main');
const attemptCache = new Map(); // "<webhook>/<id>" -> attempt, from the lists shown
let readOnly = isReadOnly();

// A call from a button: the answer, or null with the problem said.
async function act(fn, done) {
  try {
    const r = await fn();
    if (done) say(done);
    return r ?? true;
  } catch (e) {
    if (e instanceof ApiError && e.type === '/problems/read-only-session') {
      readOnly = true;
      markReadOnly();
      document.getElementById('mode').textContent = 'Read-only session';
    }
    say(e.message, true);
    return null;
  }
}

// A button that runs fn once per click and is disabled meanwhile.
function btn(label, fn, cls, extra = {}) {
  const b = h('button', { type: 'button', class: cls, ...extra });
  b.textContent = label;
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await fn(b);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

// A destructive button: the first click asks, the second acts (no dialogs).
function dangerBtn(label, fn) {
  let armed = false;
  const b = btn(label, async () => {
    if (!armed) {
      armed = true;
      b.textContent = `Confirm: ${label.toLowerCase()}`;
      setTimeout(() => { armed = false; b.textContent = label; }, 5000);
      return;
    }
    await fn();
  }, 'danger');
  return b;
}

function healthText(w) {
  const hl = w.health || {};
  if (!w.enabled) return h('span', { class: 'bad' }, 'disabled', w.disabled_reason ? ` (${w.disabled_reason})` : '');
  if (hl.consecutive_failures > 0) return h('span', { class: 'bad' }, `failing ×${hl.consecutive_failures} since ${when(hl.failing_since)}`);
  return h('span', { class: 'ok' }, hl.last_success_at ? `healthy, last success ${when(hl.last_success_at)}` : 'no deliveries yet');
}

// The last 24 h of one webhook by hour (the dispatchers' rollup).
async function dayStats(sid) {
  return (await call('GET', `/v1/webhooks/${enc(sid)}/stats`)).stats.hours;
}

// ---------------------------------------------------------------- endpoints

async function endpointsPage(root, tokens = [null]) {
  const token = tokens[tokens.length - 1];
  const t0 = performance.now();
  const r = await call('GET', `/v1/webhooks?page_size=${PAGE}${token ? `&page_token=${enc(token)}` : ''}`);
  if (r.webhooks[0]) document.getElementById('company').textContent = `· ${r.webhooks[0].company_sid}`;
  const rows = r.webhooks.map((w) => {
    const spark = h('td', null, h('span', { class: 'muted' }, '…'));
    const tr = h('tr', { 'data-sid': w.sid },
      h('td', null, h('a', { href: `#/endpoint/${w.sid}` }, w.label || w.sid)),
      h('td', { class: 'url' }, w.url),
      h('td', null, (w.event_types || []).length ? w.event_types.join(', ') : 'all'),
      h('td', null, healthText(w)),
      spark,
      h('td', null, h('div', { class: 'row' },
        btn(w.enabled ? 'Disable' : 'Enable', async () => {
          if (await act(() => call('PATCH', `/v1/webhooks/${enc(w.sid)}`, { webhook: { enabled: !w.enabled } }), w.enabled ? 'Disabled.' : 'Enabled.')) route();
        }, 'secondary', { 'aria-label': `${w.enabled ? 'Disable' : 'Enable'} ${w.label || w.url}` }),
        dangerBtn('Delete', async () => {
          if (await act(() => call('DELETE', `/v1/webhooks/${enc(w.sid)}`), 'Deleted.')) route();
        }))));
    return { tr, spark, w };
  });
  const table = h('table', null,
    h('caption', { class: 'visually-hidden' }, 'Your webhook endpoints'),
    h('thead', null, h('tr', null, ['Endpoint', 'URL', 'Event types', 'Health', 'Last 24 h', 'Actions'].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, rows.map((x) => x.tr)));
  const nav = h('div', { class: 'row' },
    tokens.length > 1 ? btn('Previous page', () => endpointsPage(root, tokens.slice(0, -1)), 'secondary') : null,
    r.next_page_token ? btn('Next page', () => endpointsPage(root, [...tokens, r.next_page_token]), 'secondary') : null);
  clear(root).append(h('h1', null, 'Endpoints'),
    rows.length ? table : h('p', null, 'No endpoints yet.'), nav, createForm());
  root.dataset.renderMs = String(Math.round(performance.now() - t0));
  root.dataset.ready = 'endpoints';
  // Sparklines after the page is up, a few at a time.
  const queue = [...rows];
  const worker = async () => {
    for (let x = queue.shift(); x; x = queue.shift()) {
      try {
        clear(x.spark).append(sparkline(await dayStats(x.w.sid)));
      } catch {
        clear(x.spark).append('n/a');
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  root.dataset.sparks = 'done';
}

// Form fields shared by create and edit: [elements], read().
function webhookFields(w = {}) {
  const url = h('input', { type: 'url', required: true, size: 50, value: w.url || '' });
  const label = h('input', { type: 'text', value: w.label || '' });
  const method = h('select', null, ['POST', 'PUT', 'PATCH'].map((m) => h('option', { value: m, selected: (w.method || 'POST') === m }, m)));
  const types = h('input', { type: 'text', value: (w.event_types || []).join(', '), 'aria-describedby': 'types-help' });
  const timeout = h('input', { type: 'number', min: 100, max: 30000, value: w.timeout_ms ?? 10000 });
  const attempts = h('input', { type: 'number', min: 1, max: 20, value: w.max_attempts ?? 8 });
  const headers = h('textarea', { rows: 3, 'aria-describedby': 'headers-help' },
    (w.headers || []).map((x) => `${x.include_in_request_signature ? '*' : ''}${x.name}: ${x.value}`).join('\n'));
  // Delivery control (docs/delivery.md): each empty means none.
  const schedule = h('input', { type: 'text', value: (w.retry_schedule_s || []).join(', '), 'aria-describedby': 'schedule-help' });
  const perSecond = h('input', { type: 'number', min: 1, max: 10000, value: w.rate_limit?.per_second ?? '' });
  const burst = h('input', { type: 'number', min: 1, max: 10000, value: w.rate_limit?.burst ?? '' });
  const filter = h('textarea', { rows: 3, 'aria-describedby': 'filter-help' }, w.filter ? JSON.stringify(w.filter) : '');
  const trace = h('input', { type: 'checkbox', checked: w.propagate_trace === true, 'aria-describedby': 'trace-help' });
  const els = [
    ...field('URL', url), ...field('Label', label), ...field('Method', method),
    ...field('Event types', types), h('span'), h('small', { id: 'types-help', class: 'muted' }, 'Comma-separated; empty: every event type.'),
    ...field('Timeout (ms)', timeout), ...field('Attempts', attempts),
    ...field('Headers', headers), h('span'), h('small', { id: 'headers-help', class: 'muted' }, 'One "Name: value" a line; start with * to have it signed.'),
    ...field('Retry schedule (s)', schedule), h('span'), h('small', { id: 'schedule-help', class: 'muted' }, 'Comma-separated seconds after each failed attempt, the last repeating; empty: the default.'),
    ...field('Rate limit (requests/s)', perSecond), ...field('Burst', burst),
    ...field('Filter', filter), h('span'), h('small', { id: 'filter-help', class: 'muted' }, 'A JSON filter over event_type and payload, e.g. {"eq": ["event_type", "call.ended"]}; empty: every event.'),
    ...field('Propagate trace', trace), h('span'), h('small', { id: 'trace-help', class: 'muted' }, 'Send a W3C traceparent with each attempt of a traced event.'),
  ];
  // Text that is not JSON goes as it is: the api says what is wrong.
  const filterValue = () => {
    const t = filter.value.trim();
    if (!t) return null;
    try {
      return JSON.parse(t);
    } catch {
      return t;
    }
  };
  const read = () => ({
    url: url.value.trim(),
    label: label.value.trim() || null,
    method: method.value,
    event_types: types.value.split(',').map((x) => x.trim()).filter(Boolean),
    timeout_ms: Number(timeout.value),
    max_attempts: Number(attempts.value),
    retry_schedule_s: schedule.value.trim() ? schedule.value.split(',').map((x) => Number(x.trim())) : null,
    rate_limit: perSecond.value || burst.value ? { per_second: Number(perSecond.value), burst: Number(burst.value) } : null,
    filter: filterValue(),
    propagate_trace: trace.checked,
    headers: headers.value.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
      const signed = l.startsWith('*');
      const line = signed ? l.slice(1) : l;
      const i = line.indexOf(':');
      return { name: line.slice(0, i).trim(), value: line.slice(i + 1).trim(), include_in_request_signature: signed };
    }),
  });
  return { els, read };
}

function createForm() {
  const f = webhookFields();
  const form = h('form', { class: 'grid', 'aria-labelledby': 'new-h' }, f.els, h('span'),
    h('div', null, h('button', { type: 'submit' }, 'Create endpoint')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await act(() => call('POST', '/v1/webhooks', { webhook: f.read() }), 'Endpoint created.');
    if (r) location.hash = `#/endpoint/${r.webhook.sid}`;
  });
  return h('section', null, h('h2', { id: 'new-h' }, 'New endpoint'), form);
}

// ---------------------------------------------------------------- one endpoint

async function endpointPage(root, sid) {
  const { webhook: w } = await call('GET', `/v1/webhooks/${enc(sid)}`);
  const f = webhookFields(w);
  const edit = h('form', { class: 'grid', 'aria-labelledby': 'edit-h' }, f.els, h('span'),
    h('div', null, h('button', { type: 'submit' }, 'Save changes')));
  edit.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (await act(() => call('PATCH', `/v1/webhooks/${enc(sid)}`, { webhook: f.read() }), 'Saved.')) route();
  });
  const chartBox = h('div', null, h('p', { class: 'muted' }, 'Loading charts…'));
  const keysBox = h('div');
  const testBox = h('div', { 'aria-live': 'polite' });
  const attemptsBox = h('div');
  const deadBox = h('div');
  clear(root).append(
    h('p', null, h('a', { href: '#/endpoints' }, '← Endpoints')),
    h('h1', null, w.label || w.sid),
    h('p', { class: 'url' }, `${w.method} `, w.url),
    h('p', null, healthText(w), ' ',
      btn(w.enabled ? 'Disable' : 'Enable', async () => {
        if (await act(() => call('PATCH', `/v1/webhooks/${enc(sid)}`, { webhook: { enabled: !w.enabled } }))) route();
      }, 'secondary')),
    h('h2', null, 'Last 24 hours'), chartBox,
    h('h2', null, 'Send a test event'),
    h('p', null, 'Sends one real, signed webhook.test event now and shows what your server answered.'),
    btn('Send test event', async () => {
      clear(testBox).append(h('p', null, 'Sending…'));
      const r = await act(() => call('POST', `/v1/webhooks/${enc(sid)}/~test`, {}));
      clear(testBox);
      if (r) testBox.append(testResult(w, r.test));
    }), testBox,
    h('h2', null, 'Signing keys'), keysBox,
    h('h2', null, 'Attempts'), attemptsBox,
    h('h2', null, 'Dead letters'), deadBox,
    h('h2', { id: 'edit-h' }, 'Edit'), edit);
  await Promise.all([
    keysSection(keysBox, sid),
    attemptsSection(attemptsBox, sid),
    deadSection(deadBox, sid),
    dayStats(sid).then((hs) => clear(chartBox).append(charts(hs)), (e) => clear(chartBox).append(e.message)),
  ]);
  root.dataset.ready = 'endpoint';
}

function dl(pairs) {
  return h('dl', { class: 'grid' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? '—')]));
}

function testResult(w, t) {
  return h('div', { class: 'panel', 'data-test-result': t.ok ? 'ok' : 'failed' },
    h('h3', null, 'What we sent'),
    dl([['Request', `${w.method} ${w.url}`], ['Event', `webhook.test ${t.event_sid}`],
      ['Headers', (w.headers || []).map((x) => `${x.name}: ${x.value}`).join('\n') || 'the signature headers only']]),
    h('h3', null, 'What your server answered'),
    dl([['Outcome', h('span', { class: t.ok ? 'ok' : 'bad' }, t.ok ? 'succeeded' : 'failed')],
      ['Status', t.status === null ? 'no answer' : String(t.status)], ['Error', t.error], ['Latency', `${t.latency_ms} ms`]]),
    h('pre', { class: 'answer', 'aria-label': 'Answer body (first KiB)' }, t.answer));
}

async function keysSection(box, sid) {
  const { signing_keys: keys } = await call('GET', `/v1/webhooks/${enc(sid)}/signing-keys?page_size=100`);
  const reload = () => keysSection(box, sid);
  const rows = keys.map((k) => {
    const secret = h('code', { class: 'secret' }, '••••••••');
    let shown = false;
    return h('tr', { 'data-key': k.sid },
      h('td', null, k.label || k.sid), h('td', null, when(k.created_at)),
      h('td', null, k.expires_at ? when(k.expires_at) : 'never'),
      h('td', { class: 'wrap' }, secret, ' ', btn('Reveal', (b) => {
        shown = !shown;
        secret.textContent = shown ? k.shared_secret : '••••••••';
        b.textContent = shown ? 'Hide' : 'Reveal';
      }, 'secondary', { 'aria-label': `Reveal the secret of ${k.label || k.sid}` })),
      h('td', null, h('div', { class: 'row' },
        btn('Expire in 24 h', async () => {
          if (await act(() => call('PATCH', `/v1/webhooks/${enc(sid)}/signing-keys/${enc(k.sid)}`,
            { signing_key: { expires_at: new Date(Date.now() + 86400000).toISOString() } }), 'Expiry set.')) reload();
        }, 'secondary'),
        dangerBtn('Delete', async () => {
          if (await act(() => call('DELETE', `/v1/webhooks/${enc(sid)}/signing-keys/${enc(k.sid)}`), 'Key deleted.')) reload();
        }))));
  });
  const label = h('input', { type: 'text', value: 'rotated' });
  const own = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'generated if empty' });
  const add = h('form', { class: 'row' }, ...field('New key label', label), ...field('Secret (optional)', own),
    h('button', { type: 'submit' }, 'Add key'));
  add.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = { label: label.value || null };
    if (own.value) key.shared_secret = own.value;
    if (await act(() => call('POST', `/v1/webhooks/${enc(sid)}/signing-keys`, { signing_key: key }), 'Key added.')) reload();
  });
  clear(box).append(
    h('p', { class: 'muted' }, 'Rotation: add a key (deliveries are signed with every active key), switch your server to it, then expire or delete the old one.'),
    h('table', null, h('thead', null, h('tr', null, ['Key', 'Created', 'Expires', 'Secret', 'Actions'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows)), add);
}

// The attempt log, filtered and paged by the api (status, event type
// and time are query parameters; tokens[] are the pages walked so far).
async function attemptsSection(box, sid, filt = { status: '', type: '', since: '', until: '' }, tokens = [null]) {
  const token = tokens[tokens.length - 1];
  const q = new URLSearchParams({ page_size: String(PAGE) });
  if (filt.status) q.set('status', filt.status);
  if (filt.type) q.set('event_type', filt.type);
  if (filt.since) q.set('since', new Date(filt.since).toISOString());
  if (filt.until) q.set('until', new Date(filt.until).toISOString());
  if (token) q.set('page_token', token);
  const status = h('select', null, [['', 'any'], ['succeeded', 'succeeded'], ['failed', 'failed']]
    .map(([v, t]) => h('option', { value: v, selected: filt.status === v }, t)));
  const type = h('input', { type: 'text', value: filt.type, placeholder: 'invoice.paid or invoice.*', spellcheck: 'false' });
  const from = h('input', { type: 'datetime-local', value: filt.since });
  const to = h('input', { type: 'datetime-local', value: filt.until });
  const form = h('form', { class: 'row', 'aria-label': 'Filter attempts' }, ...field('Status', status),
    ...field('Event type', type), ...field('Since', from), ...field('Until', to),
    h('button', { type: 'submit', class: 'secondary' }, 'Filter'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    attemptsSection(box, sid, { status: status.value, type: type.value.trim(), since: from.value, until: to.value });
  });
  let r;
  try {
    r = await call('GET', `/v1/webhooks/${enc(sid)}/attempts?${q}`);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 400) throw e;
    clear(box).append(form, h('p', { class: 'bad', role: 'alert' }, e.message));
    return;
  }
  for (const a of r.attempts) attemptCache.set(`${sid}/${a.id}`, a);
  const table = h('table', { class: 'attempts' },
    h('thead', null, h('tr', null, ['When', 'Event', 'Type', 'Attempt', 'Outcome', 'Status', 'Latency', 'Error'].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, r.attempts.map((a) => h('tr', null,
      h('td', null, h('a', { href: `#/attempt/${sid}/${encodeURIComponent(a.id)}` }, when(a.at))),
      h('td', null, a.event_sid), h('td', null, a.event_type ?? '—'), h('td', null, a.attempt ?? '—'),
      h('td', null, h('span', { class: a.outcome === 'succeeded' ? 'ok' : 'bad' }, a.outcome)),
      h('td', null, a.status ?? '—'), h('td', null, a.latency_ms === null ? '—' : `${a.latency_ms} ms`),
      h('td', { class: 'wrap' }, a.error ?? '')))));
  clear(box).append(form,
    r.attempts.length ? table : h('p', null, r.next_page_token ? 'None here; older attempts may match.' : 'No attempts.'),
    h('div', { class: 'row' },
      tokens.length > 1 ? btn('Newer', () => attemptsSection(box, sid, filt, tokens.slice(0, -1)), 'secondary') : null,
      r.next_page_token ? btn('Older', () => attemptsSection(box, sid, filt, [...tokens, r.next_page_token]), 'secondary') : null,
      btn('Refresh', () => attemptsSection(box, sid, filt, tokens), 'secondary')));
}

async function deadSection(box, sid, jobNote = null) {
  const r = await call('GET', `/v1/webhooks/${enc(sid)}/dead-letters?page_size=${PAGE}`);
  const now = new Date();
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const since = h('input', { type: 'datetime-local', value: local(new Date(now - 3600000)) });
  const until = h('input', { type: 'datetime-local', value: local(new Date(now.getTime() + 60000)) });
  const untilDrawn = until.value;
  const job = h('div', { 'aria-live': 'polite', class: 'job' }, jobNote);
  // Dead letters only, or every kept event of the window ("include": "all").
  const which = h('select', { 'aria-describedby': 'recover-help' },
    h('option', { value: 'dead' }, 'dead letters only'), h('option', { value: 'all' }, 'every event of the window'));
  const recover = h('form', { class: 'row', 'aria-label': 'Recover a time window' },
    ...field('From', since), ...field('To', until), ...field('Send', which), h('button', { type: 'submit' }, 'Recover window'));
  recover.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    // "To" left as drawn means "until now": the page may have been open
    // for minutes, and letters that died since belong to the window too.
    const to = until.value === untilDrawn ? new Date() : new Date(until.value);
    const body = { since: new Date(since.value).toISOString(), until: to.toISOString() };
    if (which.value === 'all') body.include = 'all';
    const j = await act(() => call('POST', `/v1/webhooks/${enc(sid)}/~recover`, body), 'Recovery queued.');
    if (j) watchJob(job, j.job.sid, (last) => deadSection(box, sid, last));
  });
  const rows = r.dead_letters.map((d) => h('tr', { 'data-event': d.event_sid },
    h('td', null, when(d.dead_at)), h('td', null, d.event_sid), h('td', null, d.event_type),
    h('td', null, d.reason), h('td', null, d.last_status ?? '—'), h('td', { class: 'wrap' }, d.last_error ?? ''),
    h('td', null, btn('Deliver again', async () => {
      if (await act(() => call('POST', `/v1/webhooks/${enc(sid)}/deliveries/${enc(d.event_sid)}/~redeliver`), 'Queued for delivery.')) deadSection(box, sid);
    }, null, { 'aria-label': `Deliver again: ${d.event_sid}` }))));
  clear(box).append(
    rows.length ? h('table', null, h('thead', null, h('tr', null, ['Dead since', 'Event', 'Type', 'Reason', 'Last status', 'Last error', ''].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows)) : h('p', null, 'No dead letters.'),
    h('h3', null, 'Recover a time window'), recover,
    h('p', { id: 'recover-help', class: 'muted' }, 'Every event of the window: each event still kept from that time that this endpoint takes, whether it was delivered, failed or dead.'),
    job);
}

// Poll a ~recover job until it is done, showing its progress.
async function watchJob(box, jobSid, done) {
  for (;;) {
    let j;
    try {
      ({ job: j } = await call('GET', `/v1/jobs/${enc(jobSid)}`));
    } catch (e) {
      clear(box).append(e.message);
      return;
    }
    const line = h('p', { 'data-job-state': j.state }, `Job ${j.sid}: ${j.state} — scanned ${j.scanned}, delivered again ${j.moved}, skipped ${j.skipped}`);
    clear(box).append(line);
    if (j.state === 'done' || j.finished_at) return done(line);
    await new Promise((r) => setTimeout(r, 500));
  }
}

// ---------------------------------------------------------------- one attempt

async function attemptPage(root, sid, id) {
  let a = attemptCache.get(`${sid}/${id}`);
  let token = null;
  for (let i = 0; !a && i < 10; i++) {
    const r = await call('GET', `/v1/webhooks/${enc(sid)}/attempts?page_size=100${token ? `&page_token=${enc(token)}` : ''}`);
    a = r.attempts.find((x) => x.id === id);
    token = r.next_page_token;
    if (!token) break;
  }
  clear(root).append(h('p', null, h('a', { href: `#/endpoint/${sid}` }, '← Endpoint')), h('h1', null, 'Attempt'));
  if (!a) {
    root.append(h('p', null, 'This attempt is no longer in the log.'));
    return;
  }
  const ev = await keptEvent(a.event_sid);
  const resendBox = h('div', { 'aria-live': 'polite' });
  const seriesBox = h('div');
  root.append(dl([['Event', a.event_sid], ['Event type', a.event_type ?? '—'],
    ev?.ordering_key != null ? ['Ordering key', h('code', { class: 'ordering-key' }, ev.ordering_key)] : null,
    ['Attempt', a.attempt === null ? '—' : String(a.attempt)],
    ['When', when(a.at)], ['Outcome', h('span', { class: a.outcome === 'succeeded' ? 'ok' : 'bad' }, a.outcome)],
    ['Status', a.status === null ? 'no answer' : String(a.status)], ['Latency', a.latency_ms === null ? '—' : `${a.latency_ms} ms`],
    ['Error', a.error]]),
  h('h2', null, 'Answer (first KiB)'), h('pre', { class: 'answer' }, a.answer || '(empty)'),
  h('h2', null, 'Headers we sent'),
  a.request_headers
    ? h('pre', { class: 'sent-headers' }, a.request_headers.map((x) => `${x.name}: ${x.value}`).join('\n'))
    : h('p', null, 'Not kept for this attempt (logged before request headers were recorded).'),
  h('p', { class: 'muted' }, 'Paste them with the body your server received into the ', h('a', { href: '#/debugger' }, 'signature debugger'),
    ' to see what was signed and which key matches.'),
  h('h2', null, 'Send again'),
  ev ? h('div', null, h('p', null, 'Sends this event to this endpoint again as a new series of attempts, with the same webhook-id, whatever became of this one.'),
    readOnly ? h('p', { class: 'muted' }, 'This read-only session cannot send.') : btn('Send again', () => resend(sid, a.event_sid, resendBox, seriesBox)),
    resendBox)
    : h('p', null, 'This event is no longer kept, so it cannot be sent again.'),
  h('h2', null, 'Attempts of this event to this endpoint'), seriesBox);
  await eventSeries(seriesBox, sid, a.event_sid);
  root.dataset.ready = 'attempt';
}

// The event as kept (GET /v1/events/{sid}), or null once it is not.
async function keptEvent(eventSid) {
  try {
    return (await call('GET', `/v1/events/${enc(eventSid)}`)).event;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

// This event's attempts to this webhook, newest first (the event's log
// across the company's webhooks, filtered here: one event has few).
async function eventSeries(box, sid, eventSid) {
  const r = await call('GET', `/v1/events/${enc(eventSid)}/attempts?page_size=100`);
  const mine = r.attempts.filter((x) => x.webhook_sid === sid);
  for (const x of mine) attemptCache.set(`${sid}/${x.id}`, x);
  clear(box).append(mine.length ? h('table', { class: 'series' },
    h('thead', null, h('tr', null, ['When', 'Attempt', 'Outcome', 'Status'].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, mine.map((x) => h('tr', { 'data-attempt': x.id },
      h('td', null, h('a', { href: `#/attempt/${sid}/${encodeURIComponent(x.id)}` }, when(x.at))),
      h('td', null, x.attempt ?? '—'),
      h('td', null, h('span', { class: x.outcome === 'succeeded' ? 'ok' : 'bad' }, x.outcome)),
      h('td', null, x.status ?? '—')))))
    : h('p', null, 'None in the log.'));
  return mine;
}

// POST ~resend, say what the api answered, then watch this event's
// attempts until the new series' first one is logged (or 30 s pass).
async function resend(sid, eventSid, box, seriesBox) {
  const known = new Set((await eventSeries(seriesBox, sid, eventSid)).map((x) => x.id));
  const r = await act(() => call('POST', `/v1/webhooks/${enc(sid)}/deliveries/${enc(eventSid)}/~resend`), 'Queued to send again.');
  if (!r) return;
  clear(box).append(h('p', { 'data-resend': 'queued' }, `Queued at ${when(r.resend.queued_at)}: attempt ${r.resend.attempt} of a new series. Waiting for it…`));
  for (let i = 0; i < 60; i++) {
    await new Promise((ok) => setTimeout(ok, 500));
    const fresh = (await eventSeries(seriesBox, sid, eventSid)).filter((x) => !known.has(x.id));
    if (fresh.length) {
      const n = fresh[fresh.length - 1];
      clear(box).append(h('p', { 'data-resend': n.outcome },
        `Sent again at ${when(n.at)}: `, h('span', { class: n.outcome === 'succeeded' ? 'ok' : 'bad' }, n.outcome),
        n.status === null ? ' (no answer)' : ` (status ${n.status})`, ' — ',
        h('a', { href: `#/attempt/${sid}/${encodeURIComponent(n.id)}` }, 'see the attempt')));
      return;
    }
  }
  clear(box).append(h('p', { 'data-resend': 'waiting' }, 'Queued; no attempt logged yet. Refresh this page later.'));
}

// ---------------------------------------------------------------- debugger

async function debuggerPage(root) {
  const { webhooks } = await call('GET', '/v1/webhooks?page_size=100');
  const which = h('select', null, webhooks.map((w) => h('option', { value: w.sid }, `${w.label || w.sid} — ${w.url}`)));
  const headers = h('textarea', { rows: 8, placeholder: 'Streem-Sent-At: …\nStreem-Signature-Headers: …\nStreem-Signature: …' });
  const body = h('textarea', { rows: 8 });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'grid' }, ...field('Endpoint', which), ...field('Headers received', headers),
    ...field('Body received (raw)', body), h('span'), h('div', null, h('button', { type: 'submit' }, 'Check signature')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const keys = await act(() => call('GET', `/v1/webhooks/${enc(which.value)}/signing-keys?page_size=100`));
    if (!keys) return;
    const r = await debug(headers.value, body.value, keys.signing_keys);
    const good = r.streemKey || r.standardKey;
    clear(out).append(h('div', { class: 'panel', 'data-verdict': good ? 'valid' : 'invalid' },
      h('p', { class: good ? 'ok' : 'bad' }, good ? 'Signature valid.' : 'No key of this endpoint made this signature.'),
      dl([['Streem-Signature', r.streemKey ? `matches key ${r.streemKey.label || r.streemKey.sid}` : 'no match'],
        ['webhook-signature', r.standardKey ? `matches key ${r.standardKey.label || r.standardKey.sid}` : 'no match'],
        ['Clock skew', r.skewMs === undefined ? 'no timestamp' : `${(r.skewMs / 1000).toFixed(1)} s (your clock minus ours)`]]),
      r.notes.length ? h('ul', { class: 'notes' }, r.notes.map((n) => h('li', null, n))) : null,
      h('h3', null, 'The exact string we sign (Streem)'), h('pre', null, r.streemInput),
      h('h3', null, 'The exact string we sign (Standard Webhooks)'), h('pre', null, r.standardInput)));
  });
  clear(root).append(h('h1', null, 'Signature debugger'),
    h('p', null, 'Paste the headers and the raw body your server received; nothing leaves your browser but the key lookup.'),
    form, out);
  root.dataset.ready = 'debugger';
}

// ---------------------------------------------------------------- routing

async function route() {
  const root = main();
  delete root.dataset.ready;
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  try {
    if (parts[0] === 'endpoint' && parts[1]) await endpointPage(root, parts[1]);
    else if (parts[0] === 'attempt' && parts[2]) await attemptPage(root, parts[1], parts[2]);
    else if (parts[0] === 'debugger') await debuggerPage(root);
    else await endpointsPage(root);
  } catch (e) {
    if (e.status === 401) return; // ended() has said so
    clear(root).append(h('h1', null, e.status === 404 ? 'Not found' : 'Something went wrong'), h('p', { class: 'error' }, e.message));
    root.dataset.ready = 'error';
  }
  if (readOnly) document.getElementById('mode').textContent = 'Read-only session';
}

function ended() {
  clear(main()).append(h('h1', null, 'Session ended'),
    h('p', null, 'This portal link has expired or was revoked. Open the portal again from your dashboard.'));
  main().dataset.ready = 'ended';
}

if (!takeToken()) {
  ended();
} else {
  whenUnauthorized(ended);
  window.addEventListener('hashchange', () => { route(); main().focus(); });
  route();
}
