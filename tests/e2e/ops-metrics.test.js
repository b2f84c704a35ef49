// GET /metrics (issue 8): Prometheus' text format, read with a strict
// parser (lib/promtext.js); every family documented (HELP, TYPE, units in
// the names); the api's and the dispatchers' counters moving by exactly
// what was published and delivered; histograms well formed; the queue
// figures read from Redis at scrape time; live instances counted, a
// dispatcher that stops dropping out after the 5 s TTL while the totals
// stay (and are not counted twice when a paused one comes back); the
// optional WH_METRICS_TOKEN.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  BIN,
  KEYS,
  createWebhook,
  deadLetters,
  programEnv,
  publishEvents,
  randomHex,
  runToExit,
  sleep,
  startApi,
  startReceiver,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
} from './lib/harness.js';
import { parse, sum, value } from './lib/promtext.js';

useHarness();

// Each instance publishes every second and is gone 5 s after its last.
const PUBLISH_MS = 1000;
const STALE_MS = 5000;

const FAMILIES = {
  webhooks_api_requests_total: 'counter',
  webhooks_api_request_duration_seconds: 'histogram',
  webhooks_api_events_published_total: 'counter',
  webhooks_api_workers: 'gauge',
  webhooks_dispatchers: 'gauge',
  webhooks_dispatcher_events_total: 'counter',
  webhooks_dispatcher_claimed_total: 'counter',
  webhooks_dispatcher_malformed_total: 'counter',
  webhooks_delivery_attempts_total: 'counter',
  webhooks_delivery_attempt_duration_seconds: 'histogram',
  webhooks_deliveries_parked_total: 'counter',
  webhooks_deliveries_filtered_total: 'counter',
  webhooks_deliveries_rate_limited_total: 'counter',
  webhooks_dispatcher_inflight: 'gauge',
  webhooks_dispatcher_queued: 'gauge',
  webhooks_retry_scheduled: 'gauge',
  webhooks_stream_entries: 'gauge',
  webhooks_consumer_group_lag: 'gauge',
  webhooks_consumer_group_pending: 'gauge',
  webhooks_dead_letters: 'gauge',
  webhooks_endpoints_disabled: 'gauge',
};

