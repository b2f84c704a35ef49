// Delivery: one and two dispatchers draining a backlog into nginx (1 KiB
// payload; 1 webhook per event, and a fan-out of 10), next to the bare
// libcurl client (barecurl.c) and wrk POSTing the same request (captured
// from a real delivery, lib/request.mjs) to the same nginx; one
// dispatcher's drain again with Redis' AOF on, and Redis' time per
// delivery by command; publish -> receive latency at a fixed offered load
// into a timing receiver of its own process; the dispatcher's peak
// memory, draining and with 1000 transfers held open.
import http from 'node:http';
import path from 'node:path';
import { CONFIG } from '../lib/config.mjs';
import { cpuMeter } from '../lib/cpu.mjs';
import { PAYLOAD, EVENT_TYPE } from '../lib/payload.mjs';
import { Proc, ROOT, freePort, memorySampler, memory, sleep, waitFor } from '../lib/procs.mjs';
import { aofRewrites, commandStats, perUnit, resetCommandStats, setAof } from '../lib/redisinfo.mjs';
import { encodeCommand, pipeline } from '../lib/redisload.mjs';
import { bareCurl, captureServer, requestDiff, writeRequest } from '../lib/request.mjs';
import { percentile } from '../lib/stats.mjs';
import { EVENTS, createWebhook, drained, startApi, startDispatcher } from '../lib/stack.mjs';
import { timed } from '../lib/when.mjs';
import { wrk } from '../lib/wrk.mjs';

// Put `n` events of `company` on the stream, as fast as Redis takes them.
// Without event_sid or ts: the dispatcher derives them from the entry id.
export function preload(redis, company, n) {
  const cmd = encodeCommand(['XADD', EVENTS, '*', 'company_sid', company, 'event_type', EVENT_TYPE, 'payload', PAYLOAD]);
  return pipeline(redis.port, n, () => cmd);
}

// Drain `events` queued events with `n` dispatchers; the clock runs from
// starting the dispatchers to the stream being empty (every event acked).
// With `nginx`, also the CPU each delivery cost the dispatchers, Redis and
// nginx, and how busy the machine was; with `commands`, Redis' time per
// delivery by command (INFO commandstats over the drain: the bench's own
// polling, a few XLEN and ZCARD, is in it) and the AOF rewrites it saw.
// `load` puts the events on the stream (preload unless given).
export async function drain(redis, { dispatchers, company, events, fanout, env = {}, nginx = null, commands = false, load = preload }) {
  await load(redis, company, events);
  const meter = nginx ? await cpuMeter({ trees: { nginx: [nginx.proc.pid] }, redis: redis.client }) : null;
  if (commands) await resetCommandStats(redis.client);
  const t0 = Date.now();
  const ds = [];
  for (let i = 0; i < dispatchers; i++) ds.push(startDispatcher(redis.url, env, `dispatcher-${i}`));
  const mem = memorySampler(ds.map((d) => d.pid));
  const t1 = await drained(redis.client, { tick: () => ds.forEach((d) => d.check()) });
  const { peak } = mem.stop();
  const cpu = meter ? await meter.stop(events * fanout, { dispatcher: ds.map((d) => d.pid) }) : null;
  const perCommand = commands ? perUnit(await commandStats(redis.client), events * fanout) : null;
  // CONFIG RESETSTAT zeroed the count: what it says now is this drain's.
  const rewrites = commands ? await aofRewrites(redis.client) : null;
  for (const d of ds) await d.stop();
  const seconds = (t1 - t0) / 1000;
  return { deliveries: events * fanout, seconds, rate: (events * fanout) / seconds, peakMiB: peak, cpu, perCommand, rewrites, at: [t0, t1] };
}

