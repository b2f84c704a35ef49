// Ingest: POST /v1/events and POST /v1/events:batch under wrk, next to
// the Kore no-op route (same kore, same config, same wrk script and body)
// and redis-benchmark XADD (the Redis side's ceiling), at zero delay and
// with Redis 1 ms away behind tests/bench/delayproxy.c.
//
// The runs of one repetition are interleaved (no-op, api, no-op, api, ...)
// so that a shared machine's load drifts over both sides of each ratio.
//
// No dispatcher drains the stream here, so while the api is loaded a
// trimmer keeps it near TRIM_KEEP entries, as dispatchers would in
// service (they delete what they acked). Left to grow, one batch run put
// ~1.7 GB in Redis; trimming that at once made the allocator hand it back
// to the kernel during the next runs, and those (the no-op's included)
// lost up to 15 % to it, varying from run to run. After each run the
// allocator is also told to return its free memory at once (MEMORY
// PURGE), so that every run starts from the same Redis.
const TRIM_KEEP = '50000';
const TRIM_EVERY_MS = 100;
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect } from '../../e2e/lib/resp.js';
import { CONFIG } from '../lib/config.mjs';
import { cpuMeter } from '../lib/cpu.mjs';
import { PAYLOAD, EVENT_TYPE } from '../lib/payload.mjs';
import { median } from '../lib/stats.mjs';
import { AUTH, EVENTS, startApi, startDelayProxy, startKoreNoop } from '../lib/stack.mjs';
import { timed } from '../lib/when.mjs';
import { wrk } from '../lib/wrk.mjs';

const run = promisify(execFile);
const COMPANY = 'CO_ingest';

export function bodies(dir) {
  const event = { company_sid: COMPANY, event_type: EVENT_TYPE, payload: JSON.parse(PAYLOAD) };
  const single = path.join(dir, 'event.json');
  const batch = path.join(dir, 'batch.json');
  fs.writeFileSync(single, JSON.stringify(event));
  fs.writeFileSync(batch, JSON.stringify({ events: Array.from({ length: CONFIG.batchSize }, () => event) }));
  return { single, batch };
}

// One request first: a route that does not answer 202 (e.g. the batch
// route before it exists) is reported as such instead of being loaded.
async function probe(url, file) {
  const res = await fetch(url, {
    method: 'POST', body: fs.readFileSync(file),
    headers: { authorization: AUTH, 'content-type': 'application/json' },
  });
  await res.arrayBuffer();
  return res.status === 202 ? null : `answered ${res.status}`;
}

// redis-benchmark of the api's own XADD (same key shape, five fields):
// { rps, at }.
async function redisBenchmark(port, pipeline) {
  const t0 = Date.now();
  const key = 'bench:xadd';
  const args = ['-h', '127.0.0.1', '-p', String(port), '-c', '50', '-n', String(CONFIG.redisBenchN),
    '-P', String(pipeline), '--csv', 'XADD', key, '*', 'company_sid', COMPANY, 'event_type', EVENT_TYPE,
    'payload', PAYLOAD, 'event_sid', 'evt_0123456789abcdef0123456789', 'ts', String(Date.now())];
  const { stdout } = await run('redis-benchmark', args, { maxBuffer: 1 << 24 });
  await run('redis-cli', ['-p', String(port), 'DEL', key]);
  await run('redis-cli', ['-p', String(port), 'MEMORY', 'PURGE']);
  // --csv: a header line, then "test","rps",...
  const line = stdout.trim().split('\n').pop();
  const rps = Number(line.split('","')[1]);
  if (!rps) throw new Error(`redis-benchmark: cannot read ${stdout.slice(-300)}`);
  return { rps, at: [t0, Date.now()] };
}

// Median of 200 sequential PINGs through a client: the RTT the api sees.
async function rtt(client) {
  const t = [];
  for (let i = 0; i < 200; i++) {
    const t0 = process.hrtime.bigint();
    await client.call('PING');
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(t);
}

// One wrk run of route r against target (the api or the no-op), with a
// trimmer keeping redis' stream short; what its events cost in CPU: the
// Kore workers, Redis, and how busy the machine was (wrk is the rest).
export async function loadRoute(redis, target, r) {
  const meter = await cpuMeter({ trees: { kore: [target.proc.pid] }, redis: redis.client });
  let trimming = Promise.resolve();
  const trimmer = setInterval(() => {
    trimming = trimming.then(() => redis.client.call('XTRIM', EVENTS, 'MAXLEN', '~', TRIM_KEEP));
  }, TRIM_EVERY_MS);
  let res;
  try {
    res = await timed(() => wrk({
      url: target.url(r.path), script: 'body.lua', seconds: CONFIG.wrkSeconds, connections: r.connections,
      env: { BENCH_BODY_FILE: r.file, BENCH_AUTH: AUTH },
    }));
  } finally {
    clearInterval(trimmer);
    await trimming;
  }
  const cpu = await meter.stop(Math.max(1, res.requests * r.events));
  // Drop what is left of the run's events, and have the allocator give
  // the memory back now rather than during the next run.
  await redis.client.call('XTRIM', EVENTS, 'MAXLEN', '0');
  await redis.client.call('MEMORY', 'PURGE');
  return { ...res, eps: res.rps * r.events, cpu };
}

export async function ingest({ tmp, redis }) {
  const files = bodies(tmp);
  const noop = await startKoreNoop(tmp, { workers: CONFIG.workers });
  const api = await startApi(redis.url, { workers: CONFIG.workers });
  const proxy = await startDelayProxy(redis.port, CONFIG.delayOneWayUs);
  const slow = await startApi(proxy.url, { workers: CONFIG.workers, name: 'api-delayed' });
  const viaProxy = await connect({ port: proxy.port });
  const measuredRtt = await rtt(viaProxy);
  viaProxy.close();

  const routes = {
    single: { path: '/v1/events', file: files.single, connections: CONFIG.ingestConnections, events: 1 },
    batch: { path: '/v1/events:batch', file: files.batch, connections: CONFIG.batchConnections, events: CONFIG.batchSize },
  };
  const unavailable = {};
  for (const [name, r] of Object.entries(routes)) {
    const why = await probe(api.url(r.path), r.file);
    if (why) unavailable[name] = why;
  }
  await redis.client.call('XTRIM', EVENTS, 'MAXLEN', '0');

  const out = { workers: CONFIG.workers, batchSize: CONFIG.batchSize, rttMs: measuredRtt, unavailable, runs: [] };
  const load = (target, r) => loadRoute(redis, target, r);
  for (let i = 0; i < CONFIG.repeat; i++) {
    const rep = {};
    for (const [name, r] of Object.entries(routes)) {
      rep[`noop_${name}`] = await load(noop, r);
      if (!unavailable[name]) rep[`api_${name}`] = await load(api, r);
    }
    rep.xadd_p1 = await redisBenchmark(redis.port, 1);
    rep.xadd_p16 = await redisBenchmark(redis.port, 16);
    for (const [name, r] of Object.entries(routes)) {
      if (!unavailable[name]) rep[`delayed_${name}`] = await load(slow, r);
    }
    for (const p of [noop.proc, api.proc, slow.proc, proxy.proc]) p.check();
    out.runs.push(rep);
    process.stderr.write(`bench: ingest repetition ${i + 1}/${CONFIG.repeat} done\n`);
  }
  for (const p of [slow.proc, proxy.proc, api.proc, noop.proc]) await p.stop();
  return out;
}
