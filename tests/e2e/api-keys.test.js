// API keys end to end: an admin key makes company and admin keys (the
// secret shown once, kept only as its SHA-256), lists them (never a
// secret) in pages, and deletes them; a company key sees and deletes
// only its own company's keys, cannot make keys, and another company's
// key (or an admin key, the bootstrap key included) is 404 to it.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS, startStack, useHarness } from './lib/harness.js';
import {
  assertJson,
  assertProblem,
  companyKey,
  createWebhook,
  expectFieldError,
  listAll,
  rnd,
  sha256hex,
} from './lib/checks.js';

useHarness();

let stack;
let api;
let bootstrapId;

before(async () => {
  stack = await startStack({ dispatchers: 0 });
  api = stack.api;
  [bootstrapId] = stack.bootstrapKey.split(':');
});

describe('creating keys', () => {
  test('a company key: 201 with the secret once; Redis keeps only its SHA-256', async () => {
    const company = `CO_k${rnd(3)}`;
    const res = await api('POST', '/v1/api-keys', { company_sid: company, label: 'ci deploys' });
    assert.equal(res.status, 201, res.text);
    assertJson(res);
    const k = res.json.api_key;
    assert.match(k.key_id, /^key_[A-Za-z0-9_-]{22}$/);
    assert.match(k.secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(k.secret, 'base64url').length, 32);
    assert.equal(k.company_sid, company);
    assert.equal(k.admin, false);
    assert.equal(k.label, 'ci deploys');
    const stored = await stack.redis.call('HGETALL', KEYS.apikey(k.key_id));
    const rec = Object.fromEntries(stored.reduce((acc, v, i) => (i % 2 ? acc : [...acc, [v, stored[i + 1]]]), []));
    assert.equal(rec.secret_sha256, sha256hex(k.secret));
    assert.equal(rec.company_sid, company);
    assert.ok(!stored.includes(k.secret), 'the secret itself is not stored');
    // It works, within its company.
    const w = await createWebhook(api, null, {}, { key: `${k.key_id}:${k.secret}` });
    assert.equal(w.company_sid, company);
  });

  test('the wrapper form, and an admin key ({"admin": true})', async () => {
    const res = await api('POST', '/v1/api-keys', { api_key: { admin: true, label: 'ops' } });
    assert.equal(res.status, 201, res.text);
    const k = res.json.api_key;
    assert.equal(k.admin, true);
    assert.equal(k.company_sid, null);
    const other = `CO_adm${rnd(3)}`;
    const w = await createWebhook(api, other, {}, { key: `${k.key_id}:${k.secret}` });
    assert.equal(w.company_sid, other, 'an admin key acts on any company');
  });

  test('bad bodies: 422 naming the field', async () => {
    await expectFieldError(() => api('POST', '/v1/api-keys', {}), 422, 'company_sid');
    await expectFieldError(() => api('POST', '/v1/api-keys', { company_sid: 'CO_x', admin: true }), 422, 'company_sid');
    await expectFieldError(() => api('POST', '/v1/api-keys', { admin: false }), 422, 'company_sid');
    await expectFieldError(() => api('POST', '/v1/api-keys', { company_sid: 'CO x' }), 422, 'company_sid');
    await expectFieldError(() => api('POST', '/v1/api-keys', { company_sid: 'x'.repeat(64) }), 422, 'company_sid');
    await expectFieldError(() => api('POST', '/v1/api-keys', { admin: 'yes' }), 422, 'admin');
    await expectFieldError(() => api('POST', '/v1/api-keys', { company_sid: 'CO_x', label: 7 }), 422, 'label');
    await expectFieldError(() => api('POST', '/v1/api-keys', { company_sid: 'CO_x', secret: 'mine' }), 422, 'secret');
    await expectFieldError(() => api('POST', '/v1/api-keys', { company_sid: 'CO_x', scope: 'all' }), 422, 'scope');
  });

  test('a company key cannot make keys: 403', async () => {
    const k = await companyKey(api, `CO_k${rnd(3)}`);
    for (const body of [{ company_sid: k.key.company_sid }, { admin: true }]) {
      assertProblem(await api('POST', '/v1/api-keys', body, { key: k.auth }), 403);
    }
  });
});

