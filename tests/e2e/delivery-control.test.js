// Delivery control (issue 21) as wired into the api and the dispatcher:
// a webhook's retry_schedule_s and filter are validated at write time
// (422 naming the element or the position), stored, shown by GET, and
// used by the dispatcher: the schedule spaces the attempts, the filter
// decides which events are delivered at all (the others are counted in
// webhooks_deliveries_filtered_total, not logged as attempts).
//
// Timing model: WH_RETRY_SCALE=0.5 halves every delay, so a schedule step
// of 1 s is 500 ms +-20% (400-600 ms), then up to one 100 ms period of the
// retry mover, the read loop and a loaded box. The default schedule's
// first step would be 2.5 s +-20%: at least 2 s.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  attemptLog,
  createWebhook,
  KEYS,
  deadLetters,
  freePort,
  logsSince,
  publishEvents,
  randomHex,
  startReceiver,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
} from './lib/harness.js';
import { assertProblem, expectFieldError, rnd } from './lib/checks.js';
import { parse, value } from './lib/promtext.js';

useHarness();

const SCALE = 0.5;
const JITTER = 0.2;
// Mover period, read loop, process scheduling on a shared 2-CPU box.
const SLACK_MS = 600;

let stack;
let api;
let metricsPort;

before(async () => {
  metricsPort = await freePort();
  stack = await startStack({
    dispatchers: 1,
    env: { WH_RETRY_SCALE: String(SCALE) },
    dispatcherEnv: { WH_METRICS_LISTEN: `127.0.0.1:${metricsPort}` },
  });
  api = stack.api;
});

const company = `CO_ctl${rnd(3)}`;
const base = { company_sid: company, url: 'https://example.com/h' };

// POST a webhook with fields over a valid base: 422 naming field.
const badPost = (fields, field) => expectFieldError(
  () => api('POST', '/v1/webhooks', { webhook: { ...base, ...fields } }), 422, field,
);

function gaps(reqs) {
  return reqs.slice(1).map((r, i) => r.receivedAt - reqs[i].receivedAt);
}

// The dispatcher's own figures (WH_METRICS_LISTEN).
async function metricsValue(name) {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return value(parse(text), name) ?? 0;
}

