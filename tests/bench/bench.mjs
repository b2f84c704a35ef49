// make bench: every figure of issue 9 (and the ingest acceptance of issue 4)
// next to a ceiling or a peer measured in the same run, printed as one
// table and written to var/bench/results.json.
//
// The sections measure (sections/*.mjs); this file only starts the shared
// pieces (Redis, nginx), runs the sections and turns their measurements
// into rows. Figures are medians of CONFIG.repeat runs; see lib/config.mjs
// for the environment knobs (BENCH_QUICK, BENCH_REPEAT, BENCH_ONLY).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONFIG, wants } from './lib/config.mjs';
import { ROOT, stopAll } from './lib/procs.mjs';
import { Report } from './lib/report.mjs';
import { median } from './lib/stats.mjs';
import { startNginx, startRedis } from './lib/stack.mjs';
import { delivery } from './sections/delivery.mjs';
import { ingest } from './sections/ingest.mjs';

const OUT = path.join(ROOT, 'var', 'bench', 'results.json');
const report = new Report();
const med = (runs, f) => median(runs.map(f));
const ratioAtLeast = (x) => ({ text: `≥ ${x}`, ok: (r) => r.ratio >= x });
const ratioAtMost = (x, label = `≤ ${x}`) => ({ text: label, ok: (r) => r.ratio <= x });

function ingestRows(m) {
  const S = 'Ingest (api, wrk)';
  const C = 'Ceilings';
  const runs = m.runs;
  const col = (k, f) => runs.map((r) => (r[k] ? f(r[k]) : NaN));
  const w = m.workers;
  const one = { single: 'POST /v1/events', batch: `POST /v1/events:batch (${m.batchSize} per request)` };
  report.add({ section: C, figure: 'redis-benchmark XADD/s, 50 clients, not pipelined', runs: runs.map((r) => r.xadd_p1) });
  report.add({ section: C, figure: 'redis-benchmark XADD/s, 50 clients, pipelined 16', runs: runs.map((r) => r.xadd_p16) });
  for (const k of ['single', 'batch']) {
    report.add({ section: C, figure: `Kore no-op route, requests/s, body of ${one[k]}`, runs: col(`noop_${k}`, (x) => x.rps) });
  }
  for (const k of ['single', 'batch']) {
    const conns = k === 'single' ? CONFIG.ingestConnections : CONFIG.batchConnections;
    const name = `${one[k]}, ${conns} connections`;
    if (m.unavailable[k]) {
      report.missing(S, `${name}: events/s`, `the route ${m.unavailable[k]}`);
      continue;
    }
    const noopEps = med(runs, (r) => r[`noop_${k}`].eps);
    const eps = report.add({
      section: S, figure: `${name}: events/s`, runs: col(`api_${k}`, (x) => x.eps),
      ref: { label: 'Kore no-op route, same body, events/s', value: noopEps }, target: ratioAtLeast(0.7),
    });
    if (k === 'batch') {
      report.add({ section: S, figure: `${name}: events/s`, value: eps.value,
        ref: { label: 'redis-benchmark XADD pipelined', value: med(runs, (r) => r.xadd_p16) } });
    }
    report.add({ section: S, figure: `${name}: p50 / p99 ms`, value: `${fmt2(med(runs, (r) => r[`api_${k}`].p50))} / ${fmt2(med(runs, (r) => r[`api_${k}`].p99))}`,
      ref: { label: `no-op: ${fmt2(med(runs, (r) => r[`noop_${k}`].p50))} / ${fmt2(med(runs, (r) => r[`noop_${k}`].p99))}`, value: null } });
  }
  const D = `Ingest, Redis 1 ms away (delay proxy; measured RTT ${fmt2(m.rttMs)} ms)`;
  for (const k of ['single', 'batch']) {
    if (m.unavailable[k]) continue;
    const name = one[k];
    const blocking = (w / 0.001) * (k === 'single' ? 1 : m.batchSize);
    report.add({
      section: D, figure: `${name}: events/s`, runs: col(`delayed_${k}`, (x) => x.eps),
      ref: k === 'single'
        ? { label: `blocking calls' bound, ${w} workers / 1 ms`, value: blocking }
        : { label: 'same route, no delay', value: med(runs, (r) => r[`api_${k}`].eps) },
      target: k === 'single' ? { text: '> 1 (not blocking)', ok: (r) => r.ratio > 1 } : null,
    });
    report.add({ section: D, figure: `${name}: p50 / p99 ms`, value: `${fmt2(med(runs, (r) => r[`delayed_${k}`].p50))} / ${fmt2(med(runs, (r) => r[`delayed_${k}`].p99))}` });
  }
}

