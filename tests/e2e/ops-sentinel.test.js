// Redis Sentinel (issue 8): both programs find the master through
// WH_REDIS_SENTINELS / WH_REDIS_SENTINEL_MASTER (WH_REDIS_URL's host is a
// name that does not even resolve) and follow a forced failover while a
// publisher keeps sending events through the api; nothing it was told was
// accepted is lost. The sentinel has a password (WH_REDIS_SENTINEL_PASSWORD).
//
// The set: a master and a replica (replicaof) and one sentinel (quorum 1),
// on free loopback ports. The master runs with min-replicas-to-write 1, as
// docs/operations.md ("Redis Sentinel") asks: once its replica is promoted it refuses
// writes instead of accepting events a resync would then erase. The
// sentinel's INFO and publish periods are shortened (SENTINEL DEBUG) so
// that it knows the replica well enough to promote it at once.
//
// The same again over TLS (issue 19): master, replica and sentinel each
// with a TLS port (replication and the sentinel's links over TLS too), the
// programs given only those (WH_REDIS_SENTINEL_TLS=1) and a client
// certificate. The test's own commands use the plain ports.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BIN,
  Proc,
  createWebhook,
  freePort,
  newBootstrapKey,
  programEnv,
  randomHex,
  runToExit,
  sleep,
  startApi,
  startDispatcher,
  startReceiver,
  startRedis,
  useHarness,
  waitUntil,
} from './lib/harness.js';
import { TestPki } from './lib/certs.js';
import * as resp from './lib/resp.js';

useHarness();

const MASTER = 'wh-e2e';
const SENTINEL_PASSWORD = `sp-${randomHex(8)}`;
// A failover is followed within this (measured: about 1-2 s).
const FOLLOW_BOUND_MS = 10000;

const info = async (redis, section) => {
  const text = await redis.call('INFO', section);
  return Object.fromEntries(text.split('\r\n').filter((l) => l.includes(':')).map((l) => l.split(':')));
};

