// The e2e harness: private Redis, the real programs, an API client and a
// recording receiver, all on free loopback ports, all torn down afterwards.
//
// Typical use in a test file:
//
//   import { useHarness, startStack, startReceiver } from './lib/harness.js';
//   useHarness();                        // log dump on failure + cleanup
//   let stack, receiver;
//   before(async () => {
//     stack = await startStack();        // redis + api + 1 dispatcher
//     receiver = await startReceiver();
//   });
//   test('...', async () => { const r = await stack.api('GET', '/v1/webhooks'); ... });
//
// Every wait is bounded; every child runs in its own process group so that
// stopping it also stops anything it forked (Kore's workers).
//
// Environment: E2E_VERBOSE=1 streams all program output live (otherwise it is
// printed only for a failed test); E2E_BIN_DIR=<dir> tests the programs of
// another build tree instead of build/; E2E_API_PRELOAD=<lib> preloads a
// library into the api (and through it the kore binary that loads the
// module: the AddressSanitizer runtime for a sanitizer build, see
// `make sanitize`); E2E_DISPATCHER_WRAPPER="<command> <args>" runs each
// dispatcher under that command (valgrind, see `make valgrind`).
// E2E_REDIS=cluster runs every stack on a Redis Cluster instead (3 masters
// + 3 replicas, lib/cluster.js) with WH_PARTITIONS=8 (E2E_PARTITIONS
// overrides it): stack.redis is then the cluster, whose call() routes each
// command like a cluster client, and KEYS names the cluster's keys (the
// {g} tag; the queue helpers cover every partition).
//
// A sanitizer report (AddressSanitizer, LeakSanitizer, UBSan's "runtime
// error:") on any program's output fails the test during which it was
// printed, or the file if it comes at teardown (a leak report at exit):
// a Kore worker that dies of one is restarted by Kore, so the report may
// be the only sign.

import { spawn, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, beforeEach } from 'node:test';
import * as resp from './resp.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
// The programs under test; E2E_BIN_DIR points at another build tree (e.g. a
// sanitizer build) without touching the tests.
const BIN_DIR = process.env.E2E_BIN_DIR ? path.resolve(process.env.E2E_BIN_DIR) : path.join(REPO_ROOT, 'build');
export const BIN = {
  api: path.join(BIN_DIR, 'webhooks-api'),
  dispatcher: path.join(BIN_DIR, 'webhooks-dispatcher'),
};
export const VERBOSE = process.env.E2E_VERBOSE === '1';

export const E2E_CLUSTER = process.env.E2E_REDIS === 'cluster';
// The partitions every stack runs with (WH_PARTITIONS).
export const PARTITIONS = Number(process.env.E2E_PARTITIONS || (E2E_CLUSTER ? 8 : 1));

