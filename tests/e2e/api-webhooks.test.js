// The webhook resource end to end: create, read, partial update, delete,
// the company list with every sort order, keyset pagination that neither
// skips nor repeats while others write, the per-company cap, and tenancy
// (a company key never sees, changes or deletes another company's webhook).

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  BIN,
  KEYS,
  programEnv,
  freePort,
  newBootstrapKey,
  runToExit,
  sleep,
  startApi,
  startStack,
  useHarness,
} from './lib/harness.js';
import {
  assertJson,
  assertProblem,
  assertNamesField,
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

before(async () => {
  stack = await startStack({ dispatchers: 0 });
  api = stack.api;
});

describe('create, read, update, delete', () => {
  const company = `CO_crud${rnd(3)}`;
  let hook;

  test('POST takes the bare object too, answers 201 with Location', async () => {
    const res = await api('POST', '/v1/webhooks', {
      company_sid: company, url: 'https://example.com/a', label: 'first', method: 'put',
      headers: [{ name: 'X-Tenant', value: 'acme', include_in_request_signature: true }],
      event_types: ['call.*', 'artifact.ready'], timeout_ms: 1500, max_attempts: 3, enabled: false,
    });
    assert.equal(res.status, 201, res.text);
    assertJson(res);
    hook = res.json.webhook;
    assert.equal(res.headers.get('location'), `/v1/webhooks/${hook.sid}`);
    assert.equal(hook.method, 'PUT');
    assert.equal(hook.timeout_ms, 1500);
    assert.equal(hook.max_attempts, 3);
    assert.equal(hook.enabled, false);
    assert.deepEqual(hook.event_types, ['call.*', 'artifact.ready']);
    assert.equal(hook.created_at, hook.updated_at);
    const got = await api('GET', `/v1/webhooks/${hook.sid}`);
    assert.deepEqual(got.json.webhook, hook);
  });

  test('PATCH changes only the given fields and moves updated_at', async () => {
    await sleep(5);
    const res = await api('PATCH', `/v1/webhooks/${hook.sid}`, { label: 'renamed', enabled: true });
    assert.equal(res.status, 200, res.text);
    const w = res.json.webhook;
    assert.equal(w.label, 'renamed');
    assert.equal(w.enabled, true);
    for (const f of ['sid', 'company_sid', 'url', 'method', 'timeout_ms', 'max_attempts', 'headers', 'event_types',
      'created_at']) {
      assert.deepEqual(w[f], hook[f], `${f} unchanged`);
    }
    assert.ok(Date.parse(w.updated_at) > Date.parse(hook.updated_at), 'updated_at moved');
    assert.deepEqual((await api('GET', `/v1/webhooks/${hook.sid}`)).json.webhook, w, 'stored');
    hook = w;
  });

  test('PATCH with the wrapper, replacing arrays; null means the default', async () => {
    const res = await api('PATCH', `/v1/webhooks/${hook.sid}`, {
      webhook: { headers: [{ name: 'X-Other', value: 'v' }], event_types: null, timeout_ms: null, method: 'PATCH' },
    });
    assert.equal(res.status, 200, res.text);
    const w = res.json.webhook;
    assert.deepEqual(w.headers, [{ name: 'X-Other', value: 'v', include_in_request_signature: false }]);
    assert.deepEqual(w.event_types, []);
    assert.equal(w.timeout_ms, 5000);
    assert.equal(w.method, 'PATCH');
    assert.equal(w.label, 'renamed');
    hook = w;
  });

  test('PATCH validates like POST and refuses read-only and unknown fields', async () => {
    const path = `/v1/webhooks/${hook.sid}`;
    await expectFieldError(() => api('PATCH', path, { url: 'ftp://x' }), 422, 'url');
    await expectFieldError(() => api('PATCH', path, { url: null }), 422, 'url');
    await expectFieldError(() => api('PATCH', path, { max_attempts: 21 }), 422, 'max_attempts');
    await expectFieldError(() => api('PATCH', path, { headers: [{ name: 'Host', value: 'x' }] }), 422, 'headers');
    for (const ro of ['sid', 'company_sid', 'created_at', 'updated_at']) {
      await expectFieldError(() => api('PATCH', path, { [ro]: 'x' }), 422, ro);
    }
    await expectFieldError(() => api('PATCH', path, { lable: 'typo' }), 422, 'lable');
    assert.deepEqual((await api('GET', path)).json.webhook, hook, 'nothing changed');
    assertProblem(await api('PATCH', '/v1/webhooks/wh_missing000000000000000', { label: 'x' }), 404);
  });

  test('DELETE removes the record, its keys and its index entry: 204, then 404', async () => {
    const res = await api('DELETE', `/v1/webhooks/${hook.sid}`);
    assert.equal(res.status, 204, res.text);
    assert.equal(res.text, '');
    assert.ok(res.headers.get('x-request-id'), 'X-Request-Id on a 204');
    assert.equal(await stack.redis.call('EXISTS', KEYS.webhook(hook.sid)), 0);
    assert.equal(await stack.redis.call('EXISTS', KEYS.webhookKeys(hook.sid)), 0);
    assert.equal(await stack.redis.call('ZSCORE', KEYS.companyWebhooks(company), hook.sid), null);
    assertProblem(await api('GET', `/v1/webhooks/${hook.sid}`), 404);
    assertProblem(await api('DELETE', `/v1/webhooks/${hook.sid}`), 404);
    assertProblem(await api('PATCH', `/v1/webhooks/${hook.sid}`, { label: 'x' }), 404);
    assertProblem(await api('GET', `/v1/webhooks/${hook.sid}/signing-keys`), 404);
  });

  test('concurrent PATCHes of different fields all land (compare-and-set)', async () => {
    const w = await createWebhook(api, company);
    const patches = [
      { label: 'L' }, { timeout_ms: 777 }, { max_attempts: 2 }, { enabled: false },
      { method: 'PUT' }, { event_types: ['x.y'] }, { url: 'https://example.com/changed' },
    ];
    const answers = await Promise.all(patches.map((p) => api('PATCH', `/v1/webhooks/${w.sid}`, p)));
    for (const a of answers) assert.equal(a.status, 200, a.text);
    const got = (await api('GET', `/v1/webhooks/${w.sid}`)).json.webhook;
    assert.equal(got.label, 'L');
    assert.equal(got.timeout_ms, 777);
    assert.equal(got.max_attempts, 2);
    assert.equal(got.enabled, false);
    assert.equal(got.method, 'PUT');
    assert.deepEqual(got.event_types, ['x.y']);
    assert.equal(got.url, 'https://example.com/changed');
  });
});

describe('list, sort, paginate', () => {
  const company = `CO_list${rnd(3)}`;
  const made = [];

  before(async () => {
    // Labels and urls in an order unrelated to creation; two equal labels
    // so that the sid decides between them.
    const labels = ['delta', 'Alpha', 'charlie', 'bravo', 'echo', 'bravo', 'zulu', '', 'émile', 'Zeta', 'kilo'];
    for (const [i, label] of labels.entries()) {
      made.push(await createWebhook(api, company, { label, url: `https://h${(i * 7) % 11}.example.com/p` }));
    }
  });

  test('admin must name the company; a company key lists its own', async () => {
    await expectFieldError(() => api('GET', '/v1/webhooks'), 400, 'company_sid');
    await expectFieldError(() => api('GET', '/v1/webhooks?company_sid=bad%20sid'), 400, 'company_sid');
    const k = await companyKey(api, company);
    const { items } = await listAll(api, '/v1/webhooks', { page_size: 100 }, { key: k.auth, name: 'webhooks' });
    assert.equal(items.length, made.length);
    const res = await api('GET', `/v1/webhooks?company_sid=${company}`, undefined, { key: k.auth });
    assert.equal(res.status, 200, res.text);
  });

  test('default: created_at.asc, 10 a page', async () => {
    const res = await api('GET', `/v1/webhooks?company_sid=${company}`);
    assert.equal(res.status, 200, res.text);
    assertJson(res);
    assert.equal(res.json.webhooks.length, 10);
    assert.equal(typeof res.json.next_page_token, 'string');
    const want = [...made].sort(byValueThenSid((w) => Date.parse(w.created_at))).slice(0, 10);
    assert.deepEqual(res.json.webhooks.map((w) => w.sid), want.map((w) => w.sid));
  });

  const orders = [
    ['created_at.asc', (w) => Date.parse(w.created_at), false],
    ['created_at.desc', (w) => Date.parse(w.created_at), true],
    ['url.asc', (w) => w.url, false],
    ['url.desc', (w) => w.url, true],
    ['label.asc', (w) => w.label, false],
    ['label', (w) => w.label, false],
    ['label.desc', (w) => w.label, true],
  ];
  for (const [sort, value, desc] of orders) {
    test(`sort=${sort}, pages of 3, every webhook once in order`, async () => {
      const { items, pages } = await listAll(api, '/v1/webhooks', { company_sid: company, sort, page_size: 3 },
        { name: 'webhooks' });
      const want = [...made].sort(byValueThenSid(value, desc)).map((w) => w.sid);
      assert.deepEqual(items.map((w) => w.sid), want);
      assert.ok(pages.slice(0, -1).every((p) => p.length === 3), 'full pages but the last');
    });
  }

  test('bad page_size, sort, unknown or repeated parameters: 400 naming them', async () => {
    const base = `/v1/webhooks?company_sid=${company}`;
    for (const v of ['0', '101', 'x', '-1', '5.5', '']) {
      await expectFieldError(() => api('GET', `${base}&page_size=${v}`), 400, 'page_size');
    }
    for (const v of ['bogus', 'url.up', 'created_at.', 'URL.asc', 'event_types']) {
      await expectFieldError(() => api('GET', `${base}&sort=${v}`), 400, 'sort');
    }
    await expectFieldError(() => api('GET', `${base}&pagesize=5`), 400, 'pagesize');
    await expectFieldError(() => api('GET', `${base}&sort=url&sort=label`), 400, 'sort');
    assertProblem(await api('GET', `${base}&page_size=%zz`), 400);
  });

  test('page tokens are tamper-proof and bound to their list and sort', async () => {
    const first = await api('GET', `/v1/webhooks?company_sid=${company}&page_size=2&sort=url.asc`);
    const token = first.json.next_page_token;
    const ok = await api('GET', `/v1/webhooks?company_sid=${company}&page_size=2&sort=url.asc&page_token=${token}`);
    assert.equal(ok.status, 200, ok.text);
    const raw = Buffer.from(token, 'base64url');
    for (let i = 0; i < raw.length; i += 7) {
      const bad = Buffer.from(raw);
      bad[i] ^= 0x01;
      await expectFieldError(() => api('GET',
        `/v1/webhooks?company_sid=${company}&sort=url.asc&page_token=${bad.toString('base64url')}`), 400, 'page_token');
    }
    for (const other of ['sort=url.desc', 'sort=label.asc', 'sort=created_at']) {
      await expectFieldError(() => api('GET',
        `/v1/webhooks?company_sid=${company}&${other}&page_token=${token}`), 400, 'page_token');
    }
    const otherCompany = `CO_other${rnd(3)}`;
    await createWebhook(api, otherCompany);
    await expectFieldError(() => api('GET',
      `/v1/webhooks?company_sid=${otherCompany}&sort=url.asc&page_token=${token}`), 400, 'page_token');
    for (const junk of ['x', 'AAAA', '!!!', 'a'.repeat(1500)]) {
      await expectFieldError(() => api('GET',
        `/v1/webhooks?company_sid=${company}&sort=url.asc&page_token=${junk}`), 400, 'page_token');
    }
  });

  test('2 KiB urls sharing a long prefix: tokens fit a request line, pages stay exact', async () => {
    const co = `CO_long${rnd(3)}`;
    const prefix = `https://example.com/${'p'.repeat(1500)}`;
    const hooks = [];
    for (let i = 0; i < 6; i++) {
      hooks.push(await createWebhook(api, co, { url: `${prefix}/${String.fromCharCode(102 - i)}${'x'.repeat(400)}` }));
    }
    const { items, pages } = await listAll(api, '/v1/webhooks', { company_sid: co, sort: 'url.asc', page_size: 1 },
      { name: 'webhooks' });
    assert.equal(pages.length, 6);
    assert.deepEqual(items.map((w) => w.sid), [...hooks].sort(byValueThenSid((w) => w.url)).map((w) => w.sid));
  });

  test('tokens survive an api restart (the secret lives in Redis)', async () => {
    const first = await api('GET', `/v1/webhooks?company_sid=${company}&page_size=4&sort=label.desc`);
    await stack.apiServer.restart();
    const next = await api('GET',
      `/v1/webhooks?company_sid=${company}&page_size=4&sort=label.desc&page_token=${first.json.next_page_token}`);
    assert.equal(next.status, 200, next.text);
    const want = [...made].sort(byValueThenSid((w) => w.label, true)).slice(4, 8).map((w) => w.sid);
    assert.deepEqual(next.json.webhooks.map((w) => w.sid), want);
  });
});

describe('pagination while others create and delete', () => {
  const cases = [
    ['created_at.asc', (w) => Date.parse(w.created_at), false],
    ['created_at.desc', (w) => Date.parse(w.created_at), true],
    ['url.asc', (w) => w.url, false],
    ['label.desc', (w) => w.label, true],
  ];
  for (const [sort, value, desc] of cases) {
    test(`sort=${sort}: nothing that existed throughout is skipped or repeated`, async () => {
      const company = `CO_pg${rnd(3)}`;
      const label = () => rnd(4);
      const initial = [];
      for (let i = 0; i < 14; i++) initial.push(await createWebhook(api, company, { label: label(), url: `https://${rnd(4)}.example.com/` }));
      const deleted = new Set();
      const seen = [];
      let token = null;
      let round = 0;
      do {
        const q = new URLSearchParams({ company_sid: company, sort, page_size: '4', ...(token ? { page_token: token } : {}) });
        const res = await api('GET', `/v1/webhooks?${q}`);
        assert.equal(res.status, 200, res.text);
        seen.push(...res.json.webhooks);
        token = res.json.next_page_token;
        // Between pages: two inserts (anywhere in the order), one delete of
        // an item already seen and one of an item not seen yet.
        round += 1;
        await Promise.all([
          createWebhook(api, company, { label: label(), url: `https://${rnd(4)}.example.com/` }),
          createWebhook(api, company, { label: label(), url: `https://${rnd(4)}.example.com/` }),
        ]);
        const seenIds = new Set(seen.map((w) => w.sid));
        const victimSeen = seen.find((w) => !deleted.has(w.sid));
        const victimUnseen = initial.find((w) => !seenIds.has(w.sid) && !deleted.has(w.sid));
        for (const v of [victimSeen, victimUnseen]) {
          if (!v) continue;
          assert.equal((await api('DELETE', `/v1/webhooks/${v.sid}`)).status, 204);
          deleted.add(v.sid);
        }
      } while (token !== null && round < 50);
      const ids = seen.map((w) => w.sid);
      assert.equal(new Set(ids).size, ids.length, `no webhook twice: ${ids}`);
      for (const w of initial) {
        if (!deleted.has(w.sid)) assert.ok(ids.includes(w.sid), `${w.sid} (never deleted) was listed`);
      }
      const cmp = byValueThenSid(value, desc);
      for (let i = 1; i < seen.length; i++) assert.ok(cmp(seen[i - 1], seen[i]) < 0, `order holds at ${i}`);
    });
  }
});

describe('per-company cap (WH_MAX_WEBHOOKS_PER_COMPANY)', () => {
  test('the api refuses a bad value at start with one line naming it', async () => {
    const env = programEnv({ redis: stack.redis, apiPort: await freePort(), bootstrapKey: newBootstrapKey(),
      env: { WH_MAX_WEBHOOKS_PER_COMPANY: '0' } });
    const r = await runToExit(BIN.api, { env, timeoutMs: 10000, name: 'api-bad-cap' });
    assert.notEqual(r.code, 0);
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /WH_MAX_WEBHOOKS_PER_COMPANY/);
  });

  test('at the cap, POST is 409; after a delete there is room again', async () => {
    const capped = await startApi({ redis: stack.redis, bootstrapKey: stack.bootstrapKey, name: 'api-cap3',
      env: { WH_MAX_WEBHOOKS_PER_COMPANY: '3' } });
    const company = `CO_cap${rnd(3)}`;
    const hooks = [];
    for (let i = 0; i < 3; i++) hooks.push(await createWebhook(capped.api, company));
    const over = await capped.api('POST', '/v1/webhooks', { company_sid: company, url: 'https://example.com/4' });
    const p = assertProblem(over, 409);
    assert.match(p.detail, /WH_MAX_WEBHOOKS_PER_COMPANY/);
    assert.equal(await stack.redis.call('ZCARD', KEYS.companyWebhooks(company)), 3);
    // Concurrent creates do not overshoot either.
    await capped.api('DELETE', `/v1/webhooks/${hooks[0].sid}`);
    const burst = await Promise.all([1, 2, 3, 4].map((i) => capped.api('POST', '/v1/webhooks',
      { company_sid: company, url: `https://example.com/b${i}` })));
    assert.equal(burst.filter((r) => r.status === 201).length, 1, burst.map((r) => r.status).join(','));
    assert.equal(await stack.redis.call('ZCARD', KEYS.companyWebhooks(company)), 3);
    await capped.stop();
  });
});

