// Self-test of lib/streem.js against the reference vectors of
// docs/vectors/signatures.json (the file docs/design.md shows and the C unit
// test reads), so that the end-to-end checks built on it can be trusted.
// Needs no running programs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';
import { verifyStreem, signStreem, signedInput, standardWebhooksSecret } from './lib/streem.js';

const VECTORS = JSON.parse(readFileSync(new URL('../../docs/vectors/signatures.json', import.meta.url), 'utf8'));
const [S1, S2] = VECTORS.streem;
const KEY = S1.shared_secret;
assert.equal(S2.shared_secret, KEY);

// Vector 1: only Streem-Sent-At signed, a 1972 timestamp (so the clock check
// has to be disabled or the clock injected).
const V1 = { sentAt: S1.headers[0][1], body: S1.body, signature: S1.signature };
assert.equal(S1.headers.length, 1);

// Vector 2: two custom headers signed after Streem-Sent-At.
const V2 = { sentAt: S2.headers[0][1], body: S2.body, signature: S2.signature };
assert.deepEqual(S2.headers.slice(1), [['X-Streem-API-Key-ID', 'key_123'], ['X-Tenant', 'acme']]);

test('signer reproduces every Streem vector of the file and its signed input', () => {
  for (const v of VECTORS.streem) {
    assert.equal(signedInput(v.headers, v.body).toString('utf8'), v.signed_input, v.name);
    assert.equal(signStreem(v.shared_secret, v.headers, v.body), v.signature, v.name);
  }
});

function v1Headers(overrides = {}) {
  return {
    'Streem-Sent-At': V1.sentAt,
    'Streem-Signature-Headers': 'Streem-Sent-At',
    'Streem-Signature': V1.signature,
    ...overrides,
  };
}

// Lowercased like Node's req.headers, to exercise case-insensitive lookup.
function v2Headers(overrides = {}) {
  return {
    'streem-sent-at': V2.sentAt,
    'x-streem-api-key-id': 'key_123',
    'x-tenant': 'acme',
    'streem-signature-headers': 'Streem-Sent-At:X-Streem-API-Key-ID:X-Tenant',
    'streem-signature': V2.signature,
    ...overrides,
  };
}

const v2Now = Date.parse(V2.sentAt);

test('signer reproduces vector 1', () => {
  assert.equal(signStreem(KEY, [['Streem-Sent-At', V1.sentAt]], V1.body), V1.signature);
});

test('signed input of vector 2 is exactly the documented string', () => {
  const pairs = [
    ['Streem-Sent-At', V2.sentAt],
    ['X-Streem-API-Key-ID', 'key_123'],
    ['X-Tenant', 'acme'],
  ];
  assert.equal(
    signedInput(pairs, V2.body).toString('utf8'),
    'Streem-Sent-At=2026-11-28T10:00:20.021Z;X-Streem-API-Key-ID=key_123;X-Tenant=acme;' + V2.body,
  );
  assert.equal(signStreem(KEY, pairs, V2.body), V2.signature);
});

test('vector 1 verifies with the clock check disabled', () => {
  const r = verifyStreem({ headers: v1Headers(), body: V1.body, secrets: [KEY], checkTime: false });
  assert.deepEqual(r, { ok: true, matched: KEY });
});

test('vector 1 verifies with the clock injected; a real clock rejects it', () => {
  const now = Date.parse(V1.sentAt) + 120;
  assert.equal(verifyStreem({ headers: v1Headers(), body: V1.body, secrets: [KEY], now }).ok, true);
  const r = verifyStreem({ headers: v1Headers(), body: Buffer.from(V1.body), secrets: [KEY] });
  assert.equal(r.ok, false);
  assert.match(r.reason, /tolerance/);
});

test('vector 2 verifies (Buffer body, lowercased headers)', () => {
  const r = verifyStreem({ headers: v2Headers(), body: Buffer.from(V2.body), secrets: [KEY], now: v2Now });
  assert.equal(r.ok, true, r.reason);
});

test('key rotation: any matching comma-separated entry is accepted', () => {
  const other = 'a'.repeat(64);
  const headers = v2Headers({ 'streem-signature': `${other},${V2.signature}` });
  const r = verifyStreem({ headers, body: V2.body, secrets: ['old secret', KEY], now: v2Now });
  assert.equal(r.ok, true, r.reason);
});