// tls: startRedis' {cert, key, ca}: a TLS port too (tlsPort), and the
// sentinel's own links to the servers over TLS.
async function startSentinel(masterPort, tls = null) {
  const port = await freePort();
  const tlsPort = tls ? await freePort() : null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-sentinel-'));
  const conf = path.join(dir, 'sentinel.conf');
  const tlsConf = tls ? [`tls-port ${tlsPort}`, `tls-cert-file ${tls.cert}`, `tls-key-file ${tls.key}`,
    `tls-ca-cert-file ${tls.ca}`, 'tls-auth-clients yes', 'tls-replication yes'] : [];
  fs.writeFileSync(conf, [
    `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, ...tlsConf,
    `sentinel monitor ${MASTER} 127.0.0.1 ${masterPort} 1`,
    `sentinel down-after-milliseconds ${MASTER} 1000`,
    `sentinel failover-timeout ${MASTER} 5000`, `requirepass ${SENTINEL_PASSWORD}`, '',
  ].join('\n'));
  const proc = new Proc('sentinel', 'redis-server', [conf, '--sentinel', '--loglevel', 'warning'], { cwd: dir }).start();
  const sentinel = {
    port,
    tlsPort,
    proc,
    call: async (...args) => {
      const c = await resp.connect({ port });
      try {
        await c.call('AUTH', SENTINEL_PASSWORD);
        return await c.call(...args);
      } finally {
        c.close();
      }
    },
    dispose: async () => {
      await proc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await waitUntil(async () => {
    if (!proc.running) throw new Error(`sentinel exited: ${proc.tail()}`);
    return (await sentinel.call('PING')) === 'PONG';
  }, { what: 'the sentinel to answer' });
  await sentinel.call('SENTINEL', 'DEBUG', 'info-period', '500', 'publish-period', '500');
  return sentinel;
}

for (const overTls of [false, true]) describe(overTls ? 'Redis Sentinel over TLS' : 'Redis Sentinel', () => {
  let pki;
  let master;
  let replica;
  let sentinel;
  let receiver;
  let api;
  let dispatcher;
  let hook;
  let env;

  // The port the programs (and the servers among themselves) use.
  const served = (r) => (overTls ? r.tlsPort : r.port);

  before(async () => {
    let tls = null;
    let tlsArgs = [];
    if (overTls) {
      pki = new TestPki().cert('server').cert('client', { san: 'DNS:client' });
      tls = pki.serverTls('server');
      tlsArgs = ['--tls-replication', 'yes'];
    }
    master = await startRedis({ name: 'redis-a', tls, args: ['--min-replicas-to-write', '1', '--min-replicas-max-lag', '10', ...tlsArgs] });
    replica = await startRedis({ name: 'redis-b', tls, args: ['--replicaof', '127.0.0.1', String(served(master)), ...tlsArgs] });
    await waitUntil(async () => (await info(replica, 'replication')).master_link_status === 'up',
      { what: 'the replica to sync' });
    sentinel = await startSentinel(served(master), tls);
    await waitUntil(async () => (await sentinel.call('SENTINEL', 'REPLICAS', MASTER)).length === 1,
      { what: 'the sentinel to find the replica' });
    env = {
      WH_REDIS_URL: 'redis://not-used.invalid:1/0',
      WH_REDIS_SENTINELS: `127.0.0.1:1,127.0.0.1:${overTls ? sentinel.tlsPort : sentinel.port}`,
      WH_REDIS_SENTINEL_MASTER: MASTER,
      WH_REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
      WH_CLAIM_IDLE_MS: '3000',
      ...(overTls ? { WH_REDIS_SENTINEL_TLS: '1', ...pki.clientEnv() } : {}),
    };
    const bootstrapKey = newBootstrapKey();
    api = await startApi({ redis: master, bootstrapKey, env });
    dispatcher = await startDispatcher({ redis: master, bootstrapKey, apiPort: api.port, env });
    receiver = await startReceiver();
    const stack = { api: (...a) => api.api(...a) };
    hook = (await createWebhook(stack, { company_sid: `CO_s${randomHex(3)}`, url: receiver.url('/s') })).webhook;
  });
  after(async () => {
    await sentinel?.dispose();
    pki?.dispose();
  });

  test('both programs follow a failover; every accepted event is delivered', async (t) => {
    const accepted = new Map(); // event_sid -> ms it was accepted
    let failures = 0;
    let stop = false;
    // A publisher that retries an event until it is accepted, as any
    // publisher with its own event_sid may (a repeat answers 200).
    const publisher = (async () => {
      for (let n = 0; !stop; n++) {
        const sid = `evt_s${n}_${randomHex(4)}`;
        for (;;) {
          let status = 0;
          try {
            const r = await api.api('POST', '/v1/events', { company_sid: hook.company_sid, event_type: 'call.ended',
              event_sid: sid, payload: { n } }, { timeoutMs: 3000 });
            status = r.status;
          } catch {
            status = 0;
          }
          if (status === 202 || status === 200) {
            accepted.set(sid, Date.now());
            break;
          }
          failures += 1;
          if (stop) break;
          await sleep(50);
        }
        await sleep(40);
      }
    })();

    await waitUntil(() => receiver.requests.length >= 10, { timeoutMs: 10000, what: 'deliveries before the failover' });
    const t0 = Date.now();
    await waitUntil(async () => {
      try {
        return (await sentinel.call('SENTINEL', 'FAILOVER', MASTER)) === 'OK';
      } catch (err) {
        if (/NOGOODSLAVE|INPROG/.test(err.message)) return false;
        throw err;
      }
    }, { timeoutMs: 10000, intervalMs: 200, what: 'the sentinel to start a failover' });
    await waitUntil(async () => {
      const [, port] = await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER);
      return Number(port) === served(replica);
    }, { timeoutMs: FOLLOW_BOUND_MS, what: 'the sentinel to name the replica master' });
    const switched = Date.now();

    // Followed: an event accepted after the switch is delivered (the api
    // wrote it to the new master, whose stream the dispatcher reads).
    const probe = `evt_probe_${randomHex(6)}`;
    let acceptedAt;
    await waitUntil(async () => {
      const r = await api.api('POST', '/v1/events', { company_sid: hook.company_sid, event_type: 'call.ended',
        event_sid: probe, payload: {} }, { timeoutMs: 3000 });
      if (r.status === 202 || r.status === 200) acceptedAt ??= Date.now();
      return acceptedAt !== undefined;
    }, { timeoutMs: FOLLOW_BOUND_MS, intervalMs: 100, what: 'the api to publish again after the failover' });
    await waitUntil(() => receiver.requests.some((q) => q.headers['webhook-id'] === probe),
      { timeoutMs: FOLLOW_BOUND_MS, intervalMs: 50, what: 'the dispatcher to deliver from the new master' });
    const delivered = Date.now();
    await waitUntil(async () => {
      const r = await fetch(`${api.baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      return r.status === 200;
    }, { timeoutMs: FOLLOW_BOUND_MS, what: '/readyz 200 after the failover' });
    t.diagnostic(`failover: sentinel switched after ${switched - t0} ms; api published after ${acceptedAt - t0} ms; ` +
      `dispatcher delivered after ${delivered - t0} ms; ${failures} publish attempts refused meanwhile`);
    assert.ok(delivered - t0 < FOLLOW_BOUND_MS + 5000);

    // The old master is a replica now; the dispatcher reads the new one.
    await waitUntil(async () => (await info(master, 'replication')).role === 'slave',
      { timeoutMs: 15000, what: 'the old master to become a replica' });
    await sleep(1000);
    stop = true;
    await publisher;
    const newMaster = replica;
    const clients = (await newMaster.call('CLIENT', 'LIST')).split('\n');
    assert.ok(clients.some((l) => /\bcmd=xreadgroup\b/.test(l) && l.includes(`laddr=127.0.0.1:${served(newMaster)} `)),
      `the dispatcher reads from the new master, on the port it was named:\n${clients.join('\n')}`);

    // Nothing accepted is lost (delivered at least once; a few twice).
    await waitUntil(() => {
      const got = new Set(receiver.requests.map((q) => q.headers['webhook-id']));
      return [...accepted.keys()].every((sid) => got.has(sid));
    }, { timeoutMs: 20000, intervalMs: 200, what: `all ${accepted.size} accepted events to be delivered` }).catch((err) => {
      const got = new Set(receiver.requests.map((q) => q.headers['webhook-id']));
      err.message += ` (missing: ${[...accepted.keys()].filter((s) => !got.has(s)).join(', ')})`;
      throw err;
    });
    assert.ok(accepted.size >= 20, `a stream of events went through (${accepted.size})`);
  });

  test('a wrong sentinel password: exit 1 at start, the sentinel named', async () => {
    const res = await runToExit(BIN.dispatcher, {
      env: programEnv({ redis: master, apiPort: 1, bootstrapKey: undefined,
        env: { ...env, WH_REDIS_SENTINELS: `127.0.0.1:${served(sentinel)}`, WH_REDIS_SENTINEL_PASSWORD: 'wrong-password' } }),
    });
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, new RegExp(`cannot reach Redis \\(WH_REDIS_SENTINELS\\).*sentinel 127\\.0\\.0\\.1:${served(sentinel)}`));
    assert.doesNotMatch(res.stderr, /wrong-password/);
  });
});

