// Acceptance test of the foundation: the api stores a webhook and its signing
// key, events published three ways (POST /v1/events, a Redis client's XADD,
// redis-cli) reach a real receiver once each, in Streem's body shape, signed
// in both documented schemes; bad input gets RFC 9457 problems; a bad
// environment stops either program at once with one clear line, which
// names the version (the first line each process writes does), as
// --version does.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import {
  BIN,
  KEYS,
  REPO_ROOT,
  freePort,
  newBootstrapKey,
  programEnv,
  redisCli,
  runToExit,
  sleep,
  startReceiver,
  startRedis,
  startStack,
  useHarness,
  waitUntil,
} from './lib/harness.js';
import { verifyStreem, standardWebhooksSecret } from './lib/streem.js';

useHarness();

const COMPANY = 'CO_e2e1';
const RFC3339_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const VERSION = fs.readFileSync(path.join(REPO_ROOT, 'VERSION'), 'utf8').trim();

// ------------------------------------------------------------------ helpers

function assertJson(res) {
  assert.match(res.contentType, /^application\/json\b/, `Content-Type of ${res.status} answer: ${res.text}`);
}

function assertTime(value, what) {
  assert.equal(typeof value, 'string', `${what} is a string`);
  assert.ok(!Number.isNaN(Date.parse(value)), `${what} parses as a time: ${value}`);
}

// RFC 9457: {type, title, status, detail, errors?} as application/problem+json.
function assertProblem(res, statuses) {
  const want = [].concat(statuses);
  assert.ok(want.includes(res.status), `status ${res.status} not in ${want}: ${res.text}`);
  assert.match(res.contentType, /^application\/problem\+json\b/, `Content-Type: ${res.contentType}`);
  const p = res.json;
  assert.ok(p && typeof p === 'object', `problem body is JSON: ${res.text}`);
  assert.equal(typeof p.type, 'string', 'problem.type');
  assert.equal(typeof p.title, 'string', 'problem.title');
  assert.equal(p.status, res.status, 'problem.status equals the HTTP status');
  if ('detail' in p) assert.equal(typeof p.detail, 'string', 'problem.detail');
  if ('errors' in p) {
    assert.ok(Array.isArray(p.errors), 'problem.errors is an array');
    for (const e of p.errors) {
      assert.equal(typeof e.field, 'string', 'errors[].field');
      assert.equal(typeof e.message, 'string', 'errors[].message');
    }
  }
  return p;
}

// The problem names `field`: in errors[].field (bare or as a dotted path
// like webhook.url) or, failing that, in the detail text.
function assertNamesField(problem, field) {
  const inErrors = (problem.errors || []).some((e) => e.field === field || e.field.endsWith(`.${field}`));
  const inDetail = typeof problem.detail === 'string' && problem.detail.includes(field);
  assert.ok(inErrors || inDetail, `problem names the field "${field}": ${JSON.stringify(problem)}`);
}

// Publish through the api with a raw body: a JS object could not carry
// 12345678901234567890 unchanged, and that is the point.
const API_PAYLOAD = '{"call_sid":"CA_9","n":12345678901234567890}';
const XADD_PAYLOAD = '{"call_sid":"CA_10"}';
const CLI_PAYLOAD = '{"call_sid":"CA_11"}';

// ----------------------------------------------------------------- delivery

