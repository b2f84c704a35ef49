// Idempotency-Key on every POST: the same key and request within 24 h
// gets the first (successful) answer again, exactly, and nothing is made
// twice; the same key with another request is 422; two at once: one runs,
// the other replays or is told to retry (409); keys are per API key;
// error answers are not kept; a bad header is 400; Redis refusing the
// claim (out of memory) is 503 with Retry-After, not "still running".

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS, partitionOf, startStack, useHarness } from './lib/harness.js';
import { assertProblem, companyKey, createWebhook, expectFieldError, rnd } from './lib/checks.js';

useHarness();

let stack;
let api;

before(async () => {
  stack = await startStack({ dispatchers: 0 });
  api = stack.api;
});

const idem = (key) => ({ headers: { 'idempotency-key': key } });
const count = (company) => stack.redis.call('ZCARD', KEYS.companyWebhooks(company));
// The id of the bootstrap key, which the Idempotency-Key records are kept under.
const keyId = () => stack.bootstrapKey.split(':')[0];

describe('Idempotency-Key', () => {
  test('POST /v1/webhooks twice: one webhook, the same answer byte for byte', async () => {
    const company = `CO_i${rnd(3)}`;
    const body = { company_sid: company, url: 'https://example.com/once' };
    const key = `create-${rnd(8)}`;
    const first = await api('POST', '/v1/webhooks', body, idem(key));
    assert.equal(first.status, 201, first.text);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const again = await api('POST', '/v1/webhooks', body, idem(key));
    assert.equal(again.status, 201);
    assert.equal(again.text, first.text, 'same body');
    assert.equal(again.headers.get('content-type'), first.headers.get('content-type'));
    assert.equal(again.headers.get('location'), first.headers.get('location'));
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.notEqual(again.headers.get('x-request-id'), first.headers.get('x-request-id'), 'a request id of its own');
    assert.equal(await count(company), 1, 'one webhook');
    const ttl = await stack.redis.call('TTL', KEYS.idemkey(keyId(), key));
    assert.ok(ttl > 86000 && ttl <= 86400, `kept 24 h (TTL ${ttl})`);
  });

  test('the same key with another body, path or method: 422 naming Idempotency-Key', async () => {
    const company = `CO_i${rnd(3)}`;
    const key = `k-${rnd(8)}`;
    const first = await api('POST', '/v1/webhooks', { company_sid: company, url: 'https://example.com/a' }, idem(key));
    assert.equal(first.status, 201);
    await expectFieldError(() => api('POST', '/v1/webhooks',
      { company_sid: company, url: 'https://example.com/b' }, idem(key)), 422, 'Idempotency-Key');
    // Even a body that means the same but is written differently.
    await expectFieldError(() => api('POST', '/v1/webhooks',
      { url: 'https://example.com/a', company_sid: company }, idem(key)), 422, 'Idempotency-Key');
    await expectFieldError(() => api('POST', `/v1/webhooks/${first.json.webhook.sid}/signing-keys`,
      { company_sid: company, url: 'https://example.com/a' }, idem(key)), 422, 'Idempotency-Key');
    assert.equal(await count(company), 1);
  });

  test('two at once: one webhook; the other replays or is asked to retry (409)', async () => {
    const company = `CO_i${rnd(3)}`;
    const body = { company_sid: company, url: 'https://example.com/race' };
    const key = `race-${rnd(8)}`;
    const answers = await Promise.all(Array.from({ length: 8 }, () => api('POST', '/v1/webhooks', body, idem(key))));
    const made = answers.filter((r) => r.status === 201);
    assert.ok(made.length >= 1, answers.map((r) => r.status).join(','));
    assert.equal(new Set(made.map((r) => r.json.webhook.sid)).size, 1, 'every 201 names the same webhook');
    for (const r of answers.filter((x) => x.status !== 201)) {
      assertProblem(r, 409);
      assert.equal(r.headers.get('retry-after'), '1');
    }
    assert.equal(await count(company), 1, 'one webhook');
    const later = await api('POST', '/v1/webhooks', body, idem(key));
    assert.equal(later.text, made[0].text);
  });

  test('keys are per API key: another key with the same Idempotency-Key runs anew', async () => {
    const company = `CO_i${rnd(3)}`;
    const k1 = await companyKey(api, company);
    const k2 = await companyKey(api, company);
    const key = `shared-${rnd(8)}`;
    const a = await api('POST', '/v1/webhooks', { url: 'https://example.com/s' }, { key: k1.auth, ...idem(key) });
    const b = await api('POST', '/v1/webhooks', { url: 'https://example.com/s' }, { key: k2.auth, ...idem(key) });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.notEqual(a.json.webhook.sid, b.json.webhook.sid);
    assert.equal(await count(company), 2);
  });

  test('an error answer is not kept: the corrected request runs', async () => {
    const company = `CO_i${rnd(3)}`;
    const key = `fix-${rnd(8)}`;
    const first = await api('POST', '/v1/webhooks', { company_sid: company, url: 'ftp://wrong' }, idem(key));
    assertProblem(first, 422);
    const fixed = await api('POST', '/v1/webhooks', { company_sid: company, url: 'https://example.com/fixed' }, idem(key));
    assert.equal(fixed.status, 201, fixed.text);
    assert.equal(await count(company), 1);
  });

  test('every POST route: signing keys, API keys, events', async () => {
    const company = `CO_i${rnd(3)}`;
    const w = await createWebhook(api, company);
    const key = `sk-${rnd(8)}`;
    const p = `/v1/webhooks/${w.sid}/signing-keys`;
    const k1 = await api('POST', p, { label: 'rot' }, idem(key));
    const k2 = await api('POST', p, { label: 'rot' }, idem(key));
    assert.equal(k1.status, 201);
    assert.equal(k2.text, k1.text, 'the same key, secret included');
    assert.equal((await api('GET', p)).json.signing_keys.length, 2, 'default + one');

    const ak = `ak-${rnd(8)}`;
    const a1 = await api('POST', '/v1/api-keys', { company_sid: company }, idem(ak));
    const a2 = await api('POST', '/v1/api-keys', { company_sid: company }, idem(ak));
    assert.equal(a1.status, 201);
    assert.equal(a2.text, a1.text);
    assert.equal((await api('GET', `/v1/api-keys?company_sid=${company}`)).json.api_keys.length, 1);

    const ek = `ev-${rnd(8)}`;
    // The stream of the company's partition (wh:{0}:events on one Redis).
    const stream = KEYS.part(partitionOf(company), 'events');
    const before = await stack.redis.call('XLEN', stream);
    const ev = { company_sid: company, event_type: 'call.ended', payload: { n: 1 } };
    const e1 = await api('POST', '/v1/events', ev, idem(ek));
    const e2 = await api('POST', '/v1/events', ev, idem(ek));
    assert.equal(e1.status, 202, e1.text);
    assert.equal(e2.text, e1.text);
    assert.equal(await stack.redis.call('XLEN', stream), before + 1, 'one event on the stream');
  });

  test('a bad Idempotency-Key header: 400 naming it; GET ignores the header', async () => {
    const body = { company_sid: 'CO_x', url: 'https://example.com/' };
    await expectFieldError(() => api('POST', '/v1/webhooks', body, idem('x'.repeat(256))), 400, 'Idempotency-Key');
    const ok = await api('POST', '/v1/webhooks', body, idem('y'.repeat(255)));
    assert.equal(ok.status, 201, '255 characters are fine');
    const spaced = await api('POST', '/v1/webhooks', body, idem('with inner spaces: fine'));
    assert.equal(spaced.status, 201);
    const got = await api('GET', '/v1/webhooks?company_sid=CO_x', undefined, idem('whatever'));
    assert.equal(got.status, 200);
  });

  test('Redis out of memory: 503 with Retry-After, not 409; the key works once Redis does', async () => {
    const body = { company_sid: `CO_i${rnd(3)}`, url: 'https://example.com/oom' };
    const key = `oom-${rnd(8)}`;
    // The api key is authenticated before memory runs out (reads still work after).
    assert.equal((await api('GET', '/v1/webhooks?company_sid=CO_x')).status, 200);
    // The Redis that holds the Idempotency-Key record (in a cluster, the master of its slot).
    const full = await stack.redis.masterOf(KEYS.idemkey(keyId(), key));
    await full.call('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    await full.call('CONFIG', 'SET', 'maxmemory', '1');
    let res;
    try {
      res = await api('POST', '/v1/webhooks', body, idem(key));
    } finally {
      await full.call('CONFIG', 'SET', 'maxmemory', '0');
    }
    assertProblem(res, [503]);
    assert.ok(Number(res.headers.get('retry-after')) > 0, `Retry-After: ${res.headers.get('retry-after')}`);
    const later = await api('POST', '/v1/webhooks', body, idem(key));
    assert.equal(later.status, 201, later.text);
  });
});