describe('tenancy: company keys stay within their company', () => {
  let a;
  let b;
  let hookB;

  before(async () => {
    a = await companyKey(api, `CO_ta${rnd(3)}`);
    b = await companyKey(api, `CO_tb${rnd(3)}`);
    hookB = await createWebhook(api, null, { label: 'b' }, { key: b.auth });
    assert.equal(hookB.company_sid, b.key.company_sid);
  });

  test('A cannot read, list, change or delete B\'s webhook: 404 every time', async () => {
    const path = `/v1/webhooks/${hookB.sid}`;
    const opts = { key: a.auth };
    assertProblem(await api('GET', path, undefined, opts), 404);
    assertProblem(await api('PATCH', path, { label: 'pwned' }, opts), 404);
    assertProblem(await api('DELETE', path, undefined, opts), 404);
    assertProblem(await api('GET', `/v1/webhooks?company_sid=${b.key.company_sid}`, undefined, opts), 404);
    const own = await api('GET', '/v1/webhooks', undefined, opts);
    assert.equal(own.status, 200, own.text);
    assert.ok(!own.json.webhooks.some((w) => w.sid === hookB.sid));
    const got = await api('GET', path, undefined, { key: b.auth });
    assert.deepEqual(got.json.webhook, hookB, 'B\'s webhook is untouched');
  });

  test('A cannot create a webhook for B; its company is implied', async () => {
    const p = await expectFieldError(() => api('POST', '/v1/webhooks',
      { company_sid: b.key.company_sid, url: 'https://example.com/x' }, { key: a.auth }), 422, 'company_sid');
    assert.match(p.errors[0].message, /own company/);
    const w = await createWebhook(api, null, {}, { key: a.auth });
    assert.equal(w.company_sid, a.key.company_sid);
    const mine = await createWebhook(api, a.key.company_sid, {}, { key: a.auth });
    assert.equal(mine.company_sid, a.key.company_sid);
  });

  test('wrong or missing credentials: 401 with WWW-Authenticate: Basic', async () => {
    for (const key of [null, `${a.id}:wrong-secret-000000`, 'nobody:whatever-secret-00', 'garbage']) {
      const res = await api('GET', '/v1/webhooks', undefined, { key });
      assertProblem(res, 401);
      assert.match(res.headers.get('www-authenticate') || '', /^Basic\b/);
    }
    const res = await api('GET', '/v1/webhooks', undefined, { key: null, headers: { authorization: 'Bearer x' } });
    assertProblem(res, 401);
  });
});

// A problem's errors name each bad field at once.
test('several bad fields are reported together', async () => {
  const p = assertProblem(await api('POST', '/v1/webhooks',
    { company_sid: 'CO_x', url: 'nope', timeout_ms: 1, max_attempts: 99, method: 'GET' }), 422);
  for (const f of ['url', 'timeout_ms', 'max_attempts', 'method']) assertNamesField(p, f);
});
