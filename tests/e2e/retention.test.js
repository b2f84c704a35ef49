// Retention (issue 6): attempt logs and dead letters are capped by count
// and by age, and an event's attempt index expires, so that an endpoint
// failing forever does not grow Redis without bound.
//
//   - 10 000 failing deliveries (1 KiB payload, 1 KiB answer, one attempt
//     each) with small caps: afterwards Redis' used_memory (INFO memory)
//     has grown by a small fraction of what the data would take uncapped
//     (about 34 MiB), and every structure is within its cap.
//   - age: entries older than WH_DEAD_MAX_AGE_MS / WH_ATTEMPTS_MAX_AGE_MS
//     leave the stream, the index and the log when the next ones are
//     written.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  KEYS,
  PARTITIONS,
  createWebhook,
  keysEverywhere,
  partitionOf,
  publishEvents,
  randomHex,
  sleep,
  startReceiver,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
} from './lib/harness.js';
import { listAll } from './lib/checks.js';

useHarness();

const N = Number(process.env.E2E_RETENTION_EVENTS || 10000);
// Redis' used_memory, summed over the masters (the one Redis, or each
// master of a cluster), less what replication keeps: a master with
// replicas fills its backlog (up to repl-backlog-size, 1 MiB) and their
// output buffers with whatever is written, capped or not (nothing on a
// Redis without replicas).
async function usedMemory(redis) {
  const infos = await Promise.all((await redis.masters()).map((m) => m.call('INFO', 'memory')));
  const field = (info, name) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)[1]);
  return infos.reduce((n, info) => n + field(info, 'used_memory') - field(info, 'mem_replication_backlog') -
    field(info, 'mem_clients_slaves'), 0);
}

// The kept events of every partition (wh:{p}:event:*).
async function keptEvents(redis) {
  const each = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => keysEverywhere(redis, KEYS.part(p, 'event:*'))));
  return each.flat();
}

const payload = (i) => JSON.stringify({ i, pad: 'p'.repeat(1000) });

describe('retention: bounded by count', () => {
  let stack;

  before(async () => {
    stack = await startStack({ dispatchers: 1, env: {
      WH_ATTEMPTS_MAXLEN: '100', WH_DEAD_MAXLEN: '100', WH_EVENT_ATTEMPTS_TTL_MS: '1000',
      WH_EVENT_RETENTION_MS: '1000',
    } });
  });

  test(`${N} failing deliveries: Redis memory stays bounded`, async () => {
    const company = `CO_mem${randomHex(3)}`;
    const rcv = await startReceiver({ status: 500, body: 'x'.repeat(1024) });
    const { webhook } = await createWebhook(stack, { company_sid: company, url: rcv.url(), max_attempts: 1 });
    const before = await usedMemory(stack.redis);
    const sids = Array.from({ length: N }, (_, i) => `evt_m${i}_${randomHex(3)}`);
    await publishEvents(stack.redis, sids.map((s, i) => ({ company_sid: company, event_type: 'call.ended', payload: payload(i), event_sid: s })));
    await rcv.waitFor(N, 120000);
    await waitQueuesIdle(stack.redis, { timeoutMs: 60000 });
    // The events' attempt indexes expire (WH_EVENT_ATTEMPTS_TTL_MS).
    await waitUntil(async () => (await keysEverywhere(stack.redis, KEYS.eventAttempts('*', '*'))).length === 0,
      { timeoutMs: 20000, intervalMs: 250, what: 'the event indexes to expire' });
    // So do the events kept for a resend (WH_EVENT_RETENTION_MS) and their company index.
    await waitUntil(async () => (await keptEvents(stack.redis)).length === 0 &&
      (await stack.redis.call('EXISTS', KEYS.companyEvents(company))) === 0,
      { timeoutMs: 20000, intervalMs: 250, what: 'the kept events to expire' });
    const after = await usedMemory(stack.redis);
    const grew = after - before;
    const uncapped = N * (1024 + 2 * 1024);
    process.stderr.write(`retention: used_memory ${before} -> ${after} (+${grew} bytes; uncapped about ${uncapped})\n`);
    assert.ok(grew < 4 * 1024 * 1024, `grew by ${grew} bytes, under 4 MiB`);
    assert.ok(grew < uncapped / 8, 'a small fraction of the uncapped size');

    const [log, dead, idx, ids] = await Promise.all([
      stack.redis.call('XLEN', KEYS.attempts(webhook.sid)),
      stack.redis.call('XLEN', KEYS.part(partitionOf(company), 'dead')),
      stack.redis.call('ZCARD', KEYS.deadIndex(company, webhook.sid)),
      stack.redis.call('HLEN', KEYS.deadIds(company, webhook.sid)),
    ]);
    assert.ok(log >= 100 && log < 300, `attempt log within its cap (${log})`);
    // XADD MAXLEN ~ keeps at least 100; the same call then drops the index's
    // oldest member (101 > 100) and its entry: 99 is the floor.
    assert.ok(dead >= 99 && dead < 300, `dead letters within their cap (${dead})`);
    assert.ok(idx <= 100 && idx >= 90, `dead-letter index within its cap (${idx})`);
    assert.equal(ids, idx, 'the ids follow the index');
    // What is left is readable through the api, newest first.
    const listed = await listAll(stack.api, `/v1/webhooks/${webhook.sid}/dead-letters`, { page_size: 100 }, { name: 'dead_letters' });
    assert.ok(listed.items.length > 0 && listed.items.length <= idx);
    assert.ok(listed.items.every((d) => d.reason === 'max_attempts reached' && d.payload.pad.length === 1000));
    const at = listed.items.map((d) => Date.parse(d.dead_at));
    assert.deepEqual(at, [...at].sort((a, b) => b - a));
  });
});