// The request one dispatcher really sends to a webhook of `company`,
// written to `file` for barecurl and wrk; barecurl's own request to the
// same server is checked to have the same shape (header names and value
// lengths, body length) before it is trusted as the ceiling.
async function captureRequest(redis, capture, company, file) {
  await preload(redis, company, 1);
  const d = startDispatcher(redis.url, {}, 'dispatcher-capture');
  const sent = await capture.next('the dispatcher\'s request');
  await drained(redis.client, { ms: 30000, tick: () => d.check() });
  await d.stop();
  writeRequest(file, sent);
  await bareCurl({ url: capture.url('/capture/bare'), concurrency: 1, count: 1, file });
  const why = requestDiff(sent, await capture.next('barecurl\'s request'));
  if (why) throw new Error(`barecurl does not send the dispatcher's request: ${why}`);
  return file;
}

// The timing receiver (receiver.mjs) as a child with an IPC channel.
async function startReceiver() {
  const port = await freePort();
  const proc = new Proc('receiver', process.execPath, [path.join(ROOT, 'tests/bench/receiver.mjs'), String(port)], { ipc: true });
  const messages = [];
  let waiter = null;
  proc.child.on('message', (m) => { messages.push(m); if (waiter) waiter(); });
  const next = async () => {
    while (!messages.length) {
      await new Promise((resolve) => { waiter = resolve; setTimeout(resolve, 1000); });
      proc.check();
    }
    return messages.shift();
  };
  await next(); // {ready}
  return {
    port, proc,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    collect: async () => { proc.child.send('collect'); return (await next()).lat_us; },
  };
}

// Publish `rate` events/s of `company` for `seconds`, each stamped with the
// monotonic clock in its event_sid (see receiver.mjs).
async function publishAtRate(redis, company, rate, seconds) {
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  let sent = 0;
  const pending = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const us = Number(process.hrtime.bigint() / 1000n);
      pending.push(redis.client.call('XADD', EVENTS, '*', 'company_sid', company, 'event_type', EVENT_TYPE,
        'payload', PAYLOAD, 'event_sid', `lat_${us}_${sent}`));
    }
    await sleep(1);
  }
  await Promise.all(pending);
  return total;
}

async function latency(redis, receiver, { company, fanout, rate }) {
  const d = startDispatcher(redis.url, {}, 'dispatcher-latency');
  await sleep(300);
  // Warm-up (connections to the receiver opened), not counted.
  await publishAtRate(redis, company, 200, 0.25);
  await drained(redis.client, { ms: 30000, tick: () => d.check() });
  await receiver.collect();
  const events = await publishAtRate(redis, company, rate, CONFIG.latencySeconds);
  await drained(redis.client, { ms: 60000, tick: () => d.check() });
  const lat = Float64Array.from(await receiver.collect()).sort();
  await d.stop();
  if (lat.length !== events * fanout) throw new Error(`latency: ${lat.length} arrivals for ${events * fanout} deliveries`);
  return { p50: percentile(lat, 50) / 1000, p99: percentile(lat, 99) / 1000, max: lat[lat.length - 1] / 1000, n: lat.length };
}

// Peak memory with `n` transfers in flight: a receiver that holds every
// answer for 3 s, and a dispatcher allowed n transfers to one endpoint.
async function inflightMemory(redis, company, hold, n) {
  await preload(redis, company, n);
  const d = startDispatcher(redis.url, { WH_DISPATCH_CONCURRENCY: String(n), WH_ENDPOINT_CONCURRENCY: String(n) }, 'dispatcher-hold');
  let peakOpen = 0;
  await waitFor(() => { d.check(); peakOpen = Math.max(peakOpen, hold.open()); return peakOpen >= n; },
    { ms: 8000, what: `${n} transfers in flight` }).catch(() => {});
  await sleep(300);
  const m = memory(d.pid).hwm;
  await drained(redis.client, { ms: 60000, tick: () => d.check() });
  await d.stop();
  return { inflight: peakOpen, peakMiB: m };
}

function startHoldServer() {
  let open = 0;
  const server = http.createServer((req, res) => {
    open++;
    req.resume();
    setTimeout(() => { res.statusCode = 204; res.end(); open--; }, 3000);
  });
  server.maxConnections = 10000;
  server.keepAliveTimeout = 120000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: server.address().port, open: () => open, close: () => server.close(),
  })));
}

