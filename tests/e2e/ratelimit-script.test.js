// The shared rate limiter (common/lua/ratelimit.lua) on its own, against a
// real redis-server, before any dispatcher uses it (issue 21). The clock is
// simulated (the script's test-only "now" argument) so that the checks are
// exact and the test does not depend on the machine's load:
//
//   - 1 500 requests (from any number of dispatchers: one key, one clock),
//     arriving in bursts and lulls, each retried after the wait the script
//     answers: every one is allowed in the end, no window of t seconds
//     holds more than burst + per_second x t of them, and the limiter is
//     not stricter than it must be (while a request waits, others go at
//     per_second);
//   - a wait answered is exact: one ms earlier is still refused;
//   - a receiver's pause (429 Retry-After) holds that endpoint, for every
//     caller, for that long, only grows, and leaves other endpoints alone;
//   - bad arguments are errors, and the key expires once idle.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, randomHex, startRedis, useHarness } from './lib/harness.js';

useHarness();

const SCRIPT = fs.readFileSync(path.join(REPO_ROOT, 'common', 'lua', 'ratelimit.lua'), 'utf8');
const rateKey = (sid) => `wh:webhook:${sid}:rate`;

describe('ratelimit.lua (GCRA shared by every dispatcher)', () => {
  let redis;
  let sha;
  before(async () => {
    redis = await startRedis();
    sha = await redis.call('SCRIPT', 'LOAD', SCRIPT);
  });
  const take = (key, perSecond, burst, nowMs) =>
    redis.call('EVALSHA', sha, 1, key, 'take', perSecond, burst, nowMs ?? '');
  const reserve = (key, perSecond, burst, maxWait, nowMs) =>
    redis.call('EVALSHA', sha, 1, key, 'reserve', perSecond, burst, maxWait, nowMs ?? '');
  const pause = (key, ms, nowMs) => redis.call('EVALSHA', sha, 1, key, 'pause', ms, nowMs ?? '');

  test('1 500 requests in bursts: never more than burst + rate x t in any window, all allowed', async () => {
    const key = rateKey(`WH${randomHex(8)}`);
    const perSecond = 50;
    const burst = 10;
    const t0 = 1_700_000_000_000;
    // Arrivals: bursts of up to 40 at once, then lulls of up to 3 s.
    let pending = [];
    let at = t0;
    let seq = 0;
    while (pending.length < 1500) {
      const n = Math.min(1500 - pending.length, 1 + Math.floor(Math.random() * 40));
      for (let i = 0; i < n; i++) pending.push({ at, arrival: at, id: seq++ });
      at += Math.floor(Math.random() * 3000);
    }
    const allowed = [];
    const served = [];
    let calls = 0;
    // Always serve the earliest pending request (what the three
    // dispatchers' clocks would do together), breaking ties by id.
    while (pending.length) {
      pending.sort((a, b) => a.at - b.at || a.id - b.id);
      const r = pending.shift();
      const [ok, wait] = await take(key, perSecond, burst, r.at);
      calls++;
      if (ok === 1) {
        assert.equal(wait, 0);
        allowed.push(r.at);
        served.push(r);
      } else {
        assert.ok(wait >= 1, `wait ${wait}`);
        pending.push({ ...r, at: r.at + wait });
      }
    }
    assert.equal(allowed.length, 1500);
    assert.ok(calls > 1500, 'some requests had to wait');
    for (let i = 0; i < allowed.length; i++) {
      for (let j = i; j < allowed.length; j++) {
        const t = (allowed[j] - allowed[i]) / 1000;
        const count = j - i + 1;
        // In whole ms: 50 x 2.26 is 112.99999999999999 in doubles.
        if (count * 1000 > burst * 1000 + perSecond * (allowed[j] - allowed[i])) {
          assert.fail(`${count} requests in ${t}s (from #${i}): over ${burst} + ${perSecond} x ${t}`);
        }
      }
    }
    // Not stricter than needed: while a request waited, the endpoint was
    // kept busy at per_second (one interval of rounding allowed).
    for (const r of served) {
      if (r.at === r.arrival) continue;
      const busy = allowed.filter((t) => t >= r.arrival && t <= r.at).length;
      const due = Math.floor(((r.at - r.arrival) * perSecond) / 1000) - 1;
      assert.ok(busy >= due, `request ${r.id} waited ${r.at - r.arrival} ms while only ${busy} went`);
    }
  });

  test('a full burst at once, then the wait answered is exact', async () => {
    const key = rateKey(`WH${randomHex(8)}`);
    const now = 1_700_000_000_000;
    for (let i = 0; i < 5; i++) assert.deepEqual(await take(key, 10, 5, now), [1, 0]);
    const [ok, wait] = await take(key, 10, 5, now);
    assert.equal(ok, 0);
    assert.equal(wait, 100);
    assert.equal((await take(key, 10, 5, now + wait - 1))[0], 0);
    assert.deepEqual(await take(key, 10, 5, now + wait), [1, 0]);
    // A refused request is not counted: asking again and again changes
    // nothing.
    for (let i = 0; i < 20; i++) assert.equal((await take(key, 10, 5, now + wait + 1))[0], 0);
    assert.deepEqual(await take(key, 10, 5, now + 2 * wait), [1, 0]);
  });

  test('a receiver\'s pause holds the endpoint for everyone, only grows, other endpoints go on', async () => {
    const key = rateKey(`WH${randomHex(8)}`);
    const other = rateKey(`WH${randomHex(8)}`);
    const now = 1_700_000_000_000;
    assert.deepEqual(await take(key, 100, 10, now), [1, 0]);
    assert.equal(await pause(key, 2000, now), 2000);
    assert.deepEqual(await take(key, 100, 10, now + 1), [0, 1999]);
    assert.deepEqual(await take(key, 100, 10, now + 1500), [0, 500]);
    // A shorter pause later does not cut the longer one.
    assert.equal(await pause(key, 100, now + 1500), 500);
    assert.deepEqual(await take(other, 100, 10, now + 1500), [1, 0]);
    assert.deepEqual(await take(key, 100, 10, now + 2000), [1, 0]);
  });

  test('the Redis clock is used when no "now" is given, and an idle key expires', async () => {
    const key = rateKey(`WH${randomHex(8)}`);
    assert.deepEqual(await take(key, 1000, 1), [1, 0]);
    const ttl = await redis.call('PTTL', key);
    assert.ok(ttl > 0 && ttl <= 1001 + 1, `pttl ${ttl}`);
    const slow = rateKey(`WH${randomHex(8)}`);
    assert.deepEqual(await take(slow, 0.5, 1), [1, 0]);
    const [ok, wait] = await take(slow, 0.5, 1);
    // 0.5/s, burst 1, right after a request: about 2 s to wait.
    assert.equal(ok, 0);
    assert.ok(wait > 1000 && wait <= 2000, `wait ${wait}`);
    assert.ok(await pause(key, 60000) >= 59999);
    const pttl = await redis.call('PTTL', key);
    assert.ok(pttl > 60000, `pttl ${pttl} outlives the pause`);
  });

  test('reserve: counted for a moment at most max wait ahead, spaced 1/rate, never more than burst + rate x t', async () => {
    const key = rateKey(`WH${randomHex(8)}`);
    const now = 1_700_000_000_000;
    // 40 callers at once, 50/s, burst 1, up to 100 ms ahead: the first
    // now, then 20, 40, 60, 80, 100 ms (6 counted), the rest refused with
    // the wait to the next free moment, uncounted.
    const got = [];
    for (let i = 0; i < 40; i++) got.push(await reserve(key, 50, 1, 100, now));
    assert.deepEqual(got.slice(0, 6), [[1, 0], [1, 20], [1, 40], [1, 60], [1, 80], [1, 100]]);
    assert.ok(got.slice(6).every(([ok, wait]) => ok === 0 && wait === 120), JSON.stringify(got.slice(6, 8)));
    // At 30 ms: the next free moment is 120 ms, 90 ms ahead: counted.
    assert.deepEqual(await reserve(key, 50, 1, 100, now + 30), [1, 90]);
    // take never reserves: refused while a moment is ahead.
    assert.deepEqual(await take(key, 50, 1, now + 30), [0, 110]);
    assert.deepEqual(await reserve(key, 50, 1, 0, now + 30), [0, 110]);
    // Over many callers and times, the moments counted keep the bound.
    const k2 = rateKey(`WH${randomHex(8)}`);
    const moments = [];
    for (let t = 0; t < 5000; t += 7) {
      for (let c = 0; c < 3; c++) {
        const [ok, wait] = await reserve(k2, 50, 3, 100, now + t);
        if (ok === 1) moments.push(now + t + wait);
      }
    }
    moments.sort((a, b) => a - b);
    for (let i = 0; i < moments.length; i++) {
      for (let j = i; j < moments.length && moments[j] - moments[i] <= 1000; j++) {
        assert.ok((j - i + 1) * 1000 <= 3000 + 50 * (moments[j] - moments[i]), `window ${i}..${j}`);
      }
    }
    // Asked for 5 s, counted for moments up to 100 ms later: 3 + 50 x 5.1.
    assert.ok(moments.length >= 250 && moments.length <= 258, `${moments.length} counted in 5 s at 50/s, burst 3`);
    await assert.rejects(reserve(key, 50, 1, -1, now), /max wait >= 0/);
  });

  test('bad arguments are errors', async () => {
    const key = rateKey(`WH${randomHex(8)}`);
    await assert.rejects(take(key, 0, 10), /per_second > 0/);
    await assert.rejects(take(key, 'x', 10), /per_second > 0/);
    await assert.rejects(take(key, 10, 0), /burst >= 1/);
    await assert.rejects(pause(key, -1), /ms >= 0/);
    await assert.rejects(redis.call('EVALSHA', sha, 1, key, 'nope'), /unknown/);
  });
});
