// Redis Cluster under load (issue 20's acceptance): 3 masters + 3
// replicas on loopback, WH_PARTITIONS=8, 2 dispatchers, the api with
// WH_REDIS_WAIT_REPLICAS=1 (its WAIT after every partition's write, the
// dispatchers' before their acks on every master written).
//
// - Failover: a burst of events over HTTP (batches of 100, each with its
//   event_sid; a batch answered other than 202 is sent again, as a
//   publisher does), and half way the master of one partition is killed
//   with kill -9; its replica takes over. Every event the api acknowledged
//   (202) is delivered; the duplicates are counted and reported. Once
//   the replica took over, the killed node is started again and rejoins
//   as its replica: until then the promoted master has none, so the api
//   answers 503 for its partition's events (the publisher sends them
//   again) and the dispatchers leave that partition's entries pending.
// - Resharding: the slot of a partition being published to and consumed
//   is moved to another master key by key (MIGRATE, as redis-cli
//   --cluster reshard does); nothing is lost, nothing is left pending.
// - --reencrypt-secrets while the {g} slot's master fails over, and while
//   that slot is resharded (below).
//
// E2E_BURST sets the burst's size (default 10000).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  BIN, KEYS, Proc, companiesPerPartition, createWebhook, newBootstrapKey, programEnv, queueState, queueIdle,
  randomHex, runToExit, sleep, startApi, startDispatcher, startReceiver, useHarness, waitUntil,
} from './lib/harness.js';
import { startCluster } from './lib/cluster.js';
import { checkSigned } from './lib/checks.js';

useHarness();

const N = 8;
const BURST = Number(process.env.E2E_BURST || 10000);
const BATCH = 100;


async function stackOn(cluster, env = {}) {
  const bootstrapKey = newBootstrapKey();
  const e = { ...cluster.env(), WH_PARTITIONS: String(N), WH_REDIS_WAIT_REPLICAS: '1', ...env };
  const api = await startApi({ redis: cluster, bootstrapKey, env: e });
  const ds = [];
  for (let i = 0; i < 2; i++) {
    ds.push(await startDispatcher({ redis: cluster, bootstrapKey, apiPort: api.port, env: e, name: `dispatcher-${i + 1}` }));
  }
  const stack = { redis: cluster, api: (...a) => api.api(...a) };
  return { api, ds, stack };
}

