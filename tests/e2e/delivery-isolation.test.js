// Isolation acceptance test of the delivery engine (issue 5): a customer
// endpoint that never answers must not hurt the others. One webhook's
// receiver never answers (timeout_ms 1000), another's answers at once; they
// belong to different companies. The fast one's delivery rate with the dead
// one present must stay >= 0.8 of its rate alone.
//
// Also the per-endpoint cap (WH_ENDPOINT_CONCURRENCY): never more transfers
// in flight to one endpoint than the cap, and the deliveries that overflow
// are deferred without counting an attempt.
//
// E2E_ISOLATION_EVENTS sets N (default 5000: each timed run is then about
// 250 ms on 2 cores; with 2000 the runs were ~100 ms and one scheduling
// hiccup decided the ratio about once in ten suites).
// The ratio only means something if the fast endpoint alone is not
// throttled, so its rate alone must also reach a (low) floor.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  KEYS,
  attemptLog,
  createWebhook,
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

useHarness();

const N = Number(process.env.E2E_ISOLATION_EVENTS || 5000);
// Deliveries/s one dispatcher must reach to one fast loopback endpoint on
// its own (unthrottled it does several thousand; this only catches a
// throttle). E2E_ISOLATION_MIN_RATE overrides.
const MIN_RATE = Number(process.env.E2E_ISOLATION_MIN_RATE || 1000);

function events(company, tag, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push({ company_sid: company, event_type: 'call.ended', payload: `{"i":${i}}`, event_sid: `evt_${tag}_${i}_${randomHex(3)}` });
  }
  return out;
}

function interleave(a, b) {
  const out = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]);
    if (i < b.length) out.push(b[i]);
  }
  return out;
}

