// Turning the sections' measurements into the table's rows: which figure
// is compared with which ceiling or peer, and the targets of issues 4 and
// 9. Repeated figures are medians of their runs (median of ratios would
// pair runs that were not measured together; the runs of one repetition
// are interleaved, so medians of each side are the fair pairing).
import { CONFIG } from './config.mjs';
import { median } from './stats.mjs';

const med = (runs, f) => median(runs.map(f));
const ratioAtLeast = (x) => ({ text: `≥ ${x}`, ok: (r) => r.ratio >= x });
const ratioAtMost = (x) => ({ text: `≤ ${x}`, ok: (r) => r.ratio <= x });
const valueAtMost = (x, text) => ({ text, ok: (r) => r.value <= x });
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
  report.add({ section: CEIL, figure: 'redis-benchmark XADD/s (1 KiB, 50 clients), not pipelined', runs: runs.map((r) => r.xadd_p1) });
  report.add({ section: CEIL, figure: 'redis-benchmark XADD/s (1 KiB, 50 clients), pipelined by 16', runs: runs.map((r) => r.xadd_p16) });
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
      section: S, figure: `${route[k]}: events/s`, runs: col(`api_${k}`, (x) => x.eps),
      ref: { label: 'Kore no-op route, same body (× events per request)', value: med(runs, (r) => r[`noop_${k}`].eps) },
      target: ratioAtLeast(0.7),
    });
    if (k === 'batch') {
      report.add({ section: S, figure: `${route[k]}: events/s`, value: row.value,
        ref: { label: 'redis-benchmark XADD pipelined', value: med(runs, (r) => r.xadd_p16) } });
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
      section: D, figure: `${route[k]}: events/s`, runs: col(`delayed_${k}`, (x) => x.eps),
      ref: k === 'single'
        ? { label: `blocking bound: ${m.workers} workers / 1 ms`, value: blocking }
        : { label: 'same route without the delay', value: med(runs, (r) => r[`api_${k}`].eps) },
      target: k === 'single' ? { text: '> 1 (never falls to it)', ok: (r) => r.ratio > 1 } : null,
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
  const runs = m.runs;
  const ceiling = med(runs, (r) => r.ceiling);
  report.add({ section: CEIL, figure: 'wrk POSTing the delivery request to the same nginx (1 thread, 128 connections), requests/s',
    runs: runs.map((r) => r.ceiling) });
  for (const [k, name] of [['d1_f1', '1 dispatcher, 1 webhook per event'], ['d2_f1', '2 dispatchers, 1 webhook per event'],
    ['d1_f10', '1 dispatcher, fan-out 10'], ['d2_f10', '2 dispatchers, fan-out 10']]) {
    report.add({ section: S, figure: `deliveries/s, ${name}`, runs: runs.map((r) => r[k].rate),
      ref: { label: 'wrk ceiling', value: ceiling }, target: k === 'd1_f1' ? ratioAtLeast(0.5) : null });
  }
  for (const [k, name] of [['d1_f1', '1 dispatcher, 1 webhook per event'], ['d2_f1', '2 dispatchers (the larger)'],
    ['d1_f10', '1 dispatcher, fan-out 10'], ['d2_f10', '2 dispatchers, fan-out 10 (the larger)']]) {
    report.add({ section: S, figure: `dispatcher peak RSS MiB, ${name}`, runs: runs.map((r) => r[k].peakMiB) });
  }
  for (const [k, name] of [['lat_f1', `${CONFIG.latencyRate} events/s, 1 webhook each`],
    ['lat_f10', `${CONFIG.latencyRate / 10} events/s × fan-out 10`]]) {
    const p99 = med(runs, (r) => r[k].p99);
    report.add({ section: S, figure: `publish → receive latency p50 / p99 ms, ${name}`,
      value: pair(med(runs, (r) => r[k].p50), p99), target: { text: 'p99 ≤ 10 ms', ok: () => p99 <= 10 } });
  }
  report.add({ section: S, figure: `dispatcher peak RSS MiB, ${m.inflight.inflight} transfers in flight`, value: m.inflight.peakMiB,
    target: valueAtMost(32, '≤ 32 MiB') });
}

// Redis over TLS next to the same work over the plain port, same run.
export function tlsRows(report, m) {
  const S = 'Redis over TLS (rediss://, verified, client certificate), same Redis, interleaved with its plain port';
  report.add({ section: S, figure: `POST /v1/events, ${CONFIG.ingestConnections} connections: events/s over TLS`,
    runs: m.runs.map((r) => r.ingest_tls.eps),
    ref: { label: 'same over the plain port', value: med(m.runs, (r) => r.ingest_plain.eps) }, target: ratioAtLeast(0.85) });
  report.add({ section: S, figure: `deliveries/s, 1 dispatcher, drains of ${m.backlog}, over TLS`,
    runs: m.runs.map((r) => r.d1_tls.rate),
    ref: { label: 'same over the plain port', value: med(m.runs, (r) => r.d1_plain.rate) }, target: ratioAtLeast(0.85) });
  // CPU per unit of work: what TLS costs each side, steadier than the
  // rates on a shared machine.
  report.add({ section: S, figure: 'POST /v1/events: Kore workers µs CPU per event over TLS',
    runs: m.runs.map((r) => r.ingest_tls.cpu.kore), ref: { label: 'plain', value: med(m.runs, (r) => r.ingest_plain.cpu.kore) } });
  report.add({ section: S, figure: 'POST /v1/events: Redis µs CPU per event over TLS',
    runs: m.runs.map((r) => r.ingest_tls.cpu.redis), ref: { label: 'plain', value: med(m.runs, (r) => r.ingest_plain.cpu.redis) } });
  report.add({ section: S, figure: 'deliveries, 1 dispatcher: dispatcher µs CPU per delivery over TLS',
    runs: m.runs.map((r) => r.d1_tls.cpu.dispatcher), ref: { label: 'plain', value: med(m.runs, (r) => r.d1_plain.cpu.dispatcher) } });
  report.add({ section: S, figure: 'deliveries, 1 dispatcher: Redis µs CPU per delivery over TLS',
    runs: m.runs.map((r) => r.d1_tls.cpu.redis), ref: { label: 'plain', value: med(m.runs, (r) => r.d1_plain.cpu.redis) } });
}