async function scrape(base, headers = {}) {
  const res = await fetch(`${base}/metrics`, { headers, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type') || '', headers: res.headers, text };
}

async function metrics(base) {
  const r = await scrape(base);
  assert.equal(r.status, 200, r.text);
  return parse(r.text);
}

const EV = { route: '/v1/events', method: 'POST' };

// The figures this file compares before and after.
function figures(m) {
  return {
    accepted: value(m, 'webhooks_api_events_published_total', { outcome: 'accepted' }) ?? 0,
    duplicate: value(m, 'webhooks_api_events_published_total', { outcome: 'duplicate' }) ?? 0,
    conflict: value(m, 'webhooks_api_events_published_total', { outcome: 'conflict' }) ?? 0,
    r202: value(m, 'webhooks_api_requests_total', { ...EV, status: '202' }) ?? 0,
    r200: value(m, 'webhooks_api_requests_total', { ...EV, status: '200' }) ?? 0,
    r409: value(m, 'webhooks_api_requests_total', { ...EV, status: '409' }) ?? 0,
    succeeded: value(m, 'webhooks_delivery_attempts_total', { outcome: 'succeeded' }),
    retrying: value(m, 'webhooks_delivery_attempts_total', { outcome: 'retrying' }),
    dead: value(m, 'webhooks_delivery_attempts_total', { outcome: 'dead' }),
    attempts: value(m, 'webhooks_delivery_attempt_duration_seconds_count'),
    read: value(m, 'webhooks_dispatcher_events_total'),
  };
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

  before(async () => {
    stack = await startStack({ dispatchers: 2 });
    base = stack.apiServer.baseUrl;
    receiver = await startReceiver({ respond: (r) => (r.url.startsWith('/fail') ? { status: 500 } : { status: 204 }) });
  });

  test('text/plain 0.0.4, every family with HELP and TYPE, units in the names', async () => {
    const r = await scrape(base);
    assert.equal(r.status, 200, r.text);
    assert.match(r.contentType, /^text\/plain; version=0\.0\.4\b/);
    assert.ok(r.headers.get('x-request-id'));
    const m = parse(r.text);
    for (const [name, type] of Object.entries(FAMILIES)) {
      const f = m.get(name);
      assert.ok(f, `family ${name} is shown`);
      assert.equal(f.type, type, `${name} is a ${type}`);
      assert.ok(f.help && f.help.length > 10, `${name} has a HELP text`);
    }
    for (const f of m.values()) {
      assert.match(f.name, /^webhooks_/);
      if (f.type === 'counter') assert.match(f.name, /_total$/, `counter ${f.name}`);
      if (f.type === 'histogram') assert.match(f.name, /_seconds$/, `histogram ${f.name}`);
    }
  });

  test('every live api worker and dispatcher is counted', async () => {
    await waitUntil(
      async () => {
        const m = await metrics(base);
        return value(m, 'webhooks_api_workers') === 2 && value(m, 'webhooks_dispatchers') === 2;
      },
      { timeoutMs: 2 * STALE_MS, intervalMs: 200, what: '2 api workers and 2 dispatchers in /metrics' },
    );
  });

  test('the counters move by exactly what was published and delivered', async () => {
    const good = (await createWebhook(stack, { company_sid: `CO_mg${randomHex(3)}`, url: receiver.url('/ok') })).webhook;
    const bad = (await createWebhook(stack, {
      company_sid: `CO_mb${randomHex(3)}`, url: receiver.url('/fail'), max_attempts: 2,
    })).webhook;
    await waitQueuesIdle(stack.redis);
    const before = figures(await metrics(base));

    const sid = `evt_m_${randomHex(6)}`;
    const publish = (company, extra = {}) => stack.api('POST', '/v1/events',
      { company_sid: company, event_type: 'call.ended', payload: { n: 1 }, ...extra });
    for (let i = 0; i < 4; i++) assert.equal((await publish(good.company_sid)).status, 202);
    assert.equal((await publish(good.company_sid, { event_sid: sid })).status, 202);
    assert.equal((await publish(good.company_sid, { event_sid: sid })).status, 200);
    assert.equal((await publish(good.company_sid, { event_sid: sid, payload: { n: 2 } })).status, 409);
    for (let i = 0; i < 2; i++) assert.equal((await publish(bad.company_sid)).status, 202);

    await receiver.waitFor(5 + 2 * 2, 15000);
    await waitQueuesIdle(stack.redis, { timeoutMs: 15000 });
    const want = {
      accepted: 7, duplicate: 1, conflict: 1, r202: 7, r200: 1, r409: 1,
      succeeded: 5, retrying: 2, dead: 2, attempts: 9, read: 7,
    };
    let got;
    await waitUntil(
      async () => {
        got = delta(before, figures(await metrics(base)));
        return JSON.stringify(got) === JSON.stringify(want);
      },
      { timeoutMs: 5 * PUBLISH_MS, intervalMs: 250, what: `the figures to move by ${JSON.stringify(want)}` },
    ).catch((err) => {
      err.message += ` (moved by ${JSON.stringify(got)})`;
      throw err;
    });

    const m = await metrics(base);
    // One histogram observation per answered request, per route and method.
    const h = m.get('webhooks_api_request_duration_seconds').series;
    assert.equal(value(m, 'webhooks_api_request_duration_seconds_count', EV),
      sum(m, 'webhooks_api_requests_total', EV));
    assert.ok(h.size >= 2, 'a latency histogram per route and method');
    assert.ok(value(m, 'webhooks_api_request_duration_seconds_sum', EV) > 0);
    assert.ok(value(m, 'webhooks_delivery_attempt_duration_seconds_sum') >= 0);
    // Route patterns, never raw paths (which hold ids).
    for (const s of m.get('webhooks_api_requests_total').samples) {
      assert.doesNotMatch(s.labels.route, /wh_|sk_|key_/, `route label ${s.labels.route}`);
    }
    // The queue figures of an idle system, and the dead letters as Redis has them.
    assert.equal(value(m, 'webhooks_dead_letters'), (await deadLetters(stack.redis)).length);
    assert.ok(value(m, 'webhooks_dead_letters') >= 2);
    assert.equal(value(m, 'webhooks_retry_scheduled'), 0);
    for (const stream of ['events', 'retries']) {
      assert.equal(value(m, 'webhooks_stream_entries', { stream }), 0);
      assert.equal(value(m, 'webhooks_consumer_group_pending', { stream }), 0);
      assert.equal(value(m, 'webhooks_consumer_group_lag', { stream }), 0);
    }
    assert.equal(value(m, 'webhooks_dispatcher_inflight'), 0);
    assert.equal(value(m, 'webhooks_dispatcher_queued'), 0);
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

  test('a dispatcher that stops drops out after the TTL; the totals stay', async () => {
    await waitQueuesIdle(stack.redis);
    const totals = async () => {
      const m = await metrics(base);
      return {
        live: value(m, 'webhooks_dispatchers'),
        attempts: sum(m, 'webhooks_delivery_attempts_total'),
        read: value(m, 'webhooks_dispatcher_events_total'),
      };
    };
    await sleep(2 * PUBLISH_MS); // the last deliveries are published
    const t0 = await totals();
    assert.equal(t0.live, 2);
    const same = (t) => t.attempts === t0.attempts && t.read === t0.read;
    const [, second] = stack.dispatchers;

    // Paused (SIGSTOP): counted until its figures are 5 s old, then gone;
    // back (SIGCONT): counted again, its totals not twice.
    process.kill(second.proc.pid, 'SIGSTOP');
    const stopped = Date.now();
    try {
      await sleep(PUBLISH_MS);
      assert.equal((await totals()).live, 2, 'still counted within the TTL');
      await waitUntil(async () => (await totals()).live === 1,
        { timeoutMs: STALE_MS + 4000, intervalMs: 200, what: 'the paused dispatcher to drop out' });
      assert.ok(Date.now() - stopped >= STALE_MS - PUBLISH_MS - 200, `dropped after ${Date.now() - stopped} ms`);
      assert.ok(same(await totals()), 'totals kept when it dropped out');
    } finally {
      process.kill(second.proc.pid, 'SIGCONT');
    }
    await waitUntil(async () => (await totals()).live === 2,
      { timeoutMs: 3 * PUBLISH_MS, intervalMs: 200, what: 'the resumed dispatcher to count again' });
    assert.deepEqual(await totals(), t0, 'totals not counted twice');

    // Killed: the same, for good.
    await second.kill();
    await waitUntil(async () => (await totals()).live === 1,
      { timeoutMs: STALE_MS + 4000, intervalMs: 200, what: 'the killed dispatcher to drop out' });
    assert.ok(same(await totals()), 'totals kept after a kill');

    // Stopped cleanly (SIGTERM): it hands its totals over and leaves at once.
    const res = await stack.dispatchers[0].stop();
    assert.equal(res.code, 0);
    const t = await totals();
    assert.equal(t.live, 0, 'a drained dispatcher leaves at once');
    assert.ok(same(t), 'totals kept after a clean stop');
  });
});

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
