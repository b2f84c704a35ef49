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
import { backlogRows, cpuRows, deliveryRows, ingestRows, oneDispatcher, peerRows, stormRows, tlsRows, egressRows } from './lib/rows.mjs';
import { startNginx, startRedis } from './lib/stack.mjs';
import { delivery } from './sections/delivery.mjs';
import { ingest } from './sections/ingest.mjs';
import { peer } from './sections/peer.mjs';
import { backlog, storm } from './sections/scale.mjs';
import { egress } from './sections/egress.mjs';
import { tls } from './sections/tls.mjs';
import { tracing, tracingRows } from './sections/tracing.mjs';

const OUT = path.join(ROOT, 'var', 'bench', 'results.json');

async function main() {
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wh-bench-'));
  process.stderr.write(`bench: ${CONFIG.quick ? 'quick, ' : ''}${CONFIG.repeat} repetition(s); work dir ${tmp}\n`);
  const report = new Report();
  const measured = {};
  const failed = [];
  const ctx = { tmp, redis: await startRedis(tmp), nginx: await startNginx(tmp) };
  const step = async (name, fn) => {
    if (!wants(name)) return;
    const t = Date.now();
    try {
      measured[name] = await fn(ctx);
    } catch (err) {
      // One broken section must not hide the others' figures; the run
      // still fails (exit 1) and the table says which section broke.
      process.stderr.write(`bench: ${name} failed: ${err.stack || err}\n`);
      failed.push(`${name}: ${err.message.split('\n')[0]}`);
      await stopAll([ctx.redis.proc, ctx.nginx.proc]);
    }
    process.stderr.write(`bench: ${name} took ${Math.round((Date.now() - t) / 1000)} s\n`);
  };

  await step('ingest', ingest);
  await step('delivery', delivery);
  await step('tls', tls);
  await step('peer', peer);
  await step('backlog', backlog);
  await step('storm', storm);
  await step('egress', egress);
  await step('tracing', tracing);
  await stopAll();

  const d1 = measured.delivery ? oneDispatcher(measured.delivery) : null;
  if (measured.ingest) ingestRows(report, measured.ingest);
  if (measured.delivery) deliveryRows(report, measured.delivery);
  if (measured.tls) tlsRows(report, measured.tls);
  if (measured.peer) peerRows(report, measured.peer, d1);
  if (measured.backlog) backlogRows(report, measured.backlog, d1);
  if (measured.storm) stormRows(report, measured.storm, d1);
  if (measured.egress) egressRows(report, measured.egress);
  if (measured.tracing) tracingRows(report, measured.tracing);
  cpuRows(report, measured.ingest, measured.delivery);

  for (const f of failed) report.note(`FAILED section ${f}`);
  if (failed.length) process.exitCode = 1;
  const seconds = (Date.now() - t0) / 1000;
  const machine = report.write(OUT, { date: new Date().toISOString(), seconds, config: CONFIG, measured });
  console.log(`\n${report.table()}\n`);
  for (const n of report.notes) console.log(`Note: ${n}`);
  console.log(`${machine.cpus} CPUs (${machine.cpu_model}), ${machine.mem_gib} GiB, Linux ${machine.kernel}; ` +
    `load average at the end ${machine.loadavg_at_end.join(' ')}. ${CONFIG.repeat} repetition(s) of the short rows, ` +
    `medians quoted. ${Math.round(seconds)} s. Results: ${path.relative(ROOT, OUT)}`);
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
