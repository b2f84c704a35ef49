// Ordering keys (issue 21, docs/ordering.md): the Redis side alone,
// common/lua/order_start.lua and order_finish.lua against a real
// redis-server with a real events stream and consumer group, before any
// dispatcher uses them. The clock is simulated (the scripts' test-only
// "now" argument), so leases expire exactly when the test says.
//
//   - the contracts one by one: an earlier event still in a reader's hands
//     holds a later one back ('wait', rescheduled), a later one parks
//     behind the head and is handed back when the head is done, a yield
//     (retry scheduled) keeps the others waiting, duplicates are dropped,
//     a live lease is respected and an expired one taken over, other keys
//     and other companies' events with the same key are not held;
//   - random interleavings: 3 simulated dispatchers read batches, take
//     retries, deliver to a receiver that fails 30 % of the time, and
//     crash (kill -9: their unacknowledged entries are claimed by another
//     after a while). For every key the receiver accepts the events
//     exactly in publish order (a redelivery after a crash only ever
//     repeats the event just accepted).

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, randomHex, startRedis, useHarness } from './lib/harness.js';

useHarness();

const lua = (name) => fs.readFileSync(path.join(REPO_ROOT, 'common', 'lua', `${name}.lua`), 'utf8');
const GROUP = 'dispatchers';
const LEASE = 1000;
const WAIT = 50;
const KEEP = 3600000;