// The documented partition of a company (docs/design.md, "Partitions"),
// written from its description: FNV-1a 32 of the bytes, mod n.
export function partitionOf(company, n = PARTITIONS) {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(company, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h % n;
}

// One company per partition of n, named `CO_<tag>_<i>`: the first found
// for each partition, [company of partition 0, of 1, ...].
export function companiesPerPartition(tag, n = PARTITIONS) {
  const found = new Array(n).fill(null);
  for (let i = 0; found.includes(null); i++) {
    const c = `CO_${tag}_${i}`;
    if (found[partitionOf(c, n)] === null) found[partitionOf(c, n)] = c;
  }
  return found;
}

// Redis key names from docs/design.md ("Redis keys"), default prefix; in a
// cluster the keys that are not a partition's carry the tag {g}.
export const PREFIX = 'wh:';
export const GROUP = 'dispatchers';
const TAG = E2E_CLUSTER ? '{g}:' : '';
export const KEYS = {
  events: `${PREFIX}{0}:events`,
  retry: `${PREFIX}{0}:retry`,
  retries: `${PREFIX}{0}:retries`,
  dead: `${PREFIX}{0}:dead`,
  // Partition p's queue key: part(p, 'events'), 'retry', 'retries', 'dead'.
  part: (p, name) => `${PREFIX}{${p}}:${name}`,
  webhook: (sid) => `${PREFIX}${TAG}webhook:${sid}`,
  webhookKeys: (sid) => `${PREFIX}${TAG}webhook:${sid}:keys`,
  companyWebhooks: (company) => `${PREFIX}${TAG}company:${company}:webhooks`,
  apikey: (id) => `${PREFIX}${TAG}apikey:${id}`,
  portal: (sid) => `${PREFIX}${TAG}portal:${sid}`,
  idemkey: (keyId, key) => `${PREFIX}${TAG}idemkey:${keyId}:${key}`,
  hourly: (sid) => `${PREFIX}${TAG}webhook:${sid}:hourly`,
  attempts: (sid) => `${PREFIX}${TAG}attempts:${sid}`,
  health: (sid) => `${PREFIX}${TAG}webhook:${sid}:health`,
  // Where one event's attempts are in the logs (a glob with '*').
  eventAttempts: (company, eventSid) => `${PREFIX}${TAG}event:${company}:${eventSid}:attempts`,
  job: (sid) => `${PREFIX}${TAG}job:${sid}`,
  // A webhook's dead-letter index: in a cluster, in the slot of its
  // company's partition, with the dead letters it indexes.
  deadIndex: (company, sid) => (E2E_CLUSTER
    ? `${PREFIX}{${partitionOf(company)}}:webhook:${sid}:dead`
    : `${PREFIX}webhook:${sid}:dead`),
  deadIds: (company, sid) => (E2E_CLUSTER
    ? `${PREFIX}{${partitionOf(company)}}:webhook:${sid}:dead_ids`
    : `${PREFIX}webhook:${sid}:dead_ids`),
  idem: (company, eventSid) => (E2E_CLUSTER
    ? `${PREFIX}{${partitionOf(company)}}:idem:${company}:${eventSid}`
    : `${PREFIX}idem:${company}:${eventSid}`),
  disabled: `${PREFIX}${TAG}webhooks:disabled`,
  // The change counters every change of a webhook bumps (design.md).
  webhooksVersion: `${PREFIX}${TAG}webhooks:version`,
  companyVersion: (company) => `${PREFIX}${TAG}company:${company}:version`,
  // In the slot of the company's partition ({0} with one partition).
  kept: (company, eventSid) => `${PREFIX}{${partitionOf(company)}}:event:${company}:${eventSid}`,
  companyEvents: (company) => `${PREFIX}{${partitionOf(company)}}:company:${company}:events`,
  order: (company, webhook, key) => `${PREFIX}{${partitionOf(company)}}:order:${webhook}:${key}`,
};

// ---------------------------------------------------------------- small tools

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function fatal(message) {
  const err = new Error(message);
  err.fatal = true;
  return err;
}

export const randomHex = (bytes = 8) => crypto.randomBytes(bytes).toString('hex');

// Poll `fn` until it returns a truthy value (which is returned). Errors
// thrown by fn count as "not yet" (the last one is reported on timeout),
// except a fatal() one, which ends the wait at once (the program died).
export async function waitUntil(fn, { timeoutMs = 10000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      if (err.fatal) throw new Error(`gave up waiting for ${what}: ${err.message}`);
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const why = lastErr ? ` (last error: ${lastErr.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

// A free loopback TCP port: listen on port 0, read what we got, close. Racy
// in theory (someone may take it before we use it), fine in practice.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ----------------------------------------------------- teardown & diagnostics

// Everything started is registered here and disposed of in reverse order
// (receivers and programs before the Redis they talk to).
const disposables = [];
const liveGroups = new Set(); // pids of child process groups still running

function track(thing) {
  disposables.push(thing);
  return thing;
}

export async function cleanup() {
  while (disposables.length) {
    const thing = disposables.pop();
    try {
      await thing.dispose();
    } catch (err) {
      process.stderr.write(`e2e cleanup: ${err.message}\n`);
    }
  }
}

// Last resort if the test process exits without running after() hooks (a
// crash, the runner's own timeout): never leave programs or Redis behind.
function killAllGroupsNow() {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  liveGroups.clear();
}
process.once('exit', killAllGroupsNow);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAllGroupsNow();
    process.exit(128 + os.constants.signals[sig]);
  });
}

// All output lines of all children, in arrival order, for dumping on failure.
const LOG_CAP = 50000;
const logLines = [];
let logSeq = 0;

// What sanitizers print first (and last) about an error, in any build.
const SANITIZER_REPORT = /\b(?:Address|Leak|Memory|Thread|UndefinedBehavior)Sanitizer\b|\bruntime error: /;
const sanitizerReports = []; // {seq, name, text}

function recordLine(name, text) {
  logSeq += 1;
  logLines.push({ seq: logSeq, t: Date.now(), name, text });
  if (SANITIZER_REPORT.test(text)) sanitizerReports.push({ seq: logSeq, name, text });
  if (logLines.length > LOG_CAP) logLines.splice(0, logLines.length - LOG_CAP);
  if (VERBOSE) process.stderr.write(`[${name}] ${text}\n`);
}

export function logsSince(seq = 0, names = null) {
  return logLines.filter((l) => l.seq > seq && (!names || names.includes(l.name)));
}

function formatLogs(lines) {
  return lines.map((l) => `  ${new Date(l.t).toISOString()} [${l.name}] ${l.text}`).join('\n');
}

// Print what was said after `seq`, plus `context` earlier lines: a failing
// check often concerns work the programs did during the previous test.
export function dumpLogs(seq = 0, title = 'captured program output', context = 20) {
  const first = logLines.findIndex((l) => l.seq > seq);
  const lines = first < 0 ? [] : logLines.slice(Math.max(0, first - context));
  process.stderr.write(`---- ${title} (${lines.length} lines) ----\n${formatLogs(lines)}\n---- end ----\n`);
}

// Register the per-file hooks: remember where the logs were when each test
// started, print what the programs said during a test that failed (or
// everything live with E2E_VERBOSE=1), and always tear everything down.
export function useHarness() {
  let mark = 0;
  let checked = 0; // sanitizer reports already turned into a failure
  const failOnReports = (when) => {
    const fresh = sanitizerReports.filter((r) => r.seq > checked);
    if (!fresh.length) return;
    checked = logSeq;
    const lines = fresh.slice(0, 10).map((r) => `  [${r.name}] ${r.text}`).join('\n');
    throw new Error(`sanitizer report ${when}:\n${lines}\n(the whole report is in the program output)`);
  };
  beforeEach(() => {
    mark = logSeq;
  });
  afterEach((t) => {
    const reported = sanitizerReports.some((r) => r.seq > mark);
    // t.passed exists from Node 20.12 on; if it is missing, err on the side
    // of printing.
    if (!VERBOSE && (t.passed !== true || reported) && logsSince(mark).length) {
      dumpLogs(mark, `program output during failed test "${t.name}"`);
    }
    failOnReports(`during "${t.name}"`);
  });
  after(async () => {
    const before = logSeq;
    await cleanup();
    if (!VERBOSE && sanitizerReports.some((r) => r.seq > checked)) dumpLogs(before, 'program output at teardown');
    failOnReports('at teardown');
  });
}

// ------------------------------------------------------------ child process

// The environment for a child: ours without any WH_* (so a developer's own
// settings never leak into a test), plus what the test sets.
function childEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('WH_')) env[k] = v;
  for (const [k, v] of Object.entries(extra || {})) {
    if (v === undefined || v === null) delete env[k];
    else env[k] = String(v);
  }
  return env;
}

// One running program, in its own process group, its stdout/stderr split
// into lines and recorded under `name`.
export class Proc {
  constructor(name, file, args = [], { env = {}, cwd = REPO_ROOT } = {}) {
    this.name = name;
    this.file = file;
    this.args = args;
    this.env = env;
    this.cwd = cwd;
    this.child = null;
    this.exitInfo = null;
    this.output = { stdout: '', stderr: '' };
  }

  start() {
    this.exitInfo = null;
    this.output = { stdout: '', stderr: '' };
    const child = spawn(this.file, this.args, {
      cwd: this.cwd,
      env: childEnv(this.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: stop() reaches forked workers too
    });
    this.child = child;
    if (child.pid) liveGroups.add(child.pid);
    this.#capture(child.stdout, 'stdout');
    this.#capture(child.stderr, 'stderr');
    this.exited = new Promise((resolve) => {
      const done = (info) => {
        if (this.exitInfo) return;
        this.exitInfo = info;
        resolve(info);
      };
      child.once('error', (error) => done({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => done({ code, signal }));
    });
    // stdio may stay open after exit while forked children hold it; 'closed'
    // says all output is in.
    this.closed = new Promise((resolve) => child.once('close', resolve));
    return this;
  }

  #capture(stream, which) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      this.output[which] += chunk;
      const parts = (partial + chunk).split('\n');
      partial = parts.pop();
      for (const line of parts) recordLine(this.name, line);
    });
    stream.on('end', () => {
      if (partial) recordLine(this.name, partial);
      partial = '';
    });
  }

  get pid() {
    return this.child?.pid;
  }

  get running() {
    return Boolean(this.child) && !this.exitInfo;
  }

  // Only groups we have not reaped yet: a pid is never signalled once its
  // group is known gone, so a recycled pid cannot be hit.
  #signalGroup(sig) {
    const pid = this.child?.pid;
    if (!pid || !liveGroups.has(pid)) return;
    try {
      process.kill(-pid, sig);
    } catch {
      /* group already gone */
    }
  }

  // Wait up to `ms` for exit; resolves with exit info or null.
  async waitExit(ms) {
    if (!this.child) return null;
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve(null), ms);
    });
    const info = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    return info;
  }

  // SIGTERM (or `signal`), then SIGKILL after `graceMs`. Resolves with
  // {code, signal, forced}. Whatever is left of the group is killed after.
  async stop({ signal = 'SIGTERM', graceMs = 5000 } = {}) {
    if (!this.child) return null;
    if (this.exitInfo) {
      this.#reapGroup();
      return { ...this.exitInfo, forced: false };
    }
    this.#signalGroup(signal);
    let info = await this.waitExit(graceMs);
    let forced = false;
    if (!info) {
      forced = true;
      this.#signalGroup('SIGKILL');
      info = (await this.waitExit(2000)) || { code: null, signal: 'SIGKILL' };
    }
    this.#reapGroup();
    await Promise.race([this.closed, sleep(1000)]);
    return { ...info, forced };
  }

  // SIGKILL at once (fault tests: a crash, no chance to clean up).
  async kill() {
    return this.stop({ signal: 'SIGKILL', graceMs: 2000 });
  }

  // The leader exited; kill stragglers of its group (a Kore worker whose
  // parent died) so nothing keeps ports or stdio open.
  #reapGroup() {
    const pid = this.child?.pid;
    if (!pid) return;
    this.#signalGroup('SIGKILL');
    liveGroups.delete(pid);
  }

  // The tail of what the program said, for error messages.
  tail(n = 30) {
    const text = (this.output.stderr + this.output.stdout).trimEnd().split('\n');
    return text.slice(-n).join('\n');
  }

  dispose() {
    return this.stop();
  }
}

// Run a program to completion (startup checks): resolves with
// {code, signal, stdout, stderr, timedOut}; killed after `timeoutMs`.
export async function runToExit(file, { args = [], env = {}, timeoutMs = 10000, name = path.basename(file) } = {}) {
  const proc = new Proc(name, file, args, { env }).start();
  let info = await proc.waitExit(timeoutMs);
  const timedOut = !info;
  if (timedOut) info = await proc.kill();
  else await proc.stop(); // reaps the group; the leader is already gone
  await Promise.race([proc.closed, sleep(1000)]);
  return { ...info, timedOut, stdout: proc.output.stdout, stderr: proc.output.stderr };
}

// ---------------------------------------------------------------------- redis

// A private redis-server: loopback only, no persistence, its own temp dir,
// on a free port that stays the same across restart() (the programs were
// told that URL).
export class Redis {
  // appendonly: true keeps the data in an append-only file in this.dir, so
  // that restart() (same port, same dir) brings it back, as a production
  // Redis with AOF would after a restart.
  // args: more redis-server options (e.g. --replicaof for a replica).
  // tls: {cert, key, ca, authClients}: a TLS port too (this.tlsPort), which
  // url then names (rediss://localhost); the test's own commands keep
  // the plain port.
  constructor({ port, name = 'redis', appendonly = false, args = [], tls = null } = {}) {
    this.port = port;
    this.tls = tls;
    this.tlsPort = null;
    this.name = name;
    this.appendonly = Boolean(appendonly);
    this.args = args;
    this.dir = null;
    this.proc = null;
    this.conn = null;
    this.connecting = null;
  }

  get url() {
    if (this.tls) return `rediss://localhost:${this.tlsPort}/0`;
    return `redis://127.0.0.1:${this.port}/0`;
  }

  // The port that serves key (one Redis: its own; see Cluster.portFor).
  async portFor() {
    return this.port;
  }

  // The Redis that serves key (one Redis: itself; see Cluster.masterOf).
  async masterOf() {
    return this;
  }

  // Every master (one Redis: itself; see Cluster.masters): where a
  // command of one node (SCRIPT, CONFIG, INFO) must go to reach them all.
  async masters() {
    return [this];
  }

  get tlsArgs() {
    if (!this.tls) return [];
    const t = this.tls;
    return ['--tls-port', String(this.tlsPort), '--tls-cert-file', t.cert, '--tls-key-file', t.key,
      '--tls-ca-cert-file', t.ca, '--tls-auth-clients', t.authClients ?? 'yes'];
  }

  async start() {
    if (!this.port) this.port = await freePort();
    if (this.tls && !this.tlsPort) this.tlsPort = await freePort();
    if (!this.dir || !fs.existsSync(this.dir)) this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-redis-'));
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', this.appendonly ? 'yes' : 'no',
      '--dir', this.dir,
      '--daemonize', 'no',
      '--loglevel', 'warning',
      ...this.tlsArgs,
      ...this.args,
    ];
    this.proc = new Proc(this.name, 'redis-server', args, { cwd: this.dir }).start();
    try {
      await waitUntil(
        async () => {
          if (!this.proc.running) throw fatal(`redis-server exited: ${JSON.stringify(this.proc.exitInfo)}\n${this.proc.tail()}`);
          return (await resp.once(this.port, 'PING')) === 'PONG';
        },
        { timeoutMs: 10000, what: `redis-server on port ${this.port} to answer PING` },
      );
    } catch (err) {
      await this.proc.kill();
      throw err;
    }
    return this;
  }

  // A shared connection for the test's own commands, reopened if Redis was
  // restarted underneath it.
  async call(...args) {
    if (!this.conn || this.conn.closed) {
      // One connect for concurrent callers.
      this.connecting ??= resp.connect({ port: this.port }).finally(() => {
        this.connecting = null;
      });
      this.conn = await this.connecting;
    }
    return this.conn.call(...args);
  }

  // A dedicated connection (closed at cleanup).
  async client() {
    const c = await resp.connect({ port: this.port });
    track({ dispose: () => c.close() });
    return c;
  }

  #dropConn() {
    this.conn?.close();
    this.conn = null;
  }

  async stop() {
    this.#dropConn();
    return this.proc?.stop();
  }

  async kill() {
    this.#dropConn();
    return this.proc?.kill();
  }

  // Same port, empty data (nothing is persisted): what a Redis that lost
  // its state looks like to the programs. With appendonly, same port and
  // same data: what a restarted production Redis looks like.
  async restart() {
    await this.stop();
    return this.start();
  }

  async dispose() {
    await this.stop();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startRedis(opts = {}) {
  const redis = track(new Redis(opts));
  await redis.start();
  return redis;
}

// Run redis-cli against this Redis (the way an operator or another service
// would publish), e.g. redisCli(redis, 'XADD', KEYS.events, '*', ...). On a
// cluster (lib/cluster.js) it is redis-cli -c, which follows MOVED and ASK
// from a live node; a command of one node goes to each of redis.masters().
export function redisCli(redis, ...args) {
  const where = redis.nodes
    ? ['-c', '-p', String(redis.nodes.find((n) => n.proc?.running).port)]
    : ['-p', String(redis.port)];
  return new Promise((resolve, reject) => {
    execFile(
      'redis-cli',
      ['-h', '127.0.0.1', ...where, ...args],
      { timeout: 10000, env: childEnv({}) },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`redis-cli ${args.join(' ')} failed: ${err.message} ${stderr}`));
        else resolve(stdout.trim());
      },
    );
  });
}

