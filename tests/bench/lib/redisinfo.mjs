// What Redis tells about a measured run: the time each command took
// (INFO commandstats, reset with CONFIG RESETSTAT before the run), and
// persistence switched on and off at run time (appendonly with
// appendfsync everysec, as docker-compose.yml and production run it).
import { sleep } from './procs.mjs';

// INFO <section> as { field: value }.
async function info(client, section) {
  const out = {};
  for (const line of String(await client.call('INFO', section)).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && line[0] !== '#') out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

// Start counting commands from zero.
export const resetCommandStats = (client) => client.call('CONFIG', 'RESETSTAT');

// { command: { calls, usec } } since the last reset ("config|resetstat"
// and the like keep their subcommand).
export async function commandStats(client) {
  const out = {};
  for (const [k, v] of Object.entries(await info(client, 'commandstats'))) {
    const m = /calls=(\d+),usec=(\d+)/.exec(v);
    if (k.startsWith('cmdstat_') && m) out[k.slice(8)] = { calls: Number(m[1]), usec: Number(m[2]) };
  }
  return out;
}

// Per unit of work (n): each command's calls and µs, largest first, the
// reset itself left out. Commands a script calls are counted under their
// own name and again inside the script's (EVALSHA's) time.
export function perUnit(stats, n) {
  return Object.entries(stats).filter(([k]) => !k.startsWith('config'))
    .map(([cmd, s]) => ({ cmd, calls: s.calls / n, us: s.usec / n }))
    .sort((a, b) => b.us - a.us);
}

// "evalsha 5.61 (1.00), xreadgroup 0.40 (0.004), ...": µs per unit and,
// in parentheses, calls per unit, for the commands of at least `min` µs.
export function perUnitText(rows, min = 0.05) {
  const f = (x) => (x >= 0.1 ? x.toFixed(2) : x.toPrecision(2));
  const shown = rows.filter((r) => r.us >= min);
  const rest = rows.filter((r) => r.us < min).reduce((t, r) => t + r.us, 0);
  return shown.map((r) => `${r.cmd} ${f(r.us)} (${f(r.calls)})`).join(', ') + (rest > 0 ? `, others ${f(rest)}` : '');
}

// How many AOF rewrites Redis has run since the last CONFIG RESETSTAT
// (its default config starts one whenever the AOF doubled past 64 MB, as
// in production: a drain may see one, with its fork and copy-on-write).
export async function aofRewrites(client) {
  return Number((await info(client, 'persistence')).aof_rewrites || 0);
}

// AOF on (appendfsync everysec) or off. Switching it on makes Redis write
// its whole dataset to a new AOF first: wait for that rewrite to end, so
// that what follows is measured with the steady per-write cost only.
export async function setAof(client, on) {
  if (on) await client.call('CONFIG', 'SET', 'appendfsync', 'everysec');
  await client.call('CONFIG', 'SET', 'appendonly', on ? 'yes' : 'no');
  const deadline = Date.now() + 120000;
  for (;;) {
    const p = await info(client, 'persistence');
    const settled = p.aof_rewrite_in_progress === '0' && p.aof_rewrite_scheduled === '0';
    if (settled && p.aof_enabled === (on ? '1' : '0')) return;
    if (Date.now() > deadline) throw new Error(`AOF ${on ? 'on' : 'off'}: Redis did not settle (${JSON.stringify(p)})`);
    await sleep(50);
  }
}