// Deliveries over TLS: a client certificate next to plain TLS, same run.
export function egressRows(report, m) {
  const S = `Delivery over TLS: 1 KiB payload to nginx answering 204 (drains of ${m.backlog}, 1 dispatcher)`;
  const plain = med(m.runs, (r) => r.tls.rate);
  report.add({ section: S, figure: 'deliveries/s over TLS', runs: m.runs.map((r) => r.tls.rate) });
  report.add({ section: S, figure: 'deliveries/s over TLS with a client certificate (tls_client_certificate)',
    runs: m.runs.map((r) => r.mtls.rate), ref: { label: 'plain TLS', value: plain }, target: ratioAtLeast(0.9) });
}

// Ordering keys next to none, same run; what a kept event costs Redis.
export function orderingRows(report, m) {
  const S = `Delivery control: 1 KiB payload to nginx answering 204 (drains of ${m.backlog}, 1 dispatcher)`;
  report.add({ section: S, figure: `deliveries/s with an ordering_key over ${m.keys} keys`,
    runs: m.runs.map((r) => r.ordered.rate),
    ref: { label: 'same events without a key', value: med(m.runs, (r) => r.unordered.rate) }, target: ratioAtLeast(0.5) });
  report.add({ section: S, figure: 'Redis used_memory per event kept for a resend (WH_EVENT_RETENTION_MS), bytes',
    runs: m.runs.map((r) => r.kept.bytes), ref: { label: 'its payload', value: 1024 } });
}

// `d1` is the short drain of one dispatcher, 1 webhook per event (null
// when the delivery section did not run).
export function backlogRows(report, m, d1) {
  const S = `Scale: a backlog of ${m.events} events, 1 dispatcher`;
  report.add({ section: S, figure: 'publishing it: XADDs/s, one pipelined connection from Node', value: m.publishRate });
  report.add({ section: S, figure: 'Redis used_memory per queued event, bytes', value: m.bytesPerEvent,
    ref: { label: 'its payload', value: 1024 } });
  report.add({ section: S, figure: 'draining it: deliveries/s', value: m.rate,
    ref: d1 ? { label: 'short drain, same dispatcher', value: d1.rate } : null });
  report.add({ section: S, figure: 'deliveries deferred through the retry set at one time, most seen (endpoint fairness)', value: m.maxDeferred });
  report.add({ section: S, figure: 'dispatcher RSS MiB through the drain (min / median / max, after the first 10 %)',
    value: `${ms2(m.rssMin)} / ${ms2(m.rssMedian)} / ${ms2(m.rssMax)}` });
  report.add({ section: S, figure: 'dispatcher RSS band through the drain: (max − min) / (max + min)', value: m.rssBand,
    target: valueAtMost(0.1, '≤ 0.10 (flat ±10 %)') });
}

export function stormRows(report, m, d1) {
  const S = `Retry storm: ${m.tasks} retries due at the same instant, 1 dispatcher`;
  report.add({ section: S, figure: 'moved to wh:{0}:retries, 99 % / all, ms after due', value: `${m.moveP99Ms} / ${m.moveAllMs}` });
  report.add({ section: S, figure: 'all delivered, ms after due', value: m.deliverAllMs });
  report.add({ section: S, figure: 'storm deliveries/s (due → all delivered)', value: m.rate,
    ref: d1 ? { label: 'short drain, same dispatcher', value: d1.rate } : null });
  report.add({ section: S, figure: 'delivery lateness against due time, p50 / p99 ms', value: `${m.latenessP50Ms} / ${m.latenessP99Ms}`,
    target: { text: 'p99 ≤ 1000 ms', ok: () => m.latenessP99Ms <= 1000 } });
  if (m.duplicates) report.note(`retry storm: ${m.duplicates} duplicate deliveries (at least once)`);
}

export function peerRows(report, m, d1) {
  const S = `Peer: Node worker on BullMQ + undici + standardwebhooks, concurrency ${m.concurrency}, ${m.jobs} jobs`;
  const rate = med(m.runs, (r) => r.rate);
  const rss = med(m.runs, (r) => r.peakMiB);
  report.add({ section: S, figure: 'peer deliveries/s', runs: m.runs.map((r) => r.rate) });
  report.add({ section: S, figure: 'peer peak RSS MiB', runs: m.runs.map((r) => r.peakMiB) });
  if (!d1) return report.note('peer: the delivery section did not run, so ours is not compared with it');
  report.add({ section: S, figure: 'ours: deliveries/s, 1 dispatcher, 1 webhook per event', value: d1.rate,
    ref: { label: 'peer', value: rate }, target: ratioAtLeast(4) });
  report.add({ section: S, figure: 'ours: dispatcher peak RSS MiB, same drain', value: d1.peakMiB,
    ref: { label: 'peer', value: rss }, target: ratioAtMost(0.25) });
}

// The one-dispatcher short drain that the long rows and the peer are
// compared with.
export function oneDispatcher(m) {
  return { rate: med(m.runs, (r) => r.d1_f1.rate), peakMiB: med(m.runs, (r) => r.d1_f1.peakMiB) };
}
