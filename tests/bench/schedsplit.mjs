// Where the time of a drain goes, process by process: on a CPU, waiting
// for one (runnable, in the run queue) or asleep (waiting for I/O:
// nginx's answers, Redis' replies), from /proc/<pid>/task/*/schedstat,
// for bare libcurl (barecurl.c) and then one dispatcher per binary given
// draining the same backlog into the same nginx, at the same 32 transfers
// in flight, repetitions interleaved. A development tool beside
// `make bench` (docs/performance.md, "One dispatcher next to bare
// libcurl"), not part of its table:
//
//   node tests/bench/schedsplit.mjs [--events 60000] [--reps 3]
//        [--dispatcher path[,path2]]
//
// A client's rate is at most 1 / (its own CPU + its run-queue wait +
// its sleep) per request: the split says which of the three a gap to
// barecurl comes from. On a shared machine the run-queue share moves with
// the load (printed); what a client sleeps does not, much.
import fs from 'node:fs';
import path from 'node:path';
import { BUILD, Proc, loadAverage, runTool } from './lib/procs.mjs';
import { median } from './lib/stats.mjs';
import { bareCurl, captureServer, writeRequest } from './lib/request.mjs';
import { createWebhook, drained, startApi, startDispatcher, startNginx, startRedis } from './lib/stack.mjs';
import { preload } from './sections/delivery.mjs';

const CONCURRENCY = 32;

function args() {
  const a = { events: 60000, reps: 3, dispatchers: [path.join(BUILD, 'webhooks-dispatcher')] };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '--events') a.events = Number(v[++i]);
    else if (v[i] === '--reps') a.reps = Number(v[++i]);
    else if (v[i] === '--dispatcher') a.dispatchers = v[++i].split(',');
    else throw new Error(`unknown argument ${v[i]}`);
  }
  return a;
}

// Seconds on a CPU and in the run queue, summed over pid's threads.
function sched(pid) {
  const out = { cpu: 0, runq: 0 };
  let tasks = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // gone
  }
  for (const t of tasks) {
    try {
      const [run, wait] = fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ').map(Number);
      out.cpu += run / 1e9;
      out.runq += wait / 1e9;
    } catch { /* thread gone */ }
  }
  return out;
}

// The split of `span` seconds between two samples, µs per request.
function split(a, b, span, n) {
  const cpu = b.cpu - a.cpu, runq = b.runq - a.runq;
  const us = (s) => (s * 1e6) / n;
  return { cpu: us(cpu), runq: us(runq), asleep: us(Math.max(0, span - cpu - runq)) };
}

const fmt = (s) => `cpu ${s.cpu.toFixed(1)} runq ${s.runq.toFixed(1)} asleep ${s.asleep.toFixed(1)}`;

function pidOf(comm) {
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm) return Number(p);
    } catch { /* gone */ }
  }
  return 0;
}

// A process that exits takes its counters along: sample it while it runs.
function follow(findPid) {
  let pid = 0, first = null, last = null;
  const iv = setInterval(() => {
    if (!pid && (pid = findPid())) first = sched(pid);
    else if (pid) {
      const s = sched(pid);
      if (s.cpu > 0) last = s;
    }
  }, 2);
  return { stop: () => { clearInterval(iv); return [first, last]; } };
}

// The request a dispatcher really sends, for barecurl (as the bench does).
async function capture(redis, api, dir) {
  const server = await captureServer();
  await createWebhook(api, 'CO_capture', server.url('/capture'));
  await preload(redis, 'CO_capture', 1);
  const d = startDispatcher(redis.url, {}, 'dispatcher-capture');
  const sent = await server.next('the dispatcher\'s request');
  await drained(redis.client, { ms: 30000, tick: () => d.check() });
  await d.stop();
  server.close();
  return writeRequest(path.join(dir, 'request.txt'), sent);
}

async function main(dir) {
  const a = args();
  const redis = await startRedis(dir);
  const redisPid = Number(String(await redis.client.call('INFO', 'server')).match(/process_id:(\d+)/)[1]);
  const nginx = await startNginx(dir);
  const worker = Number(fs.readFileSync(`/proc/${nginx.proc.pid}/task/${nginx.proc.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  const api = await startApi(redis.url, { workers: 1 });
  await createWebhook(api, 'CO_split', nginx.url('/hook/split'));
  const request = await capture(redis, api, dir);
  await api.proc.stop();
  console.log(`load ${loadAverage()}; ${a.events} requests per run, ${CONCURRENCY} in flight; µs per request`);
  const names = ['barecurl', ...a.dispatchers.map((p) => path.basename(p))];
  const results = names.map(() => []);
  for (let r = 0; r < a.reps; r++) {
    const n0 = sched(worker);
    const t0 = performance.now();
    const f = follow(() => pidOf('barecurl'));
    const bare = await bareCurl({ url: nginx.url('/hook/bare'), concurrency: CONCURRENCY, count: a.events, file: request });
    const [b0, b1] = f.stop();
    const span = (performance.now() - t0) / 1000;
    const x = { rate: bare.rate, self: b0 && b1 ? split(b0, b1, span, a.events) : null, nginx: split(n0, sched(worker), span, a.events) };
    results[0].push(x);
    console.log(`[barecurl] ${Math.round(x.rate)}/s | barecurl ${x.self ? fmt(x.self) : '?'} | nginx ${fmt(x.nginx)}`);
    for (let i = 0; i < a.dispatchers.length; i++) {
      await preload(redis, 'CO_split', a.events);
      const r0 = sched(redisPid), w0 = sched(worker);
      const s = performance.now();
      const d = new Proc('dispatcher', a.dispatchers[i], [], {
        env: { WH_REDIS_URL: redis.url, WH_ALLOW_PRIVATE_TARGETS: '1', WH_LOG_LEVEL: 'warn', WH_ENDPOINT_CONCURRENCY: String(CONCURRENCY) },
      });
      let last = null;
      await drained(redis.client, { tick: () => { d.check(); const v = sched(d.pid); if (v.cpu > 0) last = v; } });
      const sp = (performance.now() - s) / 1000;
      const y = { rate: a.events / sp, self: split({ cpu: 0, runq: 0 }, last, sp, a.events), redis: split(r0, sched(redisPid), sp, a.events), nginx: split(w0, sched(worker), sp, a.events) };
      await d.stop();
      results[i + 1].push(y);
      console.log(`[${names[i + 1]}] ${Math.round(y.rate)}/s | dispatcher ${fmt(y.self)} | redis ${fmt(y.redis)} | nginx ${fmt(y.nginx)}`);
    }
  }
  for (let i = 0; i < names.length; i++) {
    const m = (f) => median(results[i].map(f).filter((v) => v !== undefined)).toFixed(1);
    console.log(`median [${names[i]}] ${m((x) => x.rate)}/s, own cpu ${m((x) => x.self?.cpu)} runq ${m((x) => x.self?.runq)} asleep ${m((x) => x.self?.asleep)} µs per request`);
  }
}

runTool('schedsplit', main);
