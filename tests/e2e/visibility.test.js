// Delivery visibility and control (issue 6), against real receivers:
//   - the attempt log through the api (newest first, pages, status filter)
//     is exactly the log in Redis;
//   - one event's attempts across a company's webhooks, and only that
//     company's (an event_sid is unique per company only);
//   - dead letters listed, one redelivered (attempts afresh, delivered
//     once more, verified by signature; two racing calls queue it once);
//   - ~test against a live, a failing, a slow and an unreachable receiver
//     (GET, and POST with an Idempotency-Key replaying its outcome);
//   - ~recover of 1000 dead letters once the receiver is back: each
//     delivered exactly once more, verified by signature, and a second
//     ~recover finds nothing;
//   - tenancy: another company's key gets 404 on every route, and
//     nothing happens.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  KEYS,
  attemptLog,
  createWebhook,
  existingCount,
  freePort,
  keysEverywhere,
  publishEvents,
  randomHex,
  sleep,
  startReceiver,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
} from './lib/harness.js';
import { RFC3339_MS_Z, assertNamesField, assertProblem, checkSigned, companyKey, listAll } from './lib/checks.js';

useHarness();

const newEventSid = (tag) => `evt_${tag}_${randomHex(6)}`;
const event = (company, eventSid, payload = `{"n":"${randomHex(3)}"}`) => ({ company_sid: company, event_type: 'call.ended', payload, event_sid: eventSid });

// The job records in Redis (not a cluster job's short-lived lease).
async function jobCount(redis) {
  return (await keysEverywhere(redis, KEYS.job('*'))).filter((k) => !k.endsWith(':lease')).length;
}

async function waitJobDone(api, sid, opts = {}) {
  return waitUntil(async () => {
    const r = await api('GET', `/v1/jobs/${sid}`, undefined, opts);
    assert.equal(r.status, 200, r.text);
    return r.json.job.state === 'done' ? r.json.job : null;
  }, { timeoutMs: 30000, intervalMs: 100, what: `job ${sid} to be done` });
}

// The size of a webhook's dead-letter index (in its company's partition).
async function deadCount(redis, company, sid) {
  return Number(await redis.call('ZCARD', KEYS.deadIndex(company, sid)));
}

async function waitDeadCount(redis, company, sid, n, timeoutMs = 20000) {
  return waitUntil(async () => (await deadCount(redis, company, sid)) >= n,
    { timeoutMs, intervalMs: 100, what: `${n} dead letters of ${sid}` });
}

