// A strict reader of Prometheus' text exposition format (version 0.0.4),
// written from the format's description, for the /metrics tests. It
// throws on anything the format does not allow or that Prometheus would
// refuse: a malformed line, name, label or value; a bad escape; HELP or
// TYPE given twice or TYPE after the family's samples; a family's samples
// not kept together; a series given twice; a histogram whose buckets are
// not in increasing `le` order, decrease, lack +Inf, or whose +Inf
// bucket is not its _count.
//
// parse(text) -> Map(family name -> {name, type, help, samples: [{name,
// labels: {k: v}, value}]}), and value(families, name, labels) to read one
// sample (undefined when absent).

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function fail(lineNo, line, why) {
  throw new Error(`metrics line ${lineNo}: ${why}: ${JSON.stringify(line)}`);
}

function parseValue(s, lineNo, line) {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) fail(lineNo, line, `bad value "${s}"`);
  return Number(s);
}

// {a="x",b="y\"z"} starting at text[i] === '{'; returns [labels, next i].
function parseLabels(text, i, lineNo, line) {
  const labels = {};
  i += 1;
  for (;;) {
    if (text[i] === '}') return [labels, i + 1];
    let j = i;
    while (j < text.length && /[a-zA-Z0-9_]/.test(text[j])) j++;
    const key = text.slice(i, j);
    if (!LABEL.test(key)) fail(lineNo, line, `bad label name "${key}"`);
    if (key in labels) fail(lineNo, line, `label ${key} given twice`);
    if (text[j] !== '=' || text[j + 1] !== '"') fail(lineNo, line, `label ${key} without ="`);
    j += 2;
    let v = '';
    for (;;) {
      if (j >= text.length) fail(lineNo, line, 'unterminated label value');
      const c = text[j];
      if (c === '"') break;
      if (c === '\n') fail(lineNo, line, 'raw newline in a label value');
      if (c === '\\') {
        const e = text[j + 1];
        if (e === '\\') v += '\\';
        else if (e === '"') v += '"';
        else if (e === 'n') v += '\n';
        else fail(lineNo, line, `bad escape \\${e}`);
        j += 2;
        continue;
      }
      v += c;
      j += 1;
    }
    labels[key] = v;
    i = j + 1;
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') fail(lineNo, line, 'expected , or } after a label');
  }
}

// The family a sample name belongs to, given the families typed so far.
function familyOf(name, families) {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const f = families.get(base);
      if (f && (f.type === 'histogram' || f.type === 'summary')) return base;
    }
  }
  return name;
}

const key = (labels) => JSON.stringify(Object.entries(labels).sort());

function checkHistogram(f) {
  const series = new Map(); // labels without le -> {buckets: [[le, v]], sum, count}
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const k = key(rest);
    if (!series.has(k)) series.set(k, { buckets: [], sum: undefined, count: undefined });
    const h = series.get(k);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      h.buckets.push([parseValue(le, 0, le), s.value]);
    } else if (s.name === `${f.name}_sum`) h.sum = s.value;
    else if (s.name === `${f.name}_count`) h.count = s.value;
    else throw new Error(`${f.name}: sample ${s.name} does not belong to a histogram`);
  }
  for (const [k, h] of series) {
    if (h.sum === undefined || h.count === undefined) throw new Error(`${f.name}${k}: no _sum or _count`);
    for (let i = 1; i < h.buckets.length; i++) {
      if (!(h.buckets[i][0] > h.buckets[i - 1][0])) throw new Error(`${f.name}${k}: le not increasing`);
      if (h.buckets[i][1] < h.buckets[i - 1][1]) throw new Error(`${f.name}${k}: buckets decrease`);
    }
    const last = h.buckets[h.buckets.length - 1];
    if (!last || last[0] !== Infinity) throw new Error(`${f.name}${k}: no +Inf bucket`);
    if (last[1] !== h.count) throw new Error(`${f.name}${k}: +Inf bucket ${last[1]} != _count ${h.count}`);
  }
  return series;
}

export function parse(text) {
  if (!text.endsWith('\n')) throw new Error('metrics text does not end with a newline');
  const families = new Map();
  const seen = new Set();
  let current = null; // family whose samples are being read
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, idx) => {
    const lineNo = idx + 1;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, what, name, rest] = m;
      if (!NAME.test(name)) fail(lineNo, line, `bad metric name "${name}"`);
      if (!families.has(name)) families.set(name, { name, type: 'untyped', help: undefined, typed: false, samples: [] });
      const f = families.get(name);
      if (what === 'HELP') {
        if (f.help !== undefined) fail(lineNo, line, 'HELP given twice');
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) fail(lineNo, line, 'bad escape in HELP');
        f.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      } else {
        if (f.typed) fail(lineNo, line, 'TYPE given twice');
        if (f.samples.length) fail(lineNo, line, 'TYPE after the samples');
        if (!TYPES.has(rest)) fail(lineNo, line, `unknown type "${rest}"`);
        f.type = rest;
        f.typed = true;
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!m) fail(lineNo, line, 'bad sample name');
    const name = m[1];
    let i = name.length;
    let labels = {};
    if (line[i] === '{') [labels, i] = parseLabels(line, i, lineNo, line);
    if (line[i] !== ' ') fail(lineNo, line, 'expected a space before the value');
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2) fail(lineNo, line, 'trailing text');
    const value = parseValue(parts[0], lineNo, line);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) fail(lineNo, line, 'bad timestamp');
    const fname = familyOf(name, families);
    if (current !== fname) {
      const f = families.get(fname);
      if (f && f.samples.length) fail(lineNo, line, `samples of ${fname} are not kept together`);
      current = fname;
    }
    if (!families.has(fname)) families.set(fname, { name: fname, type: 'untyped', help: undefined, typed: false, samples: [] });
    const id = name + key(labels);
    if (seen.has(id)) fail(lineNo, line, 'series given twice');
    seen.add(id);
    families.get(fname).samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') f.series = checkHistogram(f);
  return families;
}

// The value of sample `name` with exactly these labels, or undefined.
export function value(families, name, labels = {}) {
  const fname = familyOf(name, families);
  const f = families.get(fname);
  if (!f) return undefined;
  const want = key(labels);
  const s = f.samples.find((x) => x.name === name && key(x.labels) === want);
  return s?.value;
}

// Sum of every sample `name` whose labels include `match`.
export function sum(families, name, match = {}) {
  const f = families.get(familyOf(name, families));
  if (!f) return 0;
  return f.samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}