// Sends batches until each is answered 202 (a publisher's retries, with
// the same event_sids); resolves with the acknowledged event sids.
async function publishAll(stack, events, { onBatch = async () => {}, concurrency = 4 } = {}) {
  const acked = new Set();
  let next = 0;
  let retries = 0;
  const worker = async () => {
    for (;;) {
      const i = next;
      next += BATCH;
      if (i >= events.length) return;
      const batch = events.slice(i, i + BATCH);
      for (let attempt = 0; ; attempt++) {
        const r = await stack.api('POST', '/v1/events:batch', { events: batch }, { timeoutMs: 15000 }).catch((err) => ({ status: 0, text: err.message }));
        if (r.status === 202) {
          for (const e of batch) acked.add(e.event_sid);
          break;
        }
        retries++;
        if (attempt > 100) throw new Error(`batch at ${i} never accepted: ${r.status} ${r.text}`);
        await sleep(200);
      }
      await onBatch(i / BATCH);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { acked, retries };
}

function counter(rcv) {
  const seen = new Map();
  let at = 0;
  return () => {
    for (; at < rcv.requests.length; at++) {
      const sid = JSON.parse(rcv.requests[at].body).event.event_sid;
      seen.set(sid, (seen.get(sid) ?? 0) + 1);
    }
    return seen;
  };
}

test(`failover: kill -9 of a master during a burst of ${BURST} events, WH_REDIS_WAIT_REPLICAS=1`, { timeout: 600000 }, async () => {
  const cluster = await startCluster();
  const { stack } = await stackOn(cluster);
  const rcv = await startReceiver();
  const cos = companiesPerPartition(randomHex(3), N);
  for (const c of cos) await createWebhook(stack, { company_sid: c, url: rcv.url(`/${c}`) });
  const events = Array.from({ length: BURST }, (_, i) => ({
    company_sid: cos[i % N], event_type: 'burst.test', payload: { i }, event_sid: `evt_b_${i}_${randomHex(3)}`,
  }));
  const victim = await cluster.masterOf(KEYS.part(3, 'events'));
  let killedAt = 0;
  let promotedMs = 0;
  let rejoin = null;
  const t0 = Date.now();
  const { acked, retries } = await publishAll(stack, events, {
    onBatch: async (b) => {
      if (b === Math.floor(BURST / BATCH / 2) && !killedAt) {
        killedAt = Date.now();
        await victim.kill();
        rejoin = (async () => {
          await waitUntil(async () => (await cluster.masterOf(KEYS.part(3, 'events'))) !== victim,
            { timeoutMs: 30000, intervalMs: 100, what: 'a replica to take over' });
          promotedMs = Date.now() - killedAt;
          await victim.start();
        })();
      }
    },
  });
  await rejoin;
  assert.ok(killedAt > 0, 'the master was killed during the burst');
  const seen = counter(rcv);
  await waitUntil(() => [...acked].every((s) => seen().has(s)),
    { timeoutMs: 240000, intervalMs: 500, what: 'every acknowledged event to be delivered' });
  const s = seen();
  const missing = [...acked].filter((x) => !s.has(x));
  const dups = [...s.values()].filter((n) => n > 1).reduce((a, n) => a + n - 1, 0);
  process.stderr.write(`cluster-failover: ${acked.size} events acknowledged (${retries} batches answered other ` +
    `than 202 and sent again), ${s.size} delivered, ${missing.length} missing, ${dups} duplicate deliveries; ` +
    `burst ${Date.now() - t0} ms, master of partition 3 killed ${killedAt - t0} ms in, replica promoted ` +
    `${promotedMs} ms after\n`);
  assert.equal(acked.size, BURST);
  assert.deepEqual(missing, [], 'every acknowledged event delivered');
});

test('resharding: the slot of a partition being published to and consumed moves; nothing lost, nothing pending', { timeout: 300000 }, async () => {
  const cluster = await startCluster();
  const { stack } = await stackOn(cluster, { WH_REDIS_WAIT_REPLICAS: '0' });
  const rcv = await startReceiver();
  const cos = companiesPerPartition(randomHex(3), N);
  for (const c of cos) await createWebhook(stack, { company_sid: c, url: rcv.url(`/${c}`) });
  const p = 5;
  const from = await cluster.masterOf(KEYS.part(p, 'events'));
  const to = (await cluster.masters()).find((m) => m !== from);
  const sent = new Set();
  let n = 0;
  // Published over HTTP to partition p's company (and a direct XADD) between migration steps.
  await cluster.moveSlot(KEYS.part(p, 'events'), to, {
    onStep: async () => {
      const batch = Array.from({ length: 20 }, () => ({ company_sid: cos[p], event_type: 'reshard.test', payload: { n }, event_sid: `evt_r_${n++}_${randomHex(3)}` }));
      const r = await stack.api('POST', '/v1/events:batch', { events: batch });
      if (r.status === 202) for (const e of batch) sent.add(e.event_sid);
      const x = `evt_rx_${n++}_${randomHex(3)}`;
      await cluster.call('XADD', KEYS.part(p, 'events'), '*', 'company_sid', cos[p], 'event_type', 'reshard.test', 'payload', '{}', 'event_sid', x);
      sent.add(x);
    },
  });
  assert.equal(await cluster.masterOf(KEYS.part(p, 'events')), to, 'the slot moved');
  // After the move (a publisher sends a batch answered 503 again, as
  // while the api's link follows the slot's new master).
  const after = Array.from({ length: 100 }, () => ({ company_sid: cos[p], event_type: 'reshard.test', payload: { n }, event_sid: `evt_r_${n++}_${randomHex(3)}` }));
  const { acked, retries } = await publishAll(stack, after, { concurrency: 1 });
  assert.equal(acked.size, after.length);
  for (const e of after) sent.add(e.event_sid);
  assert.ok(sent.size >= 100, `published ${sent.size}`);
  const seen = counter(rcv);
  await waitUntil(() => [...sent].every((s) => seen().has(s)),
    { timeoutMs: 60000, intervalMs: 200, what: 'every event published around the move to be delivered' });
  await waitUntil(async () => queueIdle(await queueState(cluster)), { timeoutMs: 30000, intervalMs: 200, what: 'nothing pending in any partition' });
  const s = seen();
  const dups = [...s.values()].filter((v) => v > 1).length;
  process.stderr.write(`cluster-reshard: ${sent.size} events around the move of partition ${p}'s slot, all delivered, ` +
    `${dups} twice; ${retries} batches after the move answered other than 202 and sent again\n`);
});

// --------------------------------------------------------------------------
// `webhooks-api --reencrypt-secrets` (docs/operations.md, "Secrets at rest")
// while the {g} slot, which holds every record it rewrites, fails over or is
// resharded. The run is stopped half way (SIGSTOP once it has read a few
// dozen keys hashes: the {g} master's HGETALL count, nothing else running
// reads them), the fault happens, the run goes on (SIGCONT). The docs say
// such a run fails (exit 1: run it again); the rerun exits 0. Then every
// signing key (HMAC and Ed25519) and the client certificate's key is
// sealed with the new key only, none is lost, and programs given the new
// key alone read every secret back as it was and sign every delivery so
// that it verifies both ways (Streem-Signature and webhook-signature v1,
// and v1a with the Ed25519 public key). The runs have
// WH_REDIS_WAIT_REPLICAS=1: after the failover a rerun fails as well
// until the killed node is back as the promoted master's replica.

const HOOKS = 300;
// The records' names on a cluster (docs/design.md: the {g} tag), whatever
// E2E_REDIS says (this file makes its own cluster; KEYS follows E2E_REDIS).
const G = {
  webhook: (sid) => `wh:{g}:webhook:${sid}`,
  webhookKeys: (sid) => `wh:{g}:webhook:${sid}:keys`,
};
const OLD_KID = 'rotold';
const NEW_KID = 'rotnew';
const ringKey = (kid) => `${kid}:${crypto.randomBytes(32).toString('base64')}`;
const SECRETS_OLD = ringKey(OLD_KID);
const SECRETS_NEW = ringKey(NEW_KID);

// The v1a entries of webhook-signature that verify with the whpk_ public key.
function v1aVerified(req, whpk) {
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(whpk.slice(5), 'base64')]);
  const pub = crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
  const msg = Buffer.from(`${req.headers['webhook-id']}.${req.headers['webhook-timestamp']}.${req.body}`);
  return req.headers['webhook-signature'].split(' ').filter((e) => e.startsWith('v1a,'))
    .filter((e) => crypto.verify(null, msg, pub, Buffer.from(e.slice(4), 'base64'))).length;
}