describe('retry_schedule_s', () => {
  test('422 for every invalid form, naming the element', async () => {
    for (const [v, field] of [
      [[], 'retry_schedule_s'],
      ['5', 'retry_schedule_s'],
      [{}, 'retry_schedule_s'],
      [5, 'retry_schedule_s'],
      [[0], 'retry_schedule_s[0]'],
      [[1, 86401], 'retry_schedule_s[1]'],
      [[1, 2, -3], 'retry_schedule_s[2]'],
      [[1.5], 'retry_schedule_s[0]'],
      [['1'], 'retry_schedule_s[0]'],
      [[null], 'retry_schedule_s[0]'],
      [[true], 'retry_schedule_s[0]'],
      [[[1]], 'retry_schedule_s[0]'],
      [Array(21).fill(1), 'retry_schedule_s[20]'],
    ]) {
      const p = await badPost({ retry_schedule_s: v }, 'retry_schedule_s');
      assert.ok(p.errors.some((e) => e.field === field), `${JSON.stringify(v)} names ${field}: ${JSON.stringify(p)}`);
    }
    // Spellings of a number other than the plain integer are refused too.
    for (const text of ['[1e3]', '[30.0]', '[01]']) {
      const res = await api('POST', '/v1/webhooks', `{"webhook":{"company_sid":"${company}","url":"https://example.com/h","retry_schedule_s":${text}}}`);
      if (text === '[01]') {
        assert.equal(res.status, 400, `${text} is not JSON: ${res.text}`);
        continue;
      }
      const p = assertProblem(res, 422);
      assert.ok(p.errors.some((e) => e.field === 'retry_schedule_s[0]'), `${text}: ${JSON.stringify(p)}`);
    }
  });

  test('stored, shown by GET, changed and removed by PATCH; bounds accepted', async () => {
    const created = await api('POST', '/v1/webhooks', { webhook: { ...base, retry_schedule_s: [1, 86400, 30] } });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.json.webhook.retry_schedule_s, [1, 86400, 30]);
    const sid = created.json.webhook.sid;
    const got = await api('GET', `/v1/webhooks/${sid}`);
    assert.deepEqual(got.json.webhook.retry_schedule_s, [1, 86400, 30]);
    const twenty = Array.from({ length: 20 }, (_, i) => i + 1);
    let p = await api('PATCH', `/v1/webhooks/${sid}`, { webhook: { retry_schedule_s: twenty } });
    assert.equal(p.status, 200, p.text);
    assert.deepEqual((await api('GET', `/v1/webhooks/${sid}`)).json.webhook.retry_schedule_s, twenty);
    // A PATCH of other fields keeps it; a bad one changes nothing.
    p = await api('PATCH', `/v1/webhooks/${sid}`, { webhook: { label: 'x' } });
    assert.deepEqual(p.json.webhook.retry_schedule_s, twenty);
    p = await api('PATCH', `/v1/webhooks/${sid}`, { webhook: { retry_schedule_s: [0] } });
    assertProblem(p, 422);
    assert.deepEqual((await api('GET', `/v1/webhooks/${sid}`)).json.webhook.retry_schedule_s, twenty);
    p = await api('PATCH', `/v1/webhooks/${sid}`, { webhook: { retry_schedule_s: null } });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.webhook.retry_schedule_s, null);
    const none = await api('POST', '/v1/webhooks', { webhook: base });
    assert.equal(none.json.webhook.retry_schedule_s, null, 'absent: the default schedule');
  });

  test('[1,1] with max_attempts 3: two gaps of ~1 s (scaled), then a dead letter; [1,2] indexes and repeats its last step', async () => {
    const rcvA = await startReceiver({ respond: () => ({ status: 500, body: 'no' }) });
    const rcvB = await startReceiver({ respond: () => ({ status: 500, body: 'no' }) });
    const co = `CO_sched${rnd(3)}`;
    const { webhook: a } = await createWebhook(stack, {
      company_sid: co, url: rcvA.url('/a'), max_attempts: 3, retry_schedule_s: [1, 1],
    });
    const { webhook: b } = await createWebhook(stack, {
      company_sid: co, url: rcvB.url('/b'), max_attempts: 4, retry_schedule_s: [1, 2],
    });
    const eventSid = `evt_sched_${randomHex(6)}`;
    await publishEvents(stack.redis, [{ company_sid: co, event_type: 'call.ended', payload: '{"n":1}', event_sid: eventSid }]);

    const reqsA = await rcvA.waitFor(3, 15000);
    const reqsB = await rcvB.waitFor(4, 20000);
    const dead = await waitUntil(async () => {
      const d = (await deadLetters(stack.redis, { eventSid })).filter((x) => x.fields.reason === 'max_attempts reached');
      return d.length === 2 ? d : null;
    }, { timeoutMs: 10000, what: 'two dead letters' });
    const byHook = Object.fromEntries(dead.map((x) => [x.fields.webhook_sid, x.fields]));
    assert.equal(byHook[a.sid].attempts, '3');
    assert.equal(byHook[b.sid].attempts, '4');
    await waitQueuesIdle(stack.redis);
    assert.equal(rcvA.requests.length, 3, 'no fourth attempt to A');
    assert.equal(rcvB.requests.length, 4, 'no fifth attempt to B');

    const within = (gap, step, where) => {
      const lo = step * 1000 * SCALE * (1 - JITTER) - 20;
      const hi = step * 1000 * SCALE * (1 + JITTER) + SLACK_MS;
      assert.ok(gap >= lo && gap <= hi, `${where}: gap ${gap} ms within [${lo}, ${hi}]`);
    };
    const ga = gaps(reqsA);
    ga.forEach((g, i) => within(g, 1, `A gap ${i + 1}`));
    const gb = gaps(reqsB);
    within(gb[0], 1, 'B gap 1');
    within(gb[1], 2, 'B gap 2');
    within(gb[2], 2, 'B gap 3 (the last step repeats)');

    const log = await attemptLog(stack.redis, a.sid);
    assert.deepEqual(log.map((e) => e.fields.outcome), ['retrying', 'retrying', 'dead']);
  });
});

