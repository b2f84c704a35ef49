// Publish one event straight into Redis with ioredis (npm install ioredis).
//
//   node publish.mjs COMPANY_SID EVENT_TYPE PAYLOAD_JSON [EVENT_SID]
//
// Without EVENT_SID: a plain XADD (the dispatcher derives an event_sid from
// the entry id). With it: the idempotent Lua script shipped in
// common/lua/publish_event.lua, defined once with defineCommand (ioredis
// calls it by EVALSHA and falls back to EVAL after a Redis restart).
// REDIS_URL (default redis://127.0.0.1:6379), WH_REDIS_PREFIX and
// WH_PARTITIONS (default 1, the same as the programs') say where.
// WH_REDIS_CLUSTER_NODES (host:port[,host:port...], as the programs take it)
// publishes to a Redis Cluster instead (ioredis' Redis.Cluster), with the
// idempotency key in the stream's slot.
import { readFileSync } from 'node:fs';
import Redis from 'ioredis';

// The company's partition (docs/design.md, "Partitions"): FNV-1a 32 of the
// company_sid's bytes, modulo the partition count.
function partition(companySid, n) {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(companySid, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h % n;
}

const [company, eventType, payload, eventSid] = process.argv.slice(2);
JSON.parse(payload); // the dispatcher dead-letters a payload that is not JSON
const script = process.env.PUBLISH_EVENT_LUA ||
  new URL('../../common/lua/publish_event.lua', import.meta.url);
const seeds = process.env.WH_REDIS_CLUSTER_NODES;
const redis = seeds
  ? new Redis.Cluster(seeds.split(',').map((s) => {
    const at = s.lastIndexOf(':');
    return { host: s.slice(0, at), port: Number(s.slice(at + 1)) };
  }))
  : new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
const p = process.env.WH_REDIS_PREFIX || 'wh:';
const tag = `{${partition(company, Number(process.env.WH_PARTITIONS || 1))}}`;
const stream = `${p}${tag}:events`;
const idem = seeds ? `${p}${tag}:idem:${company}:${eventSid}` : `${p}idem:${company}:${eventSid}`;

try {
  if (eventSid === undefined) {
    console.log(await redis.xadd(stream, '*', 'company_sid', company, 'event_type', eventType, 'payload', payload));
  } else {
    redis.defineCommand('publishEvent', { numberOfKeys: 2, lua: readFileSync(script, 'utf8') });
    const [added, a, b, same] = await redis.publishEvent(
      idem, stream, 86400,
      'company_sid', company, 'event_type', eventType, 'payload', payload, 'event_sid', eventSid,
    );
    if (added === 1) console.log('added', a, b);
    else if (same === 1) console.log('repeat', a);
    else {
      console.error(`conflict: ${eventSid} was published with another event_type or payload`);
      process.exitCode = 1;
    }
  }
} finally {
  redis.disconnect();
}
