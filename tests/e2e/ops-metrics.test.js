// GET /metrics (issues 8 and 22): Prometheus' text format, read with a
// strict parser (lib/promtext.js); every family documented (HELP, TYPE,
// units in the names). Each process shows its own figures: the api those
// of its own workers (two here), each dispatcher its own on
// WH_METRICS_LISTEN (two here, scraped one by one), so that a sum() over
// the scraped instances equals exactly the events and attempts this file
// made; failed attempts by reason; the queue figures read from Redis at
// scrape time, by the api only; the dispatcher's listener refusing what
// is not GET /metrics and not locked out by idle sockets; every metric
// docker/monitoring's rules and dashboard use being exported (a renamed
// metric breaks this test); with Redis stopped, 200 with
// webhooks_redis_up 0; the optional WH_METRICS_TOKEN.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import {
  BIN,
  KEYS,
  REPO_ROOT,
  createWebhook,
  deadLetters,
  freePort,
  programEnv,
  publishEvents,
  randomHex,
  runToExit,
  startApi,
  startDispatcher,
  startReceiver,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
} from './lib/harness.js';
import { parse, sum, value } from './lib/promtext.js';

useHarness();

const PROCESS_FAMILIES = {
  webhooks_build_info: 'gauge',
  webhooks_process_cpu_seconds_total: 'counter',
  webhooks_process_resident_memory_bytes: 'gauge',
  webhooks_process_open_fds: 'gauge',
  webhooks_redis_up: 'gauge',
};

const API_FAMILIES = {
  ...PROCESS_FAMILIES,
  webhooks_api_requests_total: 'counter',
  webhooks_api_request_duration_seconds: 'histogram',
  webhooks_api_events_published_total: 'counter',
  webhooks_api_workers: 'gauge',
  webhooks_trace_spans_exported_total: 'counter',
  webhooks_trace_spans_dropped_total: 'counter',
  webhooks_retry_scheduled: 'gauge',
  webhooks_stream_entries: 'gauge',
  webhooks_consumer_group_lag: 'gauge',
  webhooks_consumer_group_pending: 'gauge',
  webhooks_dead_letters: 'gauge',
  webhooks_endpoints_disabled: 'gauge',
};

const DISPATCHER_FAMILIES = {
  ...PROCESS_FAMILIES,
  webhooks_dispatcher_events_total: 'counter',
  webhooks_dispatcher_claimed_total: 'counter',
  webhooks_dispatcher_malformed_total: 'counter',
  webhooks_delivery_attempts_total: 'counter',
  webhooks_delivery_attempt_failures_total: 'counter',
  webhooks_delivery_attempt_duration_seconds: 'histogram',
  webhooks_deliveries_parked_total: 'counter',
  webhooks_deliveries_filtered_total: 'counter',
  webhooks_deliveries_rate_limited_total: 'counter',
  webhooks_trace_spans_exported_total: 'counter',
  webhooks_trace_spans_dropped_total: 'counter',
  webhooks_dispatcher_inflight: 'gauge',
  webhooks_dispatcher_queued: 'gauge',
};

const REASONS = ['timeout', 'connect', 'dns', 'tls', 'http_4xx', 'http_5xx', 'policy', 'proxy', 'other'];

async function scrape(base, headers = {}, init = {}) {
  const res = await fetch(`${base}/metrics`, { headers, signal: AbortSignal.timeout(5000), ...init });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type') || '', headers: res.headers, text };
}

// One request on a connection of its own, so that Kore hands the requests
// of a batch to both of its workers (fetch would reuse one connection).
function freshRequest(base, method, urlPath, body, key) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(`${base}${urlPath}`, {
      method, agent: false, timeout: 10000,
      headers: {
        ...(key ? { authorization: `Basic ${Buffer.from(key).toString('base64')}` } : {}),
        connection: 'close',
        ...(data ? { 'content-type': 'application/json' } : {}),
      },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(data);
  });
}

async function metrics(base) {
  const r = await scrape(base);
  assert.equal(r.status, 200, r.text);
  return parse(r.text);
}

