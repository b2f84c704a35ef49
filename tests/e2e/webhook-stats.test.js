// GET /v1/webhooks/{sid}/stats end to end: the dispatchers count each
// attempt in the webhook's hourly rollup (in the script that records the
// attempt); the api answers 24 hours, oldest first, with succeeded and
// failed counts and latency p50/p95 read off the histogram. A slot left
// from an earlier day counts nothing; the hash stays bounded; another
// company's webhook is 404.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS, startReceiver, startStack, useHarness, waitUntil } from './lib/harness.js';
import { assertProblem, companyKey, createWebhook, rnd } from './lib/checks.js';

useHarness();

let stack;
let api;

before(async () => {
  stack = await startStack({ dispatchers: 1 });
  api = stack.api;
});

async function publish(company, n) {
  for (let i = 0; i < n; i++) {
    const r = await api('POST', '/v1/events', { company_sid: company, event_type: 'a.b', event_sid: `evt_s${rnd(4)}`, payload: { i } });
    assert.equal(r.status, 202, r.text);
  }
}

test('attempts are counted by hour, with latency percentiles from the histogram', async () => {
  const company = `CO_st${rnd(3)}`;
  const rcv = await startReceiver({ delayMs: 120 });
  const w = await createWebhook(api, company, { url: rcv.url(), max_attempts: 1 });
  await publish(company, 4);
  await rcv.waitFor(4, 15000);
  rcv.setResponse({ status: 500, delayMs: 0 });
  await publish(company, 2);
  const path = `/v1/webhooks/${w.sid}/stats`;
  let s;
  await waitUntil(async () => {
    s = (await api('GET', path)).json.stats;
    const last = s.hours[23];
    return last.succeeded + last.failed === 6;
  }, { what: 'six attempts counted' });
  assert.equal(s.webhook_sid, w.sid);
  assert.equal(s.hours.length, 24);
  const last = s.hours[23];
  const hourStart = Math.floor(Date.now() / 3600000) * 3600000;
  assert.ok(Date.parse(last.start) === hourStart || Date.parse(last.start) === hourStart - 3600000, last.start);
  assert.equal(Date.parse(s.hours[0].start), Date.parse(last.start) - 23 * 3600000);
  assert.equal(last.succeeded, 4);
  assert.equal(last.failed, 2);
  for (const h of s.hours.slice(0, 23)) {
    assert.deepEqual([h.succeeded, h.failed, h.latency_p50_ms], [0, 0, null], h.start);
  }
  // The attempt log agrees, and the percentiles are the bucket bounds of
  // its latencies at rank ceil(q * n).
  const log = (await api('GET', `/v1/webhooks/${w.sid}/attempts?page_size=100`)).json.attempts;
  assert.equal(log.filter((a) => a.outcome === 'succeeded').length, 4);
  const lat = log.map((a) => a.latency_ms).sort((a, b) => a - b);
  const bound = (ms) => [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000].find((b) => ms <= b) ?? 30000;
  assert.equal(last.latency_p50_ms, bound(lat[Math.ceil(0.5 * lat.length) - 1]), `p50 of ${lat}`);
  assert.equal(last.latency_p95_ms, bound(lat[Math.ceil(0.95 * lat.length) - 1]), `p95 of ${lat}`);
  assert.ok(last.latency_p95_ms >= 250, 'the delayed answers are the slow ones');
});

test('a slot holding an earlier day\'s hour counts nothing, and is emptied by the next attempt', async () => {
  const company = `CO_st${rnd(3)}`;
  const rcv = await startReceiver();
  const w = await createWebhook(api, company, { url: rcv.url(), max_attempts: 1 });
  const key = KEYS.hourly(w.sid);
  const hour = Math.floor(Date.now() / 3600000);
  const slot = hour % 24;
  // Yesterday's same hour in today's slot, and another slot of last week.
  await stack.redis.call('HSET', key, `${slot}:h`, String(hour - 24), `${slot}:ok`, '50', `${slot}:l3`, '50',
    `${(slot + 1) % 24}:h`, String(hour - 24 * 7 + 1), `${(slot + 1) % 24}:fail`, '9');
  let s = (await api('GET', `/v1/webhooks/${w.sid}/stats`)).json.stats;
  assert.deepEqual(s.hours.map((h) => h.succeeded + h.failed), Array(24).fill(0));
  await publish(company, 1);
  await rcv.waitFor(1);
  await waitUntil(async () => {
    s = (await api('GET', `/v1/webhooks/${w.sid}/stats`)).json.stats;
    return s.hours[23].succeeded === 1;
  }, { what: 'the attempt counted' });
  assert.equal(await stack.redis.call('HGET', key, `${slot}:l3`), null, 'the old day\'s histogram was emptied');
  const fields = await stack.redis.call('HLEN', key);
  assert.ok(fields <= 24 * 15, `bounded: ${fields}`);
  const ttl = Number(await stack.redis.call('PTTL', key));
  assert.ok(ttl > 24 * 3600000 && ttl <= 25 * 3600000, `expires a day after the last attempt: ${ttl}`);
});

test('another company\'s webhook is 404; a company key and a portal session see their own', async () => {
  const company = `CO_st${rnd(3)}`;
  const w = await createWebhook(api, company);
  const other = await companyKey(api, `CO_o${rnd(3)}`);
  assertProblem(await api('GET', `/v1/webhooks/${w.sid}/stats`, undefined, { key: other.auth }), 404);
  assertProblem(await api('GET', '/v1/webhooks/wh_none/stats'), 404);
  const own = await companyKey(api, company);
  assert.equal((await api('GET', `/v1/webhooks/${w.sid}/stats`, undefined, { key: own.auth })).status, 200);
  const s = (await api('POST', '/v1/portal-sessions', { company_sid: company, read_only: true })).json;
  const tok = s.url.split('#token=')[1];
  const r = await api('GET', `/v1/webhooks/${w.sid}/stats`, undefined, { key: null, headers: { authorization: `Bearer ${tok}` } });
  assert.equal(r.status, 200, r.text);
});