describe('delivery: a dead endpoint does not slow the others', () => {
  let stack;
  let fast;
  let slow;
  let alone = null; // best deliveries/s of the fast endpoint alone
  const FAST_CO = 'CO_iso_fast';
  const SLOW_CO = 'CO_iso_slow';

  before(async () => {
    stack = await startStack({ dispatchers: 1 });
    fast = await startReceiver();
    slow = await startReceiver({ delayMs: 600000 }); // never answers
    await createWebhook(stack, { company_sid: FAST_CO, label: 'fast', url: fast.url('/fast') });
    await createWebhook(stack, { company_sid: SLOW_CO, label: 'slow', url: slow.url('/slow'), timeout_ms: 1000 });
  });

  // Publish `list` in one MULTI/EXEC (so the dispatcher sees it all at once
  // and the timing is the dispatcher's, not this process's publishing) and
  // time from then until `expectFast` more requests reached the fast
  // receiver; also the most deliveries seen waiting in the retry set
  // meanwhile. Resolves with {rate (deliveries/s), ms, maxRetry}.
  async function fastRun(list, expectFast, what) {
    const base = fast.requests.length;
    let maxRetry = 0;
    let done = false;
    const poll = (async () => {
      while (!done) {
        maxRetry = Math.max(maxRetry, await stack.redis.call('ZCARD', KEYS.part(partitionOf(FAST_CO), 'retry')));
        await sleep(25);
      }
    })();
    let t0;
    try {
      await publishEvents(stack.redis, list, { atomic: true });
      t0 = performance.now();
      await fast.waitFor(base + expectFast, 60000);
    } finally {
      done = true;
      await poll;
    }
    const ms = performance.now() - t0;
    const rate = (expectFast / ms) * 1000;
    process.stderr.write(`# isolation: ${what}: ${expectFast} fast deliveries in ${ms.toFixed(0)} ms = ${rate.toFixed(0)}/s (retry set peaked at ${maxRetry})\n`);
    return { rate, ms, maxRetry };
  }

  // Best of a few runs: one scheduling hiccup on a small box must not
  // decide (the suite's ratio dipped to 0.79 with ~100 ms runs, when it is
  // ~1.0 otherwise).
  // enough(best) ends the tries early once the best run says enough.
  async function bestOf(runs, make, what, enough = () => false) {
    let best = null;
    for (let i = 0; i < runs && !(best && enough(best)); i++) {
      const r = await fastRun(make(i), N, `${what} #${i + 1}`);
      if (!best || r.rate > best.rate) best = r;
    }
    return best;
  }

  test(`alone: a burst of N=${N} events to one fast endpoint is delivered at >= ${MIN_RATE}/s`, async () => {
    await fastRun(events(FAST_CO, 'warm', 200), 200, 'warm-up');
    const best = await bestOf(2, (i) => events(FAST_CO, `alone${i}`, N), 'alone');
    alone = best.rate;
    await waitQueuesIdle(stack.redis, { timeoutMs: 10000 });
    // Without this floor the ratio below would say nothing: a fast endpoint
    // throttled on its own (e.g. its burst deferred through the retry set
    // in 1 s steps) makes any "with the dead one" rate look good.
    assert.ok(
      best.rate >= MIN_RATE,
      `one fast endpoint alone got ${best.rate.toFixed(0)} deliveries/s (${N} in ${best.ms.toFixed(0)} ms), want >= ${MIN_RATE}/s; ` +
        `the retry set (of the fast company's partition) held up to ${best.maxRetry} deliveries meanwhile although the receiver never failed`,
    );
  });

  test(`with a dead endpoint fed the same load, the fast one keeps >= 0.8 of its rate alone (N=${N})`, async () => {
    if (alone === null) {
      alone = (await bestOf(1, () => events(FAST_CO, 'alone-again', N), 'alone')).rate;
      await waitQueuesIdle(stack.redis, { timeoutMs: 10000 });
    }
    // Up to MIXED_RUNS tries, ending at the first that keeps 0.8: on 2
    // cores the three processes (redis, the dispatcher, this process's
    // receiver) are CPU-bound together, so a run's rate moves by +-20 %
    // with the machine (a CI run once measured 0.7996 with 3 tries, when
    // this box's best is 0.90-0.99). Noise only slows a run down; what
    // this guards against (fast deliveries waiting behind the dead
    // endpoint's slots or its backlog) costs far more than 20 % in every try.
    const MIXED_RUNS = 5;
    const best = await bestOf(MIXED_RUNS, (i) => interleave(events(SLOW_CO, `slow${i}`, N), events(FAST_CO, `mixed${i}`, N)),
      'with the dead endpoint', (b) => b.rate / alone >= 0.8);
    const ratio = best.rate / alone;
    process.stderr.write(`# isolation: ratio ${ratio.toFixed(2)} (the dead endpoint was sent ${slow.requests.length} requests)\n`);
    assert.ok(slow.requests.length > 0, 'the dead endpoint was being tried meanwhile');
    assert.ok(ratio >= 0.8, `fast endpoint with a dead one present: ${best.rate.toFixed(0)}/s = ${ratio.toFixed(2)} of ${alone.toFixed(0)}/s alone (want >= 0.8)`);
    const ids = new Set(fast.requests.map((r) => r.headers['webhook-id']));
    assert.equal(ids.size, fast.requests.length, 'no duplicate fast deliveries');
  });
});

// ---------------------------------------------------------------------------

