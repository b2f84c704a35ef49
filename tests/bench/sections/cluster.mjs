// Redis Cluster (issue 20): the same backlog drained by the same
// dispatchers on a cluster of 1 master (every slot) and of 3 masters, the
// two runs interleaved, with WH_PARTITIONS=8 and one company per
// partition. Each node's Redis CPU (INFO cpu) is read around each drain;
// in the 3-master cluster the `{g}` slot's master holds no partition (the
// bench moves them off it), so its CPU is that of the global keys alone
// (webhooks, attempt logs, health) and the other two masters' is the
// queue's. From those two costs rows.mjs projects what one more partition
// master adds and what the `{g}` master caps. No replicas: a replica's
// CPU would compete for the same 2 cores without changing a master's.
import fs from 'node:fs';
import path from 'node:path';
import { companiesPerPartition } from '../../e2e/lib/harness.js';
import { startCluster } from '../../e2e/lib/cluster.js';
import { connect } from '../../e2e/lib/resp.js';
import { CONFIG } from '../lib/config.mjs';
import { cpuMeter, redisCpu } from '../lib/cpu.mjs';
import { PAYLOAD, EVENT_TYPE } from '../lib/payload.mjs';
import { sleep } from '../lib/procs.mjs';
import { commandStats, perUnit, perUnitText, resetCommandStats } from '../lib/redisinfo.mjs';
import { encodeCommand, pipeline } from '../lib/redisload.mjs';
import { createWebhook, startApi, startDispatcher, startRedis } from '../lib/stack.mjs';
import { timed } from '../lib/when.mjs';

export const PARTITIONS = 8;
export const DISPATCHERS = 2;
// A key of the `{g}` slot (docs/design.md, "In a Redis Cluster").
const G_KEY = 'wh:{g}:webhooks:version';
const part = (p, name) => `wh:{${p}}:${name}`;

// A cluster node for lib/cluster.js: a bench Redis in a directory of its
// own (each node writes its nodes.conf there).
async function clusterNode(tmp, { name, args }) {
  const dir = fs.mkdtempSync(path.join(tmp, `${name}-`));
  const r = await startRedis(dir, { name, args });
  return { port: r.port, url: r.url, proc: r.proc, call: (...a) => r.client.call(...a), client: () => connect({ port: r.port }) };
}

// Where each slot of interest is served: the node of `{g}` and the node
// of each partition.
async function layout(cluster) {
  const g = await cluster.masterOf(G_KEY);
  const parts = [];
  for (let p = 0; p < PARTITIONS; p++) parts.push(await cluster.masterOf(part(p, 'events')));
  return { g, parts };
}

// masters 1: every slot on one node. masters 3: redis-cli --cluster
// create's ranges, then the partitions of the `{g}` master moved to the
// other two (fewest first), so that {g} is alone on its master.
async function benchCluster(tmp, masters) {
  const cluster = await startCluster({ masters, replicas: 0, startNode: (o) => clusterNode(tmp, o) });
  let at = await layout(cluster);
  if (masters > 1) {
    const others = (await cluster.masters()).filter((m) => m !== at.g);
    for (let p = 0; p < PARTITIONS; p++) {
      if (at.parts[p] !== at.g) continue;
      const load = (m) => at.parts.filter((x) => x === m).length;
      await cluster.moveSlot(part(p, 'events'), others.reduce((a, b) => (load(b) < load(a) ? b : a)));
      at = await layout(cluster);
    }
  }
  const env = { ...cluster.env(cluster.nodes.slice(0, Math.min(2, masters))), WH_PARTITIONS: String(PARTITIONS) };
  return { cluster, masters: await cluster.masters(), g: at.g, parts: at.parts, env };
}

// Every partition's queue empty (events, due retries, retries stream):
// asked of each partition's master directly.
async function drainedAll(c, { ms = 600000, every = 20, tick = () => {} } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    tick();
    const left = await Promise.all(c.parts.map(async (node, p) => Number(await node.call('XLEN', part(p, 'events')))
      + Number(await node.call('ZCARD', part(p, 'retry'))) + Number(await node.call('XLEN', part(p, 'retries')))));
    const sum = left.reduce((a, b) => a + b, 0);
    if (sum === 0) return Date.now();
    if (Date.now() > deadline) throw new Error(`cluster work not drained after ${ms} ms (${sum} left)`);
    await sleep(every);
  }
}

