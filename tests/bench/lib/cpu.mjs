// Where the CPU goes during a measured run, so that a rate below its
// ceiling can be explained by what each piece costs per event: the CPU
// time of a process and its descendants (/proc/<pid>/stat, utime + stime;
// Kore's workers are children of the api's process), Redis' own
// (INFO cpu), and how busy the whole machine was (/proc/stat).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const TICK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

// [pid, ppid, seconds of CPU] of every process.
function processes() {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let s;
    try {
      s = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // The command name may hold spaces and parentheses: split after it.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    out.push([Number(name), Number(f[1]), (Number(f[11]) + Number(f[12])) / TICK]);
  }
  return out;
}

// Seconds of CPU used so far by the processes `pids` and their descendants
// (those alive now: a child that exited is not counted).
export function treeCpu(pids) {
  const all = processes();
  const want = new Set(pids);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of all) {
      if (want.has(ppid) && !want.has(pid)) {
        want.add(pid);
        grew = true;
      }
    }
  }
  return all.reduce((t, [pid, , s]) => (want.has(pid) ? t + s : t), 0);
}

export async function redisCpu(client) {
  const info = String(await client.call('INFO', 'cpu'));
  const v = (k) => Number((info.match(new RegExp(`^${k}:([0-9.]+)`, 'm')) || [0, 0])[1]);
  return v('used_cpu_sys') + v('used_cpu_user');
}

// Busy and total time of all CPUs since boot, in ticks.
function machine() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3] + f[4]; // idle + iowait
  return { busy: total - idle, total };
}

// Start a meter over `trees` (named lists of pids) and, given its client,
// Redis. stop(n, late) answers the µs of CPU per unit of work (n units)
// of each tree and of Redis, and the machine's busy fraction; `late`
// names pids first seen at stop (processes started after the meter:
// their whole CPU time counts).
export async function cpuMeter({ trees = {}, redis = null } = {}) {
  const t0 = Object.fromEntries(Object.entries(trees).map(([k, pids]) => [k, treeCpu(pids)]));
  const r0 = redis ? await redisCpu(redis) : 0;
  const m0 = machine();
  return {
    async stop(n, late = {}) {
      const m1 = machine();
      const out = { busy: (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total) };
      for (const [k, pids] of Object.entries(trees)) out[k] = ((treeCpu(pids) - t0[k]) * 1e6) / n;
      for (const [k, pids] of Object.entries(late)) out[k] = (treeCpu(pids) * 1e6) / n;
      if (redis) out.redis = ((await redisCpu(redis) - r0) * 1e6) / n;
      return out;
    },
  };
}
