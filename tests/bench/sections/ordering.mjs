// Ordering keys and retained events (issue 21): one dispatcher draining a
// backlog into nginx (answering 204), the same events once with an
// ordering_key spread over 100 keys and once without, interleaved in one
// run; and what keeping each event for a resend (WH_EVENT_RETENTION_MS)
// costs Redis, measured by deleting what the unordered drain kept.
import { CONFIG } from '../lib/config.mjs';
import { PAYLOAD, EVENT_TYPE } from '../lib/payload.mjs';
import { encodeCommand, pipeline } from '../lib/redisload.mjs';
import { EVENTS, createWebhook, drained, startApi, startDispatcher } from '../lib/stack.mjs';
import { timed } from '../lib/when.mjs';

const KEYS = 100;

// n events of company, round robin over KEYS ordering keys when keyed.
function preload(redis, company, n, keyed) {
  const plain = encodeCommand(['XADD', EVENTS, '*', 'company_sid', company, 'event_type', EVENT_TYPE, 'payload', PAYLOAD]);
  const keyedCmds = Array.from({ length: KEYS }, (_, k) => encodeCommand(['XADD', EVENTS, '*', 'company_sid', company,
    'event_type', EVENT_TYPE, 'payload', PAYLOAD, 'ordering_key', `key-${k}`]));
  let i = 0;
  return pipeline(redis.port, n, () => (keyed ? keyedCmds[i++ % KEYS] : plain));
}

async function drainOnce(redis, company, n, keyed) {
  await preload(redis, company, n, keyed);
  const t0 = Date.now();
  const d = startDispatcher(redis.url, {}, keyed ? 'dispatcher-ordered' : 'dispatcher-unordered');
  const t1 = await drained(redis.client, { tick: () => d.check() });
  await d.stop();
  return { rate: n / ((t1 - t0) / 1000) };
}

// Bytes of used_memory per kept event: delete what the company's drain
// kept (its records and index) and see how much Redis frees.
async function keptBytes(redis, company) {
  const used = async () => Number(/used_memory:(\d+)/.exec(String(await redis.client.call('INFO', 'memory')))[1]);
  const idx = `wh:{0}:company:${company}:events`;
  const sids = (await redis.client.call('ZRANGE', idx, 0, -1)).map(String);
  if (sids.length === 0) throw new Error('no event was kept');
  const before = await used();
  for (let i = 0; i < sids.length; i += 1000) {
    await redis.client.call('DEL', ...sids.slice(i, i + 1000).map((s) => `wh:{0}:event:${company}:${s}`));
  }
  await redis.client.call('DEL', idx);
  return { n: sids.length, bytes: (before - (await used())) / sids.length };
}

export async function ordering({ redis, nginx }) {
  const api = await startApi(redis.url, { workers: 1 });
  await createWebhook(api, 'CO_ord', nginx.url('/hook/ordered'));
  await createWebhook(api, 'CO_unord', nginx.url('/hook/unordered'));
  await api.proc.stop();
  const n = CONFIG.backlog;
  const out = { backlog: n, keys: KEYS, runs: [] };
  for (let i = 0; i < CONFIG.repeat; i++) {
    const unordered = await timed(() => drainOnce(redis, 'CO_unord', n, false));
    const kept = await keptBytes(redis, 'CO_unord');
    const ordered = await timed(() => drainOnce(redis, 'CO_ord', n, true));
    out.runs.push({ unordered, ordered, kept });
    process.stderr.write(`bench: ordering repetition ${i + 1}/${CONFIG.repeat} done\n`);
  }
  return out;
}
