// Delivery benchmark (make bench): one dispatcher, then two, draining a
// backlog into nginx answering 204, next to the raw ceiling measured in the
// same run (wrk POSTing the same request to the same nginx); publish ->
// receive latency at a fixed offered load; the dispatcher's memory with
// 1000 transfers in flight. Figures are ratios against the ceiling, never
// absolute promises: the machine is shared by every process of the run.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '../e2e/lib/resp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD = path.join(ROOT, 'build');
const OUT = path.join(ROOT, 'var', 'bench');
const BACKLOG = Number(process.env.BENCH_BACKLOG || 40000);
const RATE = Number(process.env.BENCH_RATE || 1000);
const RATE_SECONDS = Number(process.env.BENCH_RATE_SECONDS || 5);
const INFLIGHT = 1000;
const KEY = 'bench_admin:bench-secret-0123456789';
const procs = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function start(cmd, args, env = {}) {
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  p.stderr.on('data', () => {});
  procs.push(p);
  return p;
}

async function stop(p) {
  if (p.exitCode !== null || p.signalCode !== null) return;
  try { process.kill(-p.pid, 'SIGTERM'); } catch { return; }
  const t = Date.now();
  while (p.exitCode === null && p.signalCode === null && Date.now() - t < 5000) await sleep(20);
  try { process.kill(-p.pid, 'SIGKILL'); } catch { /* gone */ }
}