describe('order_start.lua / order_finish.lua', () => {
  let redis;
  let shaStart;
  let shaFinish;
  before(async () => {
    redis = await startRedis();
    shaStart = await redis.call('SCRIPT', 'LOAD', lua('order_start'));
    shaFinish = await redis.call('SCRIPT', 'LOAD', lua('order_finish'));
  });

  // One world: its own stream, retry zset and webhook.
  async function world() {
    const tag = randomHex(4);
    const w = {
      events: `wh:{0}:events:${tag}`,
      retry: `wh:{0}:retry:${tag}`,
      webhook: `WH${tag}`,
      company: 'CO1',
    };
    await redis.call('XGROUP', 'CREATE', w.events, GROUP, '$', 'MKSTREAM');
    w.state = (k) => `wh:{0}:order:${w.webhook}:${k}`;
    w.publish = (k, company = w.company) =>
      redis.call('XADD', w.events, '*', 'company_sid', company, 'event_type', 'e', 'payload', '{}',
        'event_sid', `EV${randomHex(6)}`, ...(k === null ? [] : ['ordering_key', k]));
    w.read = async (consumer, count) => {
      const r = await redis.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', w.events, '>');
      if (!r) return [];
      return r[0][1].map(([id, f]) => {
        const m = {};
        for (let i = 0; i < f.length; i += 2) m[f[i]] = f[i + 1];
        return { id, key: m.ordering_key ?? null, company: m.company_sid };
      });
    };
    w.ack = (id) => redis.call('XACK', w.events, GROUP, id);
    w.task = (id, k) => `${id}|${k}`;
    w.start = async (id, k, token, now, company = w.company) => {
      const [a] = await w.startMany([{ id, k, token, company }], now);
      if (a instanceof Error) throw a;
      return a;
    };
    // One call asking for several deliveries, answered in order.
    w.startMany = (asks, now) =>
      redis.call('EVALSHA', shaStart, 2 + 2 * asks.length, w.events, w.retry,
        ...asks.flatMap((a) => [w.state(a.k), `${w.state(a.k)}:parked`]), LEASE, GROUP, WAIT, now,
        ...asks.flatMap((a) => [a.id, w.task(a.id, a.k), a.token, a.company ?? w.company, a.k]));
    // next: a token of the caller's for the next event (handed to it), or
    // '' (the next event goes into the retry set, due now).
    w.finish = (id, k, token, mode, now, next = '') =>
      redis.call('EVALSHA', shaFinish, 4, w.state(k), `${w.state(k)}:parked`, w.retry, w.events,
        id, token, mode, KEEP, LEASE, next, GROUP, now);
    // The same on one Redis, where the dispatcher also names the webhooks'
    // change counter (KEYS[5]): a handed event comes back with it.
    w.finishCounted = (id, k, token, mode, now, next, counter) =>
      redis.call('EVALSHA', shaFinish, 5, w.state(k), `${w.state(k)}:parked`, w.retry, w.events, counter,
        id, token, mode, KEEP, LEASE, next, GROUP, now);
    w.due = async (now) => {
      const r = await redis.call('ZRANGEBYSCORE', w.retry, '-inf', now);
      if (r.length) await redis.call('ZREM', w.retry, ...r);
      return r.map((t) => ({ id: t.split('|')[0], key: t.split('|')[1] }));
    };
    return w;
  }

  test('the contracts, one by one', async () => {
    const w = await world();
    const T = 1_000_000;
    // Another company's event with the same key, in a reader's hands
    // (and so pending) all along: it never holds this webhook's key.
    await w.publish('k', 'CO2');
    await w.read('Z', 1);
    const [e1, e2, e3] = [await w.publish('k'), await w.publish('k'), await w.publish('k')];
    const other = await w.publish('k2');
    // Reader A takes e1, reader B takes the rest.
    assert.deepEqual((await w.read('A', 1)).map((e) => e.id), [e1]);
    await w.read('B', 10);
    // e2 first: e1 is still in A's hands, so e2 waits (and comes back).
    assert.equal(await w.start(e2, 'k', 'b', T), 'wait');
    assert.deepEqual(await redis.call('ZRANGE', w.retry, 0, -1, 'WITHSCORES'), [w.task(e2, 'k'), String(T + WAIT)]);
    // Another key is not held.
    assert.equal(await w.start(other, 'k2', 'b', T), 'start');
    // e1 starts; e3 parks behind it; e2's return parks too.
    assert.equal(await w.start(e1, 'k', 'a', T), 'start');
    assert.equal(await w.start(e3, 'k', 'b', T), 'park');
    assert.deepEqual(await w.due(T + WAIT), [{ id: e2, key: 'k' }]);
    assert.equal(await w.start(e2, 'k', 'c', T + WAIT), 'park');
    // e1 fails: a retry is scheduled, e1 stays the head.
    assert.equal(await w.finish(e1, 'k', 'a', 'yield', T + 100), 'yielded');
    assert.equal(await w.start(e3, 'k', 'b', T + 100), 'park');
    // Another reader may take the yielded e1 (its retry came due).
    assert.equal(await w.start(e1, 'k', 'c', T + 200), 'start');
    // The old holder can no longer finish it.
    assert.equal(await w.finish(e1, 'k', 'a', 'done', T + 210), 'stale');
    assert.equal(await w.finish(e1, 'k', 'c', 'done', T + 220), 'next');
    // The earliest parked event (e2) comes back, due now; e3 still waits.
    assert.deepEqual(await w.due(T + 220), [{ id: e2, key: 'k' }]);
    assert.equal(await w.start(e3, 'k', 'b', T + 221), 'park');
    assert.equal(await w.start(e1, 'k', 'b', T + 221), 'done');
    assert.equal(await w.start(e2, 'k', 'd', T + 222), 'start');
    // A live lease is respected: the copy waits until it would lapse...
    assert.equal(await w.start(e2, 'k', 'x', T + 300), 'wait');
    assert.deepEqual(await redis.call('ZSCORE', w.retry, w.task(e2, 'k')), String(T + 222 + LEASE + 1));
    // ...and then takes it over (the holder died).
    assert.deepEqual(await w.due(T + 222 + LEASE + 1), [{ id: e2, key: 'k' }]);
    assert.equal(await w.start(e2, 'k', 'x', T + 222 + LEASE + 1), 'start');
    assert.equal(await w.finish(e2, 'k', 'd', 'done', T + 1300), 'stale');
    assert.equal(await w.finish(e2, 'k', 'x', 'done', T + 1300), 'next');
    assert.deepEqual(await w.due(T + 1300), [{ id: e3, key: 'k' }]);
    assert.equal(await w.start(e3, 'k', 'y', T + 1301), 'start');
    assert.equal(await w.finish(e3, 'k', 'y', 'done', T + 1302), 'idle');
    assert.equal(await redis.call('EXISTS', `${w.state('k')}:parked`), 0);
    const ttl = await redis.call('PTTL', w.state('k'));
    assert.ok(ttl > 0 && ttl <= KEEP, `state ttl ${ttl}`);
    await assert.rejects(w.start('nope', 'k', 'a', T), /bad arguments/);
    await assert.rejects(w.finish(e3, 'k', 'a', 'maybe', T), /bad arguments/);
  });

  test('one call asks for a read batch: each answered in the order given', async () => {
    const w = await world();
    const T = 1_000_000;
    const [e1, e2, o1, e3] = [await w.publish('k'), await w.publish('k'), await w.publish('k2'), await w.publish('k')];
    await w.read('A', 10);
    // e1 starts, so e2 and e3 (asked after it in the same call) park
    // behind it rather than waiting on e1 as a pending entry; k2 is free.
    assert.deepEqual(await w.startMany([
      { id: e1, k: 'k', token: 'a1' }, { id: e2, k: 'k', token: 'a2' },
      { id: o1, k: 'k2', token: 'a3' }, { id: e3, k: 'k', token: 'a4' }], T), ['start', 'park', 'start', 'park']);
    assert.equal(await redis.call('ZCARD', w.retry), 0);
    assert.equal(await w.finish(e1, 'k', 'a1', 'done', T + 1), 'next');
    assert.deepEqual(await w.due(T + 1), [{ id: e2, key: 'k' }]);
    // A duplicate and the handed-back e2 in one call.
    assert.deepEqual(await w.startMany([{ id: e1, k: 'k', token: 'b1' }, { id: e2, k: 'k', token: 'b2' }], T + 2),
      ['done', 'start']);
    // A malformed delivery is refused alone; the others are answered.
    const [bad, ok] = await w.startMany([{ id: 'nope', k: 'k', token: 'c' }, { id: e3, k: 'k', token: 'c' }], T + 3);
    assert.match(String(bad?.message), /bad arguments/);
    assert.equal(ok, 'park');
  });

  test('an earlier event held by a crashed reader holds its key until it is claimed', async () => {
    const w = await world();
    const T = 2_000_000;
    const e1 = await w.publish('k');
    const e2 = await w.publish('k');
    await w.read('dead', 1);
    await w.read('B', 1);
    assert.equal(await w.start(e2, 'k', 'b', T), 'wait');
    assert.equal(await w.start(e2, 'k', 'b', T + 5000), 'wait');
    // Another reader claims the dead one's entry and delivers it.
    await redis.call('XCLAIM', w.events, GROUP, 'C', 0, e1);
    assert.equal(await w.start(e1, 'k', 'c', T + 6000), 'start');
    await w.ack(e1);
    assert.equal(await w.start(e2, 'k', 'b', T + 6001), 'park');
    assert.equal(await w.finish(e1, 'k', 'c', 'done', T + 6002), 'next');
    assert.equal(await w.start(e2, 'k', 'b', T + 6003), 'start');
  });

  test('the next event is handed to the finisher, under a guard that repeats it if the finisher dies', async () => {
    const w = await world();
    const T = 3_000_000;
    const [e1, e2, e3] = [await w.publish('k'), await w.publish('k'), await w.publish('k')];
    await w.read('A', 10);
    assert.deepEqual(await w.startMany([
      { id: e1, k: 'k', token: 'a1' }, { id: e2, k: 'k', token: 'a2' }, { id: e3, k: 'k', token: 'a3' }], T),
    ['start', 'park', 'park']);
    await w.ack(e1); await w.ack(e2); await w.ack(e3);
    // e1 done: e2 is handed to the caller, the head under its new token,
    // with a guard in the retry set due when that lease would lapse.
    assert.deepEqual(await w.finish(e1, 'k', 'a1', 'done', T + 1, 'n1'), ['next', e2, w.task(e2, 'k'), 'n1']);
    assert.deepEqual(await redis.call('ZRANGE', w.retry, 0, -1, 'WITHSCORES'), [w.task(e2, 'k'), String(T + 1 + LEASE + 1)]);
    assert.equal(await w.start(e3, 'k', 'x', T + 2), 'park');
    assert.equal(await w.start(e2, 'k', 'x', T + 3), 'wait');
    // The finisher dies: the guard comes due and another reader takes e2 over.
    assert.deepEqual(await w.due(T + LEASE + 2), [{ id: e2, key: 'k' }]);
    assert.equal(await w.start(e2, 'k', 'b1', T + LEASE + 2), 'start');
    assert.equal(await w.finish(e2, 'k', 'n1', 'done', T + LEASE + 3, 'n2'), 'stale');
    // b1 fails e2 once (a yield), then delivers it: e3 is handed on; its
    // own yield takes its guard away, its retry starts it again.
    assert.equal(await w.finish(e2, 'k', 'b1', 'yield', T + LEASE + 4), 'yielded');
    assert.equal(await w.start(e2, 'k', 'b2', T + LEASE + 5), 'start');
    // With the change counter named, it comes back read after e3 was
    // published (the dispatcher fans e3 out as of it, without a read).
    const counter = `${w.state('k')}:test-counter`;
    await redis.call('SET', counter, '41');
    assert.deepEqual(await w.finishCounted(e2, 'k', 'b2', 'done', T + LEASE + 6, 'b3', counter),
      ['next', e3, w.task(e3, 'k'), 'b3', '41']);
    await redis.call('DEL', counter);
    assert.equal(await w.finish(e3, 'k', 'b3', 'yield', T + LEASE + 7), 'yielded');
    assert.equal(await redis.call('ZCARD', w.retry), 0);
    assert.equal(await redis.call('EXISTS', `${w.state('k')}:parked`), 0);
    assert.equal(await w.start(e3, 'k', 'b4', T + LEASE + 8), 'start');
    assert.equal(await w.finish(e3, 'k', 'b4', 'done', T + LEASE + 9, 'b5'), 'idle');
    assert.equal(await w.start(e2, 'k', 'z', T + LEASE + 10), 'done');
  });

  test('an event of the key still in a reader\'s hands is not passed by a handed one', async () => {
    const w = await world();
    const T = 4_000_000;
    const [e1, e2, e3] = [await w.publish('k'), await w.publish('k'), await w.publish('k')];
    await w.read('A', 1);
    await w.read('slow', 1);	// e2: read, not brought to the scripts yet
    await w.read('B', 1);
    assert.equal(await w.start(e1, 'k', 'a', T), 'start');
    assert.equal(await w.start(e3, 'k', 'b', T), 'park');
    await w.ack(e1); await w.ack(e3);
    // e1 done: e3 is not handed (e2 is pending between them); it goes
    // into the retry set due now, and order_start makes it wait.
    assert.equal(await w.finish(e1, 'k', 'a', 'done', T + 1, 'n'), 'next');
    assert.deepEqual(await redis.call('ZRANGE', w.retry, 0, -1, 'WITHSCORES'), [w.task(e3, 'k'), String(T + 1)]);
    assert.deepEqual(await w.due(T + 1), [{ id: e3, key: 'k' }]);
    assert.equal(await w.start(e3, 'k', 'b', T + 1), 'wait');
    assert.equal(await w.start(e2, 'k', 's', T + 2 + WAIT), 'start');
    assert.deepEqual(await w.finish(e2, 'k', 's', 'done', T + 3 + WAIT, 's2'), ['next', e3, w.task(e3, 'k'), 's2']);
  });

  const seen = { start: 0, park: 0, wait: 0, done: 0, crash: 0, claim: 0, handed: 0 };
  for (const seed of [1, 2, 3, 4]) {
    test(`random interleavings of 3 dispatchers with failures and crashes keep publish order (run ${seed})`, async () => {
      const w = await world();
      const KEYS_N = 8;
      const PER_KEY = 25;
      let rnd = seed * 7919;
      const rand = () => {
        rnd = (rnd * 1103515245 + 12345) % 2147483648;
        return rnd / 2147483648;
      };
      const pick = (a) => a[Math.floor(rand() * a.length)];
      // Publish: keys interleaved at random, some events of another
      // company with the same keys, and some without a key.
      const order = {};
      const left = Array.from({ length: KEYS_N }, () => PER_KEY);
      let total = 0;
      while (left.some((n) => n > 0)) {
        const k = pick(left.map((n, i) => (n > 0 ? i : -1)).filter((i) => i >= 0));
        left[k]--;
        const id = await w.publish(`key${k}`);
        (order[`key${k}`] ??= []).push(id);
        total++;
        if (rand() < 0.1) await w.publish(`key${k}`, 'CO2');
        if (rand() < 0.1) await w.publish(null);
      }
      let now = 10_000_000;
      let gen = 0;
      const fresh = () => ({ name: `d${gen++}`, token: `t${gen}-${randomHex(3)}`, inbox: [], busy: [] });
      const disp = [fresh(), fresh(), fresh()];
      const crashed = []; // { name, at }
      const accepted = {};
      let acceptedCount = 0;
      const accept = (k, id) => {
        const a = (accepted[k] ??= []);
        if (a[a.length - 1] === id) return; // redelivery after a crash
        a.push(id);
        acceptedCount++;
      };
      const done = () => Object.keys(order).every((k) => (accepted[k]?.length ?? 0) === order[k].length);
      let steps = 0;
      while (!done()) {
        assert.ok(++steps < 200000, `stuck: ${acceptedCount}/${total} accepted`);
        now += Math.floor(rand() * 15);
        const d = pick(disp);
        const r = rand();
        // Deliveries that completed by now.
        for (const dd of disp) {
          for (const job of dd.busy.filter((j) => j.at <= now)) {
            dd.busy.splice(dd.busy.indexOf(job), 1);
            if (job.ok) {
              accept(job.key, job.id);
              // Half the time the next event is handed to this dispatcher.
              const res = await w.finish(job.id, job.key, dd.token, 'done', now, rand() < 0.5 ? dd.token : '');
              if (Array.isArray(res)) {
                seen.handed++;
                dd.busy.push({ id: res[1], key: job.key, fromStream: false, handed: true,
                  at: now + Math.floor(rand() * 300), ok: rand() < 0.7 });
              }
            } else {
              // A retry's task differs from the one parked (its attempt).
              await redis.call('ZADD', w.retry, now + 20 + Math.floor(rand() * 200), `${w.task(job.id, job.key)}|a${now}`);
              await w.finish(job.id, job.key, dd.token, 'yield', now);
            }
            if (job.fromStream) await w.ack(job.id);
          }
        }
        if (r < 0.2) {
          for (const e of await w.read(d.name, 1 + Math.floor(rand() * 6))) {
            if (e.key === null || e.company !== w.company) await w.ack(e.id);
            else d.inbox.push({ ...e, fromStream: true });
          }
        } else if (r < 0.3) {
          for (const t of await w.due(now)) d.inbox.push({ ...t, fromStream: false });
        } else if (r < 0.302) {
          // kill -9: in-flight work is gone (a delivery may have reached
          // the receiver); stream entries stay pending for a claim, and
          // taken retries come back (their stream's pending list).
          for (const job of d.busy) {
            if (job.ok && rand() < 0.5) accept(job.key, job.id);
          }
          // (A handed event has no such copy: its guard repeats it.)
          for (const it of [...d.inbox, ...d.busy]) {
            if (!it.fromStream && !it.handed) await redis.call('ZADD', w.retry, now + 2000, w.task(it.id, it.key));
          }
          crashed.push({ name: d.name, at: now });
          seen.crash++;
          disp[disp.indexOf(d)] = fresh();
        } else if (r < 0.35 && crashed.length && crashed[0].at + 2000 <= now) {
          const dead = crashed.shift();
          const pend = await redis.call('XPENDING', w.events, GROUP, '-', '+', 1000, dead.name);
          for (const [id] of pend) {
            const claimed = await redis.call('XCLAIM', w.events, GROUP, d.name, 0, id);
            seen.claim++;
            for (const [cid, f] of claimed) {
              const m = {};
              for (let i = 0; i < f.length; i += 2) m[f[i]] = f[i + 1];
              d.inbox.push({ id: cid, key: m.ordering_key, fromStream: true });
            }
          }
        } else if (d.inbox.length) {
          const it = d.inbox.splice(Math.floor(rand() * d.inbox.length), 1)[0];
          const res = await w.start(it.id, it.key, d.token, now);
          seen[res]++;
          if (res === 'start') {
            d.busy.push({ ...it, at: now + Math.floor(rand() * 300), ok: rand() < 0.7 });
          } else if (it.fromStream) {
            await w.ack(it.id);
          }
        }
      }
      for (const k of Object.keys(order)) assert.deepEqual(accepted[k], order[k], `order of ${k}`);

    });
  }

  test('the random runs went through every path', () => {
    for (const what of Object.keys(seen)) assert.ok(seen[what] > 0, `no ${what} in ${JSON.stringify(seen)}`);
  });
});
