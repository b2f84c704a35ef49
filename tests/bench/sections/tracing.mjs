// Tracing (issue 22): the cost of exporting spans, measured against the
// same work with tracing off, interleaved in one run. Ingest: POST
// /v1/events under wrk into three apis on one Redis, tracing off, on at
// WH_TRACE_SAMPLE=1 and at 0.01 (requests without a traceparent: the
// api begins the traces and samples them). Delivery: a backlog of events
// that each carry a sampled traceparent drained by 1 dispatcher into
// nginx, the same three ways. The collector is nginx answering 204 to
// every export (a collector that accepts everything at once).
import crypto from 'node:crypto';
import { CONFIG } from '../lib/config.mjs';
import { PAYLOAD, EVENT_TYPE } from '../lib/payload.mjs';
import { encodeCommand, pipeline } from '../lib/redisload.mjs';
import { sidesRow } from '../lib/rows.mjs';
import { EVENTS, createWebhook, startApi } from '../lib/stack.mjs';
import { drain } from './delivery.mjs';
import { bodies, loadRoute } from './ingest.mjs';

const MODES = {
  off: null,
  s1: '1',
  s001: '0.01',
};

function traceEnv(nginx, sample) {
  return sample == null ? {} : { WH_OTLP_ENDPOINT: nginx.url('/otlp'), WH_TRACE_SAMPLE: sample };
}

// The backlog, each event with a traceparent of its own (sampled flag on).
function preloadTraced(redis, company, n) {
  return pipeline(redis.port, n, () => encodeCommand(['XADD', EVENTS, '*', 'company_sid', company,
    'event_type', EVENT_TYPE, 'payload', PAYLOAD,
    'traceparent', `00-${crypto.randomBytes(16).toString('hex')}-${crypto.randomBytes(8).toString('hex')}-01`]));
}

export async function tracing({ tmp, redis, nginx }) {
  const apis = {};
  for (const [k, sample] of Object.entries(MODES)) {
    apis[k] = await startApi(redis.url, { workers: CONFIG.workers, name: `api-trace-${k}`, env: traceEnv(nginx, sample) });
  }
  await createWebhook(apis.off, 'CO_trace', nginx.url('/hook/trace'));
  const route = { path: '/v1/events', file: bodies(tmp).single, connections: CONFIG.ingestConnections, events: 1 };
  const out = { backlog: CONFIG.backlog, runs: [] };
  try {
    for (let i = 0; i < CONFIG.repeat; i++) {
      const rep = {};
      // Each repetition starts with another mode: no mode always runs
      // first (or last) on a machine whose load drifts.
      const order = Object.keys(MODES).map((_, j, ks) => ks[(i + j) % ks.length]);
      for (const k of order) rep[`ingest_${k}`] = await loadRoute(redis, apis[k], route);
      for (const k of order) {
        const sample = MODES[k];
        rep[`d1_${k}`] = await drain(redis, { dispatchers: 1, company: 'CO_trace', events: CONFIG.backlog,
          fanout: 1, env: traceEnv(nginx, sample), nginx, load: preloadTraced });
      }
      out.runs.push(rep);
      process.stderr.write(`bench: tracing repetition ${i + 1}/${CONFIG.repeat} done\n`);
    }
  } finally {
    for (const a of Object.values(apis)) await a.proc.stop();
  }
  return out;
}

const atLeast = (r) => ({ text: `≥ ${r} of off`, ok: (row) => row.ratio >= r, ratio: true });

export function tracingRows(report, m) {
  const S = 'Tracing (OTLP/HTTP to a collector answering 204), interleaved with tracing off, same run';
  report.add({ section: S, figure: `POST /v1/events, ${CONFIG.ingestConnections} connections: events/s, tracing off`,
    runs: m.runs.map((r) => r.ingest_off.eps) });
  const row = (figure, side, base, label, f, target = null) =>
    sidesRow(report, { section: S, figure, runs: m.runs, side, base, label, f, target });
  for (const [k, label, target] of [['s1', '1.0', null], ['s001', '0.01', atLeast(0.9)]]) {
    row(`POST /v1/events: events/s, WH_TRACE_SAMPLE=${label} (api begins the traces)`, `ingest_${k}`, 'ingest_off',
      'tracing off', (x) => x.eps, target);
  }
  report.add({ section: S, figure: `deliveries/s, 1 dispatcher, drains of ${m.backlog} traced events, tracing off`,
    runs: m.runs.map((r) => r.d1_off.rate) });
  for (const [k, label, target] of [['s1', '1.0', null], ['s001', '0.01', atLeast(0.9)]]) {
    row(`deliveries/s, 1 dispatcher, WH_TRACE_SAMPLE=${label}`, `d1_${k}`, 'd1_off', 'tracing off', (x) => x.rate, target);
  }
  row('POST /v1/events: Kore workers µs CPU per event, WH_TRACE_SAMPLE=0.01', 'ingest_s001', 'ingest_off', 'off', (x) => x.cpu.kore);
  row('POST /v1/events: Kore workers µs CPU per event, WH_TRACE_SAMPLE=1.0', 'ingest_s1', 'ingest_off', 'off', (x) => x.cpu.kore);
  row('deliveries: dispatcher µs CPU per delivery, WH_TRACE_SAMPLE=1.0', 'd1_s1', 'd1_off', 'off', (x) => x.cpu.dispatcher);
}