describe('delivery visibility (WH_RETRY_SCALE=0.001)', () => {
  let stack;
  let api;

  before(async () => {
    stack = await startStack({ dispatchers: 1 });
    api = stack.api;
  });

  test('the attempt log: newest first, paged, filtered, exactly as logged', async () => {
    const company = `CO_att${randomHex(3)}`;
    // Even events succeed, odd ones fail (max_attempts 1: one line each).
    const rcv = await startReceiver({ respond: (r) => (JSON.parse(r.text).event.payload.i % 2 ? { status: 500, body: 'odd' } : { status: 200, body: 'even' }) });
    const { webhook } = await createWebhook(stack, { company_sid: company, url: rcv.url(), max_attempts: 1 });
    const events = Array.from({ length: 25 }, (_, i) => event(company, newEventSid('att'), `{"i":${i}}`));
    for (const e of events) await publishEvents(stack.redis, [e]); // one at a time: a known order
    await rcv.waitFor(25);
    await waitQueuesIdle(stack.redis);
    const log = await waitUntil(async () => {
      const l = await attemptLog(stack.redis, webhook.sid);
      return l.length === 25 ? l : null;
    }, { what: '25 log lines' });

    const path = `/v1/webhooks/${webhook.sid}/attempts`;
    const { items, pages } = await listAll(api, path, { page_size: 10 }, { name: 'attempts' });
    assert.deepEqual(pages.map((p) => p.length), [10, 10, 5]);
    assert.deepEqual(items.map((a) => a.id), log.map((e) => e.id).reverse(), 'every line once, newest first');
    for (const [i, a] of items.entries()) {
      const f = log[log.length - 1 - i].fields;
      assert.equal(a.webhook_sid, webhook.sid);
      assert.equal(a.event_sid, f.event_sid);
      assert.equal(a.attempt, 1);
      assert.equal(a.outcome, f.outcome === 'succeeded' ? 'succeeded' : 'dead');
      assert.equal(a.status, Number(f.status));
      assert.equal(a.error, f.error === '' ? null : f.error);
      assert.equal(a.latency_ms, Number(f.latency_ms));
      assert.match(a.at, RFC3339_MS_Z);
      assert.equal(a.answer, a.outcome === 'succeeded' ? 'even' : 'odd');
    }
    const ok = await listAll(api, path, { page_size: 4, status: 'succeeded' }, { name: 'attempts' });
    const bad = await listAll(api, path, { page_size: 4, status: 'failed' }, { name: 'attempts' });
    assert.equal(ok.items.length, 13);
    assert.equal(bad.items.length, 12);
    assert.ok(ok.items.every((a) => a.outcome === 'succeeded' && a.status === 200));
    assert.ok(bad.items.every((a) => a.outcome !== 'succeeded' && a.status === 500 && a.error === 'HTTP 500'));
    assert.deepEqual([...ok.items, ...bad.items].map((a) => a.id).sort(), items.map((a) => a.id).sort());

    // A token belongs to its filter; unknown filters and parameters are refused.
    const first = await api('GET', `${path}?page_size=2&status=succeeded`);
    assertProblem(await api('GET', `${path}?page_token=${first.json.next_page_token}`), 400);
    assertProblem(await api('GET', `${path}?status=ok`), 400);
    assertProblem(await api('GET', `${path}?sort=created_at`), 400);
    // Lines logged after a page was read come before it, never inside it.
    const p1 = await api('GET', `${path}?page_size=5`);
    await publishEvents(stack.redis, [event(company, newEventSid('late'), '{"i":0}')]);
    await rcv.waitFor(26);
    const p2 = await api('GET', `${path}?page_size=5&page_token=${p1.json.next_page_token}`);
    assert.deepEqual(p2.json.attempts.map((a) => a.id), items.slice(5, 10).map((a) => a.id));
  });

  test('each attempt keeps the request headers the receiver got; filters by event type and time, paged by the api', async () => {
    const company = `CO_req${randomHex(3)}`;
    const rcv = await startReceiver({ respond: (r) => (JSON.parse(r.text).event.payload.i % 3 === 2 ? { status: 500 } : { status: 200 }) });
    // Two of the endpoint's own headers, then ones too long to all fit the record's 4 KiB.
    const headers = [{ name: 'X-Team', value: 'blue', include_in_request_signature: true }, { name: 'X-Plain', value: 'v 1' },
      ...Array.from({ length: 4 }, (_, i) => ({ name: `X-Big-${i}`, value: 'b'.repeat(1000) }))];
    const { webhook } = await createWebhook(stack, { company_sid: company, url: rcv.url(), max_attempts: 1, headers });
    const types = ['call.ended', 'call.started', 'sms.sent'];
    const mk = (i) => ({ company_sid: company, event_type: types[i % 3], payload: `{"i":${i}}`, event_sid: newEventSid(`r${i}`) });
    const early = Array.from({ length: 9 }, (_, i) => mk(i));
    for (const e of early) await publishEvents(stack.redis, [e]);
    await rcv.waitFor(9);
    await waitUntil(async () => (await attemptLog(stack.redis, webhook.sid)).length === 9, { what: '9 lines' });
    await sleep(30);
    const cut = new Date().toISOString(); // between the two batches' log lines
    await sleep(30);
    const late = Array.from({ length: 9 }, (_, i) => mk(9 + i));
    for (const e of late) await publishEvents(stack.redis, [e]);
    await rcv.waitFor(18);
    await waitUntil(async () => (await attemptLog(stack.redis, webhook.sid)).length === 18, { what: '18 lines' });

    const path = `/v1/webhooks/${webhook.sid}/attempts`;
    const { items } = await listAll(api, path, { page_size: 100 }, { name: 'attempts' });
    assert.equal(items.length, 18);
    const bySid = new Map(rcv.requests.map((r) => [r.headers['webhook-id'], r]));
    for (const a of items) {
      const got = bySid.get(a.event_sid);
      assert.equal(a.event_type, JSON.parse(got.text).event.event_type);
      const sent = new Map(a.request_headers.map((h) => [h.name.toLowerCase(), h.value]));
      // What the receiver got, the signatures first: every one of them is kept.
      for (const n of ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'streem-signature', 'streem-sent-at',
        'streem-signature-headers', 'content-type', 'x-team', 'x-plain']) {
        assert.equal(sent.get(n), got.headers[n], `${n} as received`);
      }
      assert.ok(!sent.has('expect'), 'a removed header is not one sent');
      for (const n of ['x-big-0', 'x-big-1', 'x-big-2']) assert.equal(sent.get(n), 'b'.repeat(1000));
      assert.ok(!sent.has('x-big-3'), 'what the 4 KiB cap leaves out is the endpoint\'s own headers, whole');
      assert.ok(a.request_headers.every((h) => got.headers[h.name.toLowerCase()] === h.value));
    }

    const ids = (list) => list.map((a) => a.id);
    const idMs = (a) => Number(a.id.split('-')[0]);
    const iso = (a) => new Date(idMs(a)).toISOString();
    const expect = (pred) => ids(items.filter(pred));
    const lateSids = new Set(late.map((e) => e.event_sid));
    const cases = [
      [{ event_type: 'call.ended' }, (a) => a.event_type === 'call.ended'],
      [{ event_type: 'call.*' }, (a) => a.event_type.startsWith('call.')],
      [{ event_type: 'sms.sent', status: 'failed' }, (a) => a.event_type === 'sms.sent' && a.outcome !== 'succeeded'],
      [{ event_type: 'sms.sent', status: 'succeeded' }, () => false],
      [{ since: cut }, (a) => lateSids.has(a.event_sid)],
      [{ until: cut }, (a) => !lateSids.has(a.event_sid)],
      [{ since: cut, event_type: 'call.started' }, (a) => lateSids.has(a.event_sid) && a.event_type === 'call.started'],
      [{ until: cut, status: 'succeeded' }, (a) => !lateSids.has(a.event_sid) && a.outcome === 'succeeded'],
      // The range is the lines' ids (when each was recorded): since inclusive, until exclusive.
      [{ since: iso(items[12]), until: iso(items[4]), status: 'failed' }, (a) => idMs(a) >= idMs(items[12]) && idMs(a) < idMs(items[4]) && a.outcome !== 'succeeded'],
    ];
    for (const [q, pred] of cases) {
      const want = expect(pred);
      const got = await listAll(api, path, { page_size: 2, ...q }, { name: 'attempts' });
      assert.deepEqual(ids(got.items), want, `${JSON.stringify(q)}: every matching line once, newest first, in pages of 2`);
      assert.ok(got.pages.every((p) => p.length <= 2));
      assert.ok(got.pages.length >= Math.ceil(want.length / 2));
    }

    // A token belongs to its filters; bad values are refused, naming the parameter.
    const first = await api('GET', `${path}?page_size=1&event_type=call.ended`);
    assertProblem(await api('GET', `${path}?page_size=1&event_type=call.started&page_token=${first.json.next_page_token}`), 400);
    const firstT = await api('GET', `${path}?page_size=1&since=${encodeURIComponent(cut)}`);
    assertProblem(await api('GET', `${path}?page_size=1&page_token=${firstT.json.next_page_token}`), 400);
    for (const [q, field] of [['event_type=Call%20ended', 'event_type'], ['event_type=call.*.x', 'event_type'],
      ['since=yesterday', 'since'], ['until=2026-13-01T00:00:00Z', 'until'], [`since=${encodeURIComponent(cut)}&until=${encodeURIComponent(cut)}`, 'until']]) {
      const r = await api('GET', `${path}?${q}`);
      assertProblem(r, 400);
      assert.equal(r.json.errors[0].field, field, `${q}: ${r.text}`);
    }
  });

  test('one event\'s attempts across the company\'s webhooks, and only that company\'s', async () => {
    const company = `CO_evt${randomHex(3)}`;
    const other = `CO_oth${randomHex(3)}`;
    const good = await startReceiver();
    const flaky = await startReceiver({ respond: (r) => (r.index === 0 ? { status: 503 } : { status: 204 }) });
    const w1 = (await createWebhook(stack, { company_sid: company, url: good.url() })).webhook;
    const w2 = (await createWebhook(stack, { company_sid: company, url: flaky.url(), max_attempts: 3 })).webhook;
    const w3 = (await createWebhook(stack, { company_sid: other, url: good.url() })).webhook;
    const eventSid = newEventSid('x');
    await publishEvents(stack.redis, [event(company, eventSid), event(other, eventSid)]);
    await flaky.waitFor(2);
    await good.waitFor(2);
    await waitQueuesIdle(stack.redis);

    const path = `/v1/events/${eventSid}/attempts`;
    const all = await waitUntil(async () => {
      const r = await api('GET', `${path}?company_sid=${company}`);
      return r.status === 200 && r.json.attempts.length === 3 ? r.json.attempts : null;
    }, { what: 'three attempts of the event' });
    assert.deepEqual(all.map((a) => a.webhook_sid).sort(), [w1.sid, w2.sid, w2.sid].sort());
    assert.ok(all.every((a) => a.event_sid === eventSid));
    const times = all.map((a) => Date.parse(a.at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
    const w2lines = all.filter((a) => a.webhook_sid === w2.sid);
    assert.deepEqual(w2lines.map((a) => [a.attempt, a.outcome, a.status]), [[2, 'succeeded', 204], [1, 'retrying', 503]]);
    const paged = await listAll(api, path, { company_sid: company, page_size: 1 }, { name: 'attempts' });
    assert.deepEqual(paged.items.map((a) => a.id + a.webhook_sid), all.map((a) => a.id + a.webhook_sid));

    // The other company's event of the same sid is its own.
    const mine = await api('GET', `${path}?company_sid=${other}`);
    assert.deepEqual(mine.json.attempts.map((a) => a.webhook_sid), [w3.sid]);
    const key = await companyKey(api, other);
    const viaKey = await api('GET', path, undefined, { key: key.auth });
    assert.deepEqual(viaKey.json.attempts.map((a) => a.webhook_sid), [w3.sid], 'a company key implies its company');
    assertProblem(await api('GET', `${path}?company_sid=${company}`, undefined, { key: key.auth }), 404);
    assertProblem(await api('GET', path), 400); // an admin key names the company
    assertProblem(await api('GET', `/v1/events/evt_never_${randomHex(3)}/attempts?company_sid=${company}`), 404);
  });

  test('dead letters, and one redelivered: attempts afresh, delivered once more, signed', async () => {
    const company = `CO_dl${randomHex(3)}`;
    const rcv = await startReceiver({ status: 500, body: 'down' });
    const { webhook, keys } = await createWebhook(stack, { company_sid: company, url: rcv.url(), max_attempts: 2 });
    const sids = Array.from({ length: 7 }, () => newEventSid('dl'));
    for (const s of sids) await publishEvents(stack.redis, [event(company, s, `{"sid":"${s}"}`)]);
    await waitDeadCount(stack.redis, company, webhook.sid, 7);
    await waitQueuesIdle(stack.redis);

    const path = `/v1/webhooks/${webhook.sid}/dead-letters`;
    const { items, pages } = await listAll(api, path, { page_size: 3 }, { name: 'dead_letters' });
    assert.deepEqual(pages.map((p) => p.length), [3, 3, 1]);
    assert.deepEqual(items.map((d) => d.event_sid).sort(), [...sids].sort(), 'each once');
    const dead = items.map((d) => Date.parse(d.dead_at));
    assert.deepEqual(dead, [...dead].sort((a, b) => b - a), 'newest first');
    for (const d of items) {
      assert.equal(d.reason, 'max_attempts reached');
      assert.equal(d.attempts, 2);
      assert.equal(d.last_status, 500);
      assert.equal(d.last_error, 'HTTP 500');
      assert.deepEqual(d.payload, { sid: d.event_sid }, 'the payload as JSON');
      assert.match(d.first_attempt_at, RFC3339_MS_Z);
      assert.ok(Date.parse(d.first_attempt_at) <= Date.parse(d.dead_at));
    }

    // Redeliver one: two racing calls queue it once.
    rcv.setResponse({ status: 200, body: 'ok' });
    rcv.reset();
    const target = sids[3];
    const route = `/v1/webhooks/${webhook.sid}/deliveries/${target}/~redeliver`;
    const answers = await Promise.all([api('POST', route), api('POST', route)]);
    assert.deepEqual(answers.map((r) => r.status).sort(), [202, 404], answers.map((r) => r.text).join(' '));
    const okAnswer = answers.find((r) => r.status === 202).json.redelivery;
    assert.deepEqual({ ...okAnswer, queued_at: 'x' }, { webhook_sid: webhook.sid, event_sid: target, attempt: 1, queued_at: 'x' });
    const [req] = await rcv.waitFor(1);
    checkSigned(req, keys, target, 'redelivered');
    assert.deepEqual(JSON.parse(req.text).event.payload, { sid: target });
    await waitQueuesIdle(stack.redis);
    await sleep(200);
    assert.equal(rcv.requests.length, 1, 'delivered once');
    const line = (await api('GET', `/v1/webhooks/${webhook.sid}/attempts?page_size=1`)).json.attempts[0];
    assert.deepEqual([line.event_sid, line.attempt, line.outcome], [target, 1, 'succeeded'], 'attempts counted afresh');
    const left = await listAll(api, path, {}, { name: 'dead_letters' });
    assert.deepEqual(left.items.map((d) => d.event_sid).sort(), sids.filter((s) => s !== target).sort());
    assertProblem(await api('POST', route), 404);
    assertProblem(await api('POST', `/v1/webhooks/${webhook.sid}/deliveries/evt_nope/~redeliver`), 404);
    assertProblem(await api('POST', route, { force: true }), 422);

    // A disabled webhook would only park it again.
    assert.equal((await api('PATCH', `/v1/webhooks/${webhook.sid}`, { enabled: false })).status, 200);
    assertProblem(await api('POST', `/v1/webhooks/${webhook.sid}/deliveries/${sids[0]}/~redeliver`), 409);
    assert.equal(await deadCount(stack.redis, company, webhook.sid), 6, 'nothing moved');
  });

  test('~test: live, failing, slow and unreachable receivers; not logged, not counted', async () => {
    const company = `CO_tst${randomHex(3)}`;
    const live = await startReceiver({ status: 200, body: 'hello from the receiver' });
    const { webhook, keys } = await createWebhook(stack, { company_sid: company, url: live.url('/live'),
      headers: [{ name: 'X-Tenant', value: 'acme', include_in_request_signature: true }] });
    const path = `/v1/webhooks/${webhook.sid}`;

    let res = await api('GET', `${path}/~test`);
    assert.equal(res.status, 200, res.text);
    const t = res.json.test;
    assert.equal(t.ok, true);
    assert.equal(t.status, 200);
    assert.equal(t.error, null);
    assert.equal(t.answer, 'hello from the receiver');
    assert.equal(t.webhook_sid, webhook.sid);
    assert.ok(Number.isInteger(t.latency_ms) && t.latency_ms >= 0 && t.latency_ms < 5000);
    assert.equal(live.requests.length, 1, 'one request');
    const body = checkSigned(live.requests[0], keys, t.event_sid, '~test');
    assert.equal(body.event.event_type, 'webhook.test');
    assert.equal(body.event.company_sid, company);
    assert.deepEqual(body.event.payload, { webhook_sid: webhook.sid, test: true });
    assert.equal(live.requests[0].headers['streem-signature-headers'], 'Streem-Sent-At:X-Tenant');

    // Failing: the answer describes it (200, not a 5xx).
    live.setResponse({ status: 500, body: 'broken' });
    res = await api('GET', `${path}/~test`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([res.json.test.ok, res.json.test.status, res.json.test.error, res.json.test.answer], [false, 500, 'HTTP 500', 'broken']);

    // Slow: past timeout_ms, no status.
    live.setResponse({ status: 200, delayMs: 1500 });
    assert.equal((await api('PATCH', path, { timeout_ms: 300 })).status, 200);
    let t0 = Date.now();
    res = await api('GET', `${path}/~test`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([res.json.test.ok, res.json.test.status], [false, null]);
    assert.match(res.json.test.error, /time/i);
    assert.ok(Date.now() - t0 < 300 + 3000, 'within timeout_ms + the margin');

    // Unreachable (nothing listens): a 200 describing the failure.
    const port = await freePort();
    assert.equal((await api('PATCH', path, { url: `http://127.0.0.1:${port}/gone`, timeout_ms: 2000 })).status, 200);
    t0 = Date.now();
    res = await api('GET', `${path}/~test`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([res.json.test.ok, res.json.test.status], [false, null]);
    assert.match(res.json.test.error, /connect|refused/i);
    assert.ok(Date.now() - t0 < 2000 + 3000);

    // Tests are neither attempts nor health.
    await sleep(100);
    assert.equal((await attemptLog(stack.redis, webhook.sid)).length, 0, 'no attempt logged');
    const health = (await api('GET', path)).json.webhook.health;
    assert.deepEqual(health, { consecutive_failures: 0, failing_since: null, last_success_at: null, last_failure_at: null });
    assertProblem(await api('GET', '/v1/webhooks/wh_nope/~test'), 404);
  });

  test('POST ~test does what GET does; with an Idempotency-Key a retry replays, nothing is sent twice', async () => {
    const company = `CO_tsp${randomHex(3)}`;
    const live = await startReceiver({ status: 200, body: 'posted' });
    const { webhook, keys } = await createWebhook(stack, { company_sid: company, url: live.url('/p') });
    const path = `/v1/webhooks/${webhook.sid}/~test`;
    let res = await api('POST', path);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([res.json.test.ok, res.json.test.status, res.json.test.answer], [true, 200, 'posted']);
    assert.equal(checkSigned(live.requests[0], keys, res.json.test.event_sid, 'POST ~test').event.event_type, 'webhook.test');
    const key = { headers: { 'idempotency-key': `tst-${randomHex(6)}` } };
    const first = await api('POST', path, {}, key);
    assert.equal(first.status, 200, first.text);
    const again = await api('POST', path, {}, key);
    assert.equal(again.text, first.text, 'the same outcome');
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(live.requests.length, 2, 'one request per test, none for the replay');
    assertNamesField(assertProblem(await api('POST', path, { url: 'x' }), [422]), 'url');
    assertProblem(await api('POST', '/v1/webhooks/wh_nope/~test'), [404]);
    assert.equal(live.requests.length, 2);
  });

  test('~recover: 1000 dead letters delivered once more when the receiver is back, verified', async () => {
    const company = `CO_rec${randomHex(3)}`;
    const rcv = await startReceiver({ status: 503, body: 'maintenance' });
    const { webhook, keys } = await createWebhook(stack, { company_sid: company, url: rcv.url('/rec'), max_attempts: 1 });
    const since = new Date(Date.now() - 1000).toISOString();
    const sids = Array.from({ length: 1000 }, (_, i) => `evt_rec${i}_${randomHex(4)}`);
    await publishEvents(stack.redis, sids.map((s) => event(company, s, `{"sid":"${s}"}`)));
    await waitDeadCount(stack.redis, company, webhook.sid, 1000, 60000);
    await waitQueuesIdle(stack.redis, { timeoutMs: 30000 });
    const listed = await listAll(api, `/v1/webhooks/${webhook.sid}/dead-letters`, { page_size: 100 }, { name: 'dead_letters' });
    assert.equal(new Set(listed.items.map((d) => d.event_sid)).size, 1000, '1000 dead letters listed');

    rcv.setResponse({ status: 200, body: 'back' });
    rcv.reset();
    const res = await api('POST', `/v1/webhooks/${webhook.sid}/~recover`, { since, until: new Date(Date.now() + 3600e3).toISOString() });
    assert.equal(res.status, 202, res.text);
    const job = res.json.job;
    assert.equal(res.headers.get('location'), `/v1/jobs/${job.sid}`);
    assert.equal(job.state, 'queued');
    assert.ok(Date.parse(job.until) <= Date.now(), 'a future until is now');
    const done = await waitJobDone(api, job.sid);
    assert.deepEqual([done.scanned, done.moved, done.skipped], [1000, 1000, 0], JSON.stringify(done));
    assert.match(done.finished_at, RFC3339_MS_Z);

    const reqs = await rcv.waitFor(1000, 60000);
    await waitQueuesIdle(stack.redis, { timeoutMs: 30000 });
    await sleep(300);
    assert.equal(rcv.requests.length, 1000, 'no more than 1000');
    const got = new Map();
    for (const r of reqs) {
      const id = r.headers['webhook-id'];
      got.set(id, (got.get(id) || 0) + 1);
    }
    assert.deepEqual([...got.keys()].sort(), [...sids].sort(), 'every event, once');
    for (const r of reqs) {
      const id = r.headers['webhook-id'];
      const body = checkSigned(r, keys, id, `recovered ${id}`);
      assert.deepEqual(body.event.payload, { sid: id });
    }
    const after = await api('GET', `/v1/webhooks/${webhook.sid}/dead-letters`);
    assert.deepEqual(after.json.dead_letters, [], 'no dead letter left');

    // Safe to call twice: the second finds nothing left to move.
    const again = await api('POST', `/v1/webhooks/${webhook.sid}/~recover`, { since, until: new Date().toISOString() });
    assert.equal(again.status, 202);
    const done2 = await waitJobDone(api, again.json.job.sid);
    assert.deepEqual([done2.scanned, done2.moved], [0, 0]);
    await sleep(300);
    assert.equal(rcv.requests.length, 1000);
    assertProblem(await api('POST', `/v1/webhooks/${webhook.sid}/~recover`, { since: '2026-01-01T00:00:00Z' }), 422);
    assertProblem(await api('POST', `/v1/webhooks/${webhook.sid}/~recover`, { since: since, until: since }), 422);
  });

  test('tenancy: another company\'s key gets 404 on every route, and nothing happens', async () => {
    const company = `CO_ten${randomHex(3)}`;
    const rcv = await startReceiver({ status: 500 });
    const { webhook } = await createWebhook(stack, { company_sid: company, url: rcv.url(), max_attempts: 1 });
    const eventSid = newEventSid('ten');
    await publishEvents(stack.redis, [event(company, eventSid)]);
    await waitDeadCount(stack.redis, company, webhook.sid, 1);
    await waitQueuesIdle(stack.redis);
    const job = (await api('POST', `/v1/webhooks/${webhook.sid}/~recover`, { since: '2020-01-01T00:00:00Z', until: '2020-01-02T00:00:00Z' })).json.job;
    const mine = await companyKey(api, company);
    const theirs = await companyKey(api, `CO_thief${randomHex(3)}`);
    const jobsBefore = await jobCount(stack.redis);
    const w = `/v1/webhooks/${webhook.sid}`;
    const routes = [
      ['GET', `${w}/attempts`],
      ['GET', `${w}/dead-letters`],
      ['GET', `${w}/~test`],
      ['POST', `${w}/deliveries/${eventSid}/~redeliver`],
      ['POST', `${w}/~recover`, { since: '2020-01-01T00:00:00Z', until: '2030-01-01T00:00:00Z' }],
      ['GET', `/v1/events/${eventSid}/attempts`],
      ['GET', `/v1/events/${eventSid}/attempts?company_sid=${company}`],
      ['GET', `/v1/jobs/${job.sid}`],
    ];
    for (const [m, p, b] of routes) {
      const res = await api(m, p, b, { key: theirs.auth });
      assertProblem(res, 404);
    }
    assert.equal(rcv.requests.length, 1, 'no ~test was sent');
    assert.equal(await deadCount(stack.redis, company, webhook.sid), 1, 'the dead letter is still there');
    assert.equal(await jobCount(stack.redis), jobsBefore, 'no job was made');
    // The owner's key sees them all.
    assert.equal((await api('GET', `${w}/attempts`, undefined, { key: mine.auth })).json.attempts.length, 1);
    assert.equal((await api('GET', `${w}/dead-letters`, undefined, { key: mine.auth })).json.dead_letters.length, 1);
    assert.equal((await api('GET', `/v1/events/${eventSid}/attempts`, undefined, { key: mine.auth })).json.attempts.length, 1);
    assert.equal((await api('GET', `/v1/jobs/${job.sid}`, undefined, { key: mine.auth })).status, 200);
    assert.equal((await api('GET', `${w}/~test`, undefined, { key: mine.auth })).status, 200);
  });

  // The dispatcher records the attempts that end together in one script
  // call, grouped by webhook: a fan-out whose attempts share batches must
  // still put each attempt in its own webhook's log, index entry, health
  // and hourly counts.
  test('attempts of several webhooks recorded together: each in its own log, index, health and rollup', async () => {
    const company = `CO_mix${randomHex(3)}`;
    const ok = await startReceiver({ status: 204 });
    const bad = await startReceiver({ status: 500 });
    const hooks = [];
    for (const url of [ok.url('/a'), bad.url('/b'), ok.url('/c')]) {
      hooks.push((await createWebhook(stack, { company_sid: company, url, max_attempts: 1 })).webhook);
    }
    const sids = Array.from({ length: 40 }, () => newEventSid('mix'));
    await publishEvents(stack.redis, sids.map((s) => event(company, s)));
    await ok.waitFor(80);
    await bad.waitFor(40);
    await waitQueuesIdle(stack.redis);
    const want = { [hooks[0].sid]: 'succeeded', [hooks[1].sid]: 'dead', [hooks[2].sid]: 'succeeded' };
    for (const w of hooks) {
      const log = await waitUntil(async () => {
        const l = await attemptLog(stack.redis, w.sid);
        return l.length >= 40 ? l : null;
      }, { what: `40 log lines of ${w.sid}` });
      assert.equal(log.length, 40, 'one line per attempt, no other webhook\'s');
      assert.deepEqual(log.map((e) => e.fields.event_sid).sort(), [...sids].sort());
      assert.ok(log.every((e) => e.fields.outcome === want[w.sid]), `${w.sid}: only its own outcomes`);
      const stats = (await api('GET', `/v1/webhooks/${w.sid}/stats`)).json.stats.hours;
      const counted = stats.reduce((n, h) => [n[0] + h.succeeded, n[1] + h.failed], [0, 0]);
      assert.deepEqual(counted, want[w.sid] === 'dead' ? [0, 40] : [40, 0], `${w.sid}: hourly counts`);
      const health = (await api('GET', `/v1/webhooks/${w.sid}`)).json.webhook.health;
      assert.equal(health.consecutive_failures, want[w.sid] === 'dead' ? 40 : 0, `${w.sid}: health`);
      assert.equal(health.last_success_at === null, want[w.sid] === 'dead', `${w.sid}: last success`);
    }
    for (const s of sids.slice(0, 5)) {
      const r = await api('GET', `/v1/events/${s}/attempts?company_sid=${company}`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.attempts.map((a) => `${a.webhook_sid}:${a.outcome}`).sort(),
        hooks.map((w) => `${w.sid}:${want[w.sid]}`).sort(), `the index of ${s}`);
      const ttl = Number(await stack.redis.call('PTTL', KEYS.eventAttempts(company, s)));
      assert.ok(ttl > 0, `the index of ${s} expires (${ttl})`);
    }
  });

  test('deleting a webhook deletes its log, health and dead-letter index', async () => {
    const company = `CO_del${randomHex(3)}`;
    const rcv = await startReceiver({ status: 500 });
    const { webhook } = await createWebhook(stack, { company_sid: company, url: rcv.url(), max_attempts: 1 });
    await publishEvents(stack.redis, [event(company, newEventSid('del'))]);
    await waitDeadCount(stack.redis, company, webhook.sid, 1);
    await waitQueuesIdle(stack.redis);
    const keys = [KEYS.attempts(webhook.sid), KEYS.health(webhook.sid), KEYS.deadIndex(company, webhook.sid),
      KEYS.deadIds(company, webhook.sid)];
    assert.equal(await existingCount(stack.redis, keys), 4);
    assert.equal((await api('DELETE', `/v1/webhooks/${webhook.sid}`)).status, 204);
    assert.equal(await existingCount(stack.redis, keys), 0);
  });
});
