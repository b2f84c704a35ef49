// Redis Cluster (issue 20, the connection layer): both programs are given
// only WH_REDIS_CLUSTER_NODES naming one master that does NOT hold the
// queue's slot, learn the slot map, and route every command to the master
// of its key: the dispatcher creates its consumer group and reads on the
// right node, the launcher writes the bootstrap key there (a blocking
// MOVED followed), the api finds it. Then the queue's slot is moved to
// another master key by key (MIGRATE, as redis-cli --cluster reshard does)
// while events are published into it, and its master is killed (kill -9)
// so that its replica takes over; after each, every event added is read by
// the dispatcher and /readyz answers 200. Events published over HTTP
// (single, batch, an idempotent repeat) land in the queue's slot too, and
// with WH_REDIS_WAIT_REPLICAS=1 the api's WAIT goes to the master that
// took them: 202 while it has a replica, 503 once the promoted replica,
// alone, holds the slot.
//
// "Read" here is the group's last-delivered-id reaching the last entry
// added (deliveries on a cluster are partitions.test.js's, under
// E2E_REDIS=cluster, and cluster-failover.test.js's).
//
// 3 masters + 3 replicas on loopback, cluster-node-timeout 1 s.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { KEYS, GROUP, logsSince, startApi, startDispatcher, newBootstrapKey, useHarness, waitUntil } from './lib/harness.js';
import { startCluster } from './lib/cluster.js';

useHarness();

// Reading resumes within this after a move or a failover (measured: 1-3 s).
const FOLLOW_BOUND_MS = 20000;

async function group(cluster) {
  const rows = await cluster.call('XINFO', 'GROUPS', KEYS.events);
  for (const row of rows) {
    const o = {};
    for (let i = 0; i < row.length; i += 2) o[row[i]] = row[i + 1];
    if (o.name === GROUP) return o;
  }
  return null;
}

async function publish(cluster, n, tag) {
  let id = null;
  for (let i = 0; i < n; i++) {
    id = await cluster.call('XADD', KEYS.events, '*', 'company_sid', 'CO_cluster', 'event_sid',
      `${tag}-${i}`, 'event_type', 'cluster.test', 'payload', '{}');
  }
  return id;
}

async function waitRead(cluster, lastId, what) {
  await waitUntil(async () => (await group(cluster))?.['last-delivered-id'] === lastId,
    { timeoutMs: FOLLOW_BOUND_MS, intervalMs: 100, what });
}

async function readyz(api) {
  await waitUntil(async () => (await api.api('GET', '/readyz')).status === 200,
    { timeoutMs: FOLLOW_BOUND_MS, intervalMs: 100, what: 'the api /readyz to answer 200' });
}

test('routes by slot, follows a moved slot and a failover', { timeout: 180000 }, async () => {
  const cluster = await startCluster();
  const home = await cluster.masterOf(KEYS.events);
  const masters = await cluster.masters();
  const seed = masters.find((m) => m !== home);
  const env = cluster.env([seed]);
  const bootstrapKey = newBootstrapKey();

  // The api WAITs for one replica of the master that took each publish.
  const api = await startApi({ redis: cluster, bootstrapKey, env: { ...env, WH_REDIS_WAIT_REPLICAS: '1' } });
  // Debug: its redirects are logged there.
  await startDispatcher({ redis: cluster, bootstrapKey, apiPort: api.port, env: { ...env, WH_LOG_LEVEL: 'debug' } });
  await readyz(api);
  // Asked of the queue's master itself (no redirect to follow).
  const groups = await home.call('XINFO', 'GROUPS', KEYS.events);
  assert.ok(groups.some((g) => g[1] === GROUP), 'the consumer group exists on the master of the queue');

  // The bootstrap key, written through a redirect, authenticates: a bad
  // body gets 422 (not 401, not 503).
  const res = await api.api('POST', '/v1/events', { nothing: 1 });
  assert.equal(res.status, 422, res.text);

  let last = await publish(cluster, 30, 'a');
  await waitRead(cluster, last, 'the dispatcher to read the first events');

  // Publishing over HTTP: the publish script's keys (the stream and
  // wh:{0}:idem:...) share the queue's slot, single and in a batch.
  const ev = { company_sid: 'CO_cluster', event_sid: 'ev_http_1', event_type: 'cluster.test', payload: { n: 1 } };
  let r = await api.api('POST', '/v1/events', ev);
  assert.equal(r.status, 202, r.text);
  r = await api.api('POST', '/v1/events', ev);
  assert.equal(r.status, 200, `a repeat: ${r.text}`);
  const batch = Array.from({ length: 10 }, (_, i) => ({ ...ev, event_sid: `ev_http_b${i}`, payload: { i } }));
  r = await api.api('POST', '/v1/events:batch', { events: [...batch, ev] });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.accepted, 10);
  assert.equal(r.json.duplicates, 1);
  assert.equal(await home.call('EXISTS', 'wh:{0}:idem:CO_cluster:ev_http_1'), 1);
  // The last id added (its entry may be delivered and deleted already).
  const info = await cluster.call('XINFO', 'STREAM', KEYS.events);
  last = info[info.indexOf('last-generated-id') + 1];
  await waitRead(cluster, last, 'the dispatcher to read the events published over HTTP');

  // Resharding: the queue's slot moves while events keep coming.
  const target = masters.find((m) => m !== home && m !== seed);
  const mark = logsSince(0).at(-1)?.seq ?? 0;
  let n = 0;
  await cluster.moveSlot(KEYS.events, target, {
    onStep: async () => {
      last = await publish(cluster, 5, `m${n++}`);
    },
  });
  assert.equal(await cluster.masterOf(KEYS.events), target);
  last = await publish(cluster, 20, 'b');
  await waitRead(cluster, last, 'the dispatcher to read on the slot\'s new master');
  // It got there by following the old master's redirect (not by luck).
  const slot = await cluster.nodes[0].call('CLUSTER', 'KEYSLOT', KEYS.events);
  const redirects = logsSince(mark, ['dispatcher']).filter((l) => l.text.includes('redis cluster: redirected'));
  assert.ok(redirects.some((l) => new RegExp(`"slot":"?${slot}"?[,}]`).test(l.text) && /"redirect":"(MOVED|ASK)"/.test(l.text)),
    'the dispatcher followed a MOVED or ASK for the queue\'s slot');
  await readyz(api);

  // Failover: kill -9 the queue's master; its replica takes over.
  await target.kill();
  const killedAt = Date.now();
  await waitUntil(async () => (await cluster.masterOf(KEYS.events)) !== target,
    { timeoutMs: FOLLOW_BOUND_MS, intervalMs: 100, what: 'a replica to take over the queue\'s slot' });
  await cluster.waitHealthy({ timeoutMs: FOLLOW_BOUND_MS });
  const promotedMs = Date.now() - killedAt;
  last = await publish(cluster, 20, 'c');
  await waitRead(cluster, last, 'the dispatcher to read on the promoted replica');
  await readyz(api);
  // The promoted master has no replica left (its old master is dead), the
  // others still have theirs: the WAIT went to the master that took the
  // event, so the api cannot confirm it.
  r = await api.api('POST', '/v1/events', { ...ev, event_sid: 'ev_http_after' });
  assert.equal(r.status, 503, r.text);
  assert.match(r.json.detail, /WH_REDIS_WAIT_REPLICAS/);
  process.stderr.write(`redis-cluster: replica promoted ${promotedMs} ms after kill -9; ` +
    `reading resumed ${Date.now() - killedAt} ms after it\n`);
});