// n events spread evenly over the partitions, each XADDed to its
// partition's master by a company of that partition.
function preload(c, companies, n) {
  const per = Math.ceil(n / PARTITIONS);
  return Promise.all(companies.map((company, p) => {
    const cmd = encodeCommand(['XADD', part(p, 'events'), '*', 'company_sid', company, 'event_type', EVENT_TYPE, 'payload', PAYLOAD]);
    return pipeline(c.parts[p].port, per, () => cmd);
  })).then(() => per * PARTITIONS);
}

// One drain of the backlog by DISPATCHERS dispatchers: deliveries/s, the
// CPU µs per delivery of every master (and by command), the dispatchers
// and nginx.
async function drainOnce(c, companies, nginx, n, env = {}) {
  const deliveries = await preload(c, companies, n);
  const meter = await cpuMeter({ trees: { nginx: [nginx.proc.pid] } });
  for (const m of c.masters) await resetCommandStats(m);
  const cpu0 = await Promise.all(c.masters.map((m) => redisCpu(m)));
  const t0 = Date.now();
  const ds = [];
  for (let i = 0; i < DISPATCHERS; i++) {
    ds.push(startDispatcher(c.env.WH_REDIS_URL, { ...c.env, WH_ENDPOINT_CONCURRENCY: String(CONFIG.endpointConcurrency), ...env },
      `dispatcher-c${c.masters.length}-${i}`));
  }
  const t1 = await drainedAll(c, { tick: () => ds.forEach((d) => d.check()) });
  const cpu1 = await Promise.all(c.masters.map((m) => redisCpu(m)));
  const stats = await Promise.all(c.masters.map((m) => commandStats(m)));
  const cpu = await meter.stop(deliveries, { dispatcher: ds.map((d) => d.pid) });
  for (const d of ds) await d.stop();
  const nodes = c.masters.map((m, i) => ({
    port: m.port,
    g: m === c.g,
    partitions: c.parts.flatMap((x, p) => (x === m ? [p] : [])),
    zero: c.parts[0] === m,
    us: ((cpu1[i] - cpu0[i]) * 1e6) / deliveries,
    // What took that time (the bench's own polling, XLEN and ZCARD, too).
    commands: perUnitText(perUnit(stats[i], deliveries)),
  }));
  const sum = (f) => nodes.filter(f).reduce((a, x) => a + x.us, 0);
  return {
    deliveries, seconds: (t1 - t0) / 1000, rate: deliveries / ((t1 - t0) / 1000), nodes,
    redisUs: sum(() => true), gUs: sum((x) => x.g), partUs: sum((x) => !x.g || c.masters.length === 1),
    dispatcherUs: cpu.dispatcher, nginxUs: cpu.nginx, busy: cpu.busy,
  };
}

export async function cluster({ tmp, nginx }) {
  const companies = companiesPerPartition('bench', PARTITIONS);
  const one = await benchCluster(tmp, 1);
  const three = await benchCluster(tmp, 3);
  for (const c of [one, three]) {
    const api = await startApi(c.env.WH_REDIS_URL, { workers: 1, env: c.env, name: `api-c${c.masters.length}` });
    for (const company of companies) await createWebhook(api, company, nginx.url(`/hook/cluster/${company}`));
    await api.proc.stop();
  }
  const n = CONFIG.backlog;
  const out = {
    backlog: n, partitions: PARTITIONS, dispatchers: DISPATCHERS, concurrency: CONFIG.endpointConcurrency,
    layout: three.masters.map((m) => ({ port: m.port, g: m === three.g, partitions: three.parts.flatMap((x, p) => (x === m ? [p] : [])) })),
    runs: [],
  };
  // The kept events of WH_EVENT_RETENTION_MS are still under {0} on a
  // cluster (docs/operations.md): the third drain keeps none, to show
  // what the partition-0 master carries for them.
  const noKeep = { WH_EVENT_RETENTION_MS: '0' };
  for (let i = 0; i < CONFIG.repeat; i++) {
    const r = {};
    r.one = await timed(() => drainOnce(one, companies, nginx, n));
    r.three = await timed(() => drainOnce(three, companies, nginx, n));
    r.threeNoKeep = await timed(() => drainOnce(three, companies, nginx, n, noKeep));
    out.runs.push(r);
    process.stderr.write(`bench: cluster repetition ${i + 1}/${CONFIG.repeat} done (${Math.round(r.one.rate)}/s on 1 master, ` +
      `${Math.round(r.three.rate)}/s on 3, ${Math.round(r.threeNoKeep.rate)}/s on 3 keeping no event)\n`);
  }
  for (const c of [one, three]) for (const node of c.cluster.nodes) await node.proc.stop();
  return out;
}
