// WH_REDIS_WAIT_REPLICAS (issue 20): with k = 1 the api WAITs for one
// replica before it answers 202, for a single event and for a batch. A
// master whose replica is gone cannot confirm: the api answers 503
// (Retry-After: 1) after the WAIT's 1 s bound, and says the event may be
// queued; once the replica is back, the same event_sid published again is
// answered 200 as a repeat, so the retry is safe.
//
// The dispatcher, with the same k, acks entries only once k replicas
// have their outcome.
//
// A master and a replica (replicaof) on loopback.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  GROUP, KEYS, createWebhook, eventsFor, publishEvents, randomHex, sleep, startReceiver, startRedis, startStack, useHarness, waitUntil,
} from './lib/harness.js';

useHarness();

const CO = `CO_wait${randomHex(4)}`;

async function synced(master) {
  await waitUntil(async () => /connected_slaves:1\b[\s\S]*state=online/.test(await master.call('INFO', 'replication')),
    { timeoutMs: 15000, intervalMs: 100, what: 'the replica to be online' });
}

test('the api answers 202 only once a replica has the event', { timeout: 120000 }, async () => {
  const stack = await startStack({ apiEnv: { WH_REDIS_WAIT_REPLICAS: '1' } });
  const master = stack.redis;
  const replica = await startRedis({ name: 'replica', args: ['--replicaof', '127.0.0.1', String(master.port)] });
  await synced(master);

  let res = await stack.api('POST', '/v1/events', { company_sid: CO, event_type: 'wait.test', payload: { n: 1 } });
  assert.equal(res.status, 202, res.text);
  const events = Array.from({ length: 20 }, (_, i) => ({ company_sid: CO, event_type: 'wait.test', payload: { i } }));
  res = await stack.api('POST', '/v1/events:batch', { events });
  assert.equal(res.status, 202, res.text);
  assert.equal(res.json.accepted, 20);

  // The replica goes: nothing can be confirmed.
  await replica.stop();
  await waitUntil(async () => /connected_slaves:0\b/.test(await master.call('INFO', 'replication')),
    { timeoutMs: 15000, intervalMs: 100, what: 'the master to see its replica gone' });
  const before = await master.call('XLEN', KEYS.events);
  const sid = `ev_wait${randomHex(6)}`;
  const t0 = Date.now();
  res = await stack.api('POST', '/v1/events', { company_sid: CO, event_sid: sid, event_type: 'wait.test', payload: { n: 2 } });
  const took = Date.now() - t0;
  assert.equal(res.status, 503, res.text);
  assert.equal(res.headers.get('retry-after'), '1');
  assert.match(res.json.detail, /WH_REDIS_WAIT_REPLICAS/);
  assert.ok(took >= 900, `the WAIT was given its second (${took} ms)`);
  res = await stack.api('POST', '/v1/events:batch', { events });
  assert.equal(res.status, 503, res.text);
  // What the 503 says: the events may be queued all the same.
  assert.ok((await master.call('XLEN', KEYS.events)) >= before, 'nothing was taken back');

  // Back: the retry of the same event_sid is a repeat, and confirmed.
  await replica.start();
  await synced(master);
  res = await stack.api('POST', '/v1/events', { company_sid: CO, event_sid: sid, event_type: 'wait.test', payload: { n: 2 } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.event.event_sid, sid);
});

// The dispatcher acks an entry only once k replicas have its outcome:
// with the replica gone an event is delivered but stays pending; once it
// is back the entry is claimed again and acked (the receiver may see it
// twice: at least once, never lost).
test('the dispatcher acks only once a replica has the outcome', { timeout: 120000 }, async () => {
  const stack = await startStack({ env: { WH_REDIS_WAIT_REPLICAS: '1' }, dispatcherEnv: { WH_CLAIM_IDLE_MS: '1000' } });
  const master = stack.redis;
  const replica = await startRedis({ name: 'replica', args: ['--replicaof', '127.0.0.1', String(master.port)] });
  await synced(master);
  const rcv = await startReceiver();
  await createWebhook(stack, { company_sid: CO, label: 'wait', url: rcv.url('/wait') });

  const pending = async () => (await master.call('XPENDING', KEYS.events, GROUP))[0];
  await publishEvents(master, eventsFor(CO, 'up', 1));
  await waitUntil(async () => rcv.requests.length >= 1 && (await master.call('XLEN', KEYS.events)) === 0,
    { timeoutMs: 15000, what: 'the first event delivered and acked' });

  await replica.stop();
  await waitUntil(async () => /connected_slaves:0\b/.test(await master.call('INFO', 'replication')),
    { timeoutMs: 15000, intervalMs: 100, what: 'the master to see its replica gone' });
  const seen = rcv.requests.length;
  await publishEvents(master, eventsFor(CO, 'down', 1));
  await waitUntil(async () => rcv.requests.length > seen, { timeoutMs: 15000, what: 'the second event delivered' });
  await sleep(2500);
  assert.equal(await master.call('XLEN', KEYS.events), 1, 'not acked while no replica confirms');
  assert.ok((await pending()) >= 1);

  await replica.start();
  await synced(master);
  await waitUntil(async () => (await master.call('XLEN', KEYS.events)) === 0,
    { timeoutMs: 30000, what: 'the entry claimed again and acked once the replica is back' });
});
