// Signing keys end to end: create (generated or the customer's own
// shared_secret), read, list with sorting and pages, change label and
// expiry, delete, the cap and the "always one key that signs" rule, and
// through a real dispatcher and receiver: rotation (two keys, two
// signatures in each scheme, each verified with its own key; an expired
// key no longer signs) and a customer-chosen secret verified end to end.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { startReceiver, startStack, useHarness, KEYS } from './lib/harness.js';
import { verifyStreem, standardWebhooksSecret } from './lib/streem.js';
import {
  assertJson,
  assertProblem,
  byValueThenSid,
  companyKey,
  createWebhook,
  expectFieldError,
  listAll,
  rnd,
} from './lib/checks.js';

useHarness();

let stack;
let api;
let receiver;

before(async () => {
  receiver = await startReceiver();
  stack = await startStack({ dispatchers: 1 });
  api = stack.api;
});

const keysPath = (w) => `/v1/webhooks/${w.sid}/signing-keys`;

// Publish an event of company tagged tag; its delivery as received.
async function deliverTagged(company, tag) {
  const before = receiver.requests.length;
  const res = await api('POST', '/v1/events', { company_sid: company, event_type: 'call.ended', payload: { tag } });
  assert.equal(res.status, 202, res.text);
  const all = await receiver.waitFor(before + 1, 15000);
  const req = all.slice(before).find((r) => r.text.includes(`"tag":"${tag}"`));
  assert.ok(req, `delivery of ${tag} arrived`);
  return req;
}