// ------------------------------------------------------------------ programs

export function newBootstrapKey() {
  return `key_e2e${randomHex(6)}:${randomHex(24)}`;
}

function basicAuth(key) {
  return 'Basic ' + Buffer.from(key, 'utf8').toString('base64');
}

// The environment both programs get (docs/operations.md, "Configuration"), plus overrides.
export function programEnv({ redis, apiPort, bootstrapKey, env = {} }) {
  return {
    WH_REDIS_URL: redis.url,
    // A cluster (lib/cluster.js): its seeds, and the stack's partitions.
    ...(redis.env ? { ...redis.env(), WH_PARTITIONS: String(PARTITIONS) } : {}),
    WH_API_LISTEN: `127.0.0.1:${apiPort}`,
    WH_BOOTSTRAP_KEY: bootstrapKey,
    WH_ALLOW_PRIVATE_TARGETS: '1',
    WH_RETRY_SCALE: '0.001',
    WH_API_WORKERS: '2',
    ...env,
  };
}

function requireBinary(file) {
  if (!fs.existsSync(file)) throw new Error(`${path.relative(REPO_ROOT, file)} not found: build it first (make)`);
}

// An HTTP client for the api: api(method, path, body, {key}) with Basic auth
// (key "id:secret", or null for none). A string/Buffer body is sent as is
// (so tests can send JSON that JS numbers cannot represent); an object is
// JSON-encoded. Resolves with {status, headers, contentType, text, json}.
export function makeApi(baseUrl, defaultKey) {
  return async function api(method, urlPath, body, { key = defaultKey, headers = {}, timeoutMs = 10000 } = {}) {
    const h = { accept: 'application/json', ...headers };
    if (key) h.authorization = basicAuth(key);
    const init = { method, headers: h, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) };
    if (body !== undefined) {
      init.body = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    }
    const res = await fetch(baseUrl + urlPath, init);
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, contentType: res.headers.get('content-type') || '', text, json };
  };
}