describe('listing and deleting keys', () => {
  const coA = `CO_la${rnd(3)}`;
  const coB = `CO_lb${rnd(3)}`;
  const a = [];
  const b = [];

  before(async () => {
    for (let i = 0; i < 5; i++) a.push(await companyKey(api, coA, `a${i}`));
    for (let i = 0; i < 2; i++) b.push(await companyKey(api, coB, `b${i}`));
  });

  test('admin: every key (bootstrap included) or one company\'s; never a secret', async () => {
    const { items } = await listAll(api, '/v1/api-keys', { page_size: 100 }, { name: 'api_keys' });
    const ids = items.map((k) => k.key_id);
    for (const k of [...a, ...b]) assert.ok(ids.includes(k.id), `${k.id} listed`);
    const boot = items.find((k) => k.key_id === bootstrapId);
    assert.ok(boot, 'the bootstrap key is listed');
    assert.equal(boot.admin, true);
    assert.ok(items.every((k) => !('secret' in k)), 'no secret in a list');
    const onlyA = await listAll(api, '/v1/api-keys', { company_sid: coA }, { name: 'api_keys' });
    assert.deepEqual(onlyA.items.map((k) => k.key_id).sort(), a.map((k) => k.id).sort());
  });

  test('pages of 2, created_at ascending and descending', async () => {
    // Keys made in the same millisecond are ordered by key_id.
    const order = (x, y) => Date.parse(x.created_at) - Date.parse(y.created_at) ||
      Buffer.compare(Buffer.from(x.key_id), Buffer.from(y.key_id));
    const want = a.map((k) => k.key).sort(order).map((k) => k.key_id);
    const asc = await listAll(api, '/v1/api-keys', { company_sid: coA, page_size: 2 }, { name: 'api_keys' });
    assert.equal(asc.pages.length, 3);
    assert.deepEqual(asc.items.map((k) => k.key_id), want);
    const desc = await listAll(api, '/v1/api-keys', { company_sid: coA, page_size: 2, sort: 'created_at.desc' },
      { name: 'api_keys' });
    assert.deepEqual(desc.items.map((k) => k.key_id), [...want].reverse());
    await expectFieldError(() => api('GET', '/v1/api-keys?sort=label'), 400, 'sort');
  });

  test('a company key lists its own company\'s keys only', async () => {
    const { items } = await listAll(api, '/v1/api-keys', {}, { key: b[0].auth, name: 'api_keys' });
    assert.deepEqual(items.map((k) => k.key_id).sort(), b.map((k) => k.id).sort());
    assertProblem(await api('GET', `/v1/api-keys?company_sid=${coA}`, undefined, { key: b[0].auth }), 404);
    const own = await api('GET', `/v1/api-keys?company_sid=${coB}`, undefined, { key: b[0].auth });
    assert.equal(own.status, 200, own.text);
  });

  test('a company key cannot delete another company\'s key or an admin key: 404', async () => {
    assertProblem(await api('DELETE', `/v1/api-keys/${a[0].id}`, undefined, { key: b[0].auth }), 404);
    assertProblem(await api('DELETE', `/v1/api-keys/${bootstrapId}`, undefined, { key: b[0].auth }), 404);
    assertProblem(await api('DELETE', '/v1/api-keys/key_nothere000000000000000', undefined, { key: b[0].auth }), 404);
    assert.equal((await api('GET', '/v1/webhooks', undefined, { key: a[0].auth })).status, 200, 'A\'s key still works');
  });

  test('a company key deletes a key of its own company; it stops working at once', async () => {
    const res = await api('DELETE', `/v1/api-keys/${a[1].id}`, undefined, { key: a[0].auth });
    assert.equal(res.status, 204, res.text);
    assertProblem(await api('GET', '/v1/webhooks', undefined, { key: a[1].auth }), 401);
    assert.equal(await stack.redis.call('EXISTS', KEYS.apikey(a[1].id)), 0);
    const { items } = await listAll(api, '/v1/api-keys', { company_sid: coA }, { name: 'api_keys' });
    assert.ok(!items.some((k) => k.key_id === a[1].id), 'gone from the list');
    assertProblem(await api('DELETE', `/v1/api-keys/${a[1].id}`), 404);
  });

  test('an admin deletes any key, the bootstrap key included', async () => {
    assert.equal((await api('DELETE', `/v1/api-keys/${b[1].id}`)).status, 204);
    const spare = await api('POST', '/v1/api-keys', { admin: true, label: 'spare' });
    const s = spare.json.api_key;
    const res = await api('DELETE', `/v1/api-keys/${bootstrapId}`, undefined, { key: `${s.key_id}:${s.secret}` });
    assert.equal(res.status, 204, res.text);
    assertProblem(await api('GET', '/v1/api-keys'), 401);
    const left = await api('GET', '/v1/api-keys', undefined, { key: `${s.key_id}:${s.secret}` });
    assert.ok(!left.json.api_keys.some((k) => k.key_id === bootstrapId));
  });
});
