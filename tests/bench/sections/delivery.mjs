// Delivery: one and two dispatchers draining a backlog into nginx (1 KiB
// payload; 1 webhook per event, and a fan-out of 10), next to wrk POSTing
// the same request to the same nginx; publish -> receive latency at a
// fixed offered load into a timing receiver of its own process; the
// dispatcher's peak memory, draining and with 1000 transfers held open.
import http from 'node:http';
import path from 'node:path';
import { CONFIG } from '../lib/config.mjs';
import { cpuMeter } from '../lib/cpu.mjs';
import { PAYLOAD, EVENT_TYPE } from '../lib/payload.mjs';
import { Proc, ROOT, freePort, memorySampler, memory, sleep, waitFor } from '../lib/procs.mjs';
import { encodeCommand, pipeline } from '../lib/redisload.mjs';
import { percentile } from '../lib/stats.mjs';
import { EVENTS, createWebhook, drained, startApi, startDispatcher } from '../lib/stack.mjs';
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
// nginx, and how busy the machine was.
// `load` puts the events on the stream (preload unless given).
export async function drain(redis, { dispatchers, company, events, fanout, env = {}, nginx = null, load = preload }) {
  await load(redis, company, events);
  const meter = nginx ? await cpuMeter({ trees: { nginx: [nginx.proc.pid] }, redis: redis.client }) : null;
  const t0 = Date.now();
  const ds = [];
  for (let i = 0; i < dispatchers; i++) ds.push(startDispatcher(redis.url, env, `dispatcher-${i}`));
  const mem = memorySampler(ds.map((d) => d.pid));
  const t1 = await drained(redis.client, { tick: () => ds.forEach((d) => d.check()) });
  const { peak } = mem.stop();
  const cpu = meter ? await meter.stop(events * fanout, { dispatcher: ds.map((d) => d.pid) }) : null;
  for (const d of ds) await d.stop();
  const seconds = (t1 - t0) / 1000;
  return { deliveries: events * fanout, seconds, rate: (events * fanout) / seconds, peakMiB: peak, cpu };
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

export async function delivery({ redis, nginx }) {
  const receiver = await startReceiver();
  const hold = await startHoldServer();
  const api = await startApi(redis.url, { workers: 1 });
  await createWebhook(api, 'CO_f1', nginx.url('/hook/f1'));
  for (let i = 0; i < 10; i++) await createWebhook(api, 'CO_f10', nginx.url(`/hook/f10/${i}`));
  await createWebhook(api, 'CO_lat1', receiver.url('/lat/1'));
  for (let i = 0; i < 10; i++) await createWebhook(api, 'CO_lat10', receiver.url(`/lat/10/${i}`));
  await createWebhook(api, 'CO_hold', `http://127.0.0.1:${hold.port}/hold`, { timeout_ms: 10000 });
  await api.proc.stop();

  const out = { backlog: CONFIG.backlog, runs: [] };
  for (let i = 0; i < CONFIG.repeat; i++) {
    const rep = {};
    const meter = await cpuMeter({ trees: { nginx: [nginx.proc.pid] } });
    const w = await wrk({ url: nginx.url('/hook/ceiling'), script: 'delivery.lua', seconds: CONFIG.wrkSeconds, connections: 128 });
    rep.ceiling = w.rps;
    rep.ceilingCpu = await meter.stop(Math.max(1, w.requests));
    for (const dispatchers of [1, 2]) {
      rep[`d${dispatchers}_f1`] = await drain(redis, { dispatchers, company: 'CO_f1', events: CONFIG.backlog, fanout: 1, nginx });
      rep[`d${dispatchers}_f10`] = await drain(redis, { dispatchers, company: 'CO_f10', events: CONFIG.backlog / 10, fanout: 10 });
    }
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