// E2E_API_PRELOAD: the api is a module that Debian's (uninstrumented) kore
// binary dlopens, so a sanitizer build needs the ASan runtime preloaded
// into kore. Leak checking stays off there: Kore's sandbox kills a worker
// with SIGSYS at the first system call LeakSanitizer makes at exit
// (gettid), and Kore's own allocations would be reported from the parent.
function apiPreloadEnv() {
  const lib = process.env.E2E_API_PRELOAD;
  if (!lib) return {};
  const asan = process.env.ASAN_OPTIONS ? `${process.env.ASAN_OPTIONS}:` : '';
  return { LD_PRELOAD: lib, ASAN_OPTIONS: `${asan}detect_leaks=0` };
}

// The api program: started, then polled on GET /healthz until 200.
export class Api {
  constructor({ redis, bootstrapKey = newBootstrapKey(), env = {}, port, name = 'api' }) {
    this.redis = redis;
    this.bootstrapKey = bootstrapKey;
    this.extraEnv = env;
    this.port = port;
    this.name = name;
    this.proc = null;
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  get env() {
    return programEnv({ redis: this.redis, apiPort: this.port, bootstrapKey: this.bootstrapKey, env: this.extraEnv });
  }

  async start({ waitReady = true } = {}) {
    requireBinary(BIN.api);
    if (!this.port) this.port = await freePort();
    this.proc = new Proc(this.name, BIN.api, [], { env: { ...this.env, ...apiPreloadEnv() } }).start();
    this.api = makeApi(this.baseUrl, this.bootstrapKey);
    if (waitReady) await this.waitReady();
    return this;
  }

  async waitReady(timeoutMs = 15000) {
    try {
      await waitUntil(
        async () => {
          if (!this.proc.running) throw fatal(`${this.name} exited early: ${JSON.stringify(this.proc.exitInfo)}`);
          const res = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
          await res.arrayBuffer();
          return res.status === 200;
        },
        { timeoutMs, intervalMs: 100, what: `api GET /healthz on port ${this.port}` },
      );
    } catch (err) {
      err.message += `\n${this.name} output:\n${this.proc.tail()}`;
      throw err;
    }
  }

  stop(opts) {
    return this.proc?.stop(opts);
  }

  kill() {
    return this.proc?.kill();
  }

  async restart() {
    await this.stop();
    return this.start();
  }

  dispose() {
    return this.stop();
  }
}

export async function startApi(opts) {
  const api = track(new Api(opts));
  await api.start(opts);
  return api;
}

// Consumers of group "dispatchers" on the events stream ([] if none yet).
export async function eventConsumers(redis) {
  try {
    const rows = await redis.call('XINFO', 'CONSUMERS', KEYS.events, GROUP);
    return rows.map(resp.pairsToObject);
  } catch {
    return [];
  }
}

// Entries pending for the consumer of the dispatcher with this pid (its
// consumer name is host-pid-startms), over both streams of every
// partition (on a cluster each partition's streams live in their own slot).
export async function consumerPending(redis, pid) {
  let n = 0;
  const streams = [];
  for (let p = 0; p < PARTITIONS; p++) streams.push(KEYS.part(p, 'events'), KEYS.part(p, 'retries'));
  for (const stream of streams) {
    let rows = [];
    try {
      rows = (await redis.call('XINFO', 'CONSUMERS', stream, GROUP)).map(resp.pairsToObject);
    } catch {
      /* no stream or group */
    }
    for (const c of rows) if (String(c.name).includes(`-${pid}-`)) n += Number(c.pending);
  }
  return n;
}

// Connections whose last command was XREADGROUP: dispatchers waiting for
// work. (Redis 7.0 registers a group consumer only once it is handed an
// entry, so on an empty stream CLIENT LIST is what shows a reader.)
export async function streamReaders(redis) {
  const list = await redis.call('CLIENT', 'LIST');
  return list.split('\n').filter((line) => /\bcmd=xreadgroup\b/.test(line)).length;
}

async function readerState(redis) {
  let groupExists = false;
  try {
    const groups = (await redis.call('XINFO', 'GROUPS', KEYS.events)).map(resp.pairsToObject);
    groupExists = groups.some((g) => g.name === GROUP);
  } catch {
    /* no stream yet */
  }
  return { groupExists, consumers: (await eventConsumers(redis)).length, readers: await streamReaders(redis) };
}

// One dispatcher. Ready when the group "dispatchers" exists on the events
// stream and one more connection reads it (or one more consumer joined),
// so that events a test publishes next are not published before anyone
// listens.
export class Dispatcher {
  constructor({ redis, bootstrapKey = newBootstrapKey(), apiPort = 0, env = {}, name = 'dispatcher' }) {
    this.redis = redis;
    this.bootstrapKey = bootstrapKey;
    this.apiPort = apiPort;
    this.extraEnv = env;
    this.name = name;
    this.proc = null;
  }

