// Tenancy on every route (issue 7): a company key used on another
// company's resources gets 404 (not 403: it must not learn they exist),
// and nothing changes. The routes come from api/module.c's table, so a
// new route is covered as soon as it is added; a route whose parameters
// this test cannot fill fails the test until a resolver is added here.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, startStack, useHarness } from './lib/harness.js';
import { assertProblem, companyKey, createWebhook } from './lib/checks.js';

useHarness();

const METHODS = { HTTP_METHOD_GET: 'GET', HTTP_METHOD_POST: 'POST', HTTP_METHOD_PATCH: 'PATCH', HTTP_METHOD_DELETE: 'DELETE', HTTP_METHOD_PUT: 'PUT' };

// [method, pattern, auth] of every route in api/module.c.
function routes() {
  const src = fs.readFileSync(path.join(REPO_ROOT, 'api', 'module.c'), 'utf8');
  const table = src.slice(src.indexOf('routes[] = {'), src.indexOf('{ 0, NULL, NULL'));
  const out = [];
  for (const m of table.matchAll(/\{\s*(HTTP_METHOD_\w+),\s*"([^"]+)",\s*\w+,\s*(\d)/g)) {
    out.push({ method: METHODS[m[1]], pattern: m[2], auth: m[3] === '1' });
  }
  assert.ok(out.length > 10, 'route table read');
  return out;
}

describe('tenancy: another company\'s resources are 404 on every route', () => {
  let stack;
  let mine; // company A's key and resources
  let theirs; // company B's key

  before(async () => {
    stack = await startStack({ dispatchers: 1 });
    const a = await companyKey(stack.api, 'CO_tenant_a');
    const b = await companyKey(stack.api, 'CO_tenant_b');
    const w = await createWebhook(stack.api, 'CO_tenant_a');
    const keys = await stack.api('GET', `/v1/webhooks/${w.sid}/signing-keys`, undefined, { key: a.auth });
    const ev = await stack.api('POST', '/v1/events', { event_type: 'call.ended', payload: {} }, { key: a.auth });
    assert.equal(ev.status, 202, ev.text);
    const job = await stack.api('POST', `/v1/webhooks/${w.sid}/~recover`, { since: '2020-01-01T00:00:00Z', until: new Date().toISOString() }, { key: a.auth });
    assert.equal(job.status, 202, job.text);
    const ps = await stack.api('POST', '/v1/portal-sessions', {}, { key: a.auth });
    assert.equal(ps.status, 201, ps.text);
    mine = { key: a, webhook: w.sid, signingKey: keys.json.signing_keys[0].sid, apiKey: a.id, event: ev.json.event.event_sid, job: job.json.job.job_sid ?? job.json.job.sid, portalSession: ps.json };
    theirs = b;
  });

  // The id a parameter stands for, from the segment before it.
  function fill(pattern) {
    const segs = pattern.split('/');
    return segs.map((s, i) => {
      if (s !== ':') return s;
      const prev = segs[i - 1];
      const id = { webhooks: mine.webhook, 'signing-keys': mine.signingKey, 'api-keys': mine.apiKey, deliveries: mine.event, events: mine.event, jobs: mine.job, 'portal-sessions': mine.portalSession.sid }[prev];
      assert.ok(id, `no resolver for a parameter after "${prev}" in ${pattern}: add one to this test`);
      return id;
    }).join('/');
  }

  test('every route with a parameter answers 404 to the other company, and changes nothing', async () => {
    // health moves with the company's own deliveries: not compared.
    const record = async () => {
      const { health, ...rest } = (await stack.api('GET', `/v1/webhooks/${mine.webhook}`, undefined, { key: mine.key.auth })).json.webhook;
      assert.ok(health, 'health shown');
      return rest;
    };
    const before = await record();
    const checked = [];
    for (const r of routes().filter((x) => x.auth && x.pattern.includes('/:'))) {
      const url = fill(r.pattern);
      // A valid body, so that the 404 can only come from the tenancy check.
      const now = new Date().toISOString();
      const bodies = {
        '~recover': { since: '2020-01-01T00:00:00Z', until: now },
        'PATCH /v1/webhooks/:': { webhook: { label: 'x' } },
        'PATCH /v1/webhooks/:/signing-keys/:': { signing_key: { label: 'x' } },
      };
      const body = ['POST', 'PATCH', 'PUT'].includes(r.method)
        ? (bodies[`${r.method} ${r.pattern}`] ?? bodies[r.pattern.split('/').pop()] ?? {})
        : undefined;
      const res = await stack.api(r.method, url, body, { key: theirs.auth });
      assertProblem(res, [404]);
      checked.push(`${r.method} ${r.pattern}`);
    }
    assert.ok(checked.length >= 7, `routes checked: ${checked.join(', ')}`);
    assert.deepEqual(await record(), before, 'the webhook is unchanged');
    const keys = await stack.api('GET', `/v1/webhooks/${mine.webhook}/signing-keys`, undefined, { key: mine.key.auth });
    assert.equal(keys.json.signing_keys.length, 1, 'its signing key is still there');
    const ak = await stack.api('GET', '/v1/api-keys', undefined, { key: mine.key.auth });
    assert.ok(ak.json.api_keys.some((k) => k.key_id === mine.apiKey), 'its API key is still there');
    const tok = mine.portalSession.url.split('#token=')[1];
    const viaPortal = await stack.api('GET', '/v1/webhooks', undefined, { key: null, headers: { authorization: `Bearer ${tok}` } });
    assert.equal(viaPortal.status, 200, 'its portal session still works');
  });

  test('lists show only the caller\'s own company, whatever company_sid it asks for', async () => {
    for (const list of ['/v1/webhooks', '/v1/api-keys']) {
      const res = await stack.api('GET', `${list}?company_sid=CO_tenant_a`, undefined, { key: theirs.auth });
      assertProblem(res, [404]);
      const own = await stack.api('GET', list, undefined, { key: theirs.auth });
      assert.equal(own.status, 200, own.text);
      assert.ok(!own.text.includes('CO_tenant_a'), `${list}: nothing of the other company`);
    }
  });

  test('publishing for another company is refused', async () => {
    const res = await stack.api('POST', '/v1/events', { company_sid: 'CO_tenant_a', event_type: 'call.ended', payload: {} }, { key: theirs.auth });
    assertProblem(res, [422]);
    const batch = await stack.api('POST', '/v1/events:batch', { events: [{ company_sid: 'CO_tenant_a', event_type: 'call.ended', payload: {} }] }, { key: theirs.auth });
    assertProblem(batch, [422]);
    const hook = await stack.api('POST', '/v1/webhooks', { webhook: { company_sid: 'CO_tenant_a', url: 'https://example.com/x' } }, { key: theirs.auth });
    assertProblem(hook, [422]);
  });
});
