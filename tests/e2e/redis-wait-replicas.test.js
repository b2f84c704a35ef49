// WH_REDIS_WAIT_REPLICAS (issue 20): with k = 1 the api WAITs for one
// replica before it answers 202, for a single event and for a batch. A
// master whose replica is gone cannot confirm: the api answers 503
// (Retry-After: 1) after the WAIT's 1 s bound, and says the event may be
// queued; once the replica is back, the same event_sid published again is
// answered 200 as a repeat, so the retry is safe.
//
// A master and a replica (replicaof) on loopback.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { KEYS, randomHex, startRedis, startStack, useHarness, waitUntil } from './lib/harness.js';

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