// HOOKS webhooks sealed with the old key, one company each: every one an
// HMAC key, every third an Ed25519 key too, every fifth a second HMAC key;
// one more holding a client certificate's key. Only the api runs (the
// dispatchers come with the new key), so the run is alone on the records.
async function sealedFleet(cluster, rcv) {
  const e = { ...cluster.env(), WH_PARTITIONS: String(N), WH_SECRETS_KEY: SECRETS_OLD };
  const bootstrapKey = newBootstrapKey();
  const api = await startApi({ redis: cluster, bootstrapKey, env: e });
  const stack = { redis: cluster, api: (...a) => api.api(...a) };
  const tag = randomHex(3);
  const hooks = new Array(HOOKS);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < HOOKS; i = next++) {
      const company = `CO_rot_${tag}_${i}`;
      const { webhook, keys } = await createWebhook(stack, { company_sid: company, url: rcv.url(`/${i}`) });
      const keysPath = `/v1/webhooks/${webhook.sid}/signing-keys`;
      const add = async (body) => {
        const r = await stack.api('POST', keysPath, body);
        assert.equal(r.status, 201, r.text);
        keys.push(r.json.signing_key);
      };
      if (i % 3 === 0) await add({ algorithm: 'ed25519' });
      if (i % 5 === 0) await add({ label: 'second' });
      hooks[i] = { company, sid: webhook.sid, keys };
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wh-rot-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=rotated'], { cwd: dir, stdio: 'ignore' });
  const tls = await createWebhook(stack, {
    company_sid: `CO_rot_${tag}_tls`, url: rcv.url('/tls'),
    tls_client_certificate: { certificate_pem: fs.readFileSync(path.join(dir, 'c.pem'), 'utf8'), private_key_pem: fs.readFileSync(path.join(dir, 'k.pem'), 'utf8') },
  });
  fs.rmSync(dir, { recursive: true, force: true });
  hooks.push({ company: `CO_rot_${tag}_tls`, sid: tls.webhook.sid, keys: tls.keys, tls: true });
  return { api, e, bootstrapKey, hooks };
}

// Every record the rotation rewrites, as raw bytes: each webhook's signing
// key values and the client-key webhook's record (one script: all in {g}).
async function rawRecords(cluster, hooks) {
  const keys = hooks.map((h) => G.webhookKeys(h.sid));
  const tlsHook = hooks.find((h) => h.tls);
  const hex = await cluster.call('EVAL', `
    local hex = function(v) return (v:gsub('.', function(ch) return string.format('%02x', ch:byte()) end)) end
    local out = {}
    for i = 1, #KEYS - 1 do
      local vals = {}
      for _, v in ipairs(redis.call('HVALS', KEYS[i])) do vals[#vals + 1] = hex(v) end
      out[i] = vals
    end
    out[#KEYS] = { hex(redis.call('GET', KEYS[#KEYS])) }
    return out`, keys.length + 1, ...keys, G.webhook(tlsHook.sid));
  return hex.map((vals) => vals.map((h) => Buffer.from(h, 'hex')));
}