// Several customers down at once is an ordinary day. Four dead endpoints,
// each with a backlog, must still leave the healthy one its speed: what
// waits for a saturated endpoint must not stop the reading for everyone.
describe('delivery: several dead endpoints do not stall a healthy one', () => {
  let stack;

  before(async () => {
    stack = await startStack({ dispatchers: 1 });
  });

  test('4 dead endpoints with 300 events each: 100 events to a healthy endpoint arrive about as fast as alone', async () => {
    const fast = await startReceiver();
    const dead = await startReceiver({ delayMs: 600000 });
    await createWebhook(stack, { company_sid: 'CO_multi_fast', label: 'fast', url: fast.url('/fast') });
    for (let k = 0; k < 4; k++) {
      await createWebhook(stack, { company_sid: `CO_multi_dead${k}`, label: `dead${k}`, url: dead.url(`/dead${k}`), timeout_ms: 1000 });
    }
    const timeFast = async (tag) => {
      const base = fast.requests.length;
      const t0 = performance.now();
      await publishEvents(stack.redis, events('CO_multi_fast', tag, 100));
      await fast.waitFor(base + 100, 30000);
      return performance.now() - t0;
    };
    await timeFast('mwarm');
    const alone = Math.min(await timeFast('malone1'), await timeFast('malone2'));

    const backlog = [];
    for (let k = 0; k < 4; k++) backlog.push(...events(`CO_multi_dead${k}`, `mdead${k}`, 300));
    await publishEvents(stack.redis, backlog);
    await waitUntil(() => dead.requests.length >= 4 * 32, { timeoutMs: 10000, what: 'the dead endpoints to be saturated' });
    const withDead = await timeFast('mwith');
    process.stderr.write(`# isolation: 100 healthy deliveries: ${alone.toFixed(0)} ms alone, ${withDead.toFixed(0)} ms with 4 dead endpoints (${dead.requests.length} requests held)\n`);
    const bound = 2 * alone + 250;
    assert.ok(withDead <= bound, `100 deliveries to the healthy endpoint took ${withDead.toFixed(0)} ms with 4 dead endpoints vs ${alone.toFixed(0)} ms alone (want <= ${bound.toFixed(0)} ms)`);
  });
});

// ---------------------------------------------------------------------------

describe('delivery: per-endpoint cap (WH_ENDPOINT_CONCURRENCY=4)', () => {
  let stack;

  before(async () => {
    stack = await startStack({ dispatchers: 1, env: { WH_ENDPOINT_CONCURRENCY: '4' } });
  });

  test('at most 4 transfers in flight to the endpoint; overflow deferred without using an attempt', async () => {
    const company = 'CO_iso_cap';
    const DELAY = 150;
    const COUNT = 40; // 10 rounds of 4: more than the 4 x 4 the endpoint queues, so some are deferred
    let inflight = 0;
    let maxInflight = 0;
    const got = [];
    const server = http.createServer((req, res) => {
      inflight++;
      maxInflight = Math.max(maxInflight, inflight);
      got.push(req.headers['webhook-id']);
      req.resume();
      req.on('end', () =>
        setTimeout(() => {
          res.writeHead(200).end();
        }, DELAY),
      );
      res.on('close', () => {
        inflight--;
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { webhook } = await createWebhook(stack, {
        company_sid: company,
        label: 'cap',
        url: `http://127.0.0.1:${server.address().port}/cap`,
        max_attempts: 1, // a counted failure would be a dead letter, not a retry
      });
      const list = events(company, 'cap', COUNT);
      await publishEvents(stack.redis, list);
      await waitUntil(() => got.length >= COUNT, { timeoutMs: 20000, what: `${COUNT} deliveries to the capped endpoint` });
      await waitQueuesIdle(stack.redis, { timeoutMs: 10000 });
      await sleep(200);

      assert.ok(maxInflight <= 4, `at most 4 in flight at the endpoint, saw ${maxInflight}`);
      assert.equal(maxInflight, 4, 'the cap is used');
      assert.equal(got.length, COUNT, 'each delivered once');
      assert.equal(new Set(got).size, COUNT, 'no duplicates');
      const log = await attemptLog(stack.redis, webhook.sid);
      assert.equal(log.length, COUNT, `one attempt each: ${log.length} logged`);
      for (const e of log) {
        assert.equal(e.fields.attempt, '1', `deferral did not count an attempt: ${JSON.stringify(e.fields)}`);
        assert.equal(e.fields.outcome, 'succeeded');
      }
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
