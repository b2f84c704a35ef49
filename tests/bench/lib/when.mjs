// When each measurement ran, so that a ratio can be refused when its two
// sides were not measured close together (issue 25): on a shared machine
// whose load moves by the minute, two figures measured further apart than
// APART_MS compare the load of two moments, not two programs.
import os from 'node:os';

export const APART_MS = 60000;

// Run fn and stamp its result (an object) with at: [start, end] in ms.
export async function timed(fn) {
  const t0 = Date.now();
  const r = await fn();
  return { ...r, at: [t0, Date.now()] };
}

// Time between two intervals [s, e]: 0 when they overlap.
const gap = (a, b) => Math.max(0, Math.max(a[0], b[0]) - Math.min(a[1], b[1]));

// The largest distance between the runs of two sides, in ms: run i of one
// side against run i of the other when both have the same number (the
// repetitions are interleaved), else every run against every run. null
// when a side has no time.
export function apart(a, b) {
  if (!a?.length || !b?.length || a.some((x) => !x) || b.some((x) => !x)) return null;
  if (a.length === b.length) return Math.max(...a.map((x, i) => gap(x, b[i])));
  return Math.max(...a.flatMap((x) => b.map((y) => gap(x, y))));
}

// The machine's state now: what the figures of a run depend on.
export function machineState() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length, cpu_model: cpus[0]?.model, mem_gib: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(), loadavg: os.loadavg().map((x) => Number(x.toFixed(2))), at: new Date().toISOString(),
  };
}
