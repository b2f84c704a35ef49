// Turning the sections' measurements into the table's rows: which figure
// is compared with which ceiling or peer, and the targets of issues 4, 9
// and 25. Repeated figures are medians of their runs (median of ratios
// would pair runs that were not measured together; the runs of one
// repetition are interleaved, so medians of each side are the fair
// pairing). Each side carries when its runs ran (`at`): the report
// refuses a ratio of sides measured over a minute apart.
import os from 'node:os';
import { CONFIG } from './config.mjs';
import { perUnitText } from './redisinfo.mjs';
import { fmt } from './report.mjs';
import { median } from './stats.mjs';

const med = (runs, f) => median(runs.map(f));
const ats = (runs, k) => runs.map((r) => r[k]?.at);
const ratioAtLeast = (x) => ({ text: `≥ ${x}`, ok: (r) => r.ratio >= x, ratio: true });
const ratioAtMost = (x) => ({ text: `≤ ${x}`, ok: (r) => r.ratio <= x, ratio: true });
const valueAtMost = (x, text) => ({ text, ok: (r) => r.value <= x });
const valueAtLeast = (x, text) => ({ text, ok: (r) => r.value >= x });
const ms2 = (v) => (v == null ? 'n/a' : v.toFixed(2));
const pair = (a, b) => `${ms2(a)} / ${ms2(b)}`;

const CEIL = 'Ceilings (measured in the same run)';

export function ingestRows(report, m) {
  const S = `Ingest: api with ${m.workers} Kore workers, wrk`;
  const D = `Ingest with Redis 1 ms away (delay proxy; RTT measured through it: ${ms2(m.rttMs)} ms)`;
  const runs = m.runs;
  const col = (k, f) => runs.map((r) => (r[k] ? f(r[k]) : NaN));
  const route = {
    single: `POST /v1/events, ${CONFIG.ingestConnections} connections`,
    batch: `POST /v1/events:batch, ${m.batchSize} events per request, ${CONFIG.batchConnections} connections`,
  };
  report.add({ section: CEIL, figure: 'redis-benchmark XADD/s (1 KiB, 50 clients), not pipelined', runs: runs.map((r) => r.xadd_p1.rps) });
  report.add({ section: CEIL, figure: 'redis-benchmark XADD/s (1 KiB, 50 clients), pipelined by 16', runs: runs.map((r) => r.xadd_p16.rps) });
  for (const k of ['single', 'batch']) {
    report.add({ section: CEIL, figure: `Kore no-op route, requests/s, body and connections of ${route[k].replace(/, \d+ connections$/, '')}`,
      runs: col(`noop_${k}`, (x) => x.rps) });
  }
  for (const k of ['single', 'batch']) {
    if (m.unavailable[k]) {
      report.missing(S, `${route[k]}: events/s`, `the route ${m.unavailable[k]} on this build`);
      continue;
    }
    const row = report.add({
      section: S, figure: `${route[k]}: events/s`, runs: col(`api_${k}`, (x) => x.eps), at: ats(runs, `api_${k}`),
      ref: { label: 'Kore no-op route, same body (× events per request)', value: med(runs, (r) => r[`noop_${k}`].eps),
        at: ats(runs, `noop_${k}`) },
      target: ratioAtLeast(0.7),
    });
    if (k === 'batch') {
      report.add({ section: S, figure: `${route[k]}: events/s`, value: row.value, at: row.at,
        ref: { label: 'redis-benchmark XADD pipelined', value: med(runs, (r) => r.xadd_p16.rps), at: ats(runs, 'xadd_p16') },
        target: ratioAtLeast(0.9) });
    }
    report.add({ section: S, figure: `${route[k]}: latency p50 / p99 ms`,
      value: pair(med(runs, (r) => r[`api_${k}`].p50), med(runs, (r) => r[`api_${k}`].p99)),
      ref: { label: `no-op route: ${pair(med(runs, (r) => r[`noop_${k}`].p50), med(runs, (r) => r[`noop_${k}`].p99))}`, value: null } });
  }
  for (const k of ['single', 'batch']) {
    if (m.unavailable[k]) continue;
    // A worker that waited on each Redis call would serve at most one
    // request per round trip: workers / 1 ms.
    const blocking = m.workers / 0.001;
    report.add({
      section: D, figure: `${route[k]}: events/s`, runs: col(`delayed_${k}`, (x) => x.eps), at: ats(runs, `delayed_${k}`),
      ref: k === 'single'
        ? { label: `blocking bound: ${m.workers} workers / 1 ms`, value: blocking, fixed: true }
        : { label: 'same route without the delay', value: med(runs, (r) => r[`api_${k}`].eps), at: ats(runs, `api_${k}`) },
      target: k === 'single' ? { text: '> 1 (never falls to it)', ok: (r) => r.ratio > 1, ratio: true } : null,
    });
    report.add({ section: D, figure: `${route[k]}: latency p50 / p99 ms`,
      value: pair(med(runs, (r) => r[`delayed_${k}`].p50), med(runs, (r) => r[`delayed_${k}`].p99)) });
  }
}

