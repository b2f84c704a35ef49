// What the per-event attempt index costs Redis, by layout (issue 25): a
// script shaped like common/lua/attempt_record.lua records batches of 32
// attempts (the log line's XADD with the real fields and a ~350-byte
// `request`), each of another event, and indexes them in one of these
// layouts, run interleaved on one redis-server:
//
//   key     today's: a zset per event (ZADD) given its TTL (PEXPIRE)
//   keynox  the same without the PEXPIRE (what the TTL costs)
//   bucket  one zset per company and time bucket, member
//           "<len>:<event_sid> <at> <entry id>_<webhook sid>" (ZADD; read
//           by ZRANGEBYLEX), its expiry once per call
//   none    no index: the log line alone
//
// A development tool beside rediscost.mjs, not part of `make bench`:
//
//   node tests/bench/indexcost.mjs [--aof] [--attempts 40000] [--reps 3]
//
// Prints Redis CPU (INFO cpu) per attempt of each run and the medians.
import { redisCpu } from './lib/cpu.mjs';
import { loadAverage, runTool } from './lib/procs.mjs';
import { setAof } from './lib/redisinfo.mjs';
import { startRedis } from './lib/stack.mjs';
import { median } from './lib/stats.mjs';

const SCRIPT = `
local mode, n, base = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, n do
  local ev, at = 'evt_' .. (base + i), 1764800000000 + base + i
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', 10000, '*',
    'event_sid', ev, 'attempt', 1, 'outcome', 'succeeded', 'status', 204,
    'error', '', 'latency_ms', 3, 'at', at, 'answer', '', 'request', ARGV[4])
  if mode == 'key' or mode == 'keynox' then
    local k = 'wh:event:CO_cost:' .. ev .. ':attempts'
    redis.call('ZADD', k, at, id .. '_WH_cost')
    if mode == 'key' then redis.call('PEXPIRE', k, 86400000) end
  elseif mode == 'bucket' then
    redis.call('ZADD', KEYS[2], 0,
      #ev .. ':' .. ev .. ' ' .. at .. ' ' .. id .. '_WH_cost')
  end
end
if mode == 'bucket' then redis.call('PEXPIRE', KEYS[2], 90000000) end
return n`;
const MODES = ['key', 'keynox', 'bucket', 'none'];
const BATCH = 32;	// attempts per call
const WINDOW = 20;	// calls in flight

function args() {
  const a = { aof: false, attempts: 40000, reps: 3 };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '--aof') a.aof = true;
    else if (v[i] === '--attempts') a.attempts = Number(v[++i]);
    else if (v[i] === '--reps') a.reps = Number(v[++i]);
    else throw new Error(`unknown argument ${v[i]}`);
  }
  return a;
}

async function main(dir) {
  const a = args();
  const redis = await startRedis(dir);
  const c = redis.client;
  if (a.aof) await setAof(c, true);
  const sha = String(await c.call('SCRIPT', 'LOAD', SCRIPT));
  const request = 'bench.tick\n' + 'x'.repeat(340);
  const res = Object.fromEntries(MODES.map((m) => [m, []]));
  let base = 0;
  console.log(`load ${loadAverage()}; aof ${a.aof ? 'on' : 'off'}; ${a.attempts} attempts per run, ${BATCH} per call`);
  for (let r = 0; r < a.reps; r++) {
    for (const mode of MODES) {
      const t0 = await redisCpu(c);
      for (let done = 0; done < a.attempts;) {
        const calls = [];
        for (let j = 0; j < WINDOW && done < a.attempts; j++, done += BATCH, base += BATCH) {
          calls.push(c.call('EVALSHA', sha, '2', 'wh:attempts:WH_cost', 'wh:evb:CO_cost:0',
            mode, String(BATCH), String(base), request));
        }
        await Promise.all(calls);
      }
      const us = ((await redisCpu(c)) - t0) * 1e6 / a.attempts;
      res[mode].push(us);
      console.log(`${mode} ${us.toFixed(2)} us per attempt`);
    }
  }
  for (const m of MODES) console.log(`median ${m}: ${median(res[m]).toFixed(2)} us per attempt`);
}

runTool('indexcost', main);