describe('the signing key resource', () => {
  const company = `CO_sk${rnd(3)}`;
  let hook;
  let def;

  before(async () => {
    hook = await createWebhook(api, company);
    const res = await api('GET', keysPath(hook));
    assert.equal(res.status, 200, res.text);
    [def] = res.json.signing_keys;
    assert.equal(def.label, 'default');
  });

  test('POST with no body: a generated 43-character secret; 201 with Location', async () => {
    const res = await api('POST', keysPath(hook), undefined, { headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 201, res.text);
    assertJson(res);
    const k = res.json.signing_key;
    assert.match(k.sid, /^sk_[A-Za-z0-9_-]{22}$/);
    assert.equal(res.headers.get('location'), `${keysPath(hook)}/${k.sid}`);
    assert.match(k.shared_secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(k.standard_webhooks_secret, standardWebhooksSecret(k.shared_secret));
    assert.equal(k.webhook_sid, hook.sid);
    assert.equal(k.label, '');
    assert.equal(k.expires_at, null);
    const got = await api('GET', `${keysPath(hook)}/${k.sid}`);
    assert.deepEqual(got.json.signing_key, k);
    assert.equal((await api('DELETE', `${keysPath(hook)}/${k.sid}`)).status, 204);
  });

  test('POST with the customer\'s shared_secret, label and expiry', async () => {
    const secret = 'ClickToVideo Example Signing Key Secret';
    const expires = new Date(Date.now() + 3600e3).toISOString();
    const res = await api('POST', keysPath(hook), { signing_key: { label: 'mine', shared_secret: secret, expires_at: expires } });
    assert.equal(res.status, 201, res.text);
    const k = res.json.signing_key;
    assert.equal(k.shared_secret, secret);
    assert.equal(k.standard_webhooks_secret, standardWebhooksSecret(secret));
    assert.equal(k.expires_at, expires);
    assert.equal(k.label, 'mine');
  });

  test('bad keys: 422 naming the field', async () => {
    const p = keysPath(hook);
    await expectFieldError(() => api('POST', p, { shared_secret: 'short' }), 422, 'shared_secret');
    await expectFieldError(() => api('POST', p, { shared_secret: 'x'.repeat(257) }), 422, 'shared_secret');
    await expectFieldError(() => api('POST', p, { shared_secret: 'sixteen chars ok\u00e9' }), 422, 'shared_secret');
    await expectFieldError(() => api('POST', p, { shared_secret: 'tab\tinside the secret' }), 422, 'shared_secret');
    await expectFieldError(() => api('POST', p, { shared_secret: 12345678901234567 }), 422, 'shared_secret');
    await expectFieldError(() => api('POST', p, { expires_at: 'tomorrow' }), 422, 'expires_at');
    await expectFieldError(() => api('POST', p, { expires_at: 1234 }), 422, 'expires_at');
    await expectFieldError(() => api('POST', p, { label: 'x'.repeat(257) }), 422, 'label');
    await expectFieldError(() => api('POST', p, { label: 'a\u0007b' }), 422, 'label');
    await expectFieldError(() => api('POST', p, { secret: 'x'.repeat(20) }), 422, 'secret');
    await expectFieldError(() => api('POST', p, { sid: 'sk_mine' }), 422, 'sid');
    const k = `${p}/${def.sid}`;
    await expectFieldError(() => api('PATCH', k, { shared_secret: 'a new secret value!!' }), 422, 'shared_secret');
    await expectFieldError(() => api('PATCH', k, { webhook_sid: 'wh_x' }), 422, 'webhook_sid');
    await expectFieldError(() => api('PATCH', k, { expires_at: '2026-13-01T00:00:00Z' }), 422, 'expires_at');
    assertProblem(await api('GET', `${p}/sk_nope000000000000000000`), 404);
    assertProblem(await api('PATCH', `${p}/sk_nope000000000000000000`, { label: 'x' }), 404);
    assertProblem(await api('DELETE', `${p}/sk_nope000000000000000000`), 404);
    assertProblem(await api('POST', '/v1/webhooks/wh_nope00000000000000000/signing-keys', {}), 404);
  });

  test('PATCH label and expiry; null clears the expiry', async () => {
    const k = `${keysPath(hook)}/${def.sid}`;
    let res = await api('PATCH', k, { label: 'renamed' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.signing_key.label, 'renamed');
    assert.equal(res.json.signing_key.shared_secret, def.shared_secret, 'the secret never changes');
    const later = new Date(Date.now() + 86400e3).toISOString();
    res = await api('PATCH', k, { signing_key: { expires_at: later } });
    assert.equal(res.json.signing_key.expires_at, later);
    res = await api('PATCH', k, { expires_at: null });
    assert.equal(res.json.signing_key.expires_at, null);
    assert.equal(res.json.signing_key.label, 'renamed');
  });

  test('at most 10 keys; list sorts by label or created_at, in pages', async () => {
    const { items: before10 } = await listAll(api, keysPath(hook), {}, { name: 'signing_keys' });
    for (let i = before10.length; i < 10; i++) {
      const res = await api('POST', keysPath(hook), { label: `k${(i * 3) % 10}` });
      assert.equal(res.status, 201, res.text);
    }
    assertProblem(await api('POST', keysPath(hook), { label: 'eleventh' }), 409);
    const { items: all } = await listAll(api, keysPath(hook), { page_size: 100 }, { name: 'signing_keys' });
    assert.equal(all.length, 10);
    for (const [sort, value, desc] of [
      ['label.asc', (k) => k.label, false], ['label.desc', (k) => k.label, true],
      ['created_at.asc', (k) => Date.parse(k.created_at), false], ['created_at.desc', (k) => Date.parse(k.created_at), true],
    ]) {
      const { items, pages } = await listAll(api, keysPath(hook), { sort, page_size: 3 }, { name: 'signing_keys' });
      assert.equal(pages.length, 4, sort);
      assert.deepEqual(items.map((k) => k.sid), [...all].sort(byValueThenSid(value, desc)).map((k) => k.sid), sort);
    }
    await expectFieldError(() => api('GET', `${keysPath(hook)}?sort=url.asc`), 400, 'sort');
    await expectFieldError(() => api('GET', `${keysPath(hook)}?company_sid=${company}`), 400, 'company_sid');
  });

  test('a webhook keeps a key that signs: the last one cannot go or expire (409)', async () => {
    const w = await createWebhook(api, company);
    const [only] = (await api('GET', keysPath(w))).json.signing_keys;
    const k = `${keysPath(w)}/${only.sid}`;
    assertProblem(await api('DELETE', k), 409);
    assertProblem(await api('PATCH', k, { expires_at: new Date(Date.now() - 1000).toISOString() }), 409);
    // A future expiry is a plan, not a removal: allowed.
    const soon = new Date(Date.now() + 60e3).toISOString();
    assert.equal((await api('PATCH', k, { expires_at: soon })).status, 200);
    const second = (await api('POST', keysPath(w), { label: 'new' })).json.signing_key;
    assert.equal((await api('PATCH', k, { expires_at: new Date(Date.now() - 1000).toISOString() })).status, 200);
    // Now the new key is the only one that signs.
    assertProblem(await api('DELETE', `${keysPath(w)}/${second.sid}`), 409);
    assert.equal((await api('DELETE', k)).status, 204);
    assertProblem(await api('DELETE', `${keysPath(w)}/${second.sid}`), 409);
    assert.equal(await stack.redis.call('HLEN', KEYS.webhookKeys(w.sid)), 1);
  });
});

describe('tenancy: another company\'s keys are 404', () => {
  test('A cannot create, read, list, change or delete keys of B\'s webhook', async () => {
    const a = await companyKey(api, `CO_ska${rnd(3)}`);
    const b = await companyKey(api, `CO_skb${rnd(3)}`);
    const hookB = await createWebhook(api, null, {}, { key: b.auth });
    const [kb] = (await api('GET', keysPath(hookB), undefined, { key: b.auth })).json.signing_keys;
    const o = { key: a.auth };
    assertProblem(await api('GET', keysPath(hookB), undefined, o), 404);
    assertProblem(await api('POST', keysPath(hookB), { label: 'x' }, o), 404);
    assertProblem(await api('GET', `${keysPath(hookB)}/${kb.sid}`, undefined, o), 404);
    assertProblem(await api('PATCH', `${keysPath(hookB)}/${kb.sid}`, { label: 'pwned' }, o), 404);
    assertProblem(await api('DELETE', `${keysPath(hookB)}/${kb.sid}`, undefined, o), 404);
    const still = await api('GET', `${keysPath(hookB)}/${kb.sid}`, undefined, { key: b.auth });
    assert.deepEqual(still.json.signing_key, kb, 'B\'s key is untouched');
    assert.equal((await api('GET', keysPath(hookB), undefined, { key: b.auth })).json.signing_keys.length, 1);
  });
});

// ----------------------------------------------------------- through delivery

describe('rotation and customer secrets, verified by a real receiver', () => {
  const company = `CO_rot${rnd(3)}`;

  const publishAndReceive = (tag) => deliverTagged(company, tag);

  function assertStreem(req, secret, ok) {
    const v = verifyStreem({ headers: req.headers, body: req.body, secrets: [secret], now: req.receivedAt, toleranceMs: 500 });
    assert.equal(v.ok, ok, `Streem-Signature with ${secret.slice(0, 6)}…: ${v.reason || 'verified'}`);
  }

  function assertStandard(req, secret, ok) {
    const wh = new Webhook(standardWebhooksSecret(secret));
    if (ok) assert.doesNotThrow(() => wh.verify(req.body, req.headers), 'webhook-signature verifies');
    else assert.throws(() => wh.verify(req.body, req.headers), 'webhook-signature must not verify');
  }

  test('two keys: two signatures in each scheme, each verified with its own key; an expired key no longer signs', async () => {
    const w = await createWebhook(api, company, { url: receiver.url('/rot') });
    const [oldKey] = (await api('GET', keysPath(w))).json.signing_keys;
    const custom = `rotation secret ${rnd(8)}`;
    const created = await api('POST', keysPath(w), { label: 'next', shared_secret: custom });
    assert.equal(created.status, 201, created.text);
    const newKey = created.json.signing_key;

    let req = await publishAndReceive(`both-${rnd(3)}`);
    assert.equal(req.headers['streem-signature'].split(',').length, 2, 'two Streem signatures');
    assert.equal(req.headers['webhook-signature'].split(' ').length, 2, 'two v1 signatures');
    for (const k of [oldKey, newKey]) {
      assertStreem(req, k.shared_secret, true);
      assertStandard(req, k.shared_secret, true);
    }
    // Each entry is one key's: a list with only the other key's entry fails.
    const only = (list, sep, i) => ({ ...req.headers, [list]: req.headers[list].split(sep)[i] });
    const firstOnly = { ...req, headers: only('streem-signature', ',', 0) };
    const okOld = verifyStreem({ headers: firstOnly.headers, body: req.body, secrets: [oldKey.shared_secret], checkTime: false }).ok;
    const okNew = verifyStreem({ headers: firstOnly.headers, body: req.body, secrets: [newKey.shared_secret], checkTime: false }).ok;
    assert.ok(okOld !== okNew, 'one Streem entry verifies with exactly one key');

    const past = new Date(Date.now() - 1000).toISOString();
    const exp = await api('PATCH', `${keysPath(w)}/${oldKey.sid}`, { expires_at: past });
    assert.equal(exp.status, 200, exp.text);
    req = await publishAndReceive(`new-only-${rnd(3)}`);
    assert.equal(req.headers['streem-signature'].split(',').length, 1, 'one Streem signature');
    assert.equal(req.headers['webhook-signature'].split(' ').length, 1, 'one v1 signature');
    assertStreem(req, newKey.shared_secret, true);
    assertStandard(req, newKey.shared_secret, true);
    assertStreem(req, oldKey.shared_secret, false);
    assertStandard(req, oldKey.shared_secret, false);
  });

  test('a customer-chosen shared_secret alone signs, verified in both schemes', async () => {
    const co = `CO_own${rnd(3)}`;
    const k = await companyKey(api, co);
    const w = await createWebhook(api, null, {
      url: receiver.url('/own'),
      headers: [{ name: 'X-Streem-API-Key-ID', value: k.id, include_in_request_signature: true }],
    }, { key: k.auth });
    const [def] = (await api('GET', keysPath(w), undefined, { key: k.auth })).json.signing_keys;
    const secret = `My Own Secret ${rnd(6)} with spaces & symbols!`;
    const mine = await api('POST', keysPath(w), { shared_secret: secret, label: 'customer' }, { key: k.auth });
    assert.equal(mine.status, 201, mine.text);
    assert.equal((await api('DELETE', `${keysPath(w)}/${def.sid}`, undefined, { key: k.auth })).status, 204);

    const before = receiver.requests.length;
    const tag = `own-${rnd(3)}`;
    const pub = await api('POST', '/v1/events', { event_type: 'artifact.ready', payload: { tag } }, { key: k.auth });
    assert.equal(pub.status, 202, pub.text);
    const all = await receiver.waitFor(before + 1, 15000);
    const req = all.slice(before).find((r) => r.text.includes(tag));
    assert.ok(req, 'delivered');
    assert.equal(req.headers['streem-signature-headers'], 'Streem-Sent-At:X-Streem-API-Key-ID');
    assertStreem(req, secret, true);
    // The whsec_ form computed here from the secret, not taken from the api.
    assertStandard(req, secret, true);
    assertStreem(req, def.shared_secret, false);
  });
});

// ------------------------------------------------------- ed25519 (v1a) keys

// A whpk_ public key as a Node KeyObject (raw 32 bytes behind the SPKI
// prefix of an Ed25519 key).
function ed25519Public(whpk) {
  assert.match(whpk, /^whpk_[A-Za-z0-9+/]{43}=$/);
  const raw = Buffer.from(whpk.slice(5), 'base64');
  assert.equal(raw.length, 32);
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
  return crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
}

// The v1a entries of webhook-signature that verify with pub over id.ts.body.
function v1aVerified(req, pub) {
  const msg = Buffer.from(`${req.headers['webhook-id']}.${req.headers['webhook-timestamp']}.${req.body}`);
  return req.headers['webhook-signature'].split(' ')
    .filter((e) => e.startsWith('v1a,'))
    .filter((e) => crypto.verify(null, msg, pub, Buffer.from(e.slice(4), 'base64'))).length;
}

describe('ed25519 signing keys (Standard Webhooks v1a)', () => {
  const company = `CO_ed${rnd(3)}`;

  test('created on request: the public key is shown, never a secret; bad requests name the field', async () => {
    const w = await createWebhook(api, company);
    const p = keysPath(w);
    const res = await api('POST', p, { label: 'ed', algorithm: 'ed25519' });
    assert.equal(res.status, 201, res.text);
    const k = res.json.signing_key;
    assert.equal(k.algorithm, 'ed25519');
    ed25519Public(k.public_key);
    assert.equal(k.shared_secret, undefined);
    assert.equal(k.standard_webhooks_secret, undefined);
    assert.deepEqual((await api('GET', `${p}/${k.sid}`)).json.signing_key, k);
    const list = (await api('GET', p)).json.signing_keys;
    assert.deepEqual(list.map((x) => x.algorithm).sort(), ['ed25519', 'hmac-sha256']);
    // Two keys, two pairs.
    const other = (await api('POST', p, { algorithm: 'ed25519' })).json.signing_key;
    assert.notEqual(other.public_key, k.public_key);
    await expectFieldError(() => api('POST', p, { algorithm: 'ed25519', shared_secret: 'a customer secret!!' }), 422, 'shared_secret');
    await expectFieldError(() => api('POST', p, { algorithm: 'rsa' }), 422, 'algorithm');
    await expectFieldError(() => api('POST', p, { algorithm: 25519 }), 422, 'algorithm');
    await expectFieldError(() => api('POST', p, { public_key: k.public_key }), 422, 'public_key');
    await expectFieldError(() => api('PATCH', `${p}/${k.sid}`, { algorithm: 'hmac-sha256' }), 422, 'algorithm');
    const hmac = (await api('POST', p, { algorithm: 'hmac-sha256' })).json.signing_key;
    assert.equal(hmac.algorithm, 'hmac-sha256');
    assert.match(hmac.shared_secret, /^[A-Za-z0-9_-]{43}$/);
  });

  test('every delivery carries v1a beside v1, verified with crypto.verify; HMAC unchanged; rotation', async () => {
    const w = await createWebhook(api, company, { url: receiver.url('/ed') });
    const p = keysPath(w);
    const [hmac] = (await api('GET', p)).json.signing_keys;
    const ed = (await api('POST', p, { algorithm: 'ed25519', label: 'ed' })).json.signing_key;
    const ed2 = (await api('POST', p, { algorithm: 'ed25519', label: 'ed2' })).json.signing_key;
    const pub = ed25519Public(ed.public_key);
    const pub2 = ed25519Public(ed2.public_key);

    const deliver = (tag) => deliverTagged(company, tag);

    let req = await deliver(`ed-${rnd(3)}`);
    const entries = req.headers['webhook-signature'].split(' ');
    assert.deepEqual(entries.map((e) => e.split(',')[0]).sort(), ['v1', 'v1a', 'v1a']);
    assert.equal(v1aVerified(req, pub), 1, 'one v1a entry verifies with the first public key');
    assert.equal(v1aVerified(req, pub2), 1, 'one with the second');
    // A changed body does not verify.
    assert.equal(v1aVerified({ ...req, body: `${req.body} ` }, pub), 0);
    // HMAC as before: one Streem entry, v1 verified by the library.
    assert.equal(req.headers['streem-signature'].split(',').length, 1);
    assert.ok(verifyStreem({ headers: req.headers, body: req.body, secrets: [hmac.shared_secret], now: req.receivedAt, toleranceMs: 500 }).ok);
    assert.doesNotThrow(() => new Webhook(hmac.standard_webhooks_secret).verify(req.body, req.headers));

    // Rotation: the HMAC key is still the one that must stay; ed25519
    // keys expire and go freely.
    assertProblem(await api('DELETE', `${p}/${hmac.sid}`), 409);
    const past = new Date(Date.now() - 1000).toISOString();
    assert.equal((await api('PATCH', `${p}/${ed.sid}`, { expires_at: past })).status, 200);
    assert.equal((await api('DELETE', `${p}/${ed2.sid}`)).status, 204);
    req = await deliver(`ed-gone-${rnd(3)}`);
    assert.deepEqual(req.headers['webhook-signature'].split(' ').map((e) => e.split(',')[0]), ['v1']);
    assert.equal(v1aVerified(req, pub), 0);
    assert.ok(verifyStreem({ headers: req.headers, body: req.body, secrets: [hmac.shared_secret], now: req.receivedAt, toleranceMs: 500 }).ok);
  });
});
