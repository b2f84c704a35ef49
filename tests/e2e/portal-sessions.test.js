// Portal sessions end to end (the API side of the delivery portal): an
// admin key, or a company key for its own company, opens a session whose
// url carries the token in its fragment; Redis keeps only the secret's
// SHA-256, expiring with the session. The token works as
// "Authorization: Bearer" on the company's webhook routes only; expired,
// ended, tampered tokens are refused, another company's objects are 404,
// a read-only session cannot change anything, and a request that carries
// no token (what a cross-site form or image would send) is 401. The
// static files under /portal/ carry the security headers, gzipped on
// request.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { BIN, KEYS, REPO_ROOT, freePort, newBootstrapKey, programEnv, runToExit, sleep, startStack, useHarness } from './lib/harness.js';
import { assertProblem, companyKey, createWebhook, rawRequest, rnd, sha256hex } from './lib/checks.js';

useHarness();

let stack;
let api;
const base = () => stack.apiServer.baseUrl;

before(async () => {
  stack = await startStack({ dispatchers: 0, apiEnv: { WH_PORTAL_FRAME_ANCESTORS: "'self' https://dash.example.com" } });
  api = stack.api;
});

async function openSession(body, opts) {
  const res = await api('POST', '/v1/portal-sessions', body, opts);
  assert.equal(res.status, 201, res.text);
  const s = res.json;
  assert.deepEqual(Object.keys(s).sort(), ['company_sid', 'expires_at', 'read_only', 'sid', 'url'], 'flat: no wrapper');
  const token = decodeURIComponent(new URL(s.url, 'http://x').hash.replace(/^#token=/, ''));
  return { ...s, token };
}

// The api as a portal session: Bearer token, no API key.
const as = (token) => (method, path, body, opts = {}) =>
  api(method, path, body, { ...opts, key: null, headers: { authorization: `Bearer ${token}`, ...(opts.headers || {}) } });

describe('opening a session', () => {
  test('an admin key: 201, the token in the url fragment, stored hashed with the session TTL', async () => {
    const company = `CO_p${rnd(3)}`;
    const s = await openSession({ company_sid: company, ttl_s: 600 });
    assert.match(s.sid, /^ps_[A-Za-z0-9_-]+$/);
    assert.equal(s.company_sid, company);
    assert.equal(s.read_only, false);
    assert.match(s.url, /^\/portal\/#token=ps_/);
    const [sid, secret] = s.token.split('.');
    assert.equal(sid, s.sid);
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    const left = Date.parse(s.expires_at) - Date.now();
    assert.ok(left > 590000 && left <= 600000, `expires in ~600 s: ${left}`);
    const key = KEYS.portal(s.sid);
    const rec = await stack.redis.call('HGETALL', key);
    assert.ok(!rec.includes(secret), 'the secret itself is not stored');
    assert.equal(rec[rec.indexOf('secret_sha256') + 1], sha256hex(secret));
    const ttl = Number(await stack.redis.call('PTTL', key));
    assert.ok(ttl > 590000 && ttl <= 600000, `Redis TTL ~600 s: ${ttl}`);
  });

  test('ttl_s defaults to 1 h and is at most 24 h; company_sid is needed with an admin key', async () => {
    const s = await openSession({ company_sid: `CO_p${rnd(3)}` });
    const left = Date.parse(s.expires_at) - Date.now();
    assert.ok(left > 3590000 && left <= 3600000, `1 h: ${left}`);
    assertProblem(await api('POST', '/v1/portal-sessions', { company_sid: 'CO_x', ttl_s: 86401 }), 422);
    assertProblem(await api('POST', '/v1/portal-sessions', {}), 422);
    assertProblem(await api('POST', '/v1/portal-sessions', { company_sid: 'CO_x', admin: true }), 422);
  });

  test('a company key opens one for its own company only', async () => {
    const company = `CO_p${rnd(3)}`;
    const k = await companyKey(api, company);
    const s = await openSession({}, { key: k.auth });
    assert.equal(s.company_sid, company);
    assertProblem(await api('POST', '/v1/portal-sessions', { company_sid: `CO_other${rnd(2)}` }, { key: k.auth }), 422);
  });
});

describe('using a session', () => {
  let company;
  let s;
  let hook;
  before(async () => {
    company = `CO_u${rnd(3)}`;
    s = await openSession({ company_sid: company });
    hook = await createWebhook(api, company);
  });

  test('it sees and changes its company\'s webhooks', async () => {
    const p = as(s.token);
    const list = await p('GET', '/v1/webhooks');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.webhooks.map((w) => w.sid), [hook.sid]);
    const made = await p('POST', '/v1/webhooks', { webhook: { url: 'https://example.com/portal' } });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.json.webhook.company_sid, company);
    const patched = await p('PATCH', `/v1/webhooks/${made.json.webhook.sid}`, { webhook: { enabled: false } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal((await p('DELETE', `/v1/webhooks/${made.json.webhook.sid}`)).status, 204);
  });

  test('another company\'s webhook is 404, as with a company key', async () => {
    const other = await createWebhook(api, `CO_o${rnd(3)}`);
    assertProblem(await as(s.token)('GET', `/v1/webhooks/${other.sid}`), 404);
    assertProblem(await as(s.token)('DELETE', `/v1/webhooks/${other.sid}`), 404);
    assert.equal((await api('GET', `/v1/webhooks/${other.sid}`)).status, 200, 'still there');
  });

  test('one kept event is the portal\'s to read (its ordering key on an attempt\'s page): an unknown one is 404, not 403', async () => {
    assertProblem(await as(s.token)('GET', `/v1/events/evt_nope${rnd(3)}`), 404);
    assertProblem(await as(s.token)('GET', `/v1/events/evt_nope${rnd(3)}/attempts`), 404);
  });

  test('routes outside the portal\'s are 403 portal-session-forbidden', async () => {
    const p = as(s.token);
    for (const [m, path, body] of [
      ['POST', '/v1/events', { event_sid: 'e1', event_type: 'a.b', company_sid: company, payload: {} }],
      ['POST', '/v1/events:batch', { events: [{ event_sid: 'e1', event_type: 'a.b', company_sid: company, payload: {} }] }],
      ['GET', '/v1/api-keys'],
      ['POST', '/v1/api-keys', { company_sid: company }],
      ['POST', '/v1/portal-sessions', { company_sid: company }],
    ]) {
      const pr = assertProblem(await p(m, path, body), 403);
      assert.equal(pr.type, '/problems/portal-session-forbidden', `${m} ${path}`);
    }
  });

  test('a read-only session looks but every change is 403 read-only-session', async () => {
    const ro = await openSession({ company_sid: company, read_only: true });
    assert.equal(ro.read_only, true);
    const p = as(ro.token);
    assert.equal((await p('GET', `/v1/webhooks/${hook.sid}`)).status, 200);
    const keys = await p('GET', `/v1/webhooks/${hook.sid}/signing-keys`);
    assert.equal(keys.status, 200, keys.text);
    const key = keys.json.signing_keys[0].sid;
    for (const [m, path, body] of [
      ['POST', '/v1/webhooks', { webhook: { url: 'https://example.com/ro' } }],
      ['PATCH', `/v1/webhooks/${hook.sid}`, { webhook: { enabled: false } }],
      ['DELETE', `/v1/webhooks/${hook.sid}`],
      ['POST', `/v1/webhooks/${hook.sid}/signing-keys`, {}],
      ['PATCH', `/v1/webhooks/${hook.sid}/signing-keys/${key}`, { signing_key: { expires_at: new Date(Date.now() + 3600e3).toISOString() } }],
      ['DELETE', `/v1/webhooks/${hook.sid}/signing-keys/${key}`],
      ['POST', `/v1/webhooks/${hook.sid}/deliveries/evt_any/~redeliver`],
      ['POST', `/v1/webhooks/${hook.sid}/deliveries/evt_any/~resend`],
      ['POST', `/v1/webhooks/${hook.sid}/~test`],
      ['GET', `/v1/webhooks/${hook.sid}/~test`],
      ['POST', `/v1/webhooks/${hook.sid}/~recover`, { since: new Date(Date.now() - 60000).toISOString() }],
    ]) {
      const pr = assertProblem(await p(m, path, body), 403);
      assert.equal(pr.type, '/problems/read-only-session', `${m} ${path}`);
    }
    assert.equal((await api('GET', `/v1/webhooks/${hook.sid}`)).json.webhook.enabled, true);
    assert.equal((await api('GET', `/v1/webhooks/${hook.sid}/signing-keys/${key}`)).json.signing_key.expires_at, null, 'the key untouched');
  });

  test('tampered, unknown or malformed tokens are 401', async () => {
    const [sid, secret] = s.token.split('.');
    const flipped = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
    for (const tok of [`${sid}.${flipped}`, `ps_nosuchsession.${secret}`, sid, `${sid}.`, `key_x.${secret}`, `${secret}`]) {
      assertProblem(await as(tok)('GET', '/v1/webhooks'), 401);
    }
  });

  test('a change without the token (as a cross-site request would come) is 401; cookies are not credentials', async () => {
    const res = await rawRequest(base(), {
      method: 'POST',
      path: '/v1/webhooks',
      headers: [['Content-Type', 'application/json'], ['Origin', 'https://evil.example'], ['Cookie', `session=${s.token}`]],
      body: JSON.stringify({ webhook: { url: 'https://example.com/csrf' } }),
    });
    assert.equal(res.status, 401, res.text);
  });

  test('DELETE ends a session at once; another company\'s key cannot end it (404)', async () => {
    const s2 = await openSession({ company_sid: company });
    assert.equal((await as(s2.token)('GET', '/v1/webhooks')).status, 200);
    const k = await companyKey(api, `CO_x${rnd(3)}`);
    assertProblem(await api('DELETE', `/v1/portal-sessions/${s2.sid}`, undefined, { key: k.auth }), 404);
    assert.equal((await as(s2.token)('GET', '/v1/webhooks')).status, 200);
    assert.equal((await api('DELETE', `/v1/portal-sessions/${s2.sid}`)).status, 204);
    assertProblem(await as(s2.token)('GET', '/v1/webhooks'), 401);
    assertProblem(await api('DELETE', `/v1/portal-sessions/${s2.sid}`), 404);
  });

  test('an expired session is refused', async () => {
    const s3 = await openSession({ company_sid: company, ttl_s: 60 });
    assert.equal((await as(s3.token)('GET', '/v1/webhooks')).status, 200);
    // Keep the record but move its expiry into the past, as if Redis had
    // not yet removed it; then let Redis remove it.
    const key = KEYS.portal(s3.sid);
    await stack.redis.call('HSET', key, 'expires_at', String(Date.now() - 1));
    assertProblem(await as(s3.token)('GET', '/v1/webhooks'), 401);
    await stack.redis.call('PEXPIRE', key, '1');
    await sleep(20);
    assertProblem(await as(s3.token)('GET', '/v1/webhooks'), 401);
  });
});

describe('the static files', () => {
  test('WH_PORTAL_FRAME_ANCESTORS that would end the CSP directive is refused at start, naming it', async () => {
    for (const bad of ["'self'; script-src *", "https://a.example, https://b.example", 'x"y']) {
      const env = programEnv({ redis: stack.redis, apiPort: await freePort(), bootstrapKey: newBootstrapKey(),
        env: { WH_PORTAL_FRAME_ANCESTORS: bad } });
      const r = await runToExit(BIN.api, { env, timeoutMs: 10000, name: 'api-bad-frame' });
      assert.notEqual(r.code, 0, bad);
      assert.match(r.stderr, /WH_PORTAL_FRAME_ANCESTORS/, r.stderr);
    }
  });

  test('every file of api/portal is served, and all of them gzipped come to at most 150 KiB', async () => {
    const files = fs.readdirSync(path.join(REPO_ROOT, 'api', 'portal')).filter((f) => /\.(html|js|css)$/.test(f));
    assert.ok(files.includes('app.js') && files.includes('index.html'));
    let total = 0;
    for (const f of files) {
      const r = await rawRequest(base(), { path: `/portal/${f}`, headers: [['Accept-Encoding', 'gzip']] });
      assert.equal(r.status, 200, f);
      assert.equal(r.headers.get('content-encoding'), 'gzip', f);
      assert.match(r.headers.get('content-security-policy'), /default-src 'self'/, f);
      total += Number(r.headers.get('content-length'));
    }
    console.log(`# portal assets: ${files.length} files, ${total} bytes gzipped`);
    assert.ok(total <= 150 * 1024, `${total} bytes`);
  });

  test('/portal/ answers index.html with the security headers; /portal redirects', async () => {
    const res = await fetch(`${base()}/portal/`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /(^|; )default-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'self' https:\/\/dash\.example\.com$/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('content-encoding'), null);
    assert.match(await res.text(), /<!doctype html>/i);
    const r2 = await fetch(`${base()}/portal`, { redirect: 'manual' });
    assert.equal(r2.status, 308);
    assert.equal(r2.headers.get('location'), '/portal/');
  });

  test('gzip when accepted (not with q=0); unknown files and traversal are 404', async () => {
    const raw = await rawRequest(base(), { path: '/portal/index.html', headers: [['Accept-Encoding', 'br, gzip;q=0.5']] });
    assert.equal(raw.headers.get('content-encoding'), 'gzip');
    const plain = await rawRequest(base(), { path: '/portal/index.html', headers: [['Accept-Encoding', 'gzip;q=0, br']] });
    assert.equal(plain.headers.get('content-encoding'), null);
    assert.match(plain.text, /<!doctype html>/i);
    const gz = await new Promise((resolve, reject) => {
      http.get(`${base()}/portal/index.html`, { headers: { 'accept-encoding': 'gzip' } }, (r) => {
        const c = [];
        r.on('data', (d) => c.push(d));
        r.on('end', () => resolve(Buffer.concat(c)));
      }).on('error', reject);
    });
    assert.equal(zlib.gunzipSync(gz).toString(), plain.text);
    for (const p of ['/portal/nope.js', '/portal/../api/module.c', '/portal/%2e%2e/x', '/portal/sub/index.html']) {
      assert.equal((await rawRequest(base(), { path: p })).status, 404, p);
    }
  });
});

describe('docs/portal.md', () => {
  test('its screenshots are committed PNGs, each one the browser test retakes', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'portal.md'), 'utf8');
    const browserTest = fs.readFileSync(path.join(REPO_ROOT, 'tests', 'e2e', 'portal.test.js'), 'utf8');
    const imgs = [...doc.matchAll(/!\[[^\]]*\]\((img\/portal-([a-z-]+)\.png)\)/g)];
    assert.ok(imgs.length >= 4, `screenshots in docs/portal.md: ${imgs.length}`);
    for (const [, rel, name] of imgs) {
      const file = path.join(REPO_ROOT, 'docs', rel);
      const png = fs.readFileSync(file);
      assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', `${rel} is a PNG`);
      assert.ok(png.length > 10000, `${rel} is a screenshot`);
      assert.match(browserTest, new RegExp(`docShot\\(p(age)?, '${name}'|'doc-${name}\\.png'`), `${rel}: portal.test.js writes var/portal/doc-${name}.png`);
    }
  });
});