// Every family of the list shown with its type and a HELP text, and
// nothing else; counters end in _total, histograms in _seconds.
function checkFamilies(m, families) {
  for (const [name, type] of Object.entries(families)) {
    const f = m.get(name);
    assert.ok(f, `family ${name} is shown`);
    assert.equal(f.type, type, `${name} is a ${type}`);
    assert.ok(f.help && f.help.length > 10, `${name} has a HELP text`);
  }
  for (const f of m.values()) {
    assert.ok(f.name in families, `${f.name} is expected here`);
    if (f.type === 'counter') assert.match(f.name, /_total$/, `counter ${f.name}`);
    if (f.type === 'histogram') assert.match(f.name, /_seconds$/, `histogram ${f.name}`);
  }
}

const EV = { route: '/v1/events', method: 'POST' };

// The api's figures this file compares before and after.
function apiFigures(m) {
  return {
    accepted: value(m, 'webhooks_api_events_published_total', { outcome: 'accepted' }) ?? 0,
    duplicate: value(m, 'webhooks_api_events_published_total', { outcome: 'duplicate' }) ?? 0,
    conflict: value(m, 'webhooks_api_events_published_total', { outcome: 'conflict' }) ?? 0,
    r202: value(m, 'webhooks_api_requests_total', { ...EV, status: '202' }) ?? 0,
    r200: value(m, 'webhooks_api_requests_total', { ...EV, status: '200' }) ?? 0,
    r409: value(m, 'webhooks_api_requests_total', { ...EV, status: '409' }) ?? 0,
  };
}

// The dispatchers' figures, each scraped on its own port, added up.
async function dispatcherFigures(ports) {
  const out = {};
  for (const port of ports) {
    const m = await metrics(`http://127.0.0.1:${port}`);
    const one = {
      succeeded: value(m, 'webhooks_delivery_attempts_total', { outcome: 'succeeded' }),
      retrying: value(m, 'webhooks_delivery_attempts_total', { outcome: 'retrying' }),
      dead: value(m, 'webhooks_delivery_attempts_total', { outcome: 'dead' }),
      attempts: value(m, 'webhooks_delivery_attempt_duration_seconds_count'),
      read: value(m, 'webhooks_dispatcher_events_total'),
      failures: sum(m, 'webhooks_delivery_attempt_failures_total'),
      http_5xx: value(m, 'webhooks_delivery_attempt_failures_total', { reason: 'http_5xx' }),
      connect: value(m, 'webhooks_delivery_attempt_failures_total', { reason: 'connect' }),
    };
    for (const [k, v] of Object.entries(one)) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}

// The api's Kore workers and which one holds the accept lock (the one
// whose epoll set holds the listening socket): Kore hands every new
// connection to that worker until it is busy, so a test that wants both
// workers to count must move the lock itself.
function apiWorkers(apiPid, port) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let inode = null;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1].endsWith(`:${hex}`) && f[3] === '0A') inode = f[9];
    }
  }
  assert.ok(inode, `the api's listening socket on ${port}`);
  const children = (pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const all = [];
  const walk = (pid) => { for (const c of children(pid)) { all.push(c); walk(c); } };
  walk(apiPid);
  const workers = [];
  let holder = null;
  for (const pid of all) {
    let listenFd = null;
    const epolls = [];
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        let link = '';
        try { link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
        if (link === `socket:[${inode}]`) listenFd = fd;
        if (link === 'anon_inode:[eventpoll]') epolls.push(fd);
      }
    } catch {
      continue;
    }
    // Kore names its workers "[wrk N]" (the parent "[parent]").
    if (listenFd === null || !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('[wrk ')) continue;
    let watched = false;
    for (const fd of epolls) {
      const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      if (new RegExp(`^tfd:\\s+${listenFd}\\s`, 'm').test(info)) watched = true;
    }
    workers.push(pid);
    if (watched) holder = pid;
  }
  return { workers, holder };
}

const delta = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]));

test('the parser refuses what the format does not allow', () => {
  const ok = '# HELP x_total A.\n# TYPE x_total counter\nx_total{a="q\\"\\\\\\n"} 1\n';
  assert.equal(value(parse(ok), 'x_total', { a: 'q"\\\n' }), 1);
  const bad = [
    'x_total 1', // no final newline
    'x-y 1\n',
    'x{a="b} 1\n',
    'x{a="\\t"} 1\n',
    'x{a="1",a="2"} 1\n',
    'x one\n',
    'x 1\ny 2\nx{a="b"} 3\n',
    'x 1\nx 2\n',
    '# TYPE x counter\n# TYPE x counter\n',
    'x 1\n# TYPE x counter\n',
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n',
  ];
  for (const text of bad) assert.throws(() => parse(text), undefined, JSON.stringify(text));
});

