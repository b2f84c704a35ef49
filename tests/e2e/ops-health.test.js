// Health signals for operators (issue 8): the api's GET /healthz (alive,
// whatever Redis does) and GET /readyz (Redis answers and the consumer group
// "dispatchers" exists on the events stream), and the dispatcher's heartbeat
// file with its `--check-heartbeat` exec probe.
//
// Redis is stopped, hung (SIGSTOP) and started again under a running api;
// the readiness answer must follow each change and never hang. The
// dispatcher is frozen with SIGSTOP so that its heartbeat goes stale.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BIN,
  KEYS,
  GROUP,
  programEnv,
  runToExit,
  sleep,
  startApi,
  startDispatcher,
  startRedis,
  startStack,
  useHarness,
  waitUntil,
} from './lib/harness.js';

useHarness();

// A GET with its duration; a request that hangs fails the test after 5 s.
async function timedGet(baseUrl, p) {
  const t0 = Date.now();
  const res = await fetch(baseUrl + p, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, contentType: res.headers.get('content-type') || '', json, text, ms: Date.now() - t0 };
}

function assertReady(res) {
  assert.equal(res.status, 200, `readyz: ${res.text}`);
  assert.match(res.contentType, /^application\/json\b/);
  assert.deepEqual(res.json, { status: 'ready', stream: KEYS.events, group: GROUP });
}

function assertNotReady(res, detail) {
  assert.equal(res.status, 503, `readyz: ${res.text}`);
  assert.match(res.contentType, /^application\/problem\+json\b/);
  assert.equal(res.json.status, 503);
  assert.equal(res.json.type, '/problems/not-ready');
  assert.match(res.json.detail, detail);
}

const tmpDirs = [];
function tmpDir() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-ops-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('api: /healthz and /readyz follow Redis', () => {
  let stack;
  let base;

  before(async () => {
    // AOF, as in production: a restarted Redis comes back with its group.
    stack = await startStack({ dispatchers: 1, redis: { appendonly: true } });
    base = stack.apiServer.baseUrl;
  });

  test('both 200 while Redis and a dispatcher run', async () => {
    const h = await timedGet(base, '/healthz');
    assert.equal(h.status, 200);
    assert.deepEqual(h.json, { status: 'ok', redis: 'connected' });
    assertReady(await timedGet(base, '/readyz'));
  });

  test('Redis stopped: /readyz 503 at once, /healthz still 200; back to 200 when Redis returns', async () => {
    const { redis } = stack;
    await redis.stop();
    // Every api worker notices the closed connection; each answer is quick.
    let res;
    await waitUntil(async () => {
      res = await timedGet(base, '/readyz');
      assert.ok(res.ms < 1500, `readyz took ${res.ms} ms`);
      return res.status === 503;
    }, { timeoutMs: 5000, what: '/readyz to go 503 after Redis stopped' });
    assertNotReady(res, /Redis/);
    for (let i = 0; i < 6; i++) {
      // Both workers (the api runs 2): none may hang or say ready.
      const r = await timedGet(base, '/readyz');
      assert.equal(r.status, 503, r.text);
      assert.ok(r.ms < 1500, `readyz took ${r.ms} ms with Redis down`);
      const h = await timedGet(base, '/healthz');
      assert.equal(h.status, 200, 'liveness does not depend on Redis');
      assert.ok(h.ms < 1000, `healthz took ${h.ms} ms`);
    }

    await redis.start(); // same port, same data directory
    await waitUntil(async () => (await timedGet(base, '/readyz')).status === 200, {
      timeoutMs: 20000,
      intervalMs: 200,
      what: '/readyz to be 200 again after Redis restarted',
    });
    // Ready on every worker, not just one.
    for (let i = 0; i < 6; i++) assertReady(await timedGet(base, '/readyz'));
  });

  test('Redis hung (SIGSTOP): /readyz answers 503 within its bound, and the api survives the late replies', async () => {
    // The Redis the readiness check asks (on a cluster, the master of
    // the events stream's slot).
    const pid = (await stack.redis.masterOf(KEYS.events)).proc.pid;
    process.kill(pid, 'SIGSTOP');
    try {
      const answers = await Promise.all(Array.from({ length: 6 }, () => timedGet(base, '/readyz')));
      for (const r of answers) {
        assertNotReady(r, /did not answer in time/);
        assert.ok(r.ms >= 700 && r.ms < 2500, `readyz took ${r.ms} ms against a hung Redis`);
      }
      const h = await timedGet(base, '/healthz');
      assert.equal(h.status, 200);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // The replies owed to the answered requests arrive now and are dropped.
    await waitUntil(async () => (await timedGet(base, '/readyz')).status === 200, {
      timeoutMs: 10000,
      what: '/readyz to be 200 after Redis resumed',
    });
    assert.ok(stack.apiServer.proc.running, 'the api is still running');
    for (let i = 0; i < 6; i++) assertReady(await timedGet(base, '/readyz'));
  });

  test('the group gone (stream deleted, no dispatcher running): 503 until a dispatcher recreates it', async () => {
    const [disp] = stack.dispatchers;
    const info = await disp.stop();
    assert.equal(info.code, 0, 'the dispatcher drains and exits 0');
    assert.equal(await stack.redis.call('DEL', KEYS.events), 1);
    assertNotReady(await timedGet(base, '/readyz'), /events stream does not exist/);

    // The stream alone (a service XADDs) is not enough: the group is missing.
    await stack.redis.call('XADD', KEYS.events, '*', 'company_sid', 'CO_ops', 'event_type', 'ops.test', 'payload', '{}');
    assertNotReady(await timedGet(base, '/readyz'), /consumer group "dispatchers" does not exist/);

    await disp.start();
    assertReady(await timedGet(base, '/readyz'));
  });
});

describe('api: /readyz on a fresh Redis', () => {
  test('503 before any dispatcher ran, 200 once one has', async () => {
    const redis = await startRedis();
    const api = await startApi({ redis });
    assertNotReady(await timedGet(api.baseUrl, '/readyz'), /events stream does not exist/);
    const h = await timedGet(api.baseUrl, '/healthz');
    assert.equal(h.status, 200);
    await startDispatcher({ redis, bootstrapKey: api.bootstrapKey, apiPort: api.port });
    assertReady(await timedGet(api.baseUrl, '/readyz'));
  });

  test('WH_REDIS_PREFIX is respected', async () => {
    const redis = await startRedis();
    const env = { WH_REDIS_PREFIX: 'ops7:' };
    const api = await startApi({ redis, env });
    // The harness waits on the default key; wait on the prefixed one here.
    await startDispatcher({ redis, bootstrapKey: api.bootstrapKey, apiPort: api.port, env, waitReady: false });
    await waitUntil(async () => {
      try {
        const groups = await redis.call('XINFO', 'GROUPS', 'ops7:{0}:events');
        return groups.length > 0;
      } catch {
        return false;
      }
    }, { what: 'the group on ops7:{0}:events' });
    const res = await timedGet(api.baseUrl, '/readyz');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.stream, 'ops7:{0}:events');
    assert.equal(await redis.call('EXISTS', KEYS.events), 0, 'nothing under the default prefix');
  });
});

