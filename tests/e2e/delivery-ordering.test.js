// Ordering keys wired (issue 21's acceptance; docs/ordering.md): an event
// with an ordering_key is delivered to each webhook strictly in publish
// order per key, across dispatchers and through a dispatcher's kill -9;
// a retry holds back only that key; events without a key are delivered as
// before. ordering_key is taken by POST /v1/events (single and batch) and
// as a stream field; each invalid form is a 422 (or, on the stream, a
// malformed entry). An event order_finish hands straight to the
// dispatcher that finished the one before it is fanned out with every
// webhook change made before its publish, though that dispatcher read
// the change counter last before the change.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  companiesPerPartition,
  consumerPending,
  deadLetters,
  publishEvents,
  randomHex,
  sleep,
  startReceiver,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
  createWebhook,
  KEYS,
} from './lib/harness.js';
import { assertProblem, checkSigned } from './lib/checks.js';

useHarness();

// The acceptance's counts (ORDERING_KEYS x ORDERING_PER_KEY may be set
// lower for a quick run; make test runs the full 100 x 100).
const KEYS_N = Number(process.env.ORDERING_KEYS || 100);
const PER_KEY = Number(process.env.ORDERING_PER_KEY || 100);

// The receiver's accepted (2xx) sequence of each key, immediate repeats
// (a redelivery after a crash: at least once) collapsed.
function acceptedByKey(reqs) {
  const seq = new Map();
  for (const r of reqs) {
    if (!r.accepted) continue;
    const ev = JSON.parse(r.text).event;
    const k = ev.payload.k;
    if (k === undefined) continue; // unkeyed or the stuck key
    if (!seq.has(k)) seq.set(k, []);
    const a = seq.get(k);
    if (a[a.length - 1] !== ev.payload.i) a.push(ev.payload.i);
  }
  return seq;
}

describe('ordering keys: the api and the stream field', () => {
  let stack;
  before(async () => {
    stack = await startStack({ dispatchers: 1 });
  });

  test('POST /v1/events and :batch take ordering_key (1-128 bytes) onto the stream; 422 otherwise', async () => {
    const company = `CO_ok${randomHex(3)}`;
    const res = await stack.api('POST', '/v1/events', { company_sid: company, event_type: 'call.ended', payload: {}, ordering_key: 'call/CA_1' });
    assert.equal(res.status, 202, res.text);
    const b = await stack.api('POST', '/v1/events:batch', { events: [
      { company_sid: company, event_type: 'call.ended', payload: {}, ordering_key: 'é'.repeat(64) },
      { company_sid: company, event_type: 'call.ended', payload: {} },
    ] });
    assert.equal(b.status, 202, b.text);
    // As kept for resending (the stream's entries are gone once done).
    const shown = async (sid) => (await waitUntil(async () => {
      const g = await stack.api('GET', `/v1/events/${sid}?company_sid=${company}`);
      return g.status === 200 ? g.json.event : null;
    }, { what: `event ${sid} kept` })).ordering_key;
    assert.equal(await shown(res.json.event.event_sid), 'call/CA_1');
    assert.deepEqual([await shown(b.json.events[0].event_sid), await shown(b.json.events[1].event_sid)], ['é'.repeat(64), null]);
    for (const bad of ['', 'x'.repeat(129), 'é'.repeat(65), 5, true, ['k'], { k: 1 }, 'a\u0000b']) {
      const r = await stack.api('POST', '/v1/events', { company_sid: company, event_type: 'call.ended', payload: {}, ordering_key: bad });
      assertProblem(r, 422);
      assert.ok(r.json.errors.some((e) => e.field === 'ordering_key'), `${JSON.stringify(bad)}: ${r.text}`);
      const rb = await stack.api('POST', '/v1/events:batch', { events: [{ company_sid: company, event_type: 'call.ended', payload: {}, ordering_key: bad }] });
      assertProblem(rb, 422);
      assert.ok(rb.json.errors.some((e) => e.field === 'events[0].ordering_key'), rb.text);
    }
  });

  test('a stream entry with an ordering_key of 0 or more than 128 bytes is malformed', async () => {
    const company = `CO_om${randomHex(3)}`;
    const sids = [`evt_om1_${randomHex(3)}`, `evt_om2_${randomHex(3)}`];
    await stack.redis.call('XADD', KEYS.events, '*', 'company_sid', company, 'event_type', 'a.b', 'payload', '{}', 'event_sid', sids[0], 'ordering_key', '');
    await stack.redis.call('XADD', KEYS.events, '*', 'company_sid', company, 'event_type', 'a.b', 'payload', '{}', 'event_sid', sids[1], 'ordering_key', 'k'.repeat(129));
    await waitUntil(async () => {
      const dead = await deadLetters(stack.redis);
      return sids.every((s) => dead.some((d) => d.fields.event_sid === s && /ordering_key/.test(d.fields.reason)));
    }, { what: 'both entries dead as malformed' });
  });
});

