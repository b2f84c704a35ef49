// Endpoint health and auto-disable (issue 6), on a compressed clock:
// WH_RETRY_SCALE=0.00001 scales the default WH_DISABLE_AFTER_MS (5 days)
// to 4.32 s, as it scales the backoff (5 s -> 0.05 ms, ..., 10 h -> 360 ms).
//
// An endpoint that fails every attempt is disabled once its failing
// streak has lasted that long, not before; its deliveries are then parked
// in the dead letters, not sent; PATCH enabled: true clears the reason
// and starts the streak over; ~recover then delivers what was parked,
// each once, signed. The health record the api shows follows every step.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  KEYS,
  publishEvents,
  randomHex,
  sleep,
  startReceiver,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
  createWebhook,
} from './lib/harness.js';
import { RFC3339_MS_Z, checkSigned, listAll } from './lib/checks.js';

useHarness();

const SCALE = 0.00001;
const DISABLE_AFTER_MS = 432000000 * SCALE; // 4320

const event = (company, sid) => ({ company_sid: company, event_type: 'call.ended', payload: `{"sid":"${sid}"}`, event_sid: sid });

describe(`endpoint health and auto-disable (WH_RETRY_SCALE=${SCALE})`, () => {
  let stack;
  let api;

  before(async () => {
    stack = await startStack({ dispatchers: 2, env: { WH_RETRY_SCALE: String(SCALE) } });
    api = stack.api;
  });

  test('health follows successes and failures', async () => {
    const company = `CO_hl${randomHex(3)}`;
    const rcv = await startReceiver();
    const { webhook } = await createWebhook(stack, { company_sid: company, url: rcv.url(), max_attempts: 1 });
    const path = `/v1/webhooks/${webhook.sid}`;
    assert.deepEqual(webhook.health, { consecutive_failures: 0, failing_since: null, last_success_at: null, last_failure_at: null });
    assert.equal(webhook.disabled_reason, null);

    await publishEvents(stack.redis, [event(company, `evt_h1_${randomHex(4)}`)]);
    await rcv.waitFor(1);
    let h = await waitUntil(async () => (await api('GET', path)).json.webhook.health.last_success_at ? (await api('GET', path)).json.webhook.health : null, { what: 'a success recorded' });
    assert.equal(h.consecutive_failures, 0);
    assert.equal(h.failing_since, null);

    rcv.setResponse({ status: 500 });
    const t0 = Date.now();
    await publishEvents(stack.redis, [event(company, `evt_h2_${randomHex(4)}`), event(company, `evt_h3_${randomHex(4)}`)]);
    h = await waitUntil(async () => {
      const x = (await api('GET', path)).json.webhook.health;
      return x.consecutive_failures === 2 ? x : null;
    }, { what: 'two failures recorded' });
    assert.match(h.failing_since, RFC3339_MS_Z);
    assert.ok(Date.parse(h.failing_since) >= t0 - 50 && Date.parse(h.failing_since) <= Date.parse(h.last_failure_at));
    const listed = (await api('GET', `/v1/webhooks?company_sid=${company}`)).json.webhooks[0];
    assert.deepEqual(listed.health, h, 'the list shows the same health');

    rcv.setResponse({ status: 200 });
    await publishEvents(stack.redis, [event(company, `evt_h4_${randomHex(4)}`)]);
    h = await waitUntil(async () => {
      const x = (await api('GET', path)).json.webhook.health;
      return x.consecutive_failures === 0 ? x : null;
    }, { what: 'the streak ended by a success' });
    assert.equal(h.failing_since, null);
    assert.ok(Date.parse(h.last_success_at) > Date.parse(h.last_failure_at));
  });

  test('disabled after WH_DISABLE_AFTER_MS of failures (not before); parked; re-enabled; recovered', async () => {
    const company = `CO_ad${randomHex(3)}`;
    const rcv = await startReceiver({ status: 500, body: 'down' });
    const { webhook, keys } = await createWebhook(stack, { company_sid: company, url: rcv.url('/ad'), max_attempts: 3 });
    const path = `/v1/webhooks/${webhook.sid}`;
    const sent = [];
    let disabled = null;
    const t0 = Date.now();
    // One event every 250 ms, each failing its 3 attempts within a few ms.
    while (!disabled && Date.now() - t0 < DISABLE_AFTER_MS + 10000) {
      const sid = `evt_ad${sent.length}_${randomHex(3)}`;
      sent.push(sid);
      await publishEvents(stack.redis, [event(company, sid)]);
      await sleep(250);
      const w = (await api('GET', path)).json.webhook;
      if (!w.enabled) disabled = { w, at: Date.now() };
    }
    assert.ok(disabled, `disabled within ${DISABLE_AFTER_MS + 10000} ms`);
    const { w } = disabled;
    const since = Date.parse(w.health.failing_since);
    assert.ok(since >= t0 - 50 && since <= t0 + 1000, `failing_since ${w.health.failing_since} is the first failure`);
    assert.ok(Date.parse(w.updated_at) - since >= DISABLE_AFTER_MS, `disabled (${w.updated_at}) no sooner than ${DISABLE_AFTER_MS} ms after ${w.health.failing_since}`);
    assert.ok(Date.parse(w.updated_at) - since < DISABLE_AFTER_MS + 2000, 'and soon after');
    assert.match(w.disabled_reason, /failed since/);
    assert.equal(await stack.redis.call('SISMEMBER', KEYS.disabled, webhook.sid), 1, 'counted as disabled');
    assert.ok(w.health.consecutive_failures >= 3 * 10, `${w.health.consecutive_failures} failures in a row`);

    // Disabled: new events are parked, not sent.
    await waitQueuesIdle(stack.redis);
    const before = rcv.requests.length;
    const parked = Array.from({ length: 5 }, (_, i) => `evt_park${i}_${randomHex(3)}`);
    await publishEvents(stack.redis, parked.map((s) => event(company, s)));
    await waitUntil(async () => {
      const d = await listAll(api, `${path}/dead-letters`, { page_size: 100 }, { name: 'dead_letters' });
      return parked.every((s) => d.items.some((x) => x.event_sid === s && x.reason === 'webhook disabled'));
    }, { what: 'the parked deliveries in the dead letters' });
    await sleep(200);
    assert.equal(rcv.requests.length, before, 'nothing sent to a disabled webhook');

    // ~test still reaches it (checking the endpoint before enabling it).
    rcv.setResponse({ status: 200, body: 'fixed' });
    const t = (await api('GET', `${path}/~test`)).json.test;
    assert.deepEqual([t.ok, t.status], [true, 200]);
    assert.equal(rcv.requests.length, before + 1);
    assert.equal((await api('GET', path)).json.webhook.enabled, false, 'a test does not enable it');

    // Re-enable: the reason goes, the streak starts over.
    const res = await api('PATCH', path, { enabled: true });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.webhook.enabled, true);
    assert.equal(res.json.webhook.disabled_reason, null);
    assert.equal(res.json.webhook.health.consecutive_failures, 0);
    assert.equal(res.json.webhook.health.failing_since, null);
    assert.deepEqual((await api('GET', path)).json.webhook, res.json.webhook, 'as stored');
    assert.equal(await stack.redis.call('SISMEMBER', KEYS.disabled, webhook.sid), 0, 'no longer counted');

    // A failure now does not disable it again at once.
    rcv.setResponse({ status: 500 });
    await publishEvents(stack.redis, [event(company, `evt_after_${randomHex(3)}`)]);
    await waitUntil(async () => (await api('GET', path)).json.webhook.health.consecutive_failures === 3, { what: 'a fresh streak' });
    await sleep(300);
    assert.equal((await api('GET', path)).json.webhook.enabled, true, 'still enabled after a fresh failure');

    // Recover what was parked (and what died while failing): once each, signed.
    rcv.setResponse({ status: 200 });
    await waitQueuesIdle(stack.redis);
    const dead = await listAll(api, `${path}/dead-letters`, { page_size: 100 }, { name: 'dead_letters' });
    const want = dead.items.map((d) => d.event_sid).sort();
    assert.ok(parked.every((s) => want.includes(s)));
    rcv.reset();
    const job = (await api('POST', `${path}/~recover`, { since: new Date(t0 - 1000).toISOString(), until: new Date().toISOString() })).json.job;
    const done = await waitUntil(async () => {
      const j = (await api('GET', `/v1/jobs/${job.sid}`)).json.job;
      return j.state === 'done' ? j : null;
    }, { what: 'the recovery' });
    assert.equal(done.moved, want.length);
    const reqs = await rcv.waitFor(want.length);
    await waitQueuesIdle(stack.redis);
    await sleep(200);
    assert.deepEqual(rcv.requests.map((r) => r.headers['webhook-id']).sort(), want, 'each once');
    for (const r of reqs) checkSigned(r, keys, r.headers['webhook-id'], 'recovered');
    const h = (await api('GET', path)).json.webhook.health;
    assert.deepEqual([h.consecutive_failures, h.failing_since], [0, null]);
  });
});
