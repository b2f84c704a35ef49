// README's tour, run as written, so that it cannot rot: the stack is started
// by .ci/run-local (what `make run` runs after building) with a private
// state directory and free ports, the `export URL=... KEY=...` line it
// prints is taken as a reader pastes it, and the ```sh blocks of the tour
// section are run by one bash, unchanged but for the receiver's port (9999
// in the text, a free one here, so that the test never meets another
// program on it). Then the receiver the tour started must have printed a
// delivery of the tour's event that verifies with Streem's scheme and the
// official standardwebhooks package against the signing key step 3 read.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { REPO_ROOT, fatal, freePort, waitUntil, VERBOSE } from './lib/harness.js';
import { verifyStreem } from './lib/streem.js';

const README = path.join(REPO_ROOT, 'README.md');
const TOUR_HEADING = '## A three-minute tour';
const TOUR_PORT = '9999';

// The ```sh blocks between the tour's heading and the next "## " heading.
function tourBlocks(text) {
  const start = text.indexOf(`\n${TOUR_HEADING}\n`);
  assert.ok(start >= 0, `README has no "${TOUR_HEADING}" section`);
  const rest = text.slice(start + TOUR_HEADING.length + 2);
  const end = rest.search(/^## /m);
  const section = end >= 0 ? rest.slice(0, end) : rest;
  const blocks = [];
  const re = /^```sh\n([\s\S]*?)^```$/gm;
  for (let m; (m = re.exec(section)) !== null;) blocks.push(m[1]);
  return blocks;
}

// A child in a process group of its own (so that the receiver the tour
// puts in the background goes with it), its output collected.
function spawnGroup(cmd, args, opts) {
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  child.out = '';
  child.err = '';
  child.stdout.on('data', (c) => { child.out += c; if (VERBOSE) process.stdout.write(c); });
  child.stderr.on('data', (c) => { child.err += c; if (VERBOSE) process.stderr.write(c); });
  child.exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
  return child;
}

// The leader may have exited already (bash, once the tour's last block
// ran) while the group lives on (the receiver it put in the background),
// so the group is signalled whatever the leader's state.
async function stopGroup(child, graceMs) {
  if (!child) return;
  const group = (sig) => { try { process.kill(-child.pid, sig); } catch { /* gone */ } };
  group('SIGTERM');
  const t = setTimeout(() => group('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(t);
  group('SIGKILL');
  child.stdout.destroy();
  child.stderr.destroy();
}

const children = [];
let varDir;
after(async () => {
  // The tour first (its receiver), then the stack: run-local stops api and
  // dispatcher, then Redis, within its own 5 s grace each.
  for (const c of children.reverse()) await stopGroup(c, 15000);
  if (varDir) fs.rmSync(varDir, { recursive: true, force: true });
});

test('README tour blocks are extracted from the tour section', () => {
  const blocks = tourBlocks(fs.readFileSync(README, 'utf8'));
  assert.ok(blocks.length >= 4, `expected the tour's four steps, found ${blocks.length} sh blocks`);
  assert.ok(blocks.join('\n').includes(TOUR_PORT), 'the tour no longer uses port 9999');
});

test('README tour, pasted literally after make run, gets a signed delivery', { timeout: 120000 }, async () => {
  const blocks = tourBlocks(fs.readFileSync(README, 'utf8'));
  for (const bin of ['webhooks-api', 'webhooks-dispatcher'])
    assert.ok(fs.existsSync(path.join(REPO_ROOT, 'build', bin)), `build/${bin} is missing: make all`);

  // The stack, as `make run` starts it, but on a free port, with state in
  // a directory of its own and none of the caller's WH_* settings.
  varDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wh-tour-'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WH_')));
  const apiPort = await freePort();
  const stack = spawnGroup(path.join(REPO_ROOT, '.ci', 'run-local'), [], {
    cwd: REPO_ROOT,
    env: { ...env, RUN_LOCAL_VAR: varDir, WH_API_LISTEN: `127.0.0.1:${apiPort}` },
  });
  children.push(stack);
  let exportLine;
  await waitUntil(() => {
    if (stack.exitCode !== null) throw fatal(`run-local exited early:\n${stack.out}\n${stack.err}`);
    exportLine = stack.out.split('\n').find((l) => l.startsWith('export URL='));
    return exportLine !== undefined;
  }, { timeoutMs: 60000, what: 'run-local to print its export line' });
  assert.match(exportLine, /^export URL=http:\/\/127\.0\.0\.1:\d+ KEY=dev_[0-9a-f]{8}:[0-9a-f]{32}$/);

  // The export line, then the tour, as one bash session.
  const port = String(await freePort());
  const script = [exportLine, ...blocks.map((b) => b.split(TOUR_PORT).join(port))].join('\n');
  const tour = spawnGroup('bash', ['-e', '-o', 'pipefail', '-s'], { cwd: varDir, env });
  children.push(tour);
  tour.stdin.end(script);

  // The receiver's line for the tour's event. Output of the tour's steps
  // and of its background receiver share one pipe, so each is found by
  // its start rather than by whole lines.
  const jsonAt = (prefix) => {
    const i = tour.out.indexOf(prefix);
    if (i < 0) return undefined;
    const end = tour.out.indexOf('\n', i);
    return end < 0 ? undefined : JSON.parse(tour.out.slice(i, end));
  };
  let delivery, arrivedAt;
  await waitUntil(() => {
    if (tour.exitCode !== null && tour.exitCode !== 0)
      throw fatal(`the tour failed (bash exit ${tour.exitCode}):\n${tour.out}\n${tour.err}`);
    delivery = jsonAt('{"method"');
    arrivedAt = Date.now();
    return delivery !== undefined;
  }, { timeoutMs: 30000, what: 'the tour receiver to print a delivery' });

  // Step 2 printed the sid; step 3 printed the signing keys.
  const sid = tour.out.split('\n').find((l) => /^wh_[A-Za-z0-9_-]+$/.test(l));
  assert.ok(sid, `step 2 printed no webhook sid:\n${tour.out}\n${tour.err}`);
  const keys = jsonAt('{"signing_keys"');
  assert.ok(keys, `step 3 printed no signing keys:\n${tour.out}`);
  assert.equal(keys.signing_keys.length, 1);
  const key = keys.signing_keys[0];
  assert.equal(key.webhook_sid, sid);

  assert.equal(delivery.method, 'POST');
  assert.equal(delivery.url, '/hook');
  assert.equal(delivery.headers['x-tenant'], 'acme');
  assert.equal(delivery.headers['streem-signature-headers'], 'Streem-Sent-At:X-Tenant');
  const body = JSON.parse(delivery.body);
  assert.equal(body.event.company_sid, 'CO_demo');
  assert.equal(body.event.event_type, 'call.ended');
  assert.deepEqual(body.event.payload, { call_sid: 'CA_1' });
  assert.equal(delivery.headers['webhook-id'], body.event.event_sid);

  // Streem's scheme with the shared secret; the time within 5 s of the line
  // reaching us (the pipe and this loop on a loaded machine, not the 500 ms
  // a receiver would use at arrival).
  const v = verifyStreem({ headers: delivery.headers, body: delivery.body, secrets: [key.shared_secret],
    now: arrivedAt, toleranceMs: 5000 });
  assert.equal(v.ok, true, v.reason);
  assert.equal(verifyStreem({ headers: delivery.headers, body: delivery.body + ' ', secrets: [key.shared_secret],
    now: arrivedAt, toleranceMs: 5000 }).ok, false);
  // Standard Webhooks, with the official library and the whsec_ secret.
  assert.deepEqual(new Webhook(key.standard_webhooks_secret).verify(delivery.body, delivery.headers), body);
});