const CPU = 'Where the CPU goes: µs of CPU per event (ingest) or delivery, same runs; machine busy = all CPUs';
const us = (v) => (v == null || Number.isNaN(v) ? 'n/a' : v.toFixed(1));
const pct = (v) => (v == null || Number.isNaN(v) ? 'n/a' : `${Math.round(v * 100)} %`);

// Each piece's cost per unit of work: on a machine whose CPUs are all
// busy, the rate is bounded by the sum (wrk's and the receiver's share is
// what remains of busy × CPUs / rate).
export function cpuRows(report, ingest, delivery) {
  if (ingest && !ingest.unavailable.single) {
    const c = (k, f) => med(ingest.runs, (r) => r[k].cpu[f]);
    report.add({ section: CPU, figure: 'POST /v1/events: Kore workers / Redis µs per event, machine busy',
      value: `${us(c('api_single', 'kore'))} / ${us(c('api_single', 'redis'))}, ${pct(c('api_single', 'busy'))}`,
      ref: { label: `Kore no-op route: workers ${us(c('noop_single', 'kore'))} µs per request, ${pct(c('noop_single', 'busy'))} busy`, value: null } });
  }
  if (delivery) {
    const c = (f) => med(delivery.runs, (r) => r.d1_f1.cpu[f]);
    const w = (f) => med(delivery.runs, (r) => r.ceilingCpu[f]);
    report.add({ section: CPU, figure: 'deliveries, 1 dispatcher: dispatcher / Redis / nginx µs per delivery, machine busy',
      value: `${us(c('dispatcher'))} / ${us(c('redis'))} / ${us(c('nginx'))}, ${pct(c('busy'))}`,
      ref: { label: `wrk ceiling: nginx ${us(w('nginx'))} µs per request, ${pct(w('busy'))} busy`, value: null } });
  }
}

