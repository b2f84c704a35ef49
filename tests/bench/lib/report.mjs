// The result table: each row is a figure, the ceiling or peer it is
// compared with (measured in the same run), the ratio of the two, and the
// target where the issues set one. Figures that were repeated are the
// median of the runs (every run is kept in results.json).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from './stats.mjs';

export class Report {
  constructor() {
    this.rows = [];
    this.notes = [];
  }

  // add({section, figure, runs | value, ref: {label, value} , target: {text, ok(row)}})
  add({ section, figure, runs, value, ref = null, target = null, note = '' }) {
    const v = value !== undefined ? value : median(runs || []);
    const ratio = ref && v != null && ref.value ? v / ref.value : null;
    const row = { section, figure, value: v, runs: runs || null, ref, ratio, target: target?.text || '', note };
    row.met = target && v != null ? Boolean(target.ok(row)) : null;
    this.rows.push(row);
    return row;
  }

  // A row that could not be measured says why instead of holding a number.
  missing(section, figure, why) {
    this.rows.push({ section, figure, value: null, runs: null, ref: null, ratio: null, target: '', note: why, met: null });
  }

  note(text) { this.notes.push(text); }

  // Rows grouped by section, sections in the order they first appear.
  table() {
    const lines = ['| figure | value | compared with (same run) | ratio | target |', '|---|---|---|---|---|'];
    const sections = [...new Set(this.rows.map((r) => r.section))];
    for (const section of sections) {
      lines.push(`| **${section}** | | | | |`);
      for (const r of this.rows.filter((x) => x.section === section)) {
        const value = r.value == null ? `n/a: ${r.note}` : fmt(r.value);
        const ref = r.ref ? `${r.ref.label}${r.ref.value != null ? `: ${fmt(r.ref.value)}` : ''}` : '';
        const ratio = r.ratio == null ? '' : r.ratio.toFixed(2);
        const target = r.target ? `${r.target}${r.met === true ? ' ✓' : r.met === false ? ' ✗' : ''}` : '';
        lines.push(`| ${r.figure} | ${value} | ${ref} | ${ratio} | ${target} |`);
      }
    }
    return lines.join('\n');
  }

  write(file, meta) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const cpus = os.cpus();
    const machine = {
      cpus: cpus.length, cpu_model: cpus[0]?.model, mem_gib: Math.round(os.totalmem() / 2 ** 30),
      kernel: os.release(), loadavg_at_end: os.loadavg().map((x) => Number(x.toFixed(2))),
    };
    fs.writeFileSync(file, JSON.stringify({ ...meta, machine, rows: this.rows, notes: this.notes }, null, 2) + '\n');
    return machine;
  }
}

// 26264 -> "26 264"; 2.345 -> "2.35"; 0.0123 -> "0.012".
export function fmt(v) {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v) || v === 0) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}