describe('GET /metrics on a running stack', () => {
  let stack;
  let base;
  let receiver;
  let ports;

  before(async () => {
    stack = await startStack({ dispatchers: 0 });
    base = stack.apiServer.baseUrl;
    ports = [await freePort(), await freePort()];
    for (const [i, port] of ports.entries()) {
      stack.dispatchers.push(await startDispatcher({
        redis: stack.redis, bootstrapKey: stack.bootstrapKey, apiPort: stack.apiServer.port,
        env: { WH_METRICS_LISTEN: `127.0.0.1:${port}` }, name: `dispatcher-${i + 1}`,
      }));
    }
    receiver = await startReceiver({ respond: (r) => (r.url.startsWith('/fail') ? { status: 500 } : { status: 204 }) });
  });

  test('the api: text/plain 0.0.4, its own families, its two workers', async () => {
    const r = await scrape(base);
    assert.equal(r.status, 200, r.text);
    assert.match(r.contentType, /^text\/plain; version=0\.0\.4\b/);
    assert.ok(r.headers.get('x-request-id'));
    checkFamilies(parse(r.text), API_FAMILIES);
    let m;
    await waitUntil(async () => value(m = await metrics(base), 'webhooks_api_workers') === 2,
      { timeoutMs: 5000, intervalMs: 200, what: '2 api workers in /metrics' });
    assert.equal(value(m, 'webhooks_redis_up'), 1);
    const [build] = m.get('webhooks_build_info').samples;
    assert.match(build.labels.version, /^\d+\.\d+\.\d+/);
    assert.equal(build.value, 1);
    // Two workers' memory and descriptors, added up.
    assert.ok(value(m, 'webhooks_process_resident_memory_bytes') > 2 * 1024 * 1024);
    assert.ok(value(m, 'webhooks_process_open_fds') >= 2 * 3);
    assert.ok(value(m, 'webhooks_process_cpu_seconds_total') >= 0);
  });

  test('each dispatcher: its own families on WH_METRICS_LISTEN', async () => {
    for (const port of ports) {
      const r = await scrape(`http://127.0.0.1:${port}`);
      assert.equal(r.status, 200, r.text);
      assert.match(r.contentType, /^text\/plain; version=0\.0\.4\b/);
      const m = parse(r.text);
      checkFamilies(m, DISPATCHER_FAMILIES);
      assert.equal(value(m, 'webhooks_redis_up'), 1);
      assert.equal(m.get('webhooks_build_info').samples.length, 1);
      assert.ok(value(m, 'webhooks_process_open_fds') >= 3);
      assert.deepEqual([...m.get('webhooks_delivery_attempt_failures_total').samples.map((s) => s.labels.reason)].sort(),
        [...REASONS].sort());
    }
  });

  test('the sums over the scraped instances are exactly what was published and delivered', async () => {
    const good = (await createWebhook(stack, { company_sid: `CO_mg${randomHex(3)}`, url: receiver.url('/ok') })).webhook;
    const bad = (await createWebhook(stack, {
      company_sid: `CO_mb${randomHex(3)}`, url: receiver.url('/fail'), max_attempts: 2,
    })).webhook;
    const closed = await freePort();
    const gone = (await createWebhook(stack, {
      company_sid: `CO_mc${randomHex(3)}`, url: `http://127.0.0.1:${closed}/x`, max_attempts: 1,
    })).webhook;
    await waitQueuesIdle(stack.redis);
    const before = { ...apiFigures(await metrics(base)), ...(await dispatcherFigures(ports)) };

    const sid = `evt_m_${randomHex(6)}`;
    const publish = (company, extra = {}) => freshRequest(base, 'POST', '/v1/events',
      { company_sid: company, event_type: 'call.ended', payload: { n: 1 }, ...extra }, stack.bootstrapKey);
    // Concurrent, each on its own connection: both api workers take some.
    const four = await Promise.all([0, 1, 2, 3].map(() => publish(good.company_sid)));
    assert.deepEqual(four.map((r) => r.status), [202, 202, 202, 202]);
    assert.equal((await publish(good.company_sid, { event_sid: sid })).status, 202);
    assert.equal((await publish(good.company_sid, { event_sid: sid })).status, 200);
    assert.equal((await publish(good.company_sid, { event_sid: sid, payload: { n: 2 } })).status, 409);
    for (let i = 0; i < 2; i++) assert.equal((await publish(bad.company_sid)).status, 202);
    assert.equal((await publish(gone.company_sid)).status, 202);

    await receiver.waitFor(5 + 2 * 2, 15000);
    await waitQueuesIdle(stack.redis, { timeoutMs: 15000 });
    const want = {
      accepted: 8, duplicate: 1, conflict: 1, r202: 8, r200: 1, r409: 1,
      succeeded: 5, retrying: 2, dead: 3, attempts: 10, read: 8, failures: 5, http_5xx: 4, connect: 1,
    };
    let got;
    await waitUntil(
      async () => {
        const now = { ...apiFigures(await metrics(base)), ...(await dispatcherFigures(ports)) };
        got = delta(before, now);
        return JSON.stringify(got) === JSON.stringify(want);
      },
      { timeoutMs: 5000, intervalMs: 250, what: `the figures to move by ${JSON.stringify(want)}` },
    ).catch((err) => {
      err.message += ` (moved by ${JSON.stringify(got)})`;
      throw err;
    });
    // Kore gave all of it to the worker holding its accept lock (until
    // it is busy). Killed, that worker is replaced and the lock goes to
    // one of the two: its replacement (which takes its slot) or the other
    // worker. Either way the figures stay what they were.
    const { workers, holder } = apiWorkers(stack.apiServer.proc.pid, stack.apiServer.port);
    assert.equal(workers.length, 2);
    assert.ok(holder, 'a worker holds the accept lock');
    process.kill(holder, 'SIGKILL');
    await waitUntil(async () => {
      const now = apiWorkers(stack.apiServer.proc.pid, stack.apiServer.port);
      return now.workers.length === 2 && !now.workers.includes(holder) && now.holder !== null;
    }, { timeoutMs: 10000, intervalMs: 100, what: 'Kore to replace the killed worker' });
    await waitUntil(async () => value(await metrics(base), 'webhooks_api_workers') === 2,
      { timeoutMs: 5000, intervalMs: 200, what: '2 live api workers again' });
    const f = apiFigures(await metrics(base));
    for (const k of Object.keys(f)) assert.equal(f[k] - before[k], want[k], `${k} after a worker was replaced`);

    const m = await metrics(base);
    // One histogram observation per answered request, per route and method.
    const h = m.get('webhooks_api_request_duration_seconds').series;
    assert.equal(value(m, 'webhooks_api_request_duration_seconds_count', EV),
      sum(m, 'webhooks_api_requests_total', EV));
    assert.ok(h.size >= 2, 'a latency histogram per route and method');
    assert.ok(value(m, 'webhooks_api_request_duration_seconds_sum', EV) > 0);
    // Route patterns, never raw paths (which hold ids).
    for (const s of m.get('webhooks_api_requests_total').samples) {
      assert.doesNotMatch(s.labels.route, /wh_|sk_|key_/, `route label ${s.labels.route}`);
    }
    // The queue figures of an idle system, and the dead letters as Redis has them.
    assert.equal(value(m, 'webhooks_dead_letters'), (await deadLetters(stack.redis)).length);
    assert.ok(value(m, 'webhooks_dead_letters') >= 3);
    assert.equal(value(m, 'webhooks_retry_scheduled'), 0);
    for (const stream of ['events', 'retries']) {
      assert.equal(value(m, 'webhooks_stream_entries', { stream }), 0);
      assert.equal(value(m, 'webhooks_consumer_group_pending', { stream }), 0);
      assert.equal(value(m, 'webhooks_consumer_group_lag', { stream }), 0);
    }
    for (const port of ports) {
      const dm = await metrics(`http://127.0.0.1:${port}`);
      assert.equal(value(dm, 'webhooks_dispatcher_inflight'), 0);
      assert.equal(value(dm, 'webhooks_dispatcher_queued'), 0);
      assert.ok(value(dm, 'webhooks_delivery_attempt_duration_seconds_sum') >= 0);
    }
  });

  test('the queue figures are read from Redis at scrape time', async () => {
    const member = `metrics-probe-${randomHex(4)}`;
    await stack.redis.call('ZADD', KEYS.retry, String(Date.now() + 3600e3), member);
    try {
      assert.equal(value(await metrics(base), 'webhooks_retry_scheduled'), 1);
    } finally {
      await stack.redis.call('ZREM', KEYS.retry, member);
    }
    assert.equal(value(await metrics(base), 'webhooks_retry_scheduled'), 0);

    // Frozen dispatchers: what is added is either not read yet (lag) or
    // read and not acked (pending: a blocked XREADGROUP still takes it).
    const pids = stack.dispatchers.map((d) => d.proc.pid);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      await publishEvents(stack.redis, [1, 2, 3].map(() => ({
        company_sid: `CO_none${randomHex(3)}`, event_type: 'a.b', payload: '{}',
      })));
      const m = await metrics(base);
      assert.equal(value(m, 'webhooks_stream_entries', { stream: 'events' }), 3);
      assert.equal((value(m, 'webhooks_consumer_group_lag', { stream: 'events' }) ?? NaN) +
        value(m, 'webhooks_consumer_group_pending', { stream: 'events' }), 3);
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    await waitUntil(
      async () => value(await metrics(base), 'webhooks_stream_entries', { stream: 'events' }) === 0,
      { timeoutMs: 10000, intervalMs: 200, what: 'the events stream to drain' },
    );
  });

  test('disabled endpoints: created off, PATCHed on and off, deleted', async () => {
    // Auto-disabling goes through the same script (endpoint-health.test.js).
    const off = async () => value(await metrics(base), 'webhooks_endpoints_disabled');
    const n0 = await off();
    assert.equal(n0, await stack.redis.call('SCARD', KEYS.disabled));
    const company = `CO_md${randomHex(3)}`;
    const a = (await createWebhook(stack, { company_sid: company, url: receiver.url('/ok'), enabled: false })).webhook;
    const b = (await createWebhook(stack, { company_sid: company, url: receiver.url('/ok') })).webhook;
    assert.equal(a.enabled, false);
    assert.equal(await off(), n0 + 1, 'created disabled');
    const patch = (w, enabled) => stack.api('PATCH', `/v1/webhooks/${w.sid}`, { enabled });
    assert.equal((await patch(b, false)).status, 200);
    assert.equal(await off(), n0 + 2, 'PATCH enabled: false');
    assert.equal((await patch(b, false)).status, 200);
    assert.equal(await off(), n0 + 2, 'twice is once');
    assert.equal((await patch(a, true)).status, 200);
    assert.equal(await off(), n0 + 1, 'PATCH enabled: true');
    assert.equal((await stack.api('DELETE', `/v1/webhooks/${b.sid}`)).status, 204);
    assert.equal(await off(), n0, 'deleted');
    assert.equal((await stack.api('DELETE', `/v1/webhooks/${a.sid}`)).status, 204);
    assert.equal(await off(), n0);
  });

  test('a dispatcher answers GET /metrics only, and idle sockets do not lock it out', async () => {
    const port = ports[0];
    const d = `http://127.0.0.1:${port}`;
    assert.equal((await fetch(`${d}/other`)).status, 404);
    assert.equal((await fetch(`${d}/metrics`, { method: 'POST', body: 'x' })).status, 405);
    // A head beyond 4 KiB.
    const big = await rawRequest(port, `GET /metrics HTTP/1.1\r\nX: ${'a'.repeat(5000)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
    // 20 idle sockets (more than it keeps): a scrape is still answered at once.
    const idle = [];
    for (let i = 0; i < 20; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      idle.push(s);
      await new Promise((resolve) => s.once('connect', resolve));
    }
    try {
      const t0 = Date.now();
      assert.equal((await scrape(d)).status, 200);
      assert.ok(Date.now() - t0 < 2000, `answered in ${Date.now() - t0} ms`);
    } finally {
      for (const s of idle) s.destroy();
    }
  });

  test('every metric the shipped rules and dashboard use is one the programs export', async () => {
    const exported = new Set();
    for (const url of [base, ...ports.map((p) => `http://127.0.0.1:${p}`)]) {
      for (const name of (await metrics(url)).keys()) exported.add(name);
    }
    const dir = path.join(REPO_ROOT, 'docker', 'monitoring');
    const rules = fs.readFileSync(path.join(dir, 'rules.yaml'), 'utf8');
    const texts = { 'rules.yaml': rules, 'grafana-dashboard.json': fs.readFileSync(path.join(dir, 'grafana-dashboard.json'), 'utf8') };
    const recorded = new Set([...rules.matchAll(/^\s*- record: (\S+)/gm)].map((m) => m[1]));
    let used = 0;
    for (const [file, text] of Object.entries(texts)) {
      for (const [name] of text.matchAll(/\bwebhooks_[a-z0-9_]+/g)) {
        const family = name.replace(/_(bucket|sum|count)$/, '');
        assert.ok(exported.has(name) || exported.has(family), `${file} uses ${name}, which no program exports`);
        used++;
      }
      for (const [name] of text.matchAll(/\bwebhooks:[a-z0-9_:]+/g)) {
        assert.ok(recorded.has(name), `${file} uses ${name}, which rules.yaml does not record`);
      }
    }
    assert.ok(used > 20, `${used} uses of exported metrics found`);
  });

  // Last: it stops this stack's Redis.
  test('with Redis stopped, 200 from what each process knows and webhooks_redis_up 0', async () => {
    const accepted = value(await metrics(base), 'webhooks_api_events_published_total', { outcome: 'accepted' });
    await stack.redis.stop();
    let m;
    await waitUntil(async () => value(m = await metrics(base), 'webhooks_redis_up') === 0,
      { timeoutMs: 10000, intervalMs: 200, what: 'the api to say webhooks_redis_up 0' });
    checkFamilies(m, API_FAMILIES);
    assert.equal(value(m, 'webhooks_api_events_published_total', { outcome: 'accepted' }), accepted);
    assert.equal(value(m, 'webhooks_api_workers'), 2);
    assert.equal(value(m, 'webhooks_dead_letters'), undefined, 'no queue figure without Redis');
    for (const port of ports) {
      await waitUntil(async () => value(await metrics(`http://127.0.0.1:${port}`), 'webhooks_redis_up') === 0,
        { timeoutMs: 10000, intervalMs: 200, what: `dispatcher on ${port} to say webhooks_redis_up 0` });
    }
  });
});

