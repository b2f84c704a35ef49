// make bench: every figure of issue 9 (and the ingest acceptance of issue
// 4) next to a ceiling or a peer measured in the same run, printed as one
// table and written to var/bench/results.json.
//
// Sections measure (sections/*.mjs), lib/rows.mjs turns measurements into
// rows; this file starts the shared pieces (Redis, nginx) and runs them in
// order. Environment knobs: lib/config.mjs (BENCH_QUICK, BENCH_REPEAT,
// BENCH_ONLY, ...).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONFIG, wants } from './lib/config.mjs';
import { ROOT, stopAll } from './lib/procs.mjs';
import { Report } from './lib/report.mjs';
import { backlogRows, cpuRows, deliveryRows, ingestRows, peerRows, stormRows, tlsRows, egressRows, orderingRows, clusterRows } from './lib/rows.mjs';
import { startNginx, startRedis } from './lib/stack.mjs';
import { APART_MS, machineState } from './lib/when.mjs';
import { delivery } from './sections/delivery.mjs';
import { ingest } from './sections/ingest.mjs';
import { peer } from './sections/peer.mjs';
import { backlog, storm } from './sections/scale.mjs';
import { egress } from './sections/egress.mjs';
import { tls } from './sections/tls.mjs';
import { ordering } from './sections/ordering.mjs';
import { tracing, tracingRows } from './sections/tracing.mjs';
import { cluster } from './sections/cluster.mjs';

const OUT = path.join(ROOT, 'var', 'bench', 'results.json');

async function main() {
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wh-bench-'));
  const before = machineState();
  process.stderr.write(`bench: ${CONFIG.quick ? 'quick, ' : ''}${CONFIG.repeat} repetition(s); work dir ${tmp}; ` +
    `${before.cpus} CPUs (${before.cpu_model}), load average ${before.loadavg.join(' ')}\n`);
  const report = new Report();
  const measured = {};
  const failed = [];
  // The load average at each section's start and end: what the machine
  // was doing besides the bench while each figure was measured.
  const load = {};
  const ctx = { tmp, redis: await startRedis(tmp), nginx: await startNginx(tmp) };
  const step = async (name, fn) => {
    if (!wants(name)) return;
    const t = Date.now();
    const l0 = machineState().loadavg;
    try {
      measured[name] = await fn(ctx);
    } catch (err) {
      // One broken section must not hide the others' figures; the run
      // still fails (exit 1) and the table says which section broke.
      process.stderr.write(`bench: ${name} failed: ${err.stack || err}\n`);
      failed.push(`${name}: ${err.message.split('\n')[0]}`);
      await stopAll([ctx.redis.proc, ctx.nginx.proc]);
    }
    load[name] = { before: l0, after: machineState().loadavg };
    process.stderr.write(`bench: ${name} took ${Math.round((Date.now() - t) / 1000)} s; load average ` +
      `${l0.join(' ')} before, ${load[name].after.join(' ')} after\n`);
  };

  await step('ingest', ingest);
  await step('delivery', delivery);
  await step('tls', tls);
  await step('peer', peer);
  await step('backlog', backlog);
  await step('storm', storm);
  await step('egress', egress);
  await step('ordering', ordering);
  await step('tracing', tracing);
  await step('cluster', cluster);
  await stopAll();

  if (measured.ingest) ingestRows(report, measured.ingest);
  if (measured.delivery) deliveryRows(report, measured.delivery);
  if (measured.tls) tlsRows(report, measured.tls);
  if (measured.peer) peerRows(report, measured.peer);
  if (measured.backlog) backlogRows(report, measured.backlog);
  if (measured.storm) stormRows(report, measured.storm);
  if (measured.egress) egressRows(report, measured.egress);
  if (measured.ordering) orderingRows(report, measured.ordering);
  if (measured.tracing) tracingRows(report, measured.tracing);
  if (measured.cluster) clusterRows(report, measured.cluster);
  cpuRows(report, measured.ingest, measured.delivery);

  for (const f of failed) report.note(`FAILED section ${f}`);
  if (failed.length) process.exitCode = 1;
  const seconds = (Date.now() - t0) / 1000;
  const after = machineState();
  report.write(OUT, { date: new Date().toISOString(), seconds, config: CONFIG, machine: { before, after, load }, measured });
  console.log(`\n${report.table()}\n`);
  for (const n of report.notes) console.log(`Note: ${n}`);
  for (const [name, l] of Object.entries(load)) console.log(`Load average (1, 5, 15 min) around ${name}: ${l.before.join(' ')} → ${l.after.join(' ')}`);
  console.log(`${after.cpus} CPUs (${after.cpu_model}), ${after.mem_gib} GiB, Linux ${after.kernel}; ` +
    `load average ${before.loadavg.join(' ')} before the run, ${after.loadavg.join(' ')} after. ${CONFIG.repeat} repetition(s) ` +
    `of the short rows, medians quoted; no ratio of two sides measured over ${APART_MS / 1000} s apart. ` +
    `${Math.round(seconds)} s. Results: ${path.relative(ROOT, OUT)}`);
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
