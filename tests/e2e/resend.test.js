// Resend anything recent (issue 21): every event a dispatcher reads is
// kept for WH_EVENT_RETENTION_MS (published through the api or XADDed
// straight to the stream); GET /v1/events/{event_sid} shows it;
// POST .../deliveries/{event_sid}/~resend gives a delivered, failed or
// dead event a new series of attempts with the same webhook-id; and
// ~recover with {"include": "all"} resends every kept event of a window
// that the webhook's event types and filter take. Each invalid form is
// a 422; another company's event or webhook is a 404.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  REPO_ROOT,
  publishEvents,
  randomHex,
  sleep,
  startReceiver,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
  createWebhook,
  E2E_CLUSTER,
  KEYS,
  partitionOf,
} from './lib/harness.js';
import { assertProblem, checkSigned, companyKey } from './lib/checks.js';

useHarness();

const RETENTION_MS = 600000;
const kept = KEYS.kept;

describe('resend: kept events, ~resend, ~recover include all', () => {
  let stack;
  let api;

  before(async () => {
    stack = await startStack({ dispatchers: 2, env: { WH_RETRY_SCALE: '0.0001', WH_EVENT_RETENTION_MS: String(RETENTION_MS) } });
    api = stack.api;
  });

  test('GET /v1/events/{sid}: kept as published, by the api or straight into the stream', async () => {
    const company = `CO_rk${randomHex(3)}`;
    const rcv = await startReceiver();
    await createWebhook(stack, { company_sid: company, url: rcv.url() });
    const res = await api('POST', '/v1/events', `{"company_sid":"${company}","event_type":"call.ended","payload":{"call_sid":"CA_1","n":12345678901234567890}}`);
    assert.equal(res.status, 202, res.text);
    const viaApi = res.json.event;
    const direct = `evt_direct_${randomHex(4)}`;
    await publishEvents(stack.redis, [{ company_sid: company, event_type: 'artifact.ready', payload: '{ "a" : [1, 2] }', event_sid: direct, ts: 1732780800123 }]);
    await rcv.waitFor(2);

    let got = await waitUntil(async () => {
      const r = await api('GET', `/v1/events/${viaApi.event_sid}?company_sid=${company}`);
      return r.status === 200 ? r : null;
    }, { what: 'the api-published event kept' });
    assert.deepEqual(got.json.event, {
      event_sid: viaApi.event_sid, company_sid: company, event_type: 'call.ended', ordering_key: null,
      created_at: viaApi.created_at, payload: { call_sid: 'CA_1', n: 12345678901234567890 },
    });
    assert.ok(got.text.includes('"payload":{"call_sid":"CA_1","n":12345678901234567890}'), 'payload byte for byte');
    got = await api('GET', `/v1/events/${direct}?company_sid=${company}`);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.event.created_at, '2024-11-28T08:00:00.123Z');
    assert.ok(got.text.endsWith('"payload":{ "a" : [1, 2] }}}'), got.text);

    // Kept for WH_EVENT_RETENTION_MS, indexed under the company.
    const ttl = await stack.redis.call('PTTL', kept(company, direct));
    assert.ok(ttl > RETENTION_MS - 60000 && ttl <= RETENTION_MS, `PTTL ${ttl}`);
    const idx = await stack.redis.call('ZRANGE', KEYS.companyEvents(company), 0, -1);
    assert.deepEqual(idx.sort(), [direct, viaApi.event_sid].sort());

    // A company key sees its own without naming the company; others 404.
    const mine = await companyKey(api, company);
    const other = await companyKey(api, `CO_ro${randomHex(3)}`);
    assert.equal((await api('GET', `/v1/events/${direct}`, undefined, { key: mine.auth })).json.event.event_sid, direct);
    assertProblem(await api('GET', `/v1/events/${direct}`, undefined, { key: other.auth }), 404);
    assertProblem(await api('GET', `/v1/events/${direct}?company_sid=${company}`, undefined, { key: other.auth }), 404);
    assertProblem(await api('GET', `/v1/events/evt_nope_${randomHex(3)}?company_sid=${company}`), 404);
    // The admin key must name a valid company; no other parameter.
    assertProblem(await api('GET', `/v1/events/${direct}`), 400);
    assertProblem(await api('GET', `/v1/events/${direct}?company_sid=bad%20co`), 400);
    assertProblem(await api('GET', `/v1/events/${direct}?company_sid=${company}&x=1`), 400);
  });

  test('~resend: delivered, failed and dead events get a new attempt series, same webhook-id', async () => {
    const company = `CO_rs${randomHex(3)}`;
    const rcv = await startReceiver();
    const { webhook, keys } = await createWebhook(stack, { company_sid: company, url: rcv.url(), max_attempts: 2 });
    const path = `/v1/webhooks/${webhook.sid}`;
    const ok = `evt_ok_${randomHex(4)}`;
    await publishEvents(stack.redis, [{ company_sid: company, event_type: 'call.ended', payload: '{"x":1}', event_sid: ok }]);
    await rcv.waitFor(1);
    rcv.setResponse({ status: 500 });
    const dead = `evt_dead_${randomHex(4)}`;
    await publishEvents(stack.redis, [{ company_sid: company, event_type: 'call.ended', payload: '{"x":2}', event_sid: dead }]);
    await waitUntil(async () => (await api('GET', `${path}/dead-letters`)).json.dead_letters.some((d) => d.event_sid === dead), { what: 'the dead letter' });
    await waitQueuesIdle(stack.redis);
    assert.equal(rcv.requests.length, 3, 'one success, two failed attempts');
    rcv.setResponse({ status: 200 });
    rcv.reset();

    for (const sid of [ok, dead, ok]) {
      const res = await api('POST', `${path}/deliveries/${sid}/~resend`);
      assert.equal(res.status, 202, res.text);
      assert.equal(res.json.resend.webhook_sid, webhook.sid);
      assert.equal(res.json.resend.event_sid, sid);
      assert.equal(res.json.resend.attempt, 1);
    }
    const reqs = await rcv.waitFor(3);
    await waitQueuesIdle(stack.redis);
    await sleep(200);
    assert.equal(rcv.requests.length, 3, 'each resend once');
    assert.deepEqual(reqs.map((r) => r.headers['webhook-id']).sort(), [ok, ok, dead].sort());
    for (const r of reqs) checkSigned(r, keys, r.headers['webhook-id'], 'resent');
    assert.deepEqual(JSON.parse(reqs.find((r) => r.headers['webhook-id'] === dead).text).event.payload, { x: 2 });
    // The attempt log shows a fresh series (attempt 1) for each.
    const log = (await api('GET', `${path}/attempts?page_size=100`)).json.attempts;
    assert.equal(log.filter((a) => a.event_sid === dead && a.attempt === 1 && a.outcome === 'succeeded').length, 1, JSON.stringify(log));

    // 404: an unknown event, another company's event, another company's webhook.
    assertProblem(await api('POST', `${path}/deliveries/evt_nope_${randomHex(3)}/~resend`), 404);
    const co2 = `CO_rt${randomHex(3)}`;
    const other = `evt_other_${randomHex(4)}`;
    const w2 = await createWebhook(stack, { company_sid: co2, url: rcv.url('/other') });
    await publishEvents(stack.redis, [{ company_sid: co2, event_type: 'call.ended', payload: '{}', event_sid: other }]);
    await waitUntil(async () => (await api('GET', `/v1/events/${other}?company_sid=${co2}`)).status === 200, { what: 'the other event kept' });
    assertProblem(await api('POST', `${path}/deliveries/${other}/~resend`), 404);
    const key2 = await companyKey(api, co2);
    assertProblem(await api('POST', `${path}/deliveries/${ok}/~resend`, undefined, { key: key2.auth }), 404);
    assert.equal((await api('POST', `/v1/webhooks/${w2.webhook.sid}/deliveries/${other}/~resend`, undefined, { key: key2.auth })).status, 202);
    // 422: a body with anything in it.
    assertProblem(await api('POST', `${path}/deliveries/${ok}/~resend`, { attempt: 2 }), 422);
    // 409: a disabled webhook would only park it.
    assert.equal((await api('PATCH', path, { webhook: { enabled: false } })).status, 200);
    assertProblem(await api('POST', `${path}/deliveries/${ok}/~resend`), 409);
  });

  test('~recover include all: every kept event of the window the webhook takes, once each', async () => {
    const company = `CO_ra${randomHex(3)}`;
    const rcv = await startReceiver();
    const { webhook, keys } = await createWebhook(stack, {
      company_sid: company, url: rcv.url(), event_types: ['call.*'], filter: { not: { eq: ['payload.skip', true] } },
    });
    const path = `/v1/webhooks/${webhook.sid}`;
    const t0 = Date.now();
    const events = [];
    for (let i = 0; i < 30; i++) {
      events.push({ company_sid: company, event_type: 'call.ended', payload: `{"i":${i}}`, event_sid: `evt_ra${i}_${randomHex(3)}` });
    }
    events.push({ company_sid: company, event_type: 'artifact.ready', payload: '{}', event_sid: `evt_type_${randomHex(3)}` });
    events.push({ company_sid: company, event_type: 'call.ended', payload: '{"skip":true}', event_sid: `evt_skip_${randomHex(3)}` });
    await publishEvents(stack.redis, events);
    await rcv.waitFor(30);
    await waitQueuesIdle(stack.redis);
    await sleep(100);
    const until = new Date().toISOString();
    assert.equal(rcv.requests.length, 30);
    rcv.reset();
    await sleep(20);
    // An event after the window is not resent.
    await publishEvents(stack.redis, [{ company_sid: company, event_type: 'call.ended', payload: '{"late":1}', event_sid: `evt_late_${randomHex(3)}` }]);
    await rcv.waitFor(1);
    await waitQueuesIdle(stack.redis);
    rcv.reset();

    const res = await api('POST', `${path}/~recover`, { since: new Date(t0 - 1000).toISOString(), until, include: 'all' });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.json.job.include, 'all');
    const done = await waitUntil(async () => {
      const j = (await api('GET', `/v1/jobs/${res.json.job.sid}`)).json.job;
      return j.state === 'done' ? j : null;
    }, { what: 'the job done' });
    assert.deepEqual([done.include, done.scanned, done.moved, done.skipped], ['all', 32, 32, 0]);
    const reqs = await rcv.waitFor(30);
    await waitQueuesIdle(stack.redis);
    await sleep(200);
    assert.equal(rcv.requests.length, 30, 'the 30 the webhook takes, once each; not the other type, the filtered or the late one');
    assert.deepEqual(reqs.map((r) => r.headers['webhook-id']).sort(), events.slice(0, 30).map((e) => e.event_sid).sort());
    for (const r of reqs) checkSigned(r, keys, r.headers['webhook-id'], 'recovered');

    // The default is the dead letters only (there are none here).
    const dj = await api('POST', `${path}/~recover`, { since: new Date(t0 - 1000).toISOString(), until });
    assert.equal(dj.json.job.include, 'dead');
    // 422 for each invalid form.
    for (const include of ['All', '', 5, true, ['all'], {}]) {
      const bad = await api('POST', `${path}/~recover`, { since: new Date(t0).toISOString(), until, include });
      assertProblem(bad, 422);
      assert.ok(bad.json.errors.some((e) => e.field === 'include'), bad.text);
    }
    assertProblem(await api('POST', `${path}/~recover`, { include: 'all' }), 422);
  });

  test('~recover include all past one batch (500): the job cursor moves between batches, each event once', async () => {
    // On a cluster the batches run in the partition's slot and the job's
    // cursor is written after, under the job's lease (dispatcher/jobs.c).
    const company = `CO_rb${randomHex(3)}`;
    const rcv = await startReceiver();
    const { webhook } = await createWebhook(stack, { company_sid: company, url: rcv.url() });
    const t0 = Date.now();
    const events = [];
    for (let i = 0; i < 620; i++) {
      events.push({ company_sid: company, event_type: 'call.ended', payload: `{"i":${i}}`, event_sid: `evt_rb${i}_${randomHex(3)}` });
    }
    await publishEvents(stack.redis, events);
    await rcv.waitFor(620, 30000);
    await waitQueuesIdle(stack.redis);
    await sleep(100);
    const until = new Date().toISOString();
    rcv.reset();
    const res = await api('POST', `/v1/webhooks/${webhook.sid}/~recover`, { since: new Date(t0 - 1000).toISOString(), until, include: 'all' });
    assert.equal(res.status, 202, res.text);
    const done = await waitUntil(async () => {
      const j = (await api('GET', `/v1/jobs/${res.json.job.sid}`)).json.job;
      return j.state === 'done' ? j : null;
    }, { what: 'the job done', timeoutMs: 30000 });
    assert.deepEqual([done.scanned, done.moved, done.skipped], [620, 620, 0]);
    await rcv.waitFor(620, 30000);
    await waitQueuesIdle(stack.redis);
    await sleep(200);
    assert.equal(rcv.requests.length, 620, 'each once');
    assert.equal(new Set(rcv.requests.map((r) => r.headers['webhook-id'])).size, 620);
    assert.equal(await stack.redis.call('EXISTS', `wh:${E2E_CLUSTER ? '{g}:' : ''}job:${res.json.job.sid}:lease`), 0, 'the lease given back');
  });

  test('include all, batch by batch: the cursor takes each kept event once, ties of one ms included', async () => {
    // The script alone, with a batch of 3 over 10 events of which 4 share
    // one millisecond and 3 another: every batch boundary falls in a tie.
    const r = stack.redis;
    // EVAL, not EVALSHA: on a cluster the script runs on the master of
    // the company's partition, where nothing loaded it.
    const text = fs.readFileSync(path.join(REPO_ROOT, 'common', 'lua', 'event_resend.lua'), 'utf8');
    const co = `CO_rc${randomHex(3)}`;
    const idx = KEYS.companyEvents(co);
    const scores = [1000, 1000, 1000, 1000, 1001, 1002, 1002, 1002, 1003, 5000];
    const sids = scores.map((_, i) => `evt_c${i}`);
    const retries = `wh:{${partitionOf(co)}}:test-retries:${co}`;
    for (let i = 0; i < sids.length; i++) {
      await r.call('ZADD', idx, scores[i], sids[i]);
      if (i !== 6) { // one index entry whose record expired: skipped
        await r.call('SET', kept(co, sids[i]), Buffer.from([0x84, 0xa9, ...Buffer.from('event_sid'), 0xa0 + sids[i].length, ...Buffer.from(sids[i]),
          0xab, ...Buffer.from('company_sid'), 0xa0 + co.length, ...Buffer.from(co), 0xaa, ...Buffer.from('event_type'), 0xa1, 0x78,
          0xa7, ...Buffer.from('payload'), 0xa2, 0x7b, 0x7d]));
      }
    }
    let full;
    let calls = 0;
    if (E2E_CLUSTER) {
      // The split form (the job is in another slot): the caller carries
      // the cursor and adds the counts (dispatcher/jobs.c does).
      let cursor = '';
      let cursorN = '';
      const sum = [0, 0, 0];
      do {
        const a = await r.call('EVAL', text, 2, idx, retries, '1', 'range', 'WH_x', '3', 'job_c', kept(co, ''), '1000', '5000', cursor, cursorN);
        assert.equal(a.length, 6, JSON.stringify(a));
        full = a[0];
        for (let i = 0; i < 3; i++) sum[i] += a[1 + i];
        cursor = String(a[4]);
        cursorN = String(a[5]);
        calls++;
      } while (full === 1 && calls < 10);
      assert.equal(calls, 4, 'three full batches of 3, then an empty one that ends it');
      assert.deepEqual(sum, [9, 8, 1]);
    } else {
      const job = `wh:job:job_c${randomHex(3)}`;
      await r.call('HSET', job, 'since', '1000', 'until', '5000', 'state', 'queued');
      const jobs = `wh:{0}:test-jobs:${co}`;
      await r.call('HSET', jobs, 'job_c', 'WH_x');
      do {
        full = await r.call('EVAL', text, 4, idx, retries, job, jobs, '1', 'range', 'WH_x', '3', 'job_c', kept(co, ''));
        calls++;
      } while (full === 1 && calls < 10);
      assert.equal(calls, 4, 'three full batches of 3, then an empty one that ends it');
      const j = await r.call('HGETALL', job);
      const h = {};
      for (let i = 0; i < j.length; i += 2) h[j[i]] = j[i + 1];
      assert.deepEqual([h.state, h.scanned, h.moved, h.skipped], ['done', '9', '8', '1']);
      assert.equal(await r.call('HEXISTS', jobs, 'job_c'), 0, 'no longer active');
    }
    const queued = await r.call('XRANGE', retries, '-', '+');
    assert.equal(queued.length, 8);
    assert.equal(new Set(queued.map((e) => e[1][1].toString('latin1'))).size, 8, 'each event once');
  });

  test('WH_EVENT_RETENTION_MS=0 keeps nothing', async () => {
    const s = await startStack({ dispatchers: 1, env: { WH_EVENT_RETENTION_MS: '0' } });
    const company = `CO_r0${randomHex(3)}`;
    const rcv = await startReceiver();
    const { webhook } = await createWebhook(s, { company_sid: company, url: rcv.url() });
    const sid = `evt_r0_${randomHex(4)}`;
    await publishEvents(s.redis, [{ company_sid: company, event_type: 'call.ended', payload: '{}', event_sid: sid }]);
    await rcv.waitFor(1);
    await sleep(200);
    assert.equal(await s.redis.call('EXISTS', kept(company, sid)), 0);
    assertProblem(await s.api('GET', `/v1/events/${sid}?company_sid=${company}`), 404);
    assertProblem(await s.api('POST', `/v1/webhooks/${webhook.sid}/deliveries/${sid}/~resend`), 404);
  });
});