export function deliveryRows(report, m) {
  const S = `Delivery: 1 KiB payload to nginx answering 204 (drains of ${m.backlog} deliveries)`;
  const B = `One dispatcher next to bare libcurl (barecurl.c: the same request, ${m.concurrency} transfers in flight, same nginx), interleaved`;
  const R = 'Redis per delivery, 1 dispatcher, 1 webhook per event: AOF off and on (appendfsync everysec), interleaved';
  const runs = m.runs;
  const ceiling = { label: 'wrk ceiling', value: med(runs, (r) => r.ceiling.rps), at: ats(runs, 'ceiling') };
  report.add({ section: CEIL, figure: 'wrk POSTing the delivery request to the same nginx (1 thread, 128 connections), requests/s',
    runs: runs.map((r) => r.ceiling.rps) });
  report.add({ section: CEIL, figure: `bare libcurl POSTing the delivery request to the same nginx (${m.concurrency} in flight), requests/s`,
    runs: runs.map((r) => r.bare.rate) });
  const d1 = report.add({ section: B, figure: 'deliveries/s, 1 dispatcher, 1 webhook per event', runs: runs.map((r) => r.d1_f1.rate),
    at: ats(runs, 'd1_f1'), ref: { label: 'bare libcurl', value: med(runs, (r) => r.bare.rate), at: ats(runs, 'bare') },
    target: ratioAtLeast(0.8) });
  report.add({ section: B, figure: 'µs of CPU per delivery: the dispatcher', runs: runs.map((r) => r.d1_f1.cpu.dispatcher), at: d1.at,
    ref: { label: 'bare libcurl, per request', value: med(runs, (r) => r.bare.cpuUs), at: ats(runs, 'bare') } });
  // The rate ratio this machine's CPUs allow (issue 25): a single-threaded
  // client delivers at most 1/(its µs per request) per µs, and the machine
  // at most ncpu/(every process' µs per request); a delivery also costs
  // Redis, barecurl's request only nginx.
  const ncpu = os.cpus().length;
  const cap = (own, rest) => Math.min(1 / own, ncpu / (own + rest));
  const allowed = (r) => cap(r.d1_f1.cpu.dispatcher, r.d1_f1.cpu.redis + r.d1_f1.cpu.nginx) /
    cap(r.bare.cpuUs, r.bareCpu.nginx);
  report.add({ section: B, figure: `µs of CPU per request, all processes: dispatcher + Redis + nginx, against barecurl + nginx (${ncpu} CPUs)`,
    value: `${us(med(runs, (r) => r.d1_f1.cpu.dispatcher + r.d1_f1.cpu.redis + r.d1_f1.cpu.nginx))} / ` +
      `${us(med(runs, (r) => r.bare.cpuUs + r.bareCpu.nginx))}` });
  report.add({ section: B, figure: 'rate ratio these CPU costs allow: min(1/own, CPUs/all) of the dispatcher over the same of barecurl',
    value: med(runs, allowed) });
  for (const [k, name] of [['d1_f1', '1 dispatcher, 1 webhook per event'], ['d2_f1', '2 dispatchers, 1 webhook per event'],
    ['d1_f10', '1 dispatcher, fan-out 10'], ['d2_f10', '2 dispatchers, fan-out 10']]) {
    report.add({ section: S, figure: `deliveries/s, ${name}`, runs: runs.map((r) => r[k].rate), at: ats(runs, k),
      ref: ceiling, target: k === 'd1_f1' ? ratioAtLeast(0.5) : null });
  }
  for (const [k, name] of [['d1_f1', '1 dispatcher, 1 webhook per event'], ['d2_f1', '2 dispatchers (the larger)'],
    ['d1_f10', '1 dispatcher, fan-out 10'], ['d2_f10', '2 dispatchers, fan-out 10 (the larger)']]) {
    report.add({ section: S, figure: `dispatcher peak RSS MiB, ${name}`, runs: runs.map((r) => r[k].peakMiB) });
  }
  for (const [k, name] of [['lat_f1', `${CONFIG.latencyRate} events/s, 1 webhook each`],
    ['lat_f10', `${CONFIG.latencyRate / 10} events/s × fan-out 10`]]) {
    const p99 = med(runs, (r) => r[k].p99);
    report.add({ section: S, figure: `publish → receive latency p50 / p99 ms, ${name}`,
      value: pair(med(runs, (r) => r[k].p50), p99), target: { text: 'p99 ≤ 2 ms', ok: () => p99 <= 2 } });
  }
  report.add({ section: S, figure: `dispatcher peak RSS MiB, ${m.inflight.inflight} transfers in flight`, value: m.inflight.peakMiB,
    target: valueAtMost(32, '≤ 32 MiB') });

  report.add({ section: R, figure: 'deliveries/s, AOF on', runs: runs.map((r) => r.d1_aof.rate), at: ats(runs, 'd1_aof'),
    ref: { label: 'AOF off', value: d1.value, at: d1.at } });
  report.add({ section: R, figure: 'AOF rewrites Redis ran (its default auto-aof-rewrite) during the AOF-on drains',
    value: runs.map((r) => r.d1_aof.rewrites).join(' / ') });
  for (const [k, name, max] of [['d1_f1', 'AOF off', 4], ['d1_aof', 'AOF on', 8]]) {
    report.add({ section: R, figure: `Redis µs of CPU per delivery (INFO cpu: its whole process), ${name}`,
      runs: runs.map((r) => r[k].cpu.redis), target: valueAtMost(max, `≤ ${max} µs`) });
    // The split of the median run (by Redis CPU) of this side.
    const mid = [...runs].sort((x, y) => x[k].cpu.redis - y[k].cpu.redis)[Math.floor(runs.length / 2)];
    report.add({ section: R, figure: `Redis µs per delivery by command (calls per delivery), ${name}; script commands also inside EVALSHA`,
      value: perUnitText(mid[k].perCommand) });
  }
}

// A row comparing measurement `side` of each repetition with `base` of
// the same repetitions (interleaved, so each side carries its times): f
// picks the figure out of a measurement.
export function sidesRow(report, { section, figure, runs, side, base, label, f, target = null }) {
  return report.add({ section, figure, runs: runs.map((r) => f(r[side])), at: ats(runs, side),
    ref: { label, value: med(runs, (r) => f(r[base])), at: ats(runs, base) }, target });
}

