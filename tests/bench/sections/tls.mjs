// Redis over TLS (issue 19): the same work with the programs talking to
// one Redis over its TLS port and over its plain port, interleaved in one
// run: POST /v1/events under wrk, and a backlog drained by 1 dispatcher
// into nginx. The programs verify the server and show a client
// certificate (made with openssl for the run, as the e2e tests do).
import { TestPki } from '../../e2e/lib/certs.js';
import { CONFIG } from '../lib/config.mjs';
import { createWebhook, startApi, startRedis } from '../lib/stack.mjs';
import { drain } from './delivery.mjs';
import { bodies, loadRoute } from './ingest.mjs';

export async function tls({ tmp, nginx }) {
  const pki = new TestPki().cert('server').cert('client', { san: 'DNS:client' });
  const redis = await startRedis(tmp, { tls: pki.serverTls('server'), name: 'redis-tls' });
  const env = pki.clientEnv();
  const apis = {
    plain: await startApi(redis.url, { workers: CONFIG.workers, name: 'api-plain' }),
    tls: await startApi(redis.tlsUrl, { workers: CONFIG.workers, name: 'api-tls', env }),
  };
  await createWebhook(apis.plain, 'CO_tls', nginx.url('/hook/tls'));
  const route = { path: '/v1/events', file: bodies(tmp).single, connections: CONFIG.ingestConnections, events: 1 };
  const over = {
    plain: { redis, env: {} },
    tls: { redis: { ...redis, url: redis.tlsUrl }, env },
  };
  const out = { backlog: CONFIG.backlog, runs: [] };
  try {
    for (let i = 0; i < CONFIG.repeat; i++) {
      const rep = {};
      for (const k of ['plain', 'tls']) rep[`ingest_${k}`] = await loadRoute(redis, apis[k], route);
      for (const k of ['plain', 'tls']) {
        rep[`d1_${k}`] = await drain(over[k].redis, { dispatchers: 1, company: 'CO_tls', events: CONFIG.backlog,
          fanout: 1, env: over[k].env, nginx });
      }
      out.runs.push(rep);
      process.stderr.write(`bench: tls repetition ${i + 1}/${CONFIG.repeat} done\n`);
    }
  } finally {
    for (const a of Object.values(apis)) await a.proc.stop();
    redis.client.close();
    await redis.proc.stop();
    pki.dispose();
  }
  return out;
}