  get env() {
    return programEnv({ redis: this.redis, apiPort: this.apiPort, bootstrapKey: this.bootstrapKey, env: this.extraEnv });
  }

  async start({ waitReady = true } = {}) {
    requireBinary(BIN.dispatcher);
    const before = await readerState(this.redis);
    const wrap = (process.env.E2E_DISPATCHER_WRAPPER || '').split(/\s+/).filter(Boolean);
    const [file, ...args] = [...wrap, BIN.dispatcher];
    this.proc = new Proc(this.name, file, args, { env: this.env }).start();
    if (waitReady) await this.waitReady(before);
    return this;
  }

  async waitReady(before = { consumers: 0, readers: 0 }, timeoutMs = 15000) {
    try {
      await waitUntil(
        async () => {
          if (!this.proc.running) throw fatal(`${this.name} exited early: ${JSON.stringify(this.proc.exitInfo)}`);
          const now = await readerState(this.redis);
          return now.groupExists && (now.readers > before.readers || now.consumers > before.consumers);
        },
        { timeoutMs, intervalMs: 50, what: `${this.name} to join group "${GROUP}" on ${KEYS.events}` },
      );
    } catch (err) {
      err.message += `\n${this.name} output:\n${this.proc.tail()}`;
      throw err;
    }
  }