// Redis over TLS next to the same work over the plain port, same run.
export function tlsRows(report, m) {
  const S = 'Redis over TLS (rediss://, verified, client certificate), same Redis, interleaved with its plain port';
  const row = (figure, what, f, label, target = null) =>
    sidesRow(report, { section: S, figure, runs: m.runs, side: `${what}_tls`, base: `${what}_plain`, label, f, target });
  const same = 'same over the plain port';
  row(`POST /v1/events, ${CONFIG.ingestConnections} connections: events/s over TLS`, 'ingest', (x) => x.eps, same, ratioAtLeast(0.85));
  row(`deliveries/s, 1 dispatcher, drains of ${m.backlog}, over TLS`, 'd1', (x) => x.rate, same, ratioAtLeast(0.85));
  // CPU per unit of work: what TLS costs each side, steadier than the
  // rates on a shared machine.
  row('POST /v1/events: Kore workers µs CPU per event over TLS', 'ingest', (x) => x.cpu.kore, 'plain');
  row('POST /v1/events: Redis µs CPU per event over TLS', 'ingest', (x) => x.cpu.redis, 'plain');
  row('deliveries, 1 dispatcher: dispatcher µs CPU per delivery over TLS', 'd1', (x) => x.cpu.dispatcher, 'plain');
  row('deliveries, 1 dispatcher: Redis µs CPU per delivery over TLS', 'd1', (x) => x.cpu.redis, 'plain');
}

// Deliveries over TLS: a client certificate next to plain TLS, same run.
export function egressRows(report, m) {
  const S = `Delivery over TLS: 1 KiB payload to nginx answering 204 (drains of ${m.backlog}, 1 dispatcher)`;
  const plain = med(m.runs, (r) => r.tls.rate);
  report.add({ section: S, figure: 'deliveries/s over TLS', runs: m.runs.map((r) => r.tls.rate) });
  report.add({ section: S, figure: 'deliveries/s over TLS with a client certificate (tls_client_certificate)',
    runs: m.runs.map((r) => r.mtls.rate), at: ats(m.runs, 'mtls'), ref: { label: 'plain TLS', value: plain, at: ats(m.runs, 'tls') },
    target: ratioAtLeast(0.9) });
}

// Ordering keys next to none, same run; what a kept event costs Redis.
export function orderingRows(report, m) {
  const S = `Delivery control: 1 KiB payload to nginx answering 204 (drains of ${m.backlog}, 1 dispatcher)`;
  report.add({ section: S, figure: `deliveries/s with an ordering_key over ${m.keys} keys`,
    runs: m.runs.map((r) => r.ordered.rate), at: ats(m.runs, 'ordered'),
    ref: { label: 'same events without a key', value: med(m.runs, (r) => r.unordered.rate), at: ats(m.runs, 'unordered') },
    target: ratioAtLeast(0.5) });
  report.add({ section: S, figure: 'Redis used_memory per event kept for a resend (WH_EVENT_RETENTION_MS), bytes',
    runs: m.runs.map((r) => r.kept.bytes), ref: { label: 'its payload', value: 1024, fixed: true } });
}

// The backlog and the storm are compared with a short drain of the same
// dispatcher run just before them (m.short), in the same section.
export function backlogRows(report, m) {
  const S = `Scale: a backlog of ${m.events} events, 1 dispatcher`;
  report.add({ section: S, figure: 'publishing it: XADDs/s, one pipelined connection from Node', value: m.publishRate });
  report.add({ section: S, figure: 'Redis used_memory per queued event, bytes', value: m.bytesPerEvent,
    ref: { label: 'its payload', value: 1024, fixed: true } });
  report.add({ section: S, figure: 'draining it: deliveries/s', value: m.rate, at: [m.at],
    ref: { label: `short drain of ${m.short.deliveries} just before, same dispatcher`, value: m.short.rate, at: [m.short.at] } });
  report.add({ section: S, figure: 'deliveries deferred through the retry set at one time, most seen (endpoint fairness)', value: m.maxDeferred });
  report.add({ section: S, figure: 'dispatcher RSS MiB through the drain (min / median / max, after the first 10 %)',
    value: `${ms2(m.rssMin)} / ${ms2(m.rssMedian)} / ${ms2(m.rssMax)}` });
  report.add({ section: S, figure: 'dispatcher RSS band through the drain: (max − min) / (max + min)', value: m.rssBand,
    target: valueAtMost(0.1, '≤ 0.10 (flat ±10 %)') });
}

