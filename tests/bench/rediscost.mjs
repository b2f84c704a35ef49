// Redis' cost per delivery, by command: one dispatcher drains a backlog of
// 1 KiB events (one webhook per event) into nginx answering 204, and
// `INFO commandstats` (reset once the backlog is queued) says what each
// command cost per delivery; `INFO cpu` the whole process (with AOF on,
// its background fsync thread too) and `INFO persistence` the AOF bytes
// written per delivery. A development tool beside `make bench`, not part
// of its table:
//
//   node tests/bench/rediscost.mjs [--aof] [--events 60000] [--reps 3]
//        [--dispatcher path[,path2]]   (several: A/B runs interleaved)
//
// Prints one line per run and the medians per binary. The µs move with
// the machine's load; the commands run inside scripts and transactions
// per delivery (from the calls counted) do not. The dispatcher's own CPU
// per delivery (/proc, its whole start-to-drained life) is printed too,
// so that two builds of it can be compared on the same backlog.
import path from 'node:path';
import { BUILD, Proc, loadAverage, runTool } from './lib/procs.mjs';
import { median } from './lib/stats.mjs';
import { treeCpu } from './lib/cpu.mjs';
import { EVENTS, createWebhook, drained, startApi, startNginx, startRedis } from './lib/stack.mjs';
import { preload } from './sections/delivery.mjs';

function args() {
  const a = { aof: false, events: 60000, reps: 3, dispatchers: [path.join(BUILD, 'webhooks-dispatcher')] };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '--aof') a.aof = true;
    else if (v[i] === '--events') a.events = Number(v[++i]);
    else if (v[i] === '--reps') a.reps = Number(v[++i]);
    else if (v[i] === '--dispatcher') a.dispatchers = v[++i].split(',');
    else throw new Error(`unknown argument ${v[i]}`);
  }
  return a;
}

// name -> value of an INFO section's "name:value" lines.
async function info(client, section) {
  const out = {};
  for (const line of String(await client.call('INFO', section)).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

// command -> {calls, usec} from INFO commandstats.
async function commandstats(client) {
  const out = {};
  for (const [k, v] of Object.entries(await info(client, 'commandstats'))) {
    const calls = Number((v.match(/calls=(\d+)/) || [0, 0])[1]);
    const usec = Number((v.match(/usec=(\d+)/) || [0, 0])[1]);
    out[k.replace(/^cmdstat_/, '')] = { calls, usec };
  }
  return out;
}

async function cpuSeconds(client) {
  const c = await info(client, 'cpu');
  return Number(c.used_cpu_sys) + Number(c.used_cpu_user);
}

async function aofBytes(client) {
  return Number((await info(client, 'persistence')).aof_current_size || 0);
}

// The commands a dispatcher sends itself (the others run inside these).
const TOP = new Set(['evalsha', 'eval', 'exec', 'xreadgroup', 'xautoclaim', 'get', 'mget', 'hrandfield',
  'zrangebyscore', 'zrange', 'hvals', 'ping', 'script|load', 'xgroup|create']);

async function run(redis, bin, company, events) {
  await preload(redis, company, events);
  await redis.client.call('CONFIG', 'RESETSTAT');
  const cpu0 = await cpuSeconds(redis.client);
  const aof0 = await aofBytes(redis.client);
  const t0 = Date.now();
  const d = new Proc('dispatcher', bin, [], {
    env: { WH_REDIS_URL: redis.url, WH_ALLOW_PRIVATE_TARGETS: '1', WH_LOG_LEVEL: 'warn' },
  });
  const t1 = await drained(redis.client, { every: 50, tick: () => d.check() });
  const dcpu = treeCpu([d.pid]);
  const cpu = (await cpuSeconds(redis.client)) - cpu0;
  const aof = (await aofBytes(redis.client)) - aof0;
  const stats = await commandstats(redis.client);
  await d.stop();
  const per = {};
  let sum = 0, calls = 0;
  for (const [k, v] of Object.entries(stats)) {
    // The bench's own polling (XLEN, ZCARD, INFO) is not the dispatcher's.
    if (['xlen', 'zcard', 'info', 'config|resetstat'].includes(k)) continue;
    per[k] = { us: v.usec / events, calls: v.calls / events };
    // What a script or a transaction runs is counted in it and again
    // under its own name: the sum is of what clients sent.
    if (TOP.has(k)) sum += v.usec / events;
    else if (!['multi'].includes(k)) calls += v.calls / events; // commands run inside scripts and transactions
  }
  return { rate: events / ((t1 - t0) / 1000), cpuUs: (cpu * 1e6) / events, dispUs: (dcpu * 1e6) / events, cmdUs: sum, inner: calls, aofBytes: aof / events, per };
}

async function main(dir) {
  const a = args();
  const redis = await startRedis(dir);
  if (a.aof) {
    // No automatic rewrite during a run: the AOF's growth is what a
    // delivery writes (a rewrite would shrink it mid-run).
    await redis.client.call('CONFIG', 'SET', 'appendonly', 'yes', 'appendfsync', 'everysec',
      'auto-aof-rewrite-percentage', '0');
    // The switch rewrites the AOF in the background: let it finish.
    for (;;) {
      const p = await info(redis.client, 'persistence');
      if (p.aof_rewrite_in_progress === '0' && p.aof_rewrite_scheduled === '0') break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const nginx = await startNginx(dir);
  const api = await startApi(redis.url, { workers: 1 });
  await createWebhook(api, 'CO_cost', nginx.url('/hook/cost'));
  await api.proc.stop();
  console.log(`load ${loadAverage()}; aof ${a.aof ? 'on' : 'off'}; ${a.events} deliveries per run`);
  const results = a.dispatchers.map(() => []);
  for (let r = 0; r < a.reps; r++) {
    for (let i = 0; i < a.dispatchers.length; i++) {
      const x = await run(redis, a.dispatchers[i], 'CO_cost', a.events);
      results[i].push(x);
      const split = Object.entries(x.per).sort((p, q) => q[1].us - p[1].us)
        .map(([k, v]) => `${k} ${v.us.toFixed(2)}us/${v.calls.toFixed(3)}`).join(', ');
      console.log(`[${i}] ${Math.round(x.rate)}/s dispatcher cpu ${x.dispUs.toFixed(2)} us, redis cpu ${x.cpuUs.toFixed(2)} us, commands ${x.cmdUs.toFixed(2)} us, ${x.inner.toFixed(2)} inner commands, aof ${Math.round(x.aofBytes)} B | ${split}`);
    }
  }
  for (let i = 0; i < a.dispatchers.length; i++) {
    const m = (f) => median(results[i].map(f)).toFixed(2);
    console.log(`median [${i}] ${a.dispatchers[i]}: ${m((x) => x.rate)}/s, dispatcher cpu ${m((x) => x.dispUs)} us, redis cpu ${m((x) => x.cpuUs)} us, commands ${m((x) => x.cmdUs)} us, ${m((x) => x.inner)} commands inside scripts and transactions, aof ${m((x) => x.aofBytes)} B per delivery`);
  }
}

runTool('rediscost', main);
