// Scale with work: a backlog of 1 000 000 events drained by one dispatcher
// (its memory must stay flat: the work waits in Redis, not in the
// dispatcher), and a retry storm of 100 000 tasks coming due together
// (ZADDed straight into wh:{0}:retry in the task format, lib/task.mjs).
// Each is compared with a short drain of the same dispatcher run just
// before it in the same section (a rate measured minutes earlier would
// compare two moments of a shared machine).
import fs from 'node:fs';
import { CONFIG } from '../lib/config.mjs';
import { PAYLOAD, EVENT_TYPE } from '../lib/payload.mjs';
import { memory, sleep } from '../lib/procs.mjs';
import { encodeCommand, pipeline } from '../lib/redisload.mjs';
import { median, percentile } from '../lib/stats.mjs';
import { EVENTS, RETRIES, RETRY, createWebhook, startApi, startDispatcher } from '../lib/stack.mjs';
import { encodeTask } from '../lib/task.mjs';
import { drain, preload } from './delivery.mjs';


async function usedMemory(client) {
  const info = await client.call('INFO', 'memory');
  return Number(/used_memory:(\d+)/.exec(info)[1]);
}

export async function backlog({ redis, nginx }) {
  const n = CONFIG.bigBacklog;
  const api = await startApi(redis.url, { workers: 1 });
  await createWebhook(api, 'CO_big', nginx.url('/hook/big'));
  await api.proc.stop();
  const short = await drain(redis, { dispatchers: 1, company: 'CO_big', events: CONFIG.backlog, fanout: 1 });

  const before = await usedMemory(redis.client);
  const tp = Date.now();
  await preload(redis, 'CO_big', n);
  const publishSeconds = (Date.now() - tp) / 1000;
  const after = await usedMemory(redis.client);

  // One sample every 250 ms: (time, events left, dispatcher RSS).
  const d = startDispatcher(redis.url, {}, 'dispatcher-backlog');
  const t0 = Date.now();
  const samples = [];
  for (;;) {
    d.check();
    const [events, retry, retries] = await Promise.all([redis.client.call('XLEN', EVENTS),
      redis.client.call('ZCARD', RETRY), redis.client.call('XLEN', RETRIES)]);
    const left = Number(events);
    samples.push({ t: Date.now() - t0, left, deferred: Number(retry) + Number(retries), rss: memory(d.pid).rss });
    if (left + Number(retry) + Number(retries) === 0) break;
    if (Date.now() - t0 > 900000) throw new Error('the backlog did not drain in 15 minutes');
    await sleep(250);
  }
  const seconds = (Date.now() - t0) / 1000;
  const peak = memory(d.pid).hwm;
  await d.stop();
  // Flat means: once warmed up (the first 10 % drained), every sample lies
  // within ±10 % of the middle of the band they span, i.e. the band's
  // half-width (max - min) / (max + min) is at most 0.10. Memory that grew
  // with the backlog (1.2 GB of it in Redis) would break that at once.
  const steady = samples.filter((s) => s.left <= n * 0.9 && s.rss > 0).map((s) => s.rss);
  const lo = Math.min(...steady), hi = Math.max(...steady);
  const band = steady.length ? (hi - lo) / (hi + lo) : null;
  process.stderr.write('bench: 1M backlog done\n');
  return {
    events: n, publishSeconds, publishRate: n / publishSeconds, bytesPerEvent: (after - before) / n,
    drainSeconds: seconds, rate: n / seconds, rssMedian: median(steady), rssMin: lo, rssMax: hi,
    rssBand: band, peakMiB: peak, short, at: [t0, t0 + seconds * 1000], maxDeferred: Math.max(...samples.map((x) => x.deferred)), samples: samples.filter((_, i) => i % 4 === 0),
  };
}

export async function storm({ redis, nginx }) {
  const n = CONFIG.storm;
  const api = await startApi(redis.url, { workers: 1 });
  const hook = await createWebhook(api, 'CO_storm', nginx.url('/timed/storm'));
  await createWebhook(api, 'CO_storm_ref', nginx.url('/hook/storm-ref'));
  await api.proc.stop();
  const short = await drain(redis, { dispatchers: 1, company: 'CO_storm_ref', events: CONFIG.backlog, fanout: 1 });
  fs.writeFileSync(nginx.timedLog, ''); // nginx appends (O_APPEND) from here
  if (Number(await redis.client.call('ZCARD', RETRY)) !== 0) throw new Error('the retry set is not empty before the storm');

  // Every task is due at the same instant `due`, far enough ahead that
  // loading them all ends first (checked below).
  const loadStart = Date.now();
  const due = loadStart + 2000 + Math.ceil(n / 40);
  const first = loadStart - 5000;
  const tasks = (i) => encodeCommand(['ZADD', RETRY, String(due), encodeTask({
    event: { event_sid: `evt_storm_${i}`, company_sid: 'CO_storm', event_type: EVENT_TYPE, payload: PAYLOAD, created_at: first },
    webhook_sid: hook.sid, attempt: 2, first_attempt_at: first, due_at: due, last_error: 'HTTP 503',
  })]);
  await pipeline(redis.port, n, tasks);
  const loaded = Date.now();
  if (loaded > due - 500) throw new Error(`loading ${n} retries took ${loaded - loadStart} ms, past their due time`);
  if (Number(await redis.client.call('ZCARD', RETRY)) !== n) throw new Error('retry set does not hold every task');

  const d = startDispatcher(redis.url, {}, 'dispatcher-storm');
  // Poll every 10 ms. Moves happen in due order, so the first time only
  // 1 % is left in the retry set is the move lateness p99. Done is both
  // the set and the stream empty at once: the dispatcher's fairness may
  // defer part of one endpoint's burst back into the set (50 ms later).
  let movedP99 = null, movedFirstEmpty = null;
  for (;;) {
    d.check();
    const left = Number(await redis.client.call('ZCARD', RETRY));
    const queued = Number(await redis.client.call('XLEN', RETRIES));
    const now = Date.now();
    if (now > due + 600000) throw new Error('retry storm not delivered in 10 minutes');
    if (movedP99 == null && left <= n * 0.01) movedP99 = now - due;
    if (movedFirstEmpty == null && left === 0) movedFirstEmpty = now - due;
    if (left === 0 && queued === 0) break;
    await sleep(10);
  }
  const deliveredAll = Date.now() - due;
  const peak = memory(d.pid).hwm;
  await d.stop();
  await sleep(500); // nginx flushes its log buffer every 200 ms
  const arrivals = fs.readFileSync(nginx.timedLog, 'utf8').trim().split('\n').filter(Boolean)
    .map((line) => Math.round(Number(line) * 1000) - due).sort((a, b) => a - b);
  // At least once: more than n would be duplicates (reported), fewer a loss.
  if (arrivals.length < n) throw new Error(`retry storm: nginx saw ${arrivals.length} of ${n} deliveries`);
  process.stderr.write('bench: retry storm done\n');
  return {
    tasks: n, loadSeconds: (loaded - loadStart) / 1000, moveP99Ms: movedP99, moveAllMs: movedFirstEmpty, duplicates: arrivals.length - n,
    deliverAllMs: deliveredAll, rate: n / (deliveredAll / 1000), short, at: [due, due + deliveredAll],
    latenessP50Ms: percentile(arrivals, 50), latenessP99Ms: percentile(arrivals, 99), latenessMaxMs: arrivals[arrivals.length - 1],
    earliestMs: arrivals[0], peakMiB: peak,
  };
}