  stop(opts) {
    return this.proc?.stop(opts);
  }

  kill() {
    return this.proc?.kill();
  }

  async restart() {
    await this.stop();
    return this.start();
  }

  dispose() {
    return this.stop();
  }
}

export async function startDispatcher(opts) {
  const d = track(new Dispatcher(opts));
  await d.start(opts);
  return d;
}

// Redis + api + N dispatchers sharing one bootstrap key and environment.
// On a failure half way, whatever did start is left registered for
// cleanup() (useHarness's after hook), and the error carries the output.
export async function startStack({ dispatchers = 1, env = {}, apiEnv = {}, dispatcherEnv = {}, redis: redisOpts = {} } = {}) {
  const redis = E2E_CLUSTER ? await (await import('./cluster.js')).startCluster({ appendonly: redisOpts.appendonly }) : await startRedis(redisOpts);
  const bootstrapKey = newBootstrapKey();
  const api = await startApi({ redis, bootstrapKey, env: { ...env, ...apiEnv } });
  const ds = [];
  for (let i = 0; i < dispatchers; i++) {
    const name = dispatchers === 1 ? 'dispatcher' : `dispatcher-${i + 1}`;
    ds.push(await startDispatcher({ redis, bootstrapKey, apiPort: api.port, env: { ...env, ...dispatcherEnv }, name }));
  }
  // stack.api(...) is the HTTP helper; stack.apiServer the program.
  return { redis, apiServer: api, dispatchers: ds, bootstrapKey, api: (...a) => api.api(...a) };
}

// ------------------------------------------------------------------ receiver

// An HTTP server that records every request and answers 200 by default.
// Per test: setResponse({status, delayMs, headers, body}) or a `respond`
// function (record) => {status, delayMs, headers, body, until} for
// per-request behaviour (e.g. fail the first attempt only); `until`, a
// promise, holds the answer until the test settles it.
export class Receiver {
  constructor({ status = 200, delayMs = 0, headers = {}, body = '', respond = null } = {}) {
    this.defaults = { status, delayMs, headers, body };
    this.respond = respond;
    this.requests = [];
    this.waiters = [];
    this.timers = new Set();
    this.server = null;
    this.port = null;
  }

