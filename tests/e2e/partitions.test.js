// WH_PARTITIONS (issue 20, docs/design.md "Partitions"): a
// company's events, retries and dead letters live in its partition's
// wh:{p}:… keys, p = FNV-1a 32 of its company_sid mod N, computed here
// independently of the programs; every dispatcher reads every partition,
// so an event a publisher put in another partition is delivered all the
// same; ~redeliver and ~recover find the dead letters in the company's
// partition and queue them there; /metrics adds the partitions up.
// On one Redis, and with E2E_REDIS=cluster on a Redis Cluster (make
// test-cluster), where each partition is a slot of its own.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  E2E_CLUSTER,
  REPO_ROOT,
  companiesPerPartition,
  createWebhook,
  partitionOf,
  randomHex,
  startReceiver,
  startStack,
  useHarness,
  waitUntil,
} from './lib/harness.js';
import { checkSigned } from './lib/checks.js';
import * as prom from './lib/promtext.js';

useHarness();

const N = 4;
const run = promisify(execFile);
const EXAMPLES = path.join(REPO_ROOT, 'examples', 'publish');

const key = (p, name) => `wh:{${p}}:${name}`;
// The publish idempotency key: in a cluster, in the partition's slot.
const idemKey = (co, sid) => (E2E_CLUSTER ? `wh:{${partitionOf(co, N)}}:idem:${co}:${sid}` : `wh:idem:${co}:${sid}`);

// Entries ever added to a stream (XINFO STREAM's entries-added: acked
// entries are deleted, so XLEN would not tell); 0 when it does not exist.
async function added(redis, stream) {
  try {
    const info = await redis.call('XINFO', 'STREAM', stream);
    return Number(info[info.indexOf('entries-added') + 1]);
  } catch (err) {
    if (/no such key/i.test(err.message)) return 0;
    throw err;
  }
}

async function addedAll(redis, name) {
  const out = [];
  for (let p = 0; p < N; p++) out.push(await added(redis, key(p, name)));
  return out;
}