// Issue 25: the mover takes 100 000 due tasks in ≤ 0.2 s (≥ 500 000/s),
// and the storm drains at delivery speed: lateness p99 ≤ tasks / (the
// short drain's rate) + 0.5 s.
export function stormRows(report, m) {
  const S = `Retry storm: ${m.tasks} retries due at the same instant, 1 dispatcher`;
  const bound = (m.tasks / m.short.rate) * 1000 + 500;
  report.add({ section: S, figure: 'moved to wh:{0}:retries, 99 % / all, ms after due', value: `${m.moveP99Ms} / ${m.moveAllMs}` });
  report.add({ section: S, figure: 'moved: tasks/s (all of them / ms from due until the retry set was empty, polled every 10 ms)',
    value: m.tasks / (Math.max(1, m.moveAllMs) / 1000), target: valueAtLeast(500000, '≥ 500 000') });
  report.add({ section: S, figure: 'all delivered, ms after due', value: m.deliverAllMs });
  report.add({ section: S, figure: 'storm deliveries/s (due → all delivered)', value: m.rate, at: [m.at],
    ref: { label: `short drain of ${m.short.deliveries} just before, same dispatcher`, value: m.short.rate, at: [m.short.at] } });
  report.add({ section: S, figure: 'delivery lateness against due time, p50 / p99 ms', value: `${m.latenessP50Ms} / ${m.latenessP99Ms}`,
    target: { text: `p99 ≤ ${m.tasks} / short drain's rate + 500 ms = ${Math.round(bound)} ms`, ok: () => m.latenessP99Ms <= bound } });
  if (m.duplicates) report.note(`retry storm: ${m.duplicates} duplicate deliveries (at least once)`);
}

// Each repetition drains the same number of jobs with one dispatcher
// (r.ours) and with the peer (r.peer), back to back.
export function peerRows(report, m) {
  const S = `Peer: Node worker on BullMQ + undici + standardwebhooks, ${m.jobs} jobs, interleaved with one dispatcher draining as many`;
  const peer = (f, label) => ({ label, value: med(m.runs, (r) => r.peer[f]), at: ats(m.runs, 'peer') });
  report.add({ section: S, figure: `peer deliveries/s, concurrency ${m.concurrency}`, runs: m.runs.map((r) => r.peer.rate) });
  report.add({ section: S, figure: 'peer peak RSS MiB', runs: m.runs.map((r) => r.peer.peakMiB) });
  report.add({ section: S, figure: `ours: deliveries/s, 1 dispatcher, 1 webhook per event, ${m.ourConcurrency} in flight`,
    runs: m.runs.map((r) => r.ours.rate), at: ats(m.runs, 'ours'), ref: peer('rate', 'peer'), target: ratioAtLeast(5) });
  report.add({ section: S, figure: 'ours: dispatcher peak RSS MiB, same drain', runs: m.runs.map((r) => r.ours.peakMiB),
    at: ats(m.runs, 'ours'), ref: peer('peakMiB', 'peer'), target: ratioAtMost(0.1) });
}

// Redis Cluster (sections/cluster.mjs): the same drain on 1 master and on
// 3 (the `{g}` slot's master alone + 2 partition masters), interleaved,
// and on 3 keeping no event (WH_EVENT_RETENTION_MS=0). clusterSplit()
// divides a 3-master drain's Redis CPU per delivery into the `{g}`
// master's, the queue's per delivery a partition master serves (from the
// masters without partition 0) and what the partition-0 master carries
// beyond its share of the queue (the kept events, still under {0}).
export function clusterSplit(run, partitions) {
  const g = run.nodes.find((x) => x.g);
  const queue = median(run.nodes.filter((x) => !x.g && !x.zero && x.partitions.length)
    .map((x) => (x.us * partitions) / x.partitions.length));
  const zero = run.nodes.find((x) => x.zero && !x.g);
  const kept = zero && queue != null ? zero.us - (queue * zero.partitions.length) / partitions : null;
  return { gUs: g ? g.us : null, queueUs: queue, keptUs: kept };
}

