// api/openapi.yaml against the api itself:
//   - the route table of api/module.c (read from the source: the table is
//     the one place routes are declared) and the document's operations are
//     the same set, both ways;
//   - real answers of every operation, successes and errors, match the
//     schema the document gives for their status and media type (Ajv, JSON
//     Schema 2020-12 as OpenAPI 3.1 uses it), and every status seen is
//     documented for its operation.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';
import { REPO_ROOT, queueState, startDispatcher, startReceiver, startStack, useHarness, waitUntil } from './lib/harness.js';
import { assertProblem, companyKey, createWebhook, documentedProblemTypes, rawRequest, rnd } from './lib/checks.js';

useHarness();

const doc = YAML.parse(fs.readFileSync(path.join(REPO_ROOT, 'api', 'openapi.yaml'), 'utf8'));
const moduleSrc = fs.readFileSync(path.join(REPO_ROOT, 'api', 'module.c'), 'utf8');
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

// "/v1/webhooks/{webhook_sid}" and "/v1/webhooks/:" both become "/v1/webhooks/{}".
// The route table's final "/*" (any rest of the path) is one parameter too.
const shape = (p) => p.replace(/\{[^}]+\}/g, '{}').replace(/\/:(?=\/|$)/g, '/{}').replace(/\/\*$/, '/{}');

function routeTable() {
  const block = moduleSrc.slice(moduleSrc.indexOf('routes[] = {'), moduleSrc.indexOf('{ 0, NULL, NULL'));
  const out = [];
  for (const m of block.matchAll(/\{\s*HTTP_METHOD_([A-Z]+),\s*"([^"]+)"/g)) out.push(`${m[1]} ${shape(m[2])}`);
  return out;
}

function documented() {
  const out = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) if (item[m]) out.push(`${m.toUpperCase()} ${shape(p)}`);
  }
  return out;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'openapi.json', components: doc.components });

