// Child processes of the bench: started in their own process group (so that
// stopping one also stops what it forked, e.g. Kore's workers), remembered,
// and all stopped at the end whatever happens. Ideas from
// tests/e2e/lib/harness.js, without its node:test hooks.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BUILD = path.join(ROOT, 'build');
export const BENCH_BUILD = path.join(BUILD, 'bench');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const live = new Set();

// A free loopback port (racy in theory, fine on a machine we start everything on).
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Poll fn until it returns something truthy; errors count as "not yet".
export async function waitFor(fn, { ms = 10000, every = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (${last.message})` : ''}`);
    await sleep(every);
  }
}

// The environment of a child: ours without WH_* (a developer's own settings
// must not change the figures), plus what the bench sets.
function childEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('WH_')) env[k] = v;
  for (const [k, v] of Object.entries(extra)) env[k] = String(v);
  return env;
}

export class Proc {
  constructor(name, file, args, { env = {}, cwd = ROOT, ipc = false } = {}) {
    this.name = name;
    const stdio = ['ignore', 'pipe', 'pipe'];
    if (ipc) stdio.push('ipc');
    this.child = spawn(file, args, { env: childEnv(env), cwd, stdio, detached: true });
    this.pid = this.child.pid;
    live.add(this);
    this.out = '';
    this.err = '';
    // Keep only the tail: enough to say why a program died.
    this.child.stdout.on('data', (c) => { this.out = (this.out + c).slice(-8192); this.onStdout?.(String(c)); });
    this.child.stderr.on('data', (c) => { this.err = (this.err + c).slice(-8192); });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      this.exitInfo = { code, signal };
      resolve(this.exitInfo);
    }));
  }

  get running() { return !this.exitInfo; }

  // Throws if the program has died: a figure from a dead program is no figure.
  check() {
    if (this.exitInfo) throw new Error(`${this.name} exited (${JSON.stringify(this.exitInfo)}):\n${this.err.slice(-2000)}`);
  }

  // SIGTERM the group, SIGKILL after graceMs; then reap stragglers.
  async stop(graceMs = 10000) {
    if (this.running) {
      try { process.kill(-this.pid, 'SIGTERM'); } catch { /* gone */ }
      await Promise.race([this.exited, sleep(graceMs)]);
    }
    try { process.kill(-this.pid, 'SIGKILL'); } catch { /* gone */ }
    await Promise.race([this.exited, sleep(2000)]);
    live.delete(this);
  }
}

// Stop every program still running, but those in `keep`.
export async function stopAll(keep = []) {
  for (const p of [...live].reverse()) if (!keep.includes(p)) await p.stop(3000);
}

// The load average, as the tools print it around their runs.
export const loadAverage = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

// A development tool's run (rediscost.mjs, indexcost.mjs, schedsplit.mjs):
// main(dir) in a new work dir, the load average after it, then every
// program it started stopped and the dir removed (RC_KEEP keeps it); on a
// failure, why, and exit 1.
export async function runTool(name, main) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  let code = 0;
  try {
    await main(dir);
    console.log(`load ${loadAverage()}`);
  } catch (err) {
    console.error(err);
    code = 1;
  }
  await stopAll();
  if (process.env.RC_KEEP) console.log(`kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
  process.exit(code);
}

// Last resort (a crash of the bench itself): leave nothing running.
process.once('exit', () => {
  for (const p of live) {
    try { process.kill(-p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => process.exit(130));
}

// Current and peak resident memory of one process, in MiB (from /proc).
export function memory(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (k) => Number((s.match(new RegExp(`${k}:\\s+(\\d+)`)) || [0, 0])[1]);
    return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

// Sample a set of processes' memory every `every` ms until stopped.
export function memorySampler(pids, every = 200) {
  const samples = [];
  const peak = new Map(pids.map((p) => [p, 0]));
  const take = () => {
    const row = { t: Date.now() };
    for (const pid of pids) {
      const m = memory(pid);
      if (m.hwm > 0) peak.set(pid, Math.max(peak.get(pid), m.hwm));
      row[pid] = m.rss;
    }
    samples.push(row);
  };
  take();
  const timer = setInterval(take, every);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
      return { samples, peak: Math.max(0, ...peak.values()) };
    },
  };
}