const sealedWith = (raw, kid) => raw.includes(Buffer.from(kid));

// Sealed with the old key (before) or the new key only (after), none lost.
async function assertSealed(cluster, hooks, kid, other) {
  const raws = await rawRecords(cluster, hooks);
  const [tlsRecord] = raws.pop();
  assert.ok(sealedWith(tlsRecord, kid) && !sealedWith(tlsRecord, other), `the client key sealed with ${kid} only`);
  let n = 1;
  for (const [i, h] of hooks.entries()) {
    const vals = raws[i];
    assert.equal(vals.length, h.keys.length, `${h.sid}: every key record there`);
    for (const v of vals) {
      assert.ok(sealedWith(v, kid) && !sealedWith(v, other), `${h.sid}: a record sealed with ${kid} only`);
      n++;
    }
  }
  return n;
}

// Runs --reencrypt-secrets, stops it once it has read `after` keys hashes,
// calls fault(run), lets it go on: resolves with its exit.
async function interruptedRun(cluster, env, fault, after = 40) {
  const home = await cluster.masterOf(G.webhook('x'));
  const hgetalls = async () => Number(/cmdstat_hgetall:calls=(\d+)/.exec(await home.call('INFO', 'commandstats'))?.[1] ?? 0);
  const base = await hgetalls();
  const run = new Proc('reencrypt', BIN.api, ['--reencrypt-secrets'], { env }).start();
  await waitUntil(async () => (await hgetalls()) >= base + after, { timeoutMs: 20000, intervalMs: 2, what: 'the run to be under way' });
  process.kill(run.pid, 'SIGSTOP');
  assert.ok(run.running, 'the run was stopped half way (it had not finished)');
  const stoppedAt = await hgetalls();
  assert.ok(stoppedAt - base < HOOKS, `half way: ${stoppedAt - base} of ${HOOKS + 1} keys hashes read`);
  try {
    await fault(home, run);
  } finally {
    if (run.running) process.kill(run.pid, 'SIGCONT');
  }
  const exit = await run.waitExit(60000);
  await run.stop();
  const why = run.output.stderr.trim().split('\n').map((l) => { try { return JSON.parse(l); } catch { return {}; } })
    .filter((l) => l.level === 'error').map((l) => l.msg).join('; ');
  return { ...exit, stderr: run.output.stderr, readAtStop: stoppedAt - base, why };
}