// The projection of issue 20, computed from the measured costs (one core
// per master), not measured rates: what one more partition master adds,
// what the `{g}` master and the partition-0 master cap the total at.
export function clusterProjection(split) {
  const perMaster = split.queueUs > 0 ? 1e6 / split.queueUs : null;
  const gCap = split.gUs > 0 ? 1e6 / split.gUs : null;
  // Below 0.5 µs the partition-0 master carries nothing of its own.
  const zeroCap = split.keptUs > 0.5 ? 1e6 / split.keptUs : null;
  const cap = Math.min(...[gCap, zeroCap].filter((x) => x != null));
  return { perMaster, gCap, zeroCap, cap, masters: perMaster ? Math.ceil(cap / perMaster) : null };
}

export function clusterRows(report, m) {
  const S = `Redis Cluster: ${m.dispatchers} dispatchers, WH_PARTITIONS=${m.partitions}, drains of ${m.backlog} ` +
    `(1 KiB, one company and webhook per partition, ${m.concurrency} in flight per webhook), no replicas`;
  const side = (k, f, label) => ({ label, value: med(m.runs, (r) => f(r[k])), at: ats(m.runs, k) });
  const row = (figure, k, f, ref, extra = {}) => report.add({ section: S, figure, runs: m.runs.map((r) => f(r[k])),
    at: ats(m.runs, k), ref, ...extra });
  const masters = m.layout.map((x) => (x.g ? '{g}' : `partitions ${x.partitions.join(',')}`));
  const rate = (x) => x.rate;
  row(`deliveries/s, 3 masters (${masters.join('; ')})`, 'three', rate, side('one', rate, '1 master, every slot'),
    { note: 'CPU-bound: the Redis, the dispatchers and nginx share 2 cores' });
  row('deliveries/s, 3 masters keeping no event (WH_EVENT_RETENTION_MS=0)', 'threeNoKeep', rate, side('three', rate, '3 masters'));
  row('machine busy during the drain, 3 masters', 'three', (x) => x.busy, side('one', (x) => x.busy, '1 master'));
  row('Redis CPU µs per delivery, all masters, 3 masters', 'three', (x) => x.redisUs, side('one', (x) => x.redisUs, '1 master'));
  row('dispatcher CPU µs per delivery, 3 masters', 'three', (x) => x.dispatcherUs, side('one', (x) => x.dispatcherUs, '1 master'));
  report.add({ section: S, figure: `Redis CPU µs per delivery by master (${masters.join(' / ')})`,
    value: m.layout.map((x) => ms2(med(m.runs, (r) => r.three.nodes.find((n) => n.port === x.port).us))).join(' / ') });
  const split = (k, f) => (r) => f(clusterSplit(r[k] ?? r, m.partitions));
  const noKeep = (f, label) => side('threeNoKeep', split('threeNoKeep', f), label);
  row('{g} master: Redis CPU µs per delivery (webhooks, attempt logs, health)', 'three', split('three', (x) => x.gUs),
    noKeep((x) => x.gUs, 'keeping no event'));
  row('partition master: Redis CPU µs per delivery it serves (queue; masters without partition 0)', 'three',
    split('three', (x) => x.queueUs), noKeep((x) => x.queueUs, 'keeping no event'));
  row('partition-0 master beyond its share of the queue: µs per delivery (kept events, under {0})', 'three',
    split('three', (x) => x.keptUs), noKeep((x) => x.keptUs, 'keeping no event'));
  const proj = (k) => clusterProjection({
    gUs: med(m.runs, split(k, (x) => x.gUs)), queueUs: med(m.runs, split(k, (x) => x.queueUs)),
    keptUs: med(m.runs, split(k, (x) => x.keptUs)),
  });
  const p = proj('three'), q = proj('threeNoKeep');
  const P = 'projection (one core per master, from the µs above)';
  const both = (figure, f) => report.add({ section: S, figure: `${P}: ${figure}`, value: f(p),
    ref: { label: `keeping no event: ${fmt(f(q))}`, value: null } });
  both('deliveries/s per added partition master', (x) => x.perMaster);
  both('deliveries/s the {g} master caps the total at', (x) => x.gCap);
  both('deliveries/s the partition-0 master caps the total at (kept events)', (x) => x.zeroCap ?? 'no cap');
  both('partition masters that reach the lower cap (WH_PARTITIONS at least that)', (x) => String(x.masters));
}