describe('foundation: configure, publish three ways, deliver signed', () => {
  let stack;
  let receiver;
  let webhook;
  let keys;
  const published = {}; // call_sid -> {payloadText, eventSid?}

  const webhookInput = () => ({
    webhook: {
      company_sid: COMPANY,
      label: 'e2e',
      url: receiver.url('/hook'),
      method: 'PUT',
      headers: [
        { name: 'X-Tenant', value: 'acme', include_in_request_signature: true },
        { name: 'X-Trace', value: 't-1', include_in_request_signature: false },
      ],
    },
  });

  before(async () => {
    receiver = await startReceiver();
    stack = await startStack({ dispatchers: 1 });
  });

  test('POST /v1/webhooks creates the webhook with its defaults', async () => {
    const input = webhookInput();
    const res = await stack.api('POST', '/v1/webhooks', input);
    assert.equal(res.status, 201, res.text);
    assertJson(res);
    const w = res.json?.webhook;
    assert.ok(w, `answer has "webhook": ${res.text}`);
    assert.match(w.sid, /^wh_[A-Za-z0-9_-]+$/);
    assert.equal(w.company_sid, COMPANY);
    assert.equal(w.label, 'e2e');
    assert.equal(w.url, input.webhook.url);
    assert.equal(w.method, 'PUT');
    assert.equal(w.timeout_ms, 5000);
    assert.equal(w.max_attempts, 8);
    assert.deepEqual(w.headers, input.webhook.headers);
    assert.deepEqual(w.event_types, []);
    assert.equal(w.enabled, true);
    assertTime(w.created_at, 'created_at');
    assertTime(w.updated_at, 'updated_at');
    assert.ok(Math.abs(Date.parse(w.created_at) - Date.now()) < 60000, `created_at is now: ${w.created_at}`);
    webhook = w;
  });

  test('GET /v1/webhooks/{sid} returns the same webhook', async () => {
    assert.ok(webhook, 'needs the webhook created above');
    const res = await stack.api('GET', `/v1/webhooks/${webhook.sid}`);
    assert.equal(res.status, 200, res.text);
    assertJson(res);
    assert.deepEqual(res.json?.webhook, webhook);
  });

  test('GET /v1/webhooks/{sid}/signing-keys lists the key with both secret forms', async () => {
    assert.ok(webhook, 'needs the webhook created above');
    const res = await stack.api('GET', `/v1/webhooks/${webhook.sid}/signing-keys`);
    assert.equal(res.status, 200, res.text);
    assertJson(res);
    const list = res.json?.signing_keys;
    assert.ok(Array.isArray(list) && list.length >= 1, `signing_keys is a non-empty array: ${res.text}`);
    for (const k of list) {
      assert.match(k.sid, /^sk_[A-Za-z0-9_-]+$/);
      assert.equal(k.webhook_sid, webhook.sid);
      assert.ok('label' in k, 'signing key has a label field');
      assert.equal(typeof k.shared_secret, 'string');
      assert.ok(k.shared_secret.length >= 16, 'shared_secret is long enough to be a secret');
      assert.equal(k.standard_webhooks_secret, standardWebhooksSecret(k.shared_secret));
      assertTime(k.created_at, 'signing key created_at');
      assert.ok('expires_at' in k, 'signing key has expires_at');
      if (k.expires_at !== null) {
        assertTime(k.expires_at, 'expires_at');
        assert.ok(Date.parse(k.expires_at) > Date.now(), 'a fresh key has not expired');
      }
    }
    keys = list;
  });

  test('an event published through POST /v1/events is accepted', async () => {
    const body = `{"company_sid":"${COMPANY}","event_type":"call.ended","payload":${API_PAYLOAD}}`;
    const res = await stack.api('POST', '/v1/events', body);
    assert.equal(res.status, 202, res.text);
    assertJson(res);
    const ev = res.json?.event;
    assert.ok(ev, `answer has "event": ${res.text}`);
    assert.match(ev.event_sid, /^evt_[A-Za-z0-9_-]+$/);
    if ('company_sid' in ev) assert.equal(ev.company_sid, COMPANY);
    if ('event_type' in ev) assert.equal(ev.event_type, 'call.ended');
    published.CA_9 = { payloadText: API_PAYLOAD, eventSid: ev.event_sid };
  });

  test('events can be published straight into the stream (RESP client and redis-cli)', async () => {
    const id = await stack.redis.call(
      'XADD', KEYS.events, '*',
      'company_sid', COMPANY, 'event_type', 'call.ended', 'payload', XADD_PAYLOAD,
    );
    assert.match(id, /^\d+-\d+$/);
    published.CA_10 = { payloadText: XADD_PAYLOAD }; // sid derived by the dispatcher

    const eventSid = 'evt_' + crypto.randomBytes(16).toString('base64url');
    const cliId = await redisCli(
      stack.redis, 'XADD', KEYS.events, '*',
      'company_sid', COMPANY, 'event_type', 'call.ended', 'payload', CLI_PAYLOAD, 'event_sid', eventSid,
    );
    assert.match(cliId, /^\d+-\d+$/);
    published.CA_11 = { payloadText: CLI_PAYLOAD, eventSid };
  });

  test('the receiver gets all three, in Streem shape, signed both ways', async () => {
    assert.ok(webhook && keys, 'needs the webhook and keys from above');
    assert.equal(Object.keys(published).length, 3, 'needs the three events published above');
    const requests = await receiver.waitFor(3, 15000);

    const byCall = {};
    for (const req of requests) {
      let body;
      assert.doesNotThrow(() => {
        body = JSON.parse(req.text);
      }, `body is JSON: ${req.text}`);
      const callSid = body?.event?.payload?.call_sid;
      assert.ok(callSid in published, `delivery for an event we published: ${req.text}`);
      assert.ok(!(callSid in byCall), `${callSid} delivered once, not twice`);
      byCall[callSid] = { req, body };
    }

    for (const [callSid, { req, body }] of Object.entries(byCall)) {
      checkDelivery(callSid, req, body, published[callSid]);
    }
  });

  function checkDelivery(callSid, req, body, pub) {
    const where = `delivery of ${callSid}`;
    const h = req.headers;

    // Method, path, headers from the webhook config, and the fixed ones.
    assert.equal(req.method, 'PUT', where);
    assert.equal(req.url, '/hook', where);
    assert.equal(h['x-tenant'], 'acme', where);
    assert.equal(h['x-trace'], 't-1', where);
    assert.match(h['content-type'] || '', /^application\/json\s*(;.*)?$/, `${where}: Content-Type`);
    assert.ok(h['user-agent'], `${where}: a User-Agent`);
    assert.match(h['user-agent'], /streem/i, `${where}: User-Agent names the project`);
    assert.ok(h['user-agent'].includes(VERSION), `${where}: User-Agent has version ${VERSION}: ${h['user-agent']}`);

    // Body: exactly Streem's shape.
    assert.deepEqual(Object.keys(body).sort(), ['event', 'sent_at'], `${where}: top-level keys`);
    assert.deepEqual(
      Object.keys(body.event).sort(),
      ['company_sid', 'created_at', 'event_sid', 'event_type', 'payload'],
      `${where}: event keys`,
    );
    assert.equal(body.event.company_sid, COMPANY);
    assert.equal(body.event.event_type, 'call.ended');
    assertTime(body.event.created_at, `${where}: event.created_at`);
    assert.match(body.event.event_sid, /^evt_[A-Za-z0-9_-]+$/, where);
    if (pub.eventSid) assert.equal(body.event.event_sid, pub.eventSid, `${where}: event_sid as published`);

    // The payload travels as the published bytes, not re-encoded.
    assert.ok(req.text.includes(pub.payloadText), `${where}: payload byte-identical in ${req.text}`);
    if (callSid === 'CA_9') assert.ok(req.text.includes('12345678901234567890'), `${where}: big integer unchanged`);

    // sent_at and the headers derived from it.
    assert.match(body.sent_at, RFC3339_MS_Z, `${where}: sent_at format`);
    assert.equal(h['streem-sent-at'], body.sent_at, `${where}: Streem-Sent-At equals sent_at`);
    assert.equal(h['webhook-id'], body.event.event_sid, `${where}: webhook-id is the event sid`);
    assert.match(h['webhook-timestamp'] || '', /^\d+$/, `${where}: webhook-timestamp`);
    const skew = Number(h['webhook-timestamp']) - Date.parse(body.sent_at) / 1000;
    assert.ok(Math.abs(skew) <= 1, `${where}: webhook-timestamp is the attempt's time (${skew} s off sent_at)`);

    // Streem's documented signature, checked like a customer would (500 ms).
    assert.equal(h['streem-signature-headers'], 'Streem-Sent-At:X-Tenant', where);
    const secrets = keys.map((k) => k.shared_secret);
    const v = verifyStreem({ headers: h, body: req.body, secrets, now: req.receivedAt, toleranceMs: 500 });
    assert.ok(v.ok, `${where}: Streem-Signature: ${v.reason}`);
    assert.equal((h['streem-signature'] || '').split(',').length, keys.length, `${where}: one Streem signature per key`);

    // Standard Webhooks, verified by the official library, every key.
    assert.equal((h['webhook-signature'] || '').split(' ').length, keys.length, `${where}: one v1 signature per key`);
    for (const k of keys) {
      assert.doesNotThrow(
        () => new Webhook(k.standard_webhooks_secret).verify(req.body, h),
        `${where}: webhook-signature verifies with ${k.sid}`,
      );
    }
  }

  test('no duplicates arrive and the acked entries leave the stream', async () => {
    assert.equal(receiver.requests.length, 3, 'three deliveries so far');
    await sleep(500);
    assert.equal(receiver.requests.length, 3, 'still three after half a second');
    await waitUntil(async () => (await stack.redis.call('XLEN', KEYS.events)) === 0, {
      timeoutMs: 5000,
      what: `${KEYS.events} to be empty (XACK + XDEL)`,
    });
  });

  test('no credentials or a wrong secret -> 401 problem', async () => {
    const target = `/v1/webhooks/${webhook?.sid || 'wh_x'}`;
    assertProblem(await stack.api('GET', target, undefined, { key: null }), 401);
    const [id] = stack.bootstrapKey.split(':');
    assertProblem(await stack.api('GET', target, undefined, { key: `${id}:not-the-secret` }), 401);
    assertProblem(await stack.api('POST', '/v1/events', { company_sid: COMPANY, event_type: 'x', payload: {} }, { key: null }), 401);
  });

  test('an invalid webhook url -> 400/422 problem naming url', async () => {
    const input = webhookInput();
    input.webhook.url = 'ftp://x';
    const p = assertProblem(await stack.api('POST', '/v1/webhooks', input), [400, 422]);
    assertNamesField(p, 'url');
  });

  test('an event without event_type -> 400/422 problem', async () => {
    const res = await stack.api('POST', '/v1/events', { company_sid: COMPANY, payload: { call_sid: 'CA_x' } });
    const p = assertProblem(res, [400, 422]);
    assertNamesField(p, 'event_type');
  });

  test('an unknown webhook -> 404 problem', async () => {
    assertProblem(await stack.api('GET', '/v1/webhooks/wh_doesnotexist0000000000'), 404);
  });
});