const deref = (obj) => {
  if (!obj || !obj.$ref) return obj;
  return obj.$ref.replace(/^#\//, '').split('/').reduce((o, k) => o[k], doc);
};

const seen = new Set(); // "METHOD template" of every checked answer

// The answer res to `method template` matches the document.
function conforms(method, template, res) {
  const op = doc.paths[template]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${template} is documented`);
  const r = deref(op.responses[String(res.status)] || op.responses.default);
  assert.ok(r, `${method} ${template}: status ${res.status} is documented (${res.text})`);
  assert.ok(res.headers.get('x-request-id'), 'X-Request-Id');
  for (const h of Object.keys(r.headers || {})) {
    if (['X-Request-Id', 'Location', 'WWW-Authenticate'].includes(h)) {
      assert.ok(res.headers.get(h), `${method} ${template} ${res.status}: header ${h}`);
    }
  }
  seen.add(`${method} ${shape(template)}`);
  if (!r.content) {
    assert.equal(res.text, '', `${res.status} has no body`);
    return;
  }
  const media = res.contentType.split(';')[0].trim();
  const c = r.content[media];
  assert.ok(c, `${method} ${template} ${res.status}: media type ${media} documented`);
  const schema = c.schema.$ref ? { $ref: `openapi.json${c.schema.$ref}` } : c.schema;
  const validate = ajv.compile(schema);
  const body = media.startsWith('text/') ? res.text : res.json;
  assert.ok(validate(body), `${method} ${template} ${res.status} matches the schema: ` +
    `${ajv.errorsText(validate.errors)}\n${res.text.slice(0, 500)}`);
}

test('every route of api/module.c is in api/openapi.yaml, and nothing else', () => {
  const routes = routeTable();
  assert.ok(routes.length >= 15, `read the route table (${routes.length} routes)`);
  assert.deepEqual([...documented()].sort(), [...routes].sort());
  assert.equal(doc.openapi, '3.1.0');
});

test('every operation documents its answers with a schema', () => {
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) {
      if (!item[m]) continue;
      const codes = Object.keys(item[m].responses);
      // (GET /portal only redirects to /portal/.)
      assert.ok(codes.some((c) => c.startsWith('2') || (p === '/portal' && c === '308')), `${m} ${p}: a success`);
      // Unauthenticated: the probes and the portal's static files.
      if (p !== '/healthz' && p !== '/readyz' && !p.startsWith('/portal')) {
        assert.ok(codes.includes('401'), `${m} ${p}: 401`);
        // GET /metrics answers 200 without Redis (webhooks_redis_up 0).
        if (p !== '/metrics') assert.ok(codes.includes('503'), `${m} ${p}: 503`);
      }
    }
  }
});

// api/respond.c's table of problem kinds: [["/problems/<name>", status], ...].
function problemKinds() {
  const src = fs.readFileSync(path.join(REPO_ROOT, 'api', 'respond.c'), 'utf8');
  const block = src.slice(src.indexOf('problem_kinds[API_P_KINDS] = {'), src.indexOf('};', src.indexOf('problem_kinds[API_P_KINDS]')));
  return [...block.matchAll(/\{ "([a-z-]+)",\s*(\d{3}) \}/g)].map((m) => [`/problems/${m[1]}`, Number(m[2])]);
}

test('every problem type of api/respond.c is in api/openapi.yaml and docs/api.md, with its status, and nothing else', () => {
  const kinds = problemKinds();
  const enumCount = (fs.readFileSync(path.join(REPO_ROOT, 'api', 'api.h'), 'utf8').match(/^\tAPI_P_[A-Z_]+,/gm) || []).length;
  assert.equal(kinds.length, enumCount, 'one table entry per enum api_problem_kind');
  assert.equal(new Set(kinds.map(([t]) => t)).size, kinds.length, 'names are unique');
  assert.deepEqual([...documentedProblemTypes()].sort(), [...kinds].sort(), 'openapi Problem.type');
  const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'api.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `(\/problems\/[a-z-]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
  assert.deepEqual(rows.sort(), [...kinds].sort(), 'docs/api.md table');
});

describe('real answers match the schemas', () => {
  let stack;
  let api;
  let company;
  let hook;
  let key;

  before(async () => {
    stack = await startStack({ dispatchers: 0 });
    api = stack.api;
    company = `CO_oa${rnd(3)}`;
  });

  test('/healthz', async () => {
    conforms('GET', '/healthz', await api('GET', '/healthz', undefined, { key: null }));
  });

  test('/readyz (no dispatcher ran: the group is missing, 503)', async () => {
    const res = await api('GET', '/readyz', undefined, { key: null });
    assert.equal(res.status, 503);
    conforms('GET', '/readyz', res);
  });

  test('/metrics', async () => {
    const res = await api('GET', '/metrics', undefined, { key: null });
    assert.equal(res.status, 200);
    assert.match(res.text, /^# HELP webhooks_/);
    conforms('GET', '/metrics', res);
  });

  test('/v1/webhooks', async () => {
    const P = '/v1/webhooks';
    let res = await api('POST', P, { webhook: { company_sid: company, url: 'https://example.com/', label: 'x',
      headers: [{ name: 'X-A', value: '1', include_in_request_signature: true }], event_types: ['a.*'] } });
    conforms('POST', P, res);
    hook = res.json.webhook;
    await createWebhook(api, company);
    conforms('POST', P, await api('POST', P, '{'));
    conforms('POST', P, await api('POST', P, { url: 'x' }));
    conforms('POST', P, await api('POST', P, {}, { key: null }));
    conforms('POST', P, await api('POST', P, 'x', { headers: { 'content-type': 'text/plain' } }));
    conforms('POST', P, await api('POST', P, JSON.stringify({ label: 'x'.repeat(1100000) })));
    res = await api('GET', `${P}?company_sid=${company}&page_size=1&sort=url.desc`);
    conforms('GET', P, res);
    conforms('GET', P, await api('GET', `${P}?company_sid=${company}&page_size=1&sort=url.desc&page_token=${res.json.next_page_token}`));
    conforms('GET', P, await api('GET', `${P}?company_sid=${company}&page_token=nope`));
    const other = await companyKey(api, `CO_oo${rnd(3)}`);
    conforms('GET', P, await api('GET', `${P}?company_sid=${company}`, undefined, { key: other.auth }));
    conforms('GET', P, await api('GET', P, undefined, { key: null }));
  });

  test('/v1/webhooks/{webhook_sid}', async () => {
    const P = '/v1/webhooks/{webhook_sid}';
    const p = `/v1/webhooks/${hook.sid}`;
    conforms('GET', P, await api('GET', p));
    conforms('GET', P, await api('GET', '/v1/webhooks/wh_none'));
    conforms('PATCH', P, await api('PATCH', p, { label: 'y', enabled: false }));
    conforms('PATCH', P, await api('PATCH', p, { sid: 'x' }));
    conforms('PATCH', P, await api('PATCH', p, '[1'));
    const gone = await createWebhook(api, company);
    conforms('DELETE', P, await api('DELETE', `/v1/webhooks/${gone.sid}`));
    conforms('DELETE', P, await api('DELETE', `/v1/webhooks/${gone.sid}`));
  });

  test('/v1/webhooks/{webhook_sid}/signing-keys', async () => {
    const P = '/v1/webhooks/{webhook_sid}/signing-keys';
    const p = `/v1/webhooks/${hook.sid}/signing-keys`;
    let res = await api('POST', p, { signing_key: { label: 'b', shared_secret: 'sixteen chars!!!', expires_at: null } });
    conforms('POST', P, res);
    key = res.json.signing_key;
    conforms('POST', P, await api('POST', p, { shared_secret: 'short' }));
    conforms('POST', P, await api('POST', '/v1/webhooks/wh_none/signing-keys', {}));
    for (let i = 0; i < 8; i++) res = await api('POST', p, {});
    conforms('POST', P, res);
    res = await api('GET', `${p}?page_size=2&sort=label.desc`);
    conforms('GET', P, res);
    conforms('GET', P, await api('GET', `${p}?page_size=2&sort=label.desc&page_token=${res.json.next_page_token}`));
    conforms('GET', P, await api('GET', `${p}?sort=url`));
  });

  test('/v1/webhooks/{webhook_sid}/signing-keys/{signing_key_sid}', async () => {
    const P = '/v1/webhooks/{webhook_sid}/signing-keys/{signing_key_sid}';
    const p = `/v1/webhooks/${hook.sid}/signing-keys/${key.sid}`;
    conforms('GET', P, await api('GET', p));
    conforms('GET', P, await api('GET', `/v1/webhooks/${hook.sid}/signing-keys/sk_none`));
    conforms('PATCH', P, await api('PATCH', p, { expires_at: new Date(Date.now() + 60e3).toISOString() }));
    conforms('PATCH', P, await api('PATCH', p, { shared_secret: 'x'.repeat(20) }));
    conforms('DELETE', P, await api('DELETE', p));
    const w = await createWebhook(api, company);
    const [only] = (await api('GET', `/v1/webhooks/${w.sid}/signing-keys`)).json.signing_keys;
    const q = `/v1/webhooks/${w.sid}/signing-keys/${only.sid}`;
    conforms('DELETE', P, await api('DELETE', q));
    conforms('PATCH', P, await api('PATCH', q, { expires_at: '2020-01-01T00:00:00Z' }));
  });

  test('/v1/api-keys and /v1/api-keys/{key_id}', async () => {
    let res = await api('POST', '/v1/api-keys', { company_sid: company, label: 'k' });
    conforms('POST', '/v1/api-keys', res);
    const made = res.json.api_key;
    conforms('POST', '/v1/api-keys', await api('POST', '/v1/api-keys', { admin: true }));
    conforms('POST', '/v1/api-keys', await api('POST', '/v1/api-keys', { admin: true, company_sid: company }));
    conforms('POST', '/v1/api-keys', await api('POST', '/v1/api-keys', { company_sid: company },
      { key: `${made.key_id}:${made.secret}` }));
    res = await api('GET', '/v1/api-keys?page_size=1');
    conforms('GET', '/v1/api-keys', res);
    conforms('GET', '/v1/api-keys', await api('GET', `/v1/api-keys?page_size=1&page_token=${res.json.next_page_token}`));
    conforms('GET', '/v1/api-keys', await api('GET', '/v1/api-keys?company_sid=CO_other',
      undefined, { key: `${made.key_id}:${made.secret}` }));
    conforms('GET', '/v1/api-keys', await api('GET', '/v1/api-keys?page_size=0'));
    conforms('DELETE', '/v1/api-keys/{key_id}', await api('DELETE', `/v1/api-keys/${made.key_id}`));
    conforms('DELETE', '/v1/api-keys/{key_id}', await api('DELETE', `/v1/api-keys/${made.key_id}`));
  });

  test('/v1/events', async () => {
    const P = '/v1/events';
    conforms('POST', P, await api('POST', P, { company_sid: company, event_type: 'a.b', payload: { x: [1, 'two'] } }));
    conforms('POST', P, await api('POST', P, { company_sid: company, payload: 1 }));
    conforms('POST', P, await api('POST', P, '[]'));
    conforms('POST', P, await api('POST', P, JSON.stringify({ company_sid: company, event_type: 'a.b',
      payload: 'x'.repeat(300000) })));
    const s = `evt_oa_${rnd(4)}`;
    const ev = { company_sid: company, event_type: 'a.b', event_sid: s, payload: 1 };
    conforms('POST', P, await api('POST', P, ev));
    conforms('POST', P, await api('POST', P, ev)); // 200: a repeat
    conforms('POST', P, await api('POST', P, { ...ev, payload: 2 })); // 409
  });

  test('/v1/events:batch', async () => {
    const P = '/v1/events:batch';
    const ev = { company_sid: company, event_type: 'a.b', payload: { n: 1 } };
    conforms('POST', P, await api('POST', P, { events: [ev, { ...ev, event_sid: `evt_ob_${rnd(4)}` }] }));
    conforms('POST', P, await api('POST', P, { events: [ev, { ...ev, event_type: 'BAD' }] }));
    conforms('POST', P, await api('POST', P, { events: [] }));
    conforms('POST', P, await api('POST', P, '{"events":'));
  });

  // No dispatcher runs yet: a ~test cannot be sent, which is a 504.
  test('/v1/webhooks/{webhook_sid}/~test without a dispatcher', async () => {
    const P = '/v1/webhooks/{webhook_sid}/~test';
    const w = await createWebhook(api, company, { timeout_ms: 100 });
    const t0 = Date.now();
    conforms('GET', P, await api('GET', `/v1/webhooks/${w.sid}/~test`));
    assert.ok(Date.now() - t0 < 100 + 3000 + 1500, 'the 504 comes within timeout_ms + the margin');
    conforms('GET', P, await api('GET', '/v1/webhooks/wh_none/~test'));
    conforms('GET', P, await api('GET', `/v1/webhooks/${w.sid}/~test`, undefined, { key: null }));
    conforms('POST', P, await api('POST', `/v1/webhooks/${w.sid}/~test`, { x: 1 }));
    conforms('POST', P, await api('POST', '/v1/webhooks/wh_none/~test'));
  });

  test('delivery routes: attempts, dead letters, ~redeliver, ~resend, events, ~recover, jobs, ~test', async () => {
    await startDispatcher({ redis: stack.redis, bootstrapKey: stack.bootstrapKey, apiPort: stack.apiServer.port });
    // The events the tests above published wait in the stream: the webhook
    // made next must see only its own, so let the dispatcher read them
    // first (on a cluster it reads each partition in a call of its own).
    await waitUntil(async () => {
      const q = await queueState(stack.redis);
      return q.events === 0 && q.pendingEvents === 0;
    }, { what: 'the earlier events read' });
    const rcv = await startReceiver({ status: 500, body: 'no' });
    const w = await createWebhook(api, company, { url: rcv.url(), max_attempts: 1 });
    const evt = `evt_oa_${rnd(4)}`;
    assert.equal((await api('POST', '/v1/events', { company_sid: company, event_type: 'a.b', event_sid: evt,
      payload: { n: 1 } })).status, 202);
    const p = `/v1/webhooks/${w.sid}`;
    await waitUntil(async () => (await api('GET', `${p}/dead-letters`)).json?.dead_letters?.length === 1,
      { what: 'the dead letter' });

    let P = '/v1/webhooks/{webhook_sid}/attempts';
    conforms('GET', P, await api('GET', `${p}/attempts?page_size=1&status=failed`));
    conforms('GET', P, await api('GET', `${p}/attempts?status=maybe`));
    conforms('GET', P, await api('GET', '/v1/webhooks/wh_none/attempts'));
    conforms('GET', P, await api('GET', `${p}/attempts`, undefined, { key: null }));
    P = '/v1/events/{event_sid}/attempts';
    conforms('GET', P, await api('GET', `/v1/events/${evt}/attempts?company_sid=${company}`));
    conforms('GET', P, await api('GET', `/v1/events/${evt}/attempts`));
    conforms('GET', P, await api('GET', `/v1/events/evt_none/attempts?company_sid=${company}`));
    P = '/v1/webhooks/{webhook_sid}/stats';
    conforms('GET', P, await api('GET', `${p}/stats`));
    conforms('GET', P, await api('GET', '/v1/webhooks/wh_none/stats'));
    P = '/v1/webhooks/{webhook_sid}/dead-letters';
    conforms('GET', P, await api('GET', `${p}/dead-letters`));
    conforms('GET', P, await api('GET', `${p}/dead-letters?page_token=x`));
    P = '/v1/webhooks/{webhook_sid}/~test';
    conforms('GET', P, await api('GET', `${p}/~test`));
    conforms('POST', P, await api('POST', `${p}/~test`, {}, { headers: { 'idempotency-key': `t-${rnd(4)}` } }));
    P = '/v1/webhooks/{webhook_sid}/deliveries/{event_sid}/~redeliver';
    conforms('POST', P, await api('POST', `${p}/deliveries/${evt}/~redeliver`, { x: 1 }));
    conforms('POST', P, await api('POST', `${p}/deliveries/${evt}/~redeliver`));
    conforms('POST', P, await api('POST', `${p}/deliveries/${evt}/~redeliver`));
    P = '/v1/webhooks/{webhook_sid}/deliveries/{event_sid}/~resend';
    await waitUntil(async () => (await api('GET', `/v1/events/${evt}?company_sid=${company}`)).status === 200,
      { what: 'the event kept' });
    conforms('POST', P, await api('POST', `${p}/deliveries/${evt}/~resend`));
    conforms('POST', P, await api('POST', `${p}/deliveries/${evt}/~resend`, { x: 1 }));
    conforms('POST', P, await api('POST', `${p}/deliveries/evt_none/~resend`));
    P = '/v1/events/{event_sid}';
    conforms('GET', P, await api('GET', `/v1/events/${evt}?company_sid=${company}`));
    conforms('GET', P, await api('GET', `/v1/events/${evt}`));
    conforms('GET', P, await api('GET', `/v1/events/evt_none?company_sid=${company}`));
    P = '/v1/webhooks/{webhook_sid}/~recover';
    const res = await api('POST', `${p}/~recover`, { since: '2020-01-01T00:00:00Z', until: '2999-01-01T00:00:00Z' });
    conforms('POST', P, res);
    conforms('POST', P, await api('POST', `${p}/~recover`, { since: '2020-01-01T00:00:00Z', until: '2999-01-01T00:00:00Z',
      include: 'all' }));
    conforms('POST', P, await api('POST', `${p}/~recover`, { since: '2020-01-01T00:00:00Z', until: '2999-01-01T00:00:00Z',
      include: 'some' }));
    conforms('POST', P, await api('POST', `${p}/~recover`, { since: 'yesterday', until: '2020-01-01T00:00:00Z' }));
    conforms('POST', P, await api('POST', `${p}/~recover`, '{"since":'));
    assert.equal((await api('PATCH', p, { enabled: false })).status, 200);
    conforms('POST', P, await api('POST', `${p}/~recover`, { since: '2020-01-01T00:00:00Z', until: '2021-01-01T00:00:00Z' }));
    conforms('PATCH', '/v1/webhooks/{webhook_sid}', await api('PATCH', p, { disabled_reason: 'x' }));
    P = '/v1/jobs/{job_sid}';
    conforms('GET', P, await api('GET', `/v1/jobs/${res.json.job.sid}`));
    conforms('GET', P, await api('GET', '/v1/jobs/job_none'));
  });

  test('each kind of error answers its own type', async () => {
    const co = `CO_pt${rnd(3)}`;
    const w = await createWebhook(api, co);
    const ck = await companyKey(api, co);
    const p = `/v1/webhooks/${w.sid}`;
    const sk = (await api('GET', `${p}/signing-keys`)).json.signing_keys[0];
    const admin = `Basic ${Buffer.from(stack.bootstrapKey).toString('base64')}`;
    const idem = (k) => ({ headers: { 'idempotency-key': k } });
    const ev = { company_sid: co, event_type: 'a.b', event_sid: `evt_pt_${rnd(3)}`, payload: { n: 1 } };
    assert.equal((await api('POST', '/v1/events', ev)).status, 202);
    assert.equal((await api('POST', '/v1/webhooks', { company_sid: co, url: 'https://example.com/1' }, idem('pt'))).status, 201);
    const cases = [
      ['/problems/unauthorized', () => api('GET', '/v1/webhooks', undefined, { key: null })],
      ['/problems/no-such-route', () => api('GET', '/v1/nope')],
      ['/problems/method-not-allowed', () => api('PUT', '/v1/webhooks', {})],
      ['/problems/not-found', () => api('GET', '/v1/webhooks/wh_none')],
      ['/problems/invalid-body', () => api('POST', '/v1/webhooks', '{')],
      ['/problems/invalid-parameter', () => api('GET', `/v1/webhooks?company_sid=${co}&page_size=0`)],
      ['/problems/invalid-page-token', () => api('GET', `/v1/webhooks?company_sid=${co}&page_token=x`)],
      ['/problems/invalid-header', () => api('POST', '/v1/webhooks', { company_sid: co, url: 'https://example.com/' }, idem('x'.repeat(256)))],
      ['/problems/duplicate-header', () => rawRequest(stack.apiServer.baseUrl, { path: '/v1/webhooks', headers: [['Authorization', admin], ['Authorization', admin]] })],
      ['/problems/unsupported-media-type', () => api('POST', '/v1/webhooks', 'x', { headers: { 'content-type': 'text/plain' } })],
      ['/problems/body-too-large', () => api('POST', '/v1/webhooks', `{"a":"${'x'.repeat(1100000)}"}`)],
      ['/problems/validation-failed', () => api('POST', '/v1/webhooks', { company_sid: co, url: 'x' })],
      ['/problems/admin-key-required', () => api('POST', '/v1/api-keys', { company_sid: co }, { key: ck.auth })],
      ['/problems/last-signing-key', () => api('DELETE', `${p}/signing-keys/${sk.sid}`)],
      ['/problems/idempotency-key-reused', () => api('POST', '/v1/webhooks', { company_sid: co, url: 'https://example.com/2' }, idem('pt'))],
      ['/problems/event-sid-conflict', () => api('POST', '/v1/events', { ...ev, payload: { n: 2 } })],
      ['/problems/webhook-disabled', async () => {
        assert.equal((await api('PATCH', p, { enabled: false })).status, 200);
        return api('POST', `${p}/~recover`, { since: '2020-01-01T00:00:00Z', until: '2999-01-01T00:00:00Z' });
      }],
    ];
    const got = [];
    for (const [type, call] of cases) got.push([type, assertProblem(await call(), documentedProblemTypes().get(type)).type]);
    assert.deepEqual(got.map(([, t]) => t), got.map(([t]) => t));
  });

  test('portal sessions and the portal\'s files', async () => {
    let P = '/v1/portal-sessions';
    const made = await api('POST', P, { company_sid: company, ttl_s: 120 });
    conforms('POST', P, made);
    conforms('POST', P, await api('POST', P, { company_sid: company, ttl_s: 1 }));
    conforms('POST', P, await api('POST', P, { company_sid: company }, { key: null }));
    const tok = made.json.url.split('#token=')[1];
    conforms('POST', P, await api('POST', P, { company_sid: company }, { key: null, headers: { authorization: `Bearer ${tok}` } }));
    P = '/v1/portal-sessions/{portal_session_sid}';
    conforms('DELETE', P, await api('DELETE', `/v1/portal-sessions/${made.json.sid}`));
    conforms('DELETE', P, await api('DELETE', `/v1/portal-sessions/${made.json.sid}`));
    conforms('GET', '/portal', await api('GET', '/portal', undefined, { key: null }));
    conforms('GET', '/portal/{file}', await api('GET', '/portal/', undefined, { key: null }));
    conforms('GET', '/portal/{file}', await api('GET', '/portal/app.js', undefined, { key: null }));
    conforms('GET', '/portal/{file}', await api('GET', '/portal/nope.txt', undefined, { key: null }));
  });

  test('every route was checked', () => {
    assert.deepEqual([...seen].sort(), [...routeTable()].sort());
  });
});