async function waitFor(fn, ms, what) {
  const t = Date.now();
  for (;;) {
    if (await fn()) return;
    if (Date.now() - t > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function rss(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((s.match(new RegExp(`${k}:\\s+(\\d+)`)) || [0, 0])[1]);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch { return { rss: 0, hwm: 0 }; }
}

const pct = (a, p) => a.length ? a[Math.min(a.length - 1, Math.floor(p / 100 * a.length))] : NaN;

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wh-bench-'));
  const rport = await freePort(), aport = await freePort(), nport = await freePort();
  start('redis-server', ['--port', String(rport), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmp]);
  const env = {
    WH_REDIS_URL: `redis://127.0.0.1:${rport}/0`, WH_API_LISTEN: `127.0.0.1:${aport}`,
    WH_BOOTSTRAP_KEY: KEY, WH_ALLOW_PRIVATE_TARGETS: '1', WH_LOG_LEVEL: 'warn', WH_API_WORKERS: '1',
  };
  let r;
  await waitFor(async () => { try { r = await connect({ port: rport }); return true; } catch { return false; } }, 5000, 'redis');

  // nginx answering 204 to everything, one worker, no logs.
  const conf = path.join(tmp, 'nginx.conf');
  fs.writeFileSync(conf, `worker_processes 1; daemon off; pid ${tmp}/nginx.pid; error_log /dev/null crit;
events { worker_connections 4096; }
http { access_log off; client_body_buffer_size 16k;
  server { listen 127.0.0.1:${nport} reuseport backlog=4096; keepalive_requests 1000000;
    location / { return 204; } } }\n`);
  start('nginx', ['-c', conf, '-p', tmp]);
  await sleep(300);

  // The ceiling: wrk with the same request, same receiver.
  const wrkOut = execFileSync('wrk', ['-t1', '-c128', '-d5s', '-s', path.join(ROOT, 'tests/bench/post.lua'),
    `http://127.0.0.1:${nport}/hook`]).toString();
  const ceiling = Number((wrkOut.match(/Requests\/sec:\s+([\d.]+)/) || [0, 0])[1]);

  // A webhook to nginx, made through the api.
  const api = start(path.join(BUILD, 'webhooks-api'), [], env);
  const auth = 'Basic ' + Buffer.from(KEY).toString('base64');
  await waitFor(async () => { try { return (await fetch(`http://127.0.0.1:${aport}/healthz`)).ok; } catch { return false; } }, 10000, 'api');
  const mk = async (company, url, extra = {}) => {
    const res = await fetch(`http://127.0.0.1:${aport}/v1/webhooks`, { method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ webhook: { company_sid: company, url, ...extra } }) });
    if (res.status !== 201) throw new Error(`webhook: ${res.status} ${await res.text()}`);
    return (await res.json()).webhook;
  };
  await mk('CO_fast', `http://127.0.0.1:${nport}/hook`);
  await stop(api);

  const payload = JSON.stringify({ pad: 'x'.repeat(1024 - 200) });
  const preload = async (n, company) => {
    const batch = 1000;
    for (let i = 0; i < n; i += batch) {
      const cmds = [];
      for (let j = i; j < Math.min(n, i + batch); j++)
        cmds.push(r.call('XADD', 'wh:{0}:events', '*', 'company_sid', company, 'event_type', 'bench.tick', 'payload', payload));
      await Promise.all(cmds);
    }
  };
  const drained = async () => Number(await r.call('XLEN', 'wh:{0}:events')) === 0;

  // Throughput: drain a backlog with one, then two dispatchers.
  const drain = async (n) => {
    await preload(BACKLOG, 'CO_fast');
    const ds = [];
    const t0 = Date.now();
    for (let i = 0; i < n; i++) ds.push(start(path.join(BUILD, 'webhooks-dispatcher'), [], env));
    let peak = 0;
    await waitFor(async () => { for (const d of ds) peak = Math.max(peak, rss(d.pid).hwm); return drained(); }, 600000, 'drain');
    const secs = (Date.now() - t0) / 1000;
    for (const d of ds) await stop(d);
    return { rate: BACKLOG / secs, peak };
  };
  const one = await drain(1);
  const two = await drain(2);

  // Latency at a fixed offered load, to a receiver that timestamps arrival.
  const lat = [];
  const lport = await freePort();
  const recv = http.createServer((q, s) => {
    let b = ''; q.on('data', (c) => { b += c; });
    q.on('end', () => { try { lat.push(Date.now() - Date.parse(JSON.parse(b).event.created_at)); } catch { /* */ } s.statusCode = 204; s.end(); });
  }).listen(lport, '127.0.0.1');
  const api2 = start(path.join(BUILD, 'webhooks-api'), [], env);
  await waitFor(async () => { try { return (await fetch(`http://127.0.0.1:${aport}/healthz`)).ok; } catch { return false; } }, 10000, 'api');
  await mk('CO_lat', `http://127.0.0.1:${lport}/hook`);
  await stop(api2);
  const d1 = start(path.join(BUILD, 'webhooks-dispatcher'), [], env);
  await sleep(500);
  const total = RATE * RATE_SECONDS;
  const tick = 10, per = RATE * tick / 1000;
  let sent = 0;
  const t0 = Date.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor((Date.now() - t0) / 1000 * RATE) + per);
    const cmds = [];
    for (; sent < due; sent++) cmds.push(r.call('XADD', 'wh:{0}:events', '*', 'company_sid', 'CO_lat', 'event_type', 'bench.tick', 'payload', payload, 'ts', String(Date.now())));
    await Promise.all(cmds);
    await sleep(tick);
  }
  await waitFor(async () => lat.length >= total, 30000, 'latency deliveries');
  await stop(d1);
  recv.close();
  lat.sort((a, b) => a - b);

  // Memory with 1000 transfers in flight: a receiver that holds answers.
  const hport = await freePort();
  let open = 0;
  const hold = http.createServer((q, s) => { open++; q.resume(); setTimeout(() => { s.statusCode = 204; s.end(); open--; }, 3000); });
  hold.maxConnections = 5000;
  hold.listen(hport, '127.0.0.1');
  const api3 = start(path.join(BUILD, 'webhooks-api'), [], env);
  await waitFor(async () => { try { return (await fetch(`http://127.0.0.1:${aport}/healthz`)).ok; } catch { return false; } }, 10000, 'api');
  await mk('CO_hold', `http://127.0.0.1:${hport}/hook`, { timeout_ms: 10000 });
  await stop(api3);
  await preload(INFLIGHT, 'CO_hold');
  const dh = start(path.join(BUILD, 'webhooks-dispatcher'), [], { ...env, WH_DISPATCH_CONCURRENCY: String(INFLIGHT), WH_ENDPOINT_CONCURRENCY: String(INFLIGHT) });
  let inflightPeak = 0, memAtPeak = 0;
  await waitFor(async () => { if (open > inflightPeak) { inflightPeak = open; memAtPeak = rss(dh.pid).hwm; } return open >= INFLIGHT * 0.95; }, 20000, 'transfers in flight').catch(() => {});
  await sleep(500);
  const holdMem = rss(dh.pid).hwm;
  await stop(dh);
  hold.close();

  const rows = [
    { figure: 'deliveries/s, 1 dispatcher (1 KiB, 204 receiver)', value: one.rate, ref: 'wrk ceiling, same request', refValue: ceiling, target: '>= 0.5' },
    { figure: 'deliveries/s, 2 dispatchers', value: two.rate, ref: 'wrk ceiling, same request', refValue: ceiling, target: '' },
    { figure: `publish->receive p50 ms at ${RATE}/s`, value: pct(lat, 50), ref: '', refValue: null, target: '' },
    { figure: `publish->receive p99 ms at ${RATE}/s`, value: pct(lat, 99), ref: 'target', refValue: 10, target: '<= 10 ms' },
    { figure: `dispatcher peak RSS MiB, ${inflightPeak} in flight`, value: Math.max(holdMem, memAtPeak), ref: 'target', refValue: 32, target: '<= 32 MiB' },
    { figure: 'dispatcher peak RSS MiB, draining backlog', value: one.peak, ref: '', refValue: null, target: '' },
  ];
  const results = { machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, mem_gib: Math.round(os.totalmem() / 2 ** 30) }, backlog: BACKLOG, date: new Date().toISOString(), rows };
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 2));
  const f = (v) => (v === null || v === undefined || Number.isNaN(v) ? '' : (v >= 100 ? v.toFixed(0) : v.toFixed(2)));
  console.log('\n| figure | value | compared with | reference | ratio | target |\n|---|---|---|---|---|---|');
  for (const row of rows)
    console.log(`| ${row.figure} | ${f(row.value)} | ${row.ref} | ${f(row.refValue)} | ${row.refValue ? (row.value / row.refValue).toFixed(2) : ''} | ${row.target} |`);
  console.log(`\n(${results.machine.cpus} CPUs, ${results.machine.model}; results in var/bench/results.json)`);
}

try {
  await main();
} finally {
  for (const p of procs) await stop(p);
  process.exit(process.exitCode || 0);
}