test('tampered body is rejected', () => {
  const r = verifyStreem({ headers: v2Headers(), body: V2.body.replace('CA_1', 'CA_2'), secrets: [KEY], now: v2Now });
  assert.equal(r.ok, false);
  assert.match(r.reason, /no Streem-Signature entry matches/);
});

test('wrong key is rejected', () => {
  const r = verifyStreem({ headers: v2Headers(), body: V2.body, secrets: [KEY + 'x'], now: v2Now });
  assert.equal(r.ok, false);
});

test('tampered signed header value is rejected', () => {
  const r = verifyStreem({ headers: v2Headers({ 'x-tenant': 'evil' }), body: V2.body, secrets: [KEY], now: v2Now });
  assert.equal(r.ok, false);
});

test('Streem-Sent-At 600 ms off (either way) is rejected at 500 ms tolerance; 400 ms passes', () => {
  for (const skew of [600, -600]) {
    const r = verifyStreem({ headers: v2Headers(), body: V2.body, secrets: [KEY], now: v2Now + skew });
    assert.equal(r.ok, false, `skew ${skew}`);
    assert.match(r.reason, /tolerance 500 ms/);
  }
  const r = verifyStreem({ headers: v2Headers(), body: V2.body, secrets: [KEY], now: v2Now + 400 });
  assert.equal(r.ok, true, r.reason);
});

test('a freshly signed request with a stale Sent-At is rejected even though the HMAC matches', () => {
  const sentAt = new Date(Date.now() - 600).toISOString();
  const headers = {
    'Streem-Sent-At': sentAt,
    'Streem-Signature-Headers': 'Streem-Sent-At',
    'Streem-Signature': signStreem(KEY, [['Streem-Sent-At', sentAt]], V1.body),
  };
  assert.equal(verifyStreem({ headers, body: V1.body, secrets: [KEY] }).ok, false);
  assert.equal(verifyStreem({ headers, body: V1.body, secrets: [KEY], toleranceMs: 5000 }).ok, true);
});

test('malformed or missing headers are rejected with a reason', () => {
  const cases = [
    [{ 'streem-sent-at': undefined }, /missing Streem-Sent-At/],
    [{ 'streem-sent-at': '2026-11-28T10:00:20Z' }, /RFC 3339/],
    [{ 'streem-signature-headers': 'X-Tenant:Streem-Sent-At' }, /must start with Streem-Sent-At/],
    [{ 'streem-signature-headers': undefined }, /missing Streem-Signature-Headers/],
    [{ 'x-tenant': undefined }, /X-Tenant not in the request/],
    [{ 'streem-signature': undefined }, /missing Streem-Signature/],
    [{ 'streem-signature': V2.signature.toUpperCase() }, /no Streem-Signature entry matches/],
  ];
  for (const [overrides, reason] of cases) {
    const headers = v2Headers(overrides);
    for (const k of Object.keys(headers)) if (headers[k] === undefined) delete headers[k];
    const r = verifyStreem({ headers, body: V2.body, secrets: [KEY], now: v2Now });
    assert.equal(r.ok, false, JSON.stringify(overrides));
    assert.match(r.reason, reason);
  }
});

// The Standard Webhooks side: the official library reproduces the reference
// vectors of the file, and a shared secret maps to the whsec_ form the api
// exposes, which that library then accepts.
test('standardwebhooks package reproduces the reference vectors', () => {
  assert.ok(VECTORS.standard_webhooks.length >= 1);
  for (const v of VECTORS.standard_webhooks) {
    const sig = new Webhook(v.secret).sign(v.id, new Date(v.timestamp * 1000), v.body);
    assert.equal(sig, v.signature, v.name);
  }
  for (const v of VECTORS.standard_webhooks_secret)
    assert.equal(standardWebhooksSecret(v.shared_secret), v.standard_webhooks_secret, v.name);
});

test('standard_webhooks_secret is whsec_ + base64(shared secret bytes) and keys the same HMAC', () => {
  const whsec = standardWebhooksSecret(KEY);
  assert.equal(whsec, 'whsec_' + Buffer.from(KEY).toString('base64'));
  // Sign the Standard Webhooks way with the raw shared secret bytes (as the
  // dispatcher does) and check the official library accepts it via whsec_.
  const id = 'evt_test';
  const ts = Math.floor(Date.now() / 1000);
  const mac = createHmac('sha256', Buffer.from(KEY, 'utf8')).update(`${id}.${ts}.${V2.body}`).digest('base64');
  const headers = { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${mac}` };
  assert.deepEqual(new Webhook(whsec).verify(V2.body, headers), JSON.parse(V2.body));
});