  async start() {
    this.server = http.createServer((req, res) => this.#onRequest(req, res));
    // Deliveries reuse connections; keep them open long enough for that.
    this.server.keepAliveTimeout = 30000;
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this;
  }

  url(p = '/hook') {
    return `http://127.0.0.1:${this.port}${p}`;
  }

  setResponse(opts = {}) {
    this.defaults = { ...this.defaults, ...opts };
    if ('respond' in opts) this.respond = opts.respond;
  }

  reset() {
    this.requests = [];
  }

  #onRequest(req, res) {
    const receivedAt = Date.now(); // headers parsed: the moment it "arrived"
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const record = {
        index: this.requests.length,
        method: req.method,
        url: req.url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
        text: body.toString('utf8'),
        receivedAt,
        completedAt: Date.now(),
      };
      this.requests.push(record);
      this.#notify();
      this.#answer(record, res);
    });
  }

  #answer(record, res) {
    const r = { ...this.defaults, ...(this.respond ? this.respond(record) || {} : {}) };
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(r.status, { 'content-type': 'text/plain', ...r.headers });
      res.end(r.body);
    };
    if (r.until) return void r.until.then(send, send);
    if (!r.delayMs) return send();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      send();
    }, r.delayMs);
    this.timers.add(timer);
  }

  #notify() {
    this.waiters = this.waiters.filter((w) => {
      if (this.requests.length < w.n) return true;
      clearTimeout(w.timer);
      w.resolve(this.requests.slice());
      return false;
    });
  }

  // Resolves with the requests once n have arrived; rejects after timeoutMs.
  waitFor(n, timeoutMs = 10000) {
    if (this.requests.length >= n) return Promise.resolve(this.requests.slice());
    return new Promise((resolve, reject) => {
      const w = { n, resolve };
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`receiver: ${this.requests.length}/${n} requests arrived within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async close() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const w of this.waiters) clearTimeout(w.timer);
    this.waiters = [];
    if (!this.server) return;
    const server = this.server;
    this.server = null;
    server.closeAllConnections();
    await Promise.race([new Promise((resolve) => server.close(resolve)), sleep(2000)]);
  }

  dispose() {
    return this.close();
  }
}

export async function startReceiver(opts) {
  const r = track(new Receiver(opts));
  await r.start();
  return r;
}

// ------------------------------------------------------- delivery helpers

// Create a webhook through the api (admin key) and fetch its signing keys.
// `fields` is the "webhook" object; throws with the api's answer if it is
// not 201. Resolves with {webhook, keys}.
export async function createWebhook(stack, fields) {
  const res = await stack.api('POST', '/v1/webhooks', { webhook: fields });
  if (res.status !== 201 || !res.json?.webhook) {
    throw new Error(`POST /v1/webhooks answered ${res.status}: ${res.text}`);
  }
  const webhook = res.json.webhook;
  const k = await stack.api('GET', `/v1/webhooks/${webhook.sid}/signing-keys`);
  if (k.status !== 200 || !Array.isArray(k.json?.signing_keys)) {
    throw new Error(`GET signing-keys of ${webhook.sid} answered ${k.status}: ${k.text}`);
  }
  return { webhook, keys: k.json.signing_keys };
}

// n events of company for direct publishing, with distinct event_sids
// (evt_<tag>_<i>_<random>) and payloads.
export function eventsFor(company, tag, n) {
  const list = [];
  for (let i = 0; i < n; i++) {
    list.push({
      company_sid: company,
      event_type: 'call.ended',
      payload: `{"call_sid":"CA_${tag}_${i}","i":${i}}`,
      event_sid: `evt_${tag}_${i}_${randomHex(3)}`,
    });
  }
  return list;
}

// Publish events straight into the stream (the public XADD contract), all
// pipelined on one connection. events: [{company_sid, event_type, payload
// (JSON text), event_sid?, ts?, traceparent?}]. Resolves with the entry ids.
// With {atomic: true} all of them go in one MULTI/EXEC, so the dispatchers
// see the whole list at once (timings then do not include the publishing).
export async function publishEvents(redis, events, { chunk = 1000, atomic = false } = {}) {
  const c = await resp.connect({ port: await redis.portFor(KEYS.events), commandTimeoutMs: 30000 });
  const xadd = (e) => {
    const args = ['XADD', KEYS.events, '*', 'company_sid', e.company_sid, 'event_type', e.event_type, 'payload', e.payload];
    if (e.event_sid) args.push('event_sid', e.event_sid);
    if (e.ts) args.push('ts', String(e.ts));
    if (e.traceparent) args.push('traceparent', e.traceparent);
    if (e.ordering_key) args.push('ordering_key', e.ordering_key);
    return c.call(...args);
  };
  try {
    if (atomic) {
      const queued = [c.call('MULTI'), ...events.map(xadd)];
      const exec = c.call('EXEC');
      await Promise.all(queued);
      return await exec;
    }
    const ids = [];
    for (let i = 0; i < events.length; i += chunk) {
      ids.push(...(await Promise.all(events.slice(i, i + chunk).map(xadd))));
    }
    return ids;
  } finally {
    c.close();
  }
}

// Pending entries of group "dispatchers" on a stream (XPENDING summary);
// 0 when the stream or the group does not exist.
export async function pendingCount(redis, stream) {
  try {
    const r = await redis.call('XPENDING', stream, GROUP);
    return Number(r?.[0] || 0);
  } catch (err) {
    if (/NOGROUP|no such key/i.test(err.message)) return 0;
    throw err;
  }
}

// What is left of the delivery work in Redis: stream lengths, the retry
// set and the pending counts of both streams, summed over the partitions.
export async function queueState(redis) {
  const q = { events: 0, retries: 0, retry: 0, pendingEvents: 0, pendingRetries: 0 };
  for (let p = 0; p < PARTITIONS; p++) {
    const [events, retries, retry] = await Promise.all([
      redis.call('XLEN', KEYS.part(p, 'events')),
      redis.call('XLEN', KEYS.part(p, 'retries')),
      redis.call('ZCARD', KEYS.part(p, 'retry')),
    ]);
    q.events += events;
    q.retries += retries;
    q.retry += retry;
    q.pendingEvents += await pendingCount(redis, KEYS.part(p, 'events'));
    q.pendingRetries += await pendingCount(redis, KEYS.part(p, 'retries'));
  }
  return q;
}

export const queueIdle = (q) => q.events === 0 && q.retries === 0 && q.retry === 0 && q.pendingEvents === 0 && q.pendingRetries === 0;

// Wait until every stream is empty, nothing is pending and nothing is
// scheduled; the last state is in the error on timeout.
export async function waitQueuesIdle(redis, { timeoutMs = 10000 } = {}) {
  let last;
  try {
    await waitUntil(
      async () => {
        last = await queueState(redis);
        return queueIdle(last);
      },
      { timeoutMs, intervalMs: 100, what: 'the delivery queues to be idle' },
    );
  } catch (err) {
    err.message += ` (last state ${JSON.stringify(last)})`;
    throw err;
  }
  return last;
}

// The keys matching a KEYS pattern on every master (the one Redis, or
// each master of a cluster, where KEYS sees only the node's own keys).
export async function keysEverywhere(redis, pattern) {
  const found = await Promise.all((await redis.masters()).map((m) => m.call('KEYS', pattern)));
  return found.flat();
}

// How many of keys exist, one EXISTS each (in a cluster they may be in
// several slots, which one multi-key EXISTS refuses).
export async function existingCount(redis, keys) {
  const each = await Promise.all(keys.map((k) => redis.call('EXISTS', k)));
  return each.reduce((n, e) => n + Number(e), 0);
}

// A webhook's attempt log (wh:attempts:<sid>) as [{id, fields}].
export async function attemptLog(redis, webhookSid) {
  return resp.streamEntries(await redis.call('XRANGE', KEYS.attempts(webhookSid), '-', '+'));
}

// The dead-letter streams (every partition's) as [{id, fields}],
// optionally only one event's.
export async function deadLetters(redis, { eventSid } = {}) {
  const all = [];
  for (let p = 0; p < PARTITIONS; p++) {
    all.push(...resp.streamEntries(await redis.call('XRANGE', KEYS.part(p, 'dead'), '-', '+')));
  }
  return eventSid ? all.filter((e) => e.fields.event_sid === eventSid) : all;
}