describe(`WH_PARTITIONS=4 on ${E2E_CLUSTER ? 'a Redis Cluster' : 'one Redis'}, 2 dispatchers`, () => {
  let stack, rcv, companies, hooks;
  const fail = new Set();

  before(async () => {
    stack = await startStack({ dispatchers: 2, env: { WH_PARTITIONS: String(N) } });
    rcv = await startReceiver({
      respond: (r) => {
        const sid = JSON.parse(r.body).event.event_sid;
        // "fail1_": the first attempt fails; "dead_": every attempt fails.
        if (sid.startsWith('evt_dead_')) return { status: 500 };
        if (sid.startsWith('evt_fail1_') && !fail.has(sid)) {
          fail.add(sid);
          return { status: 503 };
        }
        return { status: 200 };
      },
    });
    companies = companiesPerPartition(randomHex(3), N);
    hooks = [];
    for (const c of companies) {
      hooks.push(await createWebhook(stack, { company_sid: c, url: rcv.url(`/${c}`), max_attempts: 2 }));
    }
  });

  test('the partition function matches its published vectors', () => {
    assert.equal(partitionOf('a', 2 ** 32), 0xe40c292c);
    assert.equal(partitionOf('foobar', 2 ** 32), 0xbf9cf968);
    assert.equal(partitionOf('CO_1', 8), 3);
    assert.equal(partitionOf('CO_acme', 8), 6);
  });

  test('every way of publishing lands in the company\'s partition and is delivered once', async () => {
    const before = await addedAll(stack.redis, 'events');
    const want = new Map(); // event_sid -> company
    // Over HTTP: one by one (with and without an event_sid) and a batch.
    for (const c of companies) {
      const sid = `evt_one_${randomHex(4)}`;
      const r = await stack.api('POST', '/v1/events', { company_sid: c, event_type: 'call.ended', payload: { n: 1 }, event_sid: sid });
      assert.equal(r.status, 202, r.text);
      want.set(sid, c);
      const r2 = await stack.api('POST', '/v1/events', { company_sid: c, event_type: 'call.ended', payload: { n: 2 } });
      assert.equal(r2.status, 202, r2.text);
      want.set(r2.json.event.event_sid, c);
    }
    const batch = companies.flatMap((c) => [0, 1].map((i) => ({
      company_sid: c, event_type: 'call.ended', payload: { i }, event_sid: `evt_b_${i}_${randomHex(4)}`,
    })));
    const rb = await stack.api('POST', '/v1/events:batch', { events: batch });
    assert.equal(rb.status, 202, rb.text);
    assert.equal(rb.json.accepted, batch.length, rb.text);
    for (const e of batch) want.set(e.event_sid, e.company_sid);
    // Idempotency holds per company: the repeat is answered, not queued.
    const again = await stack.api('POST', '/v1/events:batch', { events: batch.slice(0, 2) });
    assert.equal(again.status, 202, again.text);
    assert.equal(again.json.duplicates, 2, again.text);
    // Direct XADD: into the right partition, and into a wrong one.
    for (const co of companies) {
      const right = `evt_x_${randomHex(4)}`;
      const wrong = `evt_w_${randomHex(4)}`;
      await stack.redis.call('XADD', key(partitionOf(co, N), 'events'), '*', 'company_sid', co, 'event_type', 'call.ended', 'payload', '{"x":1}', 'event_sid', right);
      await stack.redis.call('XADD', key((partitionOf(co, N) + 1) % N, 'events'), '*', 'company_sid', co, 'event_type', 'call.ended', 'payload', '{"x":2}', 'event_sid', wrong);
      want.set(right, co);
      want.set(wrong, co);
    }
    const reqs = await rcv.waitFor(want.size, 20000);
    const seen = new Map();
    for (const r of reqs) {
      const ev = JSON.parse(r.body).event;
      assert.equal(r.url, `/${want.get(ev.event_sid)}`, `${ev.event_sid} went to its company's webhook`);
      const hook = hooks[companies.indexOf(ev.company_sid)];
      checkSigned(r, hook.keys, ev.event_sid, ev.event_sid);
      seen.set(ev.event_sid, (seen.get(ev.event_sid) ?? 0) + 1);
    }
    assert.deepEqual([...want.keys()].filter((s) => seen.get(s) !== 1), [], 'every event delivered exactly once');
    // Per partition: its company's 2 + 2 HTTP events, 1 right XADD, and
    // the wrong XADD of the company of the partition before it.
    const after = await addedAll(stack.redis, 'events');
    assert.deepEqual(after.map((v, p) => v - before[p]), new Array(N).fill(6));
    // Each idempotency key: the untagged name on one Redis, the partition's slot in a cluster.
    assert.equal(await stack.redis.call('EXISTS', idemKey(batch[0].company_sid, batch[0].event_sid)), 1);
  });

  test('examples/publish compute the same partition in each language', async () => {
    // A client of the one Redis, or of the cluster (WH_REDIS_CLUSTER_NODES).
    const where = stack.redis.env
      ? stack.redis.env()
      : { REDIS_HOST: '127.0.0.1', REDIS_PORT: String(stack.redis.port), REDIS_URL: `redis://127.0.0.1:${stack.redis.port}` };
    const env = {
      ...process.env,
      ...where,
      WH_PARTITIONS: String(N),
      PUBLISH_EVENT_LUA: path.join(REPO_ROOT, 'common', 'lua', 'publish_event.lua'),
    };
    // The ioredis example runs from where tests/e2e's node_modules resolve.
    const mjs = path.join(REPO_ROOT, 'tests', 'e2e', `.publish-${randomHex(4)}.mjs`);
    fs.copyFileSync(path.join(EXAMPLES, 'publish.mjs'), mjs);
    let py = true;
    try {
      await run('/usr/bin/python3', ['-c', 'import redis']);
    } catch {
      py = false; // python3-redis missing (make deps installs it)
    }
    const runs = [
      ['redis-cli', companies[1], (a) => run(path.join(EXAMPLES, 'publish.sh'), a, { env })],
      ['ioredis', companies[2], (a) => run('node', [mjs, ...a], { env })],
      ...(py ? [['redis-py', companies[3], (a) => run('/usr/bin/python3', [path.join(EXAMPLES, 'publish.py'), ...a], { env })]] : []),
    ];
    try {
      for (const [lang, co, go] of runs) {
        const p = partitionOf(co, N);
        const before = await added(stack.redis, key(p, 'events'));
        const sid = `evt_ex_${randomHex(4)}`;
        const seen = rcv.requests.length;
        await go([co, 'call.ended', '{"ex":1}', sid]);
        await go([co, 'call.ended', '{"ex":1}']);
        assert.equal(await added(stack.redis, key(p, 'events')), before + 2, `${lang}: both in partition ${p}`);
        assert.equal(await stack.redis.call('EXISTS', idemKey(co, sid)), 1, `${lang}: the idempotency key`);
        await waitUntil(() => rcv.requests.length >= seen + 2, { timeoutMs: 10000, what: `${lang}: both delivered` });
      }
    } finally {
      fs.rmSync(mjs, { force: true });
    }
  });

  test('/metrics adds the partitions up', async () => {
    const x = `x_${randomHex(4)}`;
    const y = `y_${randomHex(4)}`;
    await stack.redis.call('ZADD', key(1, 'retry'), String(Date.now() + 3600e3), x);
    await stack.redis.call('ZADD', key(3, 'retry'), String(Date.now() + 3600e3), y);
    const id = await stack.redis.call('XADD', key(1, 'dead'), '*', 'reason', 'test');
    try {
      const m = await stack.api('GET', '/metrics', undefined, { key: null });
      assert.equal(m.status, 200);
      const fam = prom.parse(m.text);
      assert.equal(prom.value(fam, 'webhooks_retry_scheduled'), 2, m.text);
      assert.equal(prom.value(fam, 'webhooks_dead_letters'), 1, m.text);
      assert.equal(prom.value(fam, 'webhooks_consumer_group_pending', { stream: 'events' }), 0, m.text);
    } finally {
      await stack.redis.call('ZREM', key(1, 'retry'), x);
      await stack.redis.call('ZREM', key(3, 'retry'), y);
      await stack.redis.call('XDEL', key(1, 'dead'), id);
    }
  });

  test('a retry and a dead letter go to the company\'s partition; ~redeliver and ~recover find them', async () => {
    const p = 2;
    const co = companies[p];
    const hook = hooks[p].webhook;
    const retriesBefore = await addedAll(stack.redis, 'retries');
    const sid1 = `evt_fail1_${randomHex(4)}`;
    const sidDead = `evt_dead_${randomHex(4)}`;
    // Published to another partition: its retries and letters still go to its company's.
    await stack.redis.call('XADD', key(0, 'events'), '*', 'company_sid', co, 'event_type', 'call.ended', 'payload', '{}', 'event_sid', sid1);
    await stack.redis.call('XADD', key(0, 'events'), '*', 'company_sid', co, 'event_type', 'call.ended', 'payload', '{}', 'event_sid', sidDead);
    await waitUntil(async () => (await stack.api('GET', `/v1/webhooks/${hook.sid}/dead-letters`)).json?.dead_letters?.length === 1,
      { timeoutMs: 15000, what: 'the dead letter listed' });
    const got = (s) => rcv.requests.filter((r) => JSON.parse(r.body).event.event_sid === s).length;
    await waitUntil(() => got(sid1) === 2, { timeoutMs: 10000, what: 'the retried event delivered' });
    assert.equal(got(sidDead), 2, 'the dead event had its 2 attempts');
    const dead = await stack.redis.call('XRANGE', key(p, 'dead'), '-', '+');
    assert.equal(dead.length, 1, 'the dead letter is in its company\'s partition');
    for (let q = 0; q < N; q++) {
      if (q !== p) assert.equal(await stack.redis.call('XLEN', key(q, 'dead')), 0, `no dead letter in partition ${q}`);
    }
    const retriesAfter = await addedAll(stack.redis, 'retries');
    assert.deepEqual(retriesAfter.map((v, q) => v - retriesBefore[q]), retriesAfter.map((_, q) => (q === p ? 2 : 0)),
      'both second attempts came through the company\'s partition');

    // ~redeliver: back through partition p's retries.
    const red = await stack.api('POST', `/v1/webhooks/${hook.sid}/deliveries/${sidDead}/~redeliver`);
    assert.equal(red.status, 202, red.text);
    await waitUntil(() => got(sidDead) >= 3, { timeoutMs: 10000, what: 'the redelivery' });
    assert.ok(await added(stack.redis, key(p, 'retries')) >= retriesAfter[p] + 1, 'redelivered through partition p');
    // It failed again (and again): a dead letter anew, then ~recover.
    await waitUntil(async () => (await stack.api('GET', `/v1/webhooks/${hook.sid}/dead-letters`)).json?.dead_letters?.length === 1,
      { timeoutMs: 15000, what: 'the dead letter back' });
    const rec = await stack.api('POST', `/v1/webhooks/${hook.sid}/~recover`, { since: '2020-01-01T00:00:00Z', until: '2999-01-01T00:00:00Z' });
    assert.equal(rec.status, 202, rec.text);
    await waitUntil(() => got(sidDead) >= 5, { timeoutMs: 15000, what: 'the recovered delivery' });
    const end = await addedAll(stack.redis, 'retries');
    assert.ok(end[p] >= retriesAfter[p] + 3, 'recovered through partition p');
    assert.deepEqual(end.filter((_, q) => q !== p), retriesAfter.filter((_, q) => q !== p), 'and no other');
  });

});