describe('dispatcher: heartbeat file and --check-heartbeat', () => {
  let redis;
  let disp;
  let hbFile;

  const check = (args, file = hbFile) =>
    runToExit(BIN.dispatcher, { args: ['--check-heartbeat', ...args], env: { WH_HEARTBEAT_FILE: file }, timeoutMs: 5000 });

  before(async () => {
    hbFile = path.join(tmpDir(), 'dispatcher.heartbeat');
    redis = await startRedis();
    disp = await startDispatcher({ redis, apiPort: 1, env: { WH_HEARTBEAT_FILE: hbFile } });
  });

  test('the file is rewritten about every second and the check passes', async () => {
    const first = fs.statSync(hbFile).mtimeMs;
    const text = fs.readFileSync(hbFile, 'utf8');
    assert.match(text, new RegExp(`^\\d{13} ${disp.proc.pid}\\n$`));
    await waitUntil(() => fs.statSync(hbFile).mtimeMs > first, { timeoutMs: 3000, what: 'a fresh heartbeat' });
    const r = await check(['3']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'silent when fresh');
    assert.equal((await check([])).code, 0, 'default max age');
  });

  test('a frozen dispatcher (SIGSTOP) goes stale; it is fresh again after SIGCONT', async () => {
    const pid = disp.proc.pid;
    process.kill(pid, 'SIGSTOP');
    let r;
    try {
      await sleep(3200);
      r = await check(['2']);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    assert.equal(r.code, 1, r.stderr);
    const line = JSON.parse(r.stderr.trim().split('\n').pop());
    assert.equal(line.level, 'error');
    assert.match(line.msg, /heartbeat stale/);
    assert.equal(line.file, hbFile);
    assert.ok(Number(line.age_ms) > 2000, line.age_ms);
    await waitUntil(async () => (await check(['2'])).code === 0, { timeoutMs: 5000, what: 'a fresh heartbeat after SIGCONT' });
  });

  test('liveness does not depend on Redis: the heartbeat goes on while Redis is down', async () => {
    await redis.stop();
    try {
      await sleep(2500);
      const r = await check(['2']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(disp.proc.running);
    } finally {
      await redis.start();
    }
  });

  test('a missing file fails, a bad argument is a usage error', async () => {
    const missing = await check(['5'], path.join(tmpDir(), 'nothing-here'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /heartbeat missing/);
    for (const bad of [['0'], ['x'], ['5', '6'], ['-3']]) {
      const r = await check(bad);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /usage/);
    }
    const rel = await runToExit(BIN.dispatcher, { args: ['--check-heartbeat'], env: { WH_HEARTBEAT_FILE: 'relative.hb' } });
    assert.equal(rel.code, 2);
    assert.match(rel.stderr, /WH_HEARTBEAT_FILE must be an absolute path/);
  });

  test('a heartbeat file that cannot be written stops the dispatcher at start (exit 2)', async () => {
    const r = await runToExit(BIN.dispatcher, {
      env: { ...programEnv({ redis, apiPort: 1, bootstrapKey: undefined }), WH_HEARTBEAT_FILE: path.join(tmpDir(), 'no', 'such', 'dir', 'hb') },
      timeoutMs: 10000,
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot write WH_HEARTBEAT_FILE/);
  });

  test('a stopped dispatcher leaves a file that turns stale', async () => {
    const info = await disp.stop();
    assert.equal(info.code, 0);
    await sleep(2200);
    const r = await check(['2']);
    assert.equal(r.code, 1);
  });
});