export async function delivery({ tmp, redis, nginx }) {
  const receiver = await startReceiver();
  const hold = await startHoldServer();
  const capture = await captureServer();
  const api = await startApi(redis.url, { workers: 1 });
  await createWebhook(api, 'CO_f1', nginx.url('/hook/f1'));
  await createWebhook(api, 'CO_capture', capture.url('/capture/dispatcher'));
  for (let i = 0; i < 10; i++) await createWebhook(api, 'CO_f10', nginx.url(`/hook/f10/${i}`));
  await createWebhook(api, 'CO_lat1', receiver.url('/lat/1'));
  for (let i = 0; i < 10; i++) await createWebhook(api, 'CO_lat10', receiver.url(`/lat/10/${i}`));
  await createWebhook(api, 'CO_hold', `http://127.0.0.1:${hold.port}/hold`, { timeout_ms: 10000 });
  await api.proc.stop();
  const request = await captureRequest(redis, capture, 'CO_capture', path.join(tmp, 'delivery-request.txt'));
  capture.close();

  // One webhook's transfers in flight, given explicitly to the
  // dispatchers of the 1-webhook drains and to barecurl.
  const conc = { WH_ENDPOINT_CONCURRENCY: String(CONFIG.endpointConcurrency) };
  const out = { backlog: CONFIG.backlog, concurrency: CONFIG.endpointConcurrency, runs: [] };
  for (let i = 0; i < CONFIG.repeat; i++) {
    const rep = {};
    const meter = await cpuMeter({ trees: { nginx: [nginx.proc.pid] } });
    rep.ceiling = await timed(() => wrk({ url: nginx.url('/hook/ceiling'), script: 'delivery.lua', seconds: CONFIG.wrkSeconds,
      connections: 128, env: { BENCH_REQUEST_FILE: request } }));
    rep.ceilingCpu = await meter.stop(Math.max(1, rep.ceiling.requests));
    // Bare libcurl and one dispatcher, then the same drain with AOF on,
    // back to back: the ratios of this section pair these runs.
    const bareMeter = await cpuMeter({ trees: { nginx: [nginx.proc.pid] } });
    rep.bare = await bareCurl({ url: nginx.url('/hook/bare'), concurrency: CONFIG.endpointConcurrency, count: CONFIG.backlog, file: request });
    rep.bareCpu = await bareMeter.stop(rep.bare.requests);
    rep.d1_f1 = await drain(redis, { dispatchers: 1, company: 'CO_f1', events: CONFIG.backlog, fanout: 1, env: conc, nginx, commands: true });
    await setAof(redis.client, true);
    try {
      rep.d1_aof = await drain(redis, { dispatchers: 1, company: 'CO_f1', events: CONFIG.backlog, fanout: 1, env: conc, nginx, commands: true });
    } finally {
      await setAof(redis.client, false);
    }
    rep.d1_f10 = await drain(redis, { dispatchers: 1, company: 'CO_f10', events: CONFIG.backlog / 10, fanout: 10 });
    rep.d2_f1 = await drain(redis, { dispatchers: 2, company: 'CO_f1', events: CONFIG.backlog, fanout: 1, env: conc });
    rep.d2_f10 = await drain(redis, { dispatchers: 2, company: 'CO_f10', events: CONFIG.backlog / 10, fanout: 10 });
    rep.lat_f1 = await latency(redis, receiver, { company: 'CO_lat1', fanout: 1, rate: CONFIG.latencyRate });
    rep.lat_f10 = await latency(redis, receiver, { company: 'CO_lat10', fanout: 10, rate: CONFIG.latencyRate / 10 });
    out.runs.push(rep);
    process.stderr.write(`bench: delivery repetition ${i + 1}/${CONFIG.repeat} done\n`);
  }
  out.inflight = await inflightMemory(redis, 'CO_hold', hold, CONFIG.inflight);
  hold.close();
  await receiver.proc.stop();
  return out;
}
