// Starting the pieces of a bench run on loopback: a private redis-server,
// nginx answering 204, the api, dispatchers, the Kore no-op module and the
// delaying proxy. Each returns what the sections need (ports, Proc).
import fs from 'node:fs';
import path from 'node:path';
import { connect, once } from '../../e2e/lib/resp.js';
import { BENCH_BUILD, BUILD, Proc, ROOT, freePort, sleep, waitFor } from './procs.mjs';

// The bootstrap admin key the api creates at start (docs/operations.md, Configuration).
export const ADMIN_KEY = 'bench_admin:bench-secret-0123456789abcdef';
export const AUTH = 'Basic ' + Buffer.from(ADMIN_KEY).toString('base64');
export const EVENTS = 'wh:{0}:events';
export const RETRY = 'wh:{0}:retry';
export const RETRIES = 'wh:{0}:retries';

// tls ({cert, key, ca}): a TLS port too, whose URL is tlsUrl (clients
// must show a certificate of ca); the bench's own client stays plain.
// args: more redis-server options (a cluster node's, sections/cluster.mjs).
export async function startRedis(dir, { tls = null, name = 'redis', args = [] } = {}) {
  const port = await freePort();
  const tlsPort = tls ? await freePort() : null;
  const tlsArgs = tls ? ['--tls-port', String(tlsPort), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key,
    '--tls-ca-cert-file', tls.ca] : [];
  const proc = new Proc(name, 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--loglevel', 'warning', '--maxclients', '10000', ...tlsArgs, ...args,
  ]);
  await waitFor(async () => { proc.check(); return (await once(port, 'PING')) === 'PONG'; }, { what: 'redis' });
  const client = await connect({ port, commandTimeoutMs: 60000 });
  return { port, proc, client, url: `redis://127.0.0.1:${port}/0`, tlsUrl: tls ? `rediss://localhost:${tlsPort}/0` : null };
}

// nginx, one worker, answering 204 to everything. /timed/... is logged
// ($msec, ms resolution, buffered) for the retry storm's lateness; every
// other path is not logged at all.
export async function startNginx(dir) {
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  const timedLog = path.join(dir, 'timed.log');
  fs.writeFileSync(conf, `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/nginx.err error;
events { worker_connections 8192; }
http {
  access_log off; client_body_buffer_size 16k; client_body_temp_path ${dir};
  log_format timed '$msec';
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096; keepalive_requests 1000000; keepalive_timeout 120s;
    location /timed/ { access_log ${timedLog} timed buffer=256k flush=200ms; return 204; }
    location / { return 204; }
  }
}\n`);
  const proc = new Proc('nginx', 'nginx', ['-c', conf, '-p', dir]);
  await waitFor(async () => { proc.check(); return (await fetch(`http://127.0.0.1:${port}/`)).status === 204; }, { what: 'nginx' });
  return { port, proc, timedLog, url: (p) => `http://127.0.0.1:${port}${p}` };
}

export function apiEnv(redisUrl, port, extra = {}) {
  return {
    WH_REDIS_URL: redisUrl, WH_API_LISTEN: `127.0.0.1:${port}`, WH_BOOTSTRAP_KEY: ADMIN_KEY,
    WH_ALLOW_PRIVATE_TARGETS: '1', WH_LOG_LEVEL: 'warn', ...extra,
  };
}

// The api with `workers` Kore workers; resolves once /healthz answers.
export async function startApi(redisUrl, { workers = 2, name = 'api', env = {} } = {}) {
  const port = await freePort();
  const proc = new Proc(name, path.join(BUILD, 'webhooks-api'), [], {
    env: apiEnv(redisUrl, port, { WH_API_WORKERS: String(workers), ...env }),
  });
  await waitFor(async () => { proc.check(); return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok; },
    { ms: 15000, what: 'api /healthz' });
  return { port, proc, workers, url: (p) => `http://127.0.0.1:${port}${p}` };
}

// BENCH_DISPATCHER_BIN: another build's dispatcher, for an A/B run.
export function startDispatcher(redisUrl, extra = {}, name = 'dispatcher') {
  return new Proc(name, process.env.BENCH_DISPATCHER_BIN || path.join(BUILD, 'webhooks-dispatcher'), [], {
    env: { WH_REDIS_URL: redisUrl, WH_ALLOW_PRIVATE_TARGETS: '1', WH_LOG_LEVEL: 'warn', ...extra },
  });
}

// The Kore no-op module (tests/bench/noop.c) under the api's own Kore
// configuration, filled in as api/launcher.c fills it, and run the way the
// launcher runs kore: same binary (our patched build/webhooks-kore, or
// WH_KORE_BIN), workers, limits and keep-alive.
export async function startKoreNoop(dir, { workers = 2 } = {}) {
  const port = await freePort();
  const kdir = fs.mkdtempSync(path.join(dir, 'kore-'));
  const values = {
    HOST: '127.0.0.1', PORT: String(port), MODULE: path.join(BENCH_BUILD, 'noop.so'),
    WORKERS: String(workers), PIDFILE: path.join(kdir, 'kore.pid'),
  };
  const tmpl = fs.readFileSync(path.join(ROOT, 'api', 'conf', 'webhooks.conf'), 'utf8');
  const conf = path.join(kdir, 'kore.conf');
  fs.writeFileSync(conf, tmpl.replace(/@([A-Z]+)@/g, (m, k) => values[k] ?? m));
  const proc = new Proc('kore-noop', process.env.WH_KORE_BIN || path.join(BUILD, 'webhooks-kore'), ['-f', '-n', '-r', '-q', '-c', conf]);
  await waitFor(async () => {
    proc.check();
    return (await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', body: '{}' })).status === 202;
  }, { ms: 15000, what: 'kore no-op route' });
  return { port, proc, workers, url: (p) => `http://127.0.0.1:${port}${p}` };
}

// tests/bench/delayproxy.c in front of Redis: `oneWayUs` each way.
export async function startDelayProxy(upstreamPort, oneWayUs) {
  const port = await freePort();
  const proc = new Proc('delayproxy', path.join(BENCH_BUILD, 'delayproxy'),
    [String(port), String(upstreamPort), String(oneWayUs)]);
  await waitFor(() => { proc.check(); return proc.out.includes('ready'); }, { what: 'delay proxy' });
  return { port, proc, url: `redis://127.0.0.1:${port}/0` };
}

// A webhook through the api (so that it is exactly what the product stores).
export async function createWebhook(api, company, url, extra = {}) {
  const res = await fetch(api.url('/v1/webhooks'), {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ webhook: { company_sid: company, url, ...extra } }),
  });
  if (res.status !== 201) throw new Error(`creating a webhook: ${res.status} ${await res.text()}`);
  return (await res.json()).webhook;
}

// Wait until every delivery is done: the events stream, the retry set
// and the retries stream all empty (acked entries are deleted; a
// dispatcher's fairness may defer part of one endpoint's burst through the
// retry set, so the events stream alone empty is not done). Polls every
// `every` ms; calls tick() on each poll (liveness checks).
export async function drained(client, { ms = 600000, every = 20, tick = () => {} } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    tick();
    const [events, retry, retries] = await Promise.all([
      client.call('XLEN', EVENTS), client.call('ZCARD', RETRY), client.call('XLEN', RETRIES)]);
    if (Number(events) + Number(retry) + Number(retries) === 0) return Date.now();
    if (Date.now() > deadline) throw new Error(`work not drained after ${ms} ms (${events} events, ${retry} + ${retries} retries left)`);
    await sleep(every);
  }
}