describe('retention: bounded by age', () => {
  let stack;

  before(async () => {
    stack = await startStack({ dispatchers: 1, env: { WH_ATTEMPTS_MAX_AGE_MS: '1500', WH_DEAD_MAX_AGE_MS: '1500' } });
  });

  test('old attempts and dead letters go when new ones are written', async () => {
    const company = `CO_age${randomHex(3)}`;
    const rcv = await startReceiver({ status: 500, body: 'x'.repeat(1024) });
    const { webhook } = await createWebhook(stack, { company_sid: company, url: rcv.url(), max_attempts: 1 });
    const ev = (tag, i) => ({ company_sid: company, event_type: 'call.ended', payload: payload(i), event_sid: `evt_${tag}${i}_${randomHex(3)}` });
    const old = Array.from({ length: 250 }, (_, i) => ev('old', i));
    await publishEvents(stack.redis, old);
    await rcv.waitFor(250);
    await waitQueuesIdle(stack.redis);
    await waitUntil(async () => Number(await stack.redis.call('ZCARD', KEYS.deadIndex(company, webhook.sid))) === 250, { what: '250 dead letters' });
    assert.equal(Number(await stack.redis.call('XLEN', KEYS.attempts(webhook.sid))), 250);
    await sleep(1700);
    const fresh = Array.from({ length: 3 }, (_, i) => ev('new', i));
    for (const e of fresh) await publishEvents(stack.redis, [e]);
    await rcv.waitFor(253);
    await waitQueuesIdle(stack.redis);
    await waitUntil(async () => Number(await stack.redis.call('ZCARD', KEYS.deadIndex(company, webhook.sid))) === 3,
      { what: 'the index trimmed to the 3 new dead letters' });
    const dead = await listAll(stack.api, `/v1/webhooks/${webhook.sid}/dead-letters`, {}, { name: 'dead_letters' });
    assert.deepEqual(dead.items.map((d) => d.event_sid).sort(), fresh.map((e) => e.event_sid).sort());
    const deadLen = Number(await stack.redis.call('XLEN', KEYS.part(partitionOf(company), 'dead')));
    const logLen = Number(await stack.redis.call('XLEN', KEYS.attempts(webhook.sid)));
    assert.ok(deadLen < 50, `old dead letters left the stream (${deadLen} left of 253)`);
    assert.ok(logLen < 50, `old attempts left the log (${logLen} left of 253)`);
    // An idle log expires whole once its age has passed.
    await waitUntil(async () => Number(await stack.redis.call('EXISTS', KEYS.attempts(webhook.sid))) === 0,
      { timeoutMs: 5000, what: 'the idle log to expire' });
  });
});