describe('filter', () => {
  const F = { and: [{ eq: ['event_type', 'call.ended'] }, { gt: ['payload.duration', 30] }] };

  test('422 for every invalid form, with the position', async () => {
    for (const f of [
      'call.ended',
      5,
      true,
      [],
      {},
      { eq: ['event_type', 'a'], ne: ['event_type', 'b'] },
      { foo: ['event_type', 'a'] },
      { eq: ['nope.x', 1] },
      { eq: ['payload.', 1] },
      { eq: ['event_type'] },
      { gt: ['payload.n', 'x'] },
      { in: ['payload.n', []] },
      { and: [] },
      { and: [{ eq: ['event_type', 'a'] }, { exists: 5 }] },
      { not: [] },
      { in: ['payload.n', Array(33).fill(1)] },
      { eq: ['event_type', 'x'.repeat(4100)] },
    ]) {
      const p = await badPost({ filter: f }, 'filter');
      const e = p.errors.find((x) => x.field === 'filter');
      assert.match(e.message, /^at offset \d+( \(\/[^)]*\))?: ./, `${JSON.stringify(f)}: ${JSON.stringify(p)}`);
    }
    // Nesting beyond the limit, and the position of a fault deep inside.
    let deep = { eq: ['event_type', 'a'] };
    for (let i = 0; i < 9; i++) deep = { not: deep };
    await badPost({ filter: deep }, 'filter');
    const text = '{"and":[{"eq":["event_type","a"]},{"exists":"nope"}]}';
    const res = await api('POST', '/v1/webhooks', `{"webhook":{"company_sid":"${company}","url":"https://example.com/h","filter":${text}}}`);
    const p = assertProblem(res, 422);
    const e = p.errors.find((x) => x.field === 'filter');
    const m = /at offset (\d+) \(([^)]*)\)/.exec(e.message);
    assert.ok(m, JSON.stringify(e));
    assert.equal(m[2], '/and/1/exists', JSON.stringify(e));
    assert.equal(text.slice(Number(m[1]), Number(m[1]) + 6), '"nope"', `offset points at the fault: ${JSON.stringify(e)}`);
    // PATCH refuses the same.
    const ok = await api('POST', '/v1/webhooks', { webhook: base });
    await expectFieldError(() => api('PATCH', `/v1/webhooks/${ok.json.webhook.sid}`, { webhook: { filter: { bad: 1 } } }), 422, 'filter');
  });

  test('stored as given, shown by GET, removed by null', async () => {
    const text = '{"and": [{"eq": ["event_type", "call.ended"]}, {"gt": ["payload.duration", 30]}]}';
    const res = await api('POST', '/v1/webhooks', `{"webhook":{"company_sid":"${company}","url":"https://example.com/h","filter":${text}}}`);
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json.webhook.filter, F);
    const sid = res.json.webhook.sid;
    const got = await api('GET', `/v1/webhooks/${sid}`);
    assert.ok(got.text.includes(`"filter":${text}`), `the text as given: ${got.text}`);
    const p = await api('PATCH', `/v1/webhooks/${sid}`, { webhook: { filter: null } });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.webhook.filter, null);
    assert.equal((await api('POST', '/v1/webhooks', { webhook: base })).json.webhook.filter, null);
  });

  test('only matching events are delivered; the others are counted, not logged', async () => {
    const co = `CO_filt${rnd(3)}`;
    const rcvF = await startReceiver({});
    const rcvAll = await startReceiver({});
    const { webhook: wf } = await createWebhook(stack, { company_sid: co, url: rcvF.url('/f'), filter: F });
    await createWebhook(stack, { company_sid: co, url: rcvAll.url('/all') });
    const before = await metricsValue('webhooks_deliveries_filtered_total');

    const events = [];
    const want = new Set();
    for (let i = 0; i < 40; i++) {
      const type = i % 4 === 0 ? 'call.started' : 'call.ended';
      const duration = i % 3 === 0 ? 10 : 31 + i;
      const payload = i % 5 === 0 ? `{"n":${i}}` : `{"n":${i},"duration":${duration}}`;
      const sid = `evt_f${i}_${randomHex(4)}`;
      events.push({ company_sid: co, event_type: type, payload, event_sid: sid });
      if (type === 'call.ended' && i % 5 !== 0 && duration > 30) want.add(sid);
    }
    assert.ok(want.size > 5 && want.size < 35, `a real mix: ${want.size}`);
    await publishEvents(stack.redis, events);
    await rcvAll.waitFor(events.length, 15000);
    await rcvF.waitFor(want.size, 15000);
    await waitQueuesIdle(stack.redis);
    const got = rcvF.requests.map((r) => JSON.parse(r.text).event?.event_sid);
    assert.equal(rcvF.requests.length, want.size, 'nothing else delivered');
    assert.deepEqual(new Set(got), want);
    const log = await attemptLog(stack.redis, wf.sid);
    assert.equal(log.length, want.size, 'filtered-out events are not attempts');
    const left = events.length - want.size;
    await waitUntil(async () => (await metricsValue('webhooks_deliveries_filtered_total')) - before >= left,
      { timeoutMs: 8000, what: `${left} filtered events counted` });
    assert.equal((await metricsValue('webhooks_deliveries_filtered_total')) - before, left);
  });

  test('a stored filter that does not compile (written by other means) delivers nothing, and says so', async () => {
    const co = `CO_fbad${rnd(3)}`;
    const rcv = await startReceiver({});
    const { webhook } = await createWebhook(stack, { company_sid: co, url: rcv.url('/bad'), filter: { eq: ['event_type', 'call.ended'] } });
    const control = await startReceiver({});
    await createWebhook(stack, { company_sid: co, url: control.url('/ok') });
    // "eq" becomes "eX" in the record (same length), with the change
    // counters bumped as any change of a webhook bumps them.
    const n = await stack.redis.call('EVAL', `
      local v = redis.call('GET', KEYS[1])
      local w, n = string.gsub(v, '"eq"', '"eX"')
      redis.call('SET', KEYS[1], w)
      redis.call('INCR', KEYS[2])
      redis.call('INCR', KEYS[3])
      return n`, 3, KEYS.webhook(webhook.sid), KEYS.webhooksVersion, KEYS.companyVersion(co));
    assert.equal(n, 1);
    await publishEvents(stack.redis, [{ company_sid: co, event_type: 'call.ended', payload: '{}', event_sid: `evt_fbad_${randomHex(4)}` }]);
    await control.waitFor(1, 10000);
    await waitQueuesIdle(stack.redis);
    assert.equal(rcv.requests.length, 0, 'nothing delivered through a filter that cannot be read');
    assert.equal((await attemptLog(stack.redis, webhook.sid)).length, 0);
    await waitUntil(() => logsSince(0).some((l) => l.text.includes('stored filter refused') && l.text.includes(webhook.sid)),
      { timeoutMs: 5000, what: 'the refusal logged with the webhook' });
  });
});
