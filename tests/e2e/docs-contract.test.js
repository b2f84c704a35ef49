// The repository carries its own contract (docs/design.md), and the docs
// cannot drift from the code on the points a test can check. Needs no
// running programs:
//
// - design.md shows docs/vectors/signatures.json whole, byte for byte (the
//   file the signing unit test and streem-validator.test.js read);
// - every Redis key name common/keys.c builds is in design.md's key tables;
// - every WH_* name the code, scripts, deployment files and docs use is a
//   variable of the one table, common/config_vars.h, and every variable of
//   the table is read by the code (tests/unit/test_config_vars.c checks the
//   docs' rows, ranges and defaults against the same table);
// - no file points outside the repository for its design (a sibling
//   "shared" directory or an upper-case design file the repository does
//   not have; the pattern is built in pieces so this file passes too).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './lib/harness.js';

const read = (rel) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');

// The repository's files: git's list when there is one, else a walk that
// skips what is built or installed.
function repoFiles() {
  try {
    const out = execFileSync('git', ['-C', REPO_ROOT, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
      { encoding: 'utf8', maxBuffer: 64 << 20 });
    return out.split('\0').filter((f) => f && fs.existsSync(path.join(REPO_ROOT, f)));
  } catch {
    const files = [];
    const walk = (dir) => {
      for (const e of fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
        const rel = dir ? `${dir}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (!['.git', 'node_modules', 'build', 'var'].includes(e.name)) walk(rel);
        } else if (e.isFile()) files.push(rel);
      }
    };
    walk('');
    return files;
  }
}

// Text files only (the fuzz corpora hold arbitrary bytes).
function textOf(rel) {
  const buf = fs.readFileSync(path.join(REPO_ROOT, rel));
  return buf.includes(0) ? null : buf.toString('utf8');
}

test('design.md shows the signature vectors file exactly', () => {
  const design = read('docs/design.md');
  const file = read('docs/vectors/signatures.json');
  const at = design.indexOf('\n### Reference vectors\n');
  assert.ok(at >= 0, 'design.md has no "Reference vectors" section');
  const m = /```json\n([\s\S]*?)```/.exec(design.slice(at));
  assert.ok(m, 'the "Reference vectors" section shows no json block');
  assert.equal(m[1], file, 'design.md\'s copy of docs/vectors/signatures.json differs from the file');
  const v = JSON.parse(file);
  assert.ok(v.streem.length >= 2 && v.standard_webhooks.length >= 1);
});

test('every Redis key common/keys.c builds is in design.md', () => {
  const keys = read('common/keys.c');
  const design = read('docs/design.md');
  // The key names design.md shows, with each <placeholder> as %s.
  const shown = new Set([...design.matchAll(/`(wh:[^`\s]+)`/g)].map((m) => m[1].replace(/<[^>]+>/g, '%s')));
  // (%.*s, a counted string, and %u, a partition, show as placeholders too;
  // a second %s right after the prefix is the cluster's tag, "{g}:" or none.)
  const formats = [...keys.matchAll(/snprintf\(out, len,\s*"%s(?:%s)?([^"]*)"/g)].map((m) => `wh:${m[1].replace(/%\.\*s|%u/g, '%s')}`);
  assert.ok(formats.length >= 25, `found only ${formats.length} key formats in common/keys.c`);
  const missing = formats.filter((f) => !shown.has(f));
  assert.deepEqual(missing, [], 'keys built by common/keys.c but missing from design.md ("Redis keys")');
});

test('every WH_* name in the repository is in common/config_vars.h, and each is read', () => {
  const table = new Set([...read('common/config_vars.h').matchAll(/^\s*(?:INT|STR)\((WH_[A-Z0-9_]+),/gm)].map((m) => m[1]));
  assert.ok(table.size >= 30, `found only ${table.size} variables in common/config_vars.h`);
  const unknown = new Map();
  const readByCode = new Set();
  for (const rel of repoFiles()) {
    if (rel === 'common/config_vars.h') continue;
    const text = textOf(rel);
    if (text === null) continue;
    const isC = /\.[ch]$/.test(rel);
    // C code names the variables in strings (its WH_ macros are not
    // variables); make files have WH_ make variables of their own.
    if (/(^|\/)Makefile$|\.mk$/.test(rel)) continue;
    const re = isC ? /"(WH_[A-Z0-9_]+)"/g : /\b(WH_[A-Z0-9_]+)\b/g;
    for (const [, name] of text.matchAll(re)) {
      if (isC && /^(api|dispatcher|common)\//.test(rel)) readByCode.add(name);
      if (!table.has(name)) unknown.set(name, rel);
    }
  }
  assert.deepEqual([...unknown].map(([n, f]) => `${n} (${f})`), [],
    'WH_ names used but not defined in common/config_vars.h');
  const unread = [...table].filter((n) => !readByCode.has(n));
  assert.deepEqual(unread, [], 'variables in common/config_vars.h that no program reads');
});

test('no file points to a design outside the repository', () => {
  const design = ['DES', 'IGN'].join('');
  const outside = new RegExp(`\\.\\./${'sha'}red\\b|\\b${'sha'}red/${design}|${design}\\.md`);
  const bad = [];
  for (const rel of repoFiles()) {
    const text = textOf(rel);
    if (text === null) continue;
    text.split('\n').forEach((line, i) => {
      if (outside.test(line)) bad.push(`${rel}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(bad, []);
});

// The arguments of every call of fn( in src, split at top-level commas
// (strings, character constants and comments skipped over).
function callArgs(src, fn) {
  const calls = [];
  const re = new RegExp(`(?<![A-Za-z0-9_])${fn}\\(`, 'g');
  let m;
  while ((m = re.exec(src)) !== null) {
    const args = [];
    let cur = '';
    let depth = 1;
    let j = m.index + m[0].length;
    while (j < src.length && depth > 0) {
      const c = src[j];
      if (c === '"' || c === "'") {
        let k = j + 1;
        while (src[k] !== c) k += src[k] === '\\' ? 2 : 1;
        cur += src.slice(j, k + 1);
        j = k + 1;
        continue;
      }
      if (c === '/' && src[j + 1] === '*') { j = src.indexOf('*/', j) + 2; continue; }
      if (c === '(') depth++;
      if (c === ')' && --depth === 0) break;
      if (c === ',' && depth === 1) { args.push(cur.trim()); cur = ''; } else cur += c;
      j++;
    }
    args.push(cur.trim());
    calls.push({ line: src.slice(0, m.index).split('\n').length, args });
  }
  return calls;
}

test('every log field name the code passes is in common/log_fields.h', () => {
  const table = new Set([...read('common/log_fields.h').matchAll(/^\s*F\((\w+), (?:STRING|NUMBER|BOOL),/gm)].map((x) => x[1]));
  assert.ok(table.size > 20, 'the table is read');
  // wh_log(level, msg, key, value, ..., NULL); the launcher's die(msg, key, value).
  const forms = [['wh_log', 2], ['die', 1]];
  const missing = [];
  let seen = 0;
  for (const f of repoFiles().filter((x) => x.endsWith('.c') && !x.startsWith('tests/'))) {
    const src = read(f);
    for (const [fn, first] of forms) {
      for (const c of callArgs(src, fn)) {
        if (/^(int|void|const|static)\b/.test(c.args[0]) || /^const char \*/.test(c.args[0])) continue; // a definition
        for (let k = first; k < c.args.length - 1; k += 2) {
          const key = c.args[k];
          if (key === 'NULL') break;
          const lit = /^"([a-z0-9_]*)"$/.exec(key);
          if (fn === 'wh_log' && f === 'api/launcher/main.c' && key === 'k') continue; // die()'s own
          seen++;
          if (!lit || !table.has(lit[1])) missing.push(`${f}:${c.line}: ${key}`);
        }
      }
    }
  }
  assert.ok(seen > 50, `log calls found (${seen})`);
  assert.deepEqual(missing, [], 'log field names not in common/log_fields.h (or not a string literal)');
});