// One raw request on its own socket; what came back before the close.
function rawRequest(port, text) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let got = '';
    s.on('data', (b) => { got += b.toString('latin1'); });
    s.on('error', (err) => (got ? resolve(got) : reject(err)));
    s.on('close', () => resolve(got));
    s.setTimeout(5000, () => s.destroy());
  });
}

describe('WH_METRICS_TOKEN', () => {
  test('when set, GET /metrics takes the bearer token and nothing else', async () => {
    const stack = await startStack({ dispatchers: 0 });
    const token = `tok_${randomHex(12)}`;
    const api = await startApi({ redis: stack.redis, env: { WH_METRICS_TOKEN: token }, name: 'api-token' });
    for (const headers of [{}, { authorization: `Bearer ${token}x` }, { authorization: `Basic ${token}` }]) {
      const r = await scrape(api.baseUrl, headers);
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.match(r.headers.get('www-authenticate') || '', /^Bearer\b/);
      assert.match(r.contentType, /^application\/problem\+json/);
    }
    const r = await scrape(api.baseUrl, { authorization: `Bearer ${token}` });
    assert.equal(r.status, 200, r.text);
    assert.ok(parse(r.text).has('webhooks_api_workers'));
    // The api without the variable stays open.
    assert.equal((await scrape(stack.apiServer.baseUrl)).status, 200);
    // A dispatcher's listener takes the same token.
    const port = await freePort();
    await startDispatcher({ redis: stack.redis, bootstrapKey: stack.bootstrapKey, apiPort: stack.apiServer.port,
      env: { WH_METRICS_TOKEN: token, WH_METRICS_LISTEN: `127.0.0.1:${port}` }, name: 'dispatcher-token' });
    const d = `http://127.0.0.1:${port}`;
    for (const headers of [{}, { authorization: `Bearer ${token}x` }]) {
      const dr = await scrape(d, headers);
      assert.equal(dr.status, 401, JSON.stringify(headers));
      assert.match(dr.headers.get('www-authenticate') || '', /^Bearer\b/);
    }
    assert.equal((await scrape(d, { authorization: `Bearer ${token}` })).status, 200);
  });

  test('a short token stops the api at start with one line naming it', async () => {
    const secret = 'short-secret';
    const res = await runToExit(BIN.api, {
      env: programEnv({ redis: { url: 'redis://127.0.0.1:1/0' }, apiPort: 1, bootstrapKey: undefined,
        env: { WH_METRICS_TOKEN: secret } }),
    });
    assert.equal(res.code, 2, res.stderr);
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 1, res.stderr);
    assert.match(lines[0], /WH_METRICS_TOKEN/);
    assert.doesNotMatch(res.stderr, new RegExp(secret));
  });
});