describe(`ordering keys: 3 dispatchers, ${KEYS_N} keys x ${PER_KEY} events, 30 % failures, an outage, a kill -9`, () => {
  test('each key accepted exactly in publish order; unkeyed events not held back by a failing key', async () => {
    const stack = await startStack({
      dispatchers: 3,
      env: { WH_RETRY_SCALE: '0.05', WH_CLAIM_IDLE_MS: '3000', WH_ATTEMPTS_MAXLEN: '10' },
    });
    // A company of partition 0, whose stream publishEvents writes: the
    // order of a company's events holds in its own partition only
    // (docs/design.md, Partitions), which matters on a cluster.
    const company = companiesPerPartition(`or${randomHex(3)}`)[0];
    let downUntil = 0;
    const rcv = await startReceiver({
      respond: (r) => {
        const ev = JSON.parse(r.text).event;
        let status = 200;
        if (Date.now() < downUntil) status = 503;
        else if (ev.payload.stuck) status = 500; // a key that never gets through
        else if (ev.payload.k !== undefined && Math.random() < 0.3) status = 500;
        r.accepted = status === 200;
        return { status };
      },
    });
    // Times WH_RETRY_SCALE: 4 retries 50 ms apart, then every 500 ms, so
    // that 20 attempts outlast the 2 s outage.
    await createWebhook(stack, { company_sid: company, url: rcv.url(), max_attempts: 20, retry_schedule_s: [1, 1, 1, 1, 5, 10] });

    const events = [];
    for (let i = 0; i < PER_KEY; i++) {
      for (let k = 0; k < KEYS_N; k++) {
        events.push({ company_sid: company, event_type: 'call.ended', payload: `{"k":${k},"i":${i}}`, event_sid: `evt_o${k}_${i}_${randomHex(3)}`, ordering_key: `key-${k}` });
      }
    }
    // A stuck key, published first: its events retry for ever meanwhile.
    const stuck = [0, 1].map((i) => ({ company_sid: company, event_type: 'call.ended', payload: `{"stuck":1,"i":${i}}`, event_sid: `evt_stuck${i}_${randomHex(3)}`, ordering_key: 'stuck' }));
    const t0 = Date.now();
    await publishEvents(stack.redis, stuck);
    await publishEvents(stack.redis, events);

    // Down for 2 s once, a while in; a dispatcher killed -9 a while later.
    const accepted = () => rcv.requests.filter((r) => r.accepted && JSON.parse(r.text).event.payload.k !== undefined).length;
    await waitUntil(() => accepted() >= events.length / 4, { timeoutMs: 60000, intervalMs: 100, what: 'a quarter accepted' });
    downUntil = Date.now() + 2000;
    await waitUntil(() => accepted() >= events.length / 2, { timeoutMs: 60000, intervalMs: 100, what: 'half accepted' });
    await stack.dispatchers[1].kill();
    const killedAt = Date.now();

    // Unkeyed events to the same webhook meanwhile: not held back.
    const free = Array.from({ length: 20 }, (_, i) => ({ company_sid: company, event_type: 'call.ended', payload: `{"free":${i}}`, event_sid: `evt_free${i}_${randomHex(3)}` }));
    const freeAt = Date.now();
    await publishEvents(stack.redis, free);
    await waitUntil(() => free.every((f) => rcv.requests.some((r) => r.accepted && r.headers['webhook-id'] === f.event_sid)),
      { timeoutMs: 10000, intervalMs: 50, what: 'the unkeyed events' });
    const freeMs = Date.now() - freeAt;

    try {
      await waitUntil(() => {
        const seq = acceptedByKey(rcv.requests);
        return seq.size === KEYS_N && [...seq.values()].every((a) => a.length === PER_KEY);
      }, { timeoutMs: 240000, intervalMs: 250, what: 'every keyed event accepted' });
    } catch (err) {
      // Where each unfinished key stands, for the failure message.
      const seq = acceptedByKey(rcv.requests);
      const left = [];
      for (let k = 0; k < KEYS_N && left.length < 5; k++) {
        const a = seq.get(k) || [];
        if (a.length === PER_KEY) continue;
        const st = await stack.redis.call('HGETALL', `wh:{0}:order:${(await stack.api('GET', `/v1/webhooks?company_sid=${company}`)).json.webhooks[0].sid}:key-${k}`);
        left.push(`key ${k}: ${a.length} accepted, last ${a[a.length - 1]}, state ${st.map(String).join(' ')}`);
      }
      err.message += `; ${left.join('; ')}`;
      throw err;
    }
    const doneMs = Date.now() - t0;

    const seq = acceptedByKey(rcv.requests);
    const inOrder = Array.from({ length: PER_KEY }, (_, i) => i);
    for (const [k, a] of seq) assert.deepEqual(a, inOrder, `key ${k}: accepted in publish order`);
    // The stuck key's second event went only once its first was dead
    // (20 failed attempts), never in between.
    const stuckSent = rcv.requests.filter((r) => JSON.parse(r.text).event.payload.stuck).map((r) => JSON.parse(r.text).event.payload.i);
    const firstOne = stuckSent.indexOf(1);
    const zeros = stuckSent.filter((i) => i === 0).length;
    assert.ok(zeros > 0 && zeros <= 20, `the stuck head: ${zeros} attempts`);
    assert.ok(firstOne === -1 || (zeros === 20 && firstOne === 20), `the stuck key's second event waited for the first: ${stuckSent.join(',')}`);
    const failures = rcv.requests.filter((r) => !r.accepted).length;
    assert.ok(failures > events.length * 0.2, `${failures} failed requests`);
    // Unkeyed events took at most a couple of seconds (a claim after the
    // kill aside, which they do not wait for).
    assert.ok(freeMs < 5000, `unkeyed events delivered in ${freeMs} ms`);
    console.log(`ordering: ${events.length} keyed events in ${doneMs} ms (killed at ${killedAt - t0} ms), ${failures} failed requests, unkeyed in ${freeMs} ms`);
    await waitQueuesIdle(stack.redis, { timeoutMs: 5000 }).catch(() => {}); // the stuck key keeps retrying
    await sleep(10);
  });
});