describe('Sentinel settings at start', () => {
  test('a malformed list, a lone master name: exit 2 naming the variable', async () => {
    for (const [vars, name] of [
      [{ WH_REDIS_SENTINELS: '127.0.0.1:26379,bad host', WH_REDIS_SENTINEL_MASTER: 'm' }, 'WH_REDIS_SENTINELS'],
      [{ WH_REDIS_SENTINEL_MASTER: 'm' }, 'WH_REDIS_SENTINELS'],
      [{ WH_REDIS_SENTINELS: '127.0.0.1:26379' }, 'WH_REDIS_SENTINEL_MASTER'],
    ]) {
      for (const bin of [BIN.api, BIN.dispatcher]) {
        const res = await runToExit(bin, {
          env: programEnv({ redis: { url: 'redis://127.0.0.1:1/0' }, apiPort: 1, bootstrapKey: undefined, env: vars }),
        });
        assert.equal(res.code, 2, `${path.basename(bin)} ${JSON.stringify(vars)}: ${res.stderr}`);
        const lines = res.stderr.trim().split('\n');
        assert.equal(lines.length, 1, res.stderr);
        assert.match(lines[0], new RegExp(name));
      }
    }
  });

  test('no sentinel answering: exit 1 with one line', async () => {
    const dead = await freePort();
    for (const bin of [BIN.api, BIN.dispatcher]) {
      const res = await runToExit(bin, {
        env: programEnv({ redis: { url: 'redis://127.0.0.1:1/0' }, apiPort: await freePort(), bootstrapKey: undefined,
          env: { WH_REDIS_SENTINELS: `127.0.0.1:${dead}`, WH_REDIS_SENTINEL_MASTER: 'm' } }),
      });
      assert.equal(res.code, 1, res.stderr);
      assert.match(res.stderr, /cannot reach Redis \(WH_REDIS_SENTINELS\)/);
      assert.match(res.stderr, new RegExp(`sentinel 127\\.0\\.0\\.1:${dead}`));
    }
  });
});
