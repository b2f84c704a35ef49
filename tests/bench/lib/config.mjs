// What a bench run does, in one place. Environment:
//   BENCH_QUICK=1      a short run for development (smaller loads, 1 repetition)
//   BENCH_REPEAT=N     repetitions of the short rows (default 3; medians are quoted)
//   BENCH_ONLY=a,b     only these sections: ingest, delivery, tls, peer, backlog, storm, egress, tracing, ordering, cluster
//   BENCH_SECONDS=N    length of each wrk run (default 4, quick 2)
//   BENCH_CONCURRENCY=N, BENCH_PEER_CONCURRENCY=N   transfers in flight (below)
//   BENCH_DISPATCHER_BIN=path   another build's dispatcher (an A/B run; lib/stack.mjs)
const quick = process.env.BENCH_QUICK === '1';
const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const concurrency = num('BENCH_CONCURRENCY', 32);

export const CONFIG = {
  quick,
  repeat: num('BENCH_REPEAT', quick ? 1 : 3),
  only: process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',').map((s) => s.trim()) : null,
  wrkSeconds: num('BENCH_SECONDS', quick ? 2 : 4),
  // Api and Kore no-op workers: the api's default (one per CPU), capped
  // at 2 so that runs on bigger machines stay comparable with the table.
  workers: num('BENCH_WORKERS', 2),
  ingestConnections: 64,
  batchConnections: 16,
  batchSize: num('BENCH_BATCH', 100),          // events per POST /v1/events:batch
  delayOneWayUs: 500,                          // 1 ms Redis round trip
  redisBenchN: quick ? 60000 : 200000,         // XADDs per redis-benchmark run
  backlog: num('BENCH_BACKLOG', quick ? 20000 : 60000),   // deliveries per drain
  latencyRate: 1000,                           // deliveries/s offered in the latency rows
  latencySeconds: quick ? 2 : 5,
  inflight: 1000,                              // transfers held open for the memory row
  bigBacklog: num('BENCH_BIG_BACKLOG', quick ? 100000 : 1000000),
  storm: num('BENCH_STORM', quick ? 20000 : 100000),
  // Transfers in flight to the one webhook of the 1-webhook drains: the
  // dispatcher's WH_ENDPOINT_CONCURRENCY default, given to it explicitly,
  // and the same for barecurl and the peer (a fair comparison runs both
  // at the same concurrency; the peer was measured faster at 32 than at
  // 256 on this machine, and so were we).
  endpointConcurrency: concurrency,
  peerJobs: num('BENCH_PEER_JOBS', quick ? 5000 : 20000),
  peerConcurrency: num('BENCH_PEER_CONCURRENCY', concurrency),
};

export const wants = (section) => !CONFIG.only || CONFIG.only.includes(section);