function deliveryRows(m) {
  const C = 'Ceilings';
  const S = `Delivery (1 KiB payload, nginx answering 204; backlog of ${m.backlog} deliveries)`;
  const runs = m.runs;
  const ceiling = med(runs, (r) => r.ceiling);
  report.add({ section: C, figure: 'wrk POSTing the delivery request to the same nginx, requests/s', value: ceiling, runs: runs.map((r) => r.ceiling) });
  for (const [k, name] of [['d1_f1', '1 dispatcher, 1 webhook per event'], ['d2_f1', '2 dispatchers, 1 webhook per event'],
    ['d1_f10', '1 dispatcher, fan-out 10'], ['d2_f10', '2 dispatchers, fan-out 10']]) {
    report.add({ section: S, figure: `deliveries/s, ${name}`, runs: runs.map((r) => r[k].rate),
      ref: { label: 'wrk ceiling', value: ceiling }, target: k === 'd1_f1' ? ratioAtLeast(0.5) : null });
    report.add({ section: S, figure: `dispatcher peak RSS MiB, ${name}`, runs: runs.map((r) => r[k].peakMiB) });
  }
  for (const [k, name] of [['lat_f1', `${CONFIG.latencyRate} events/s, 1 webhook each`], ['lat_f10', `${CONFIG.latencyRate / 10} events/s, fan-out 10`]]) {
    report.add({ section: S, figure: `publish → receive p50 ms, ${name}`, runs: runs.map((r) => r[k].p50) });
    report.add({ section: S, figure: `publish → receive p99 ms, ${name}`, runs: runs.map((r) => r[k].p99),
      ref: { label: 'target', value: 10 }, target: ratioAtMost(1, '≤ 10 ms') });
  }
  report.add({ section: S, figure: `dispatcher peak RSS MiB, ${m.inflight.inflight} transfers in flight`, value: m.inflight.peakMiB,
    ref: { label: 'target', value: 32 }, target: ratioAtMost(1, '≤ 32 MiB') });
}

const fmt2 = (v) => (v == null ? 'n/a' : v.toFixed(2));

async function main() {
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wh-bench-'));
  process.stderr.write(`bench: ${CONFIG.quick ? 'quick, ' : ''}${CONFIG.repeat} repetition(s), work dir ${tmp}\n`);
  const redis = await startRedis(tmp);
  const nginx = await startNginx(tmp);
  const ctx = { tmp, redis, nginx, report };
  const measured = {};
  try {
    if (wants('ingest')) {
      measured.ingest = await ingest(ctx);
      ingestRows(measured.ingest);
    }
    if (wants('delivery')) {
      measured.delivery = await delivery(ctx);
      deliveryRows(measured.delivery);
    }
  } finally {
    await stopAll();
  }
  const seconds = (Date.now() - t0) / 1000;
  const machine = report.write(OUT, { date: new Date().toISOString(), seconds, config: CONFIG, measured });
  console.log(`\n${report.table()}\n`);
  console.log(`${machine.cpus} CPUs (${machine.cpu_model}), ${machine.mem_gib} GiB; load average at the end ${machine.loadavg_at_end.join(' ')}; ` +
    `${CONFIG.repeat} repetition(s), medians; ${Math.round(seconds)} s. Results: ${path.relative(ROOT, OUT)}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench failed: ${err.stack || err}\n`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
