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
//
// E2E_BURST sets the burst's size (default 10000).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  KEYS, companiesPerPartition, createWebhook, newBootstrapKey, queueState, queueIdle, randomHex, sleep,
  startApi, startDispatcher, startReceiver, useHarness, waitUntil,
} from './lib/harness.js';
import { startCluster } from './lib/cluster.js';

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