describe('ordering keys: a handed event meets a webhook change made before its publish', () => {
  // D1 delivers e1 of key K and is frozen (SIGSTOP) while receiver A holds
  // it; the webhook's url changes from A to B; e2 of K is published, and
  // D2 reads it (its cache is refreshed by that read), parks it behind e1
  // and is frozen in turn, so that only D1 can deliver e2. D1, resumed,
  // is answered 200 for e1, and order_finish hands it e2. The newest
  // change counter D1 holds was read before the change (on one Redis its
  // last read, and the GET behind it, ended while it was frozen and the
  // next one blocks for 1 s; in a cluster it reads the counter only after
  // a read that brought entries), so e2 goes to B only if D1 looks the
  // webhook up as of a counter read after e2's publish: order_finish's
  // fifth element on one Redis, the GET after the finish in a cluster.
  // With those, nothing here depends on timing.
  test('D1 is handed e2 after the url changed: e2 goes to the new url, once, signed, after e1', async () => {
    // Nothing is claimed while a dispatcher is frozen (WH_CLAIM_IDLE_MS),
    // nor does e1's request time out (timeout_ms).
    const stack = await startStack({ dispatchers: 2, env: { WH_CLAIM_IDLE_MS: '60000' } });
    const company = companiesPerPartition(`oh${randomHex(3)}`)[0];
    const key = `call/${randomHex(3)}`;
    let release;
    const held = new Promise((resolve) => {
      release = resolve;
    });
    const rcvA = await startReceiver({ respond: () => ({ status: 200, until: held }) });
    const rcvB = await startReceiver();
    const { webhook, keys } = await createWebhook(stack, { company_sid: company, url: rcvA.url('/a'), timeout_ms: 30000 });
    const [e1, e2] = [1, 2].map((i) => ({ company_sid: company, event_type: 'call.ended', payload: `{"i":${i}}`, event_sid: `evt_oh${i}_${randomHex(3)}`, ordering_key: key }));
    const state = KEYS.order(company, webhook.sid, key);

    await publishEvents(stack.redis, [e1]);
    await rcvA.waitFor(1, 10000);
    const holders = [];
    for (const d of stack.dispatchers) if ((await consumerPending(stack.redis, d.proc.pid)) > 0) holders.push(d);
    assert.equal(holders.length, 1, 'one dispatcher holds e1');
    const [d1] = holders;
    const d2 = stack.dispatchers.find((d) => d !== d1);
    const frozen = new Set();
    const freeze = (d, on) => {
      process.kill(d.proc.pid, on ? 'SIGSTOP' : 'SIGCONT');
      if (on) frozen.add(d);
      else frozen.delete(d);
    };
    let releasedAt = Infinity;
    let id2;
    freeze(d1, true);
    try {
      // D1's blocking read (BLOCK 1000) ends while it is frozen: e2 cannot
      // be read by it.
      await sleep(1500);
      const patched = await stack.api('PATCH', `/v1/webhooks/${webhook.sid}`, { url: rcvB.url('/b') });
      assert.equal(patched.status, 200, patched.text);
      [id2] = await publishEvents(stack.redis, [e2]);
      // D2 parks e2 behind e1 (the head) and acks it.
      await waitUntil(async () => Number(await stack.redis.call('ZCARD', `${state}:parked`)) === 1 &&
        (await consumerPending(stack.redis, d2.proc.pid)) === 0, { timeoutMs: 10000, what: 'e2 parked by D2' });
      assert.equal(await consumerPending(stack.redis, d1.proc.pid), 1, 'D1 holds e1 only');
      freeze(d2, true);
      freeze(d1, false);
      releasedAt = Date.now();
      release();
      await waitUntil(() => [...rcvA.requests, ...rcvB.requests].some((q) => q.headers['webhook-id'] === e2.event_sid),
        { timeoutMs: 10000, what: 'e2 delivered by D1' });
      await waitQueuesIdle(stack.redis, { timeoutMs: 10000 }); // e2 finished: its guard is gone
      await sleep(300); // anything sent again would be here by now
    } finally {
      for (const d of frozen) freeze(d, false);
      release();
    }
    const sids = (r) => r.requests.map((q) => q.headers['webhook-id']);
    assert.deepEqual(sids(rcvA), [e1.event_sid], 'A got e1 only: e2 met the change of url');
    assert.deepEqual(sids(rcvB), [e2.event_sid], 'B got e2, once');
    checkSigned(rcvA.requests[0], keys, e1.event_sid, 'e1 at A');
    checkSigned(rcvB.requests[0], keys, e2.event_sid, 'e2 at B');
    assert.ok(rcvB.requests[0].receivedAt >= releasedAt, 'e2 sent only once e1 was answered');
    assert.equal(String(await stack.redis.call('HGET', state, 'last')), id2, 'e2 finished last');
  });
});