// With the new key alone: every secret read back as it was, every webhook
// delivers, each delivery verified in both schemes with each of its keys.
async function assertNewKeyOnly(cluster, fleet, rcv) {
  const e = { ...fleet.e, WH_SECRETS_KEY: SECRETS_NEW };
  fleet.api.extraEnv = e;
  await fleet.api.restart();
  const d = await startDispatcher({ redis: cluster, bootstrapKey: fleet.bootstrapKey, apiPort: fleet.api.port, env: e });
  const api = (...a) => fleet.api.api(...a);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < fleet.hooks.length; i = next++) {
      const h = fleet.hooks[i];
      const got = await api('GET', `/v1/webhooks/${h.sid}/signing-keys`);
      assert.equal(got.status, 200, got.text);
      const bySid = (ks) => ks.map((k) => [k.sid, k.shared_secret ?? k.public_key]).sort();
      assert.deepEqual(bySid(got.json.signing_keys), bySid(h.keys), `${h.sid}: every key read back with the new key alone`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const tlsHook = fleet.hooks.find((h) => h.tls);
  const shown = await api('GET', `/v1/webhooks/${tlsHook.sid}`);
  assert.equal(shown.json.webhook.tls_client_certificate?.subject, 'CN=rotated', shown.text);
  const events = fleet.hooks.map((h) => ({ company_sid: h.company, event_type: 'rotation.test', payload: { h: h.sid }, event_sid: `evt_rot_${randomHex(6)}` }));
  for (let i = 0; i < events.length; i += 100) {
    const r = await api('POST', '/v1/events:batch', { events: events.slice(i, i + 100) });
    assert.equal(r.status, 202, r.text);
  }
  await rcv.waitFor(events.length, 60000);
  for (const [i, h] of fleet.hooks.entries()) {
    const req = rcv.requests.find((r) => r.headers['webhook-id'] === events[i].event_sid);
    assert.ok(req, `${h.sid}: delivered`);
    checkSigned(req, h.keys.filter((k) => k.algorithm !== 'ed25519'), events[i].event_sid, h.sid);
    for (const k of h.keys.filter((x) => x.algorithm === 'ed25519')) {
      assert.equal(v1aVerified(req, k.public_key), 1, `${h.sid}: v1a of ${k.sid}`);
    }
  }
  await d.stop();
}

// A fleet sealed with the old key; a rotation run (with
// WH_REDIS_WAIT_REPLICAS=1) stopped half way, the fault (fault(cluster,
// home, run) says what it did), the run going on: it must fail, and a
// rerun succeed once settle(cluster, env) has run; then the records and the
// deliveries are checked, and a line reports what happened.
async function rotationThrough(name, fault, settle = async () => {}) {
  const cluster = await startCluster();
  const rcv = await startReceiver();
  const fleet = await sealedFleet(cluster, rcv);
  const records = await assertSealed(cluster, fleet.hooks, OLD_KID, NEW_KID);
  const env = programEnv({ redis: cluster, apiPort: fleet.api.port, bootstrapKey: fleet.bootstrapKey, env: { ...fleet.e, WH_SECRETS_KEY: `${SECRETS_NEW},${SECRETS_OLD}`, WH_REDIS_WAIT_REPLICAS: '1' } });
  let what = '';
  const first = await interruptedRun(cluster, env, async (home, run) => {
    what = await fault(cluster, home, run);
  });
  assert.equal(first.code, 1, `the run through the fault fails (run it again): ${first.stderr}`);
  await settle(cluster, env);
  const again = await runToExit(BIN.api, { args: ['--reencrypt-secrets'], env, timeoutMs: 60000 });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(Number(/"keys":(\d+)/.exec(again.stderr)?.[1]), records, `the rerun saw every record: ${again.stderr}`);
  assert.equal(await assertSealed(cluster, fleet.hooks, NEW_KID, OLD_KID), records);
  await assertNewKeyOnly(cluster, fleet, rcv);
  process.stderr.write(`cluster-reencrypt-${name}: ${records} records; run stopped after ${first.readAtStop} keys hashes, ` +
    `${what}; first run exit ${first.code} (${first.why}), rerun ${/"rewritten":(\d+)/.exec(again.stderr)?.[1]} rewritten\n`);
}

test('--reencrypt-secrets while the {g} master fails over (kill -9): exit 1, run again, every record sealed with the new key only', { timeout: 180000 }, async () => {
  await rotationThrough('failover', async (cluster, home) => {
    const killedAt = Date.now();
    await home.kill();
    await waitUntil(async () => (await cluster.masterOf(G.webhook('x'))) !== home,
      { timeoutMs: 30000, intervalMs: 100, what: 'a replica to take over the {g} slot' });
    await cluster.waitHealthy();
    return `{g} master killed, replica promoted ${Date.now() - killedAt} ms after`;
  }, async (cluster, env) => {
    // The promoted master has no replica yet: a run cannot have its
    // records confirmed (WAIT 1), so it fails too.
    const lonely = await runToExit(BIN.api, { args: ['--reencrypt-secrets'], env, timeoutMs: 60000 });
    assert.equal(lonely.code, 1, `no replica to confirm the records: ${lonely.stderr}`);
    assert.match(lonely.stderr + lonely.stdout, /WH_REDIS_WAIT_REPLICAS replicas: run it again/, JSON.stringify(lonely));
    // The killed node comes back as the replica of the promoted one.
    const home = cluster.nodes.find((n) => !n.proc?.running);
    await home.start();
    await waitUntil(async () => /master_link_status:up/.test(await home.call('INFO', 'replication')),
      { timeoutMs: 30000, intervalMs: 200, what: 'the killed master to rejoin as a replica' });
  });
});

test('--reencrypt-secrets while the {g} slot is resharded: exit 1, run again, every record sealed with the new key only', { timeout: 180000 }, async () => {
  await rotationThrough('reshard', async (cluster, home, run) => {
    const to = (await cluster.masters()).find((m) => m !== home);
    let steps = 0;
    // The run goes on as soon as the slot is migrating: it meets ASK
    // and MOVED for the keys already moved, and its SCAN on the old
    // master no longer sees them.
    await cluster.moveSlot(G.webhook('x'), to, {
      onStep: async () => {
        if (steps++ === 1 && run.running) process.kill(run.pid, 'SIGCONT');
      },
    });
    assert.equal(await cluster.masterOf(G.webhook('x')), to, 'the slot moved');
    return `resumed during the move of the {g} slot (${steps} steps)`;
  });
});
