// The result table: each row is a figure, the ceiling or peer it is
// compared with (measured in the same run), the ratio of the two, and the
// target where the issues set one. Figures that were repeated are the
// median of the runs (every run is kept in results.json). A ratio whose
// two sides ran more than a minute apart is not printed (lib/when.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { median } from './stats.mjs';
import { APART_MS, apart } from './when.mjs';

export class Report {
  constructor() {
    this.rows = [];
    this.notes = [];
  }

  // add({section, figure, runs | value, at, ref: {label, value, at | fixed},
  // target: {text, ok(row), ratio}}). at (and ref.at): when each run of
  // that side ran, [start, end] ms, one per run; ref.fixed: a constant
  // (a payload size, a computed bound), not a measurement. A ratio is
  // only given when both sides' times are known and within APART_MS;
  // otherwise the row says why, and a target on the ratio is not judged.
  add({ section, figure, runs, value, at = null, ref = null, target = null, note = '' }) {
    const v = value !== undefined ? value : median(runs || []);
    let ratio = null, refused = null, apartMs = null;
    if (ref && v != null && ref.value) {
      apartMs = ref.fixed ? 0 : apart(at, ref.at);
      if (apartMs == null) refused = 'the time of a side was not recorded';
      else if (apartMs > APART_MS) refused = `sides ran ${Math.round(apartMs / 1000)} s apart, over ${APART_MS / 1000} s`;
      else ratio = v / ref.value;
    }
    const row = { section, figure, value: v, runs: runs || null, at, ref, ratio, apartMs, refused,
      target: target?.text || '', note };
    row.met = target && v != null && !(refused && target.ratio) ? Boolean(target.ok(row)) : null;
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
        const ratio = r.refused ? `— (${r.refused})` : r.ratio == null ? '' : r.ratio.toFixed(2);
        const verdict = r.met === true ? ' ✓' : r.met === false ? ' ✗' : r.refused ? ' (not judged)' : '';
        const target = r.target ? `${r.target}${verdict}` : '';
        lines.push(`| ${r.figure} | ${value} | ${ref} | ${ratio} | ${target} |`);
      }
    }
    return lines.join('\n');
  }

  write(file, meta) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ ...meta, rows: this.rows, notes: this.notes }, null, 2) + '\n');
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