// ----------------------------------------------------------- startup checks

// Both programs check their environment and Redis before doing anything, and
// fail with one JSON line on stderr naming the problem and a non-zero exit.
function assertCleanStartupFailure(r, mention, what) {
  assert.ok(!r.error, `${what}: could not run: ${r.error?.message}`);
  assert.ok(!r.timedOut, `${what}: still running after 10 s; stderr:\n${r.stderr}`);
  assert.equal(r.signal, null, `${what}: exited by itself, not by signal ${r.signal}`);
  assert.notEqual(r.code, 0, `${what}: non-zero exit`);
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  assert.equal(lines.length, 1, `${what}: exactly one stderr line, got:\n${r.stderr}`);
  let entry;
  assert.doesNotThrow(() => {
    entry = JSON.parse(lines[0]);
  }, `${what}: the line is JSON: ${lines[0]}`);
  assert.ok(entry && typeof entry === 'object', `${what}: a JSON object`);
  assert.match(lines[0], mention, `${what}: the line says what is wrong`);
  assert.equal(entry.version, VERSION, `${what}: the first line names the version`);
}

describe('startup checks', () => {
  const programs = Object.entries(BIN);
  let redis;

  before(async () => {
    redis = await startRedis({ name: 'redis-startup' });
  });

  for (const [name, bin] of programs) {
    test(`${name} --version: "webhooks-${name} <version>" on stdout, exit 0, without any configuration`, async () => {
      const r = await runToExit(bin, { args: ['--version'], env: { PATH: process.env.PATH }, name: `${name}-version` });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${path.basename(bin)} ${VERSION}\n`);
      assert.equal(r.stderr, '');
    });

    test(`${name}: unreachable Redis -> non-zero exit with one clear line`, async () => {
      assert.ok(fs.existsSync(bin), `${bin} exists (make)`);
      const closedPort = await freePort(); // nothing listens there
      const env = programEnv({
        redis: { url: `redis://127.0.0.1:${closedPort}/0` },
        apiPort: await freePort(),
        bootstrapKey: newBootstrapKey(),
      });
      const r = await runToExit(bin, { env, timeoutMs: 10000, name: `${name}-no-redis` });
      assertCleanStartupFailure(r, /"cannot reach Redis \(WH_REDIS_URL\)".*"redis":"127\.0\.0\.1:\d+"/, `${name} with a closed Redis port`);
      assert.equal(r.code, 1, `${name}: exit status 1 when Redis cannot be reached`);
    });

    test(`${name}: WH_DISPATCH_CONCURRENCY=abc -> non-zero exit with one clear line`, async () => {
      assert.ok(fs.existsSync(bin), `${bin} exists (make)`);
      const env = programEnv({
        redis,
        apiPort: await freePort(),
        bootstrapKey: newBootstrapKey(),
        env: { WH_DISPATCH_CONCURRENCY: 'abc' },
      });
      const r = await runToExit(bin, { env, timeoutMs: 10000, name: `${name}-bad-env` });
      assertCleanStartupFailure(r, /WH_DISPATCH_CONCURRENCY/, `${name} with WH_DISPATCH_CONCURRENCY=abc`);
      assert.equal(r.code, 2, `${name}: exit status 2 for a bad configuration`);
    });
  }
});
