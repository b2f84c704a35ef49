// The peer row: the same delivery job done by a BullMQ + undici +
// standardwebhooks worker (peer/worker.mjs, its own process so that its
// memory is its own), from a backlog of jobs in the same Redis, to the
// same nginx. Each repetition drains the same number of deliveries with
// one dispatcher first, then with the peer. The peer's rate is timed from
// its first job started (its start-up is not counted, which favours the
// peer), ours from spawning the dispatcher.
import path from 'node:path';
import { Queue } from 'bullmq';
import { CONFIG } from '../lib/config.mjs';
import { PAYLOAD, EVENT_TYPE } from '../lib/payload.mjs';
import { Proc, ROOT, memorySampler, waitFor } from '../lib/procs.mjs';
import { createWebhook, startApi } from '../lib/stack.mjs';
import { drain } from './delivery.mjs';

const QUEUE = 'deliveries';

async function enqueue(queue, n, rep) {
  const opts = { removeOnComplete: true, removeOnFail: 1000, attempts: 8, backoff: { type: 'exponential', delay: 5000 } };
  for (let i = 0; i < n; i += 1000) {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      jobs.push({ name: 'deliver', opts, data: {
        event_sid: `evt_peer_${rep}_${j}`, company_sid: 'CO_peer', event_type: EVENT_TYPE, payload: PAYLOAD, created_at: Date.now(),
      } });
    }
    await queue.addBulk(jobs);
  }
}

export async function peer({ redis, nginx }) {
  const api = await startApi(redis.url, { workers: 1 });
  await createWebhook(api, 'CO_peer_ours', nginx.url('/hook/peer-ours'));
  await api.proc.stop();
  const queue = new Queue(QUEUE, { connection: { host: '127.0.0.1', port: redis.port } });
  const out = { jobs: CONFIG.peerJobs, concurrency: CONFIG.peerConcurrency, ourConcurrency: CONFIG.endpointConcurrency, runs: [] };
  const conc = { WH_ENDPOINT_CONCURRENCY: String(CONFIG.endpointConcurrency) };
  for (let i = 0; i < CONFIG.repeat; i++) {
    const ours = await drain(redis, { dispatchers: 1, company: 'CO_peer_ours', events: CONFIG.peerJobs, fanout: 1, env: conc });
    await enqueue(queue, CONFIG.peerJobs, i);
    const w = new Proc('peer', process.execPath, [path.join(ROOT, 'tests/bench/peer/worker.mjs')], {
      cwd: path.join(ROOT, 'tests/bench'),
      env: {
        PEER_REDIS_PORT: redis.port, PEER_QUEUE: QUEUE, PEER_URL: nginx.url('/hook/peer'),
        PEER_SECRET: 'bench-shared-secret-0123456789', PEER_JOBS: CONFIG.peerJobs, PEER_CONCURRENCY: CONFIG.peerConcurrency,
      },
    });
    const mem = memorySampler([w.pid]);
    const t0 = Date.now();
    const line = await waitFor(() => {
      const m = /\{"completed".*\}/.exec(w.out);
      if (!m) w.check();
      return m && JSON.parse(m[0]);
    }, { ms: 600000, every: 50, what: 'the peer to finish its jobs' });
    const { peak } = mem.stop();
    await w.stop();
    out.runs.push({ ours, peer: { rate: line.completed / (line.ms / 1000), peakMiB: peak, seconds: line.ms / 1000, at: [t0, Date.now()] } });
    process.stderr.write(`bench: peer repetition ${i + 1}/${CONFIG.repeat} done\n`);
  }
  await queue.obliterate({ force: true });
  await queue.close();
  return out;
}
