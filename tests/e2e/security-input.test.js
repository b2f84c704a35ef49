// Hostile input (issue 7): API key brute force is slowed (429 after
// WH_AUTH_FAILURES_MAX failures per client address per minute, shared by
// every api worker) without letting anyone who knows a key id lock its
// owner out from another address (issue 18), an unknown key id and a wrong secret look the same,
// and CR/LF never reaches the wire: not from the api (header names and
// values, urls), not from a direct stream entry (the fields that become
// headers), not from a webhook record edited by hand in Redis.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import {
  KEYS,
  attemptLog,
  createWebhook,
  deadLetters,
  publishEvents,
  randomHex,
  redisCli,
  sleep,
  startReceiver,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
} from './lib/harness.js';
import { assertNamesField, assertProblem, companyKey, rawRequest } from './lib/checks.js';

useHarness();

describe('API key brute force', () => {
  let stack;

  before(async () => {
    stack = await startStack({ dispatchers: 0, apiEnv: { WH_AUTH_FAILURES_MAX: '10' } });
  });

  test('unknown key id and wrong secret answer alike', async () => {
    const k = await companyKey(stack.api, 'CO_bf');
    const a = await stack.api('GET', '/v1/webhooks', undefined, { key: `${k.id}:wrong-secret` });
    const b = await stack.api('GET', '/v1/webhooks', undefined, { key: `key_doesnotexist:wrong-secret` });
    assert.equal(a.status, 401);
    assert.equal(b.status, 401);
    const strip = (t) => JSON.parse(t).detail;
    assert.equal(strip(a.text), strip(b.text));
    assert.equal(a.headers.get('www-authenticate'), b.headers.get('www-authenticate'));
  });

  test('after the limit, even the right secret gets 429 with Retry-After; counted across workers', async () => {
    const k = await companyKey(stack.api, 'CO_bf2');
    const k2 = await companyKey(stack.api, 'CO_bf3'); // not used yet
    // Separate connections, so both Kore workers see failures.
    const tries = await Promise.all(Array.from({ length: 12 }, () => fetch(`${stack.apiServer.baseUrl}/v1/webhooks`, {
      headers: { authorization: `Basic ${Buffer.from(`${k.id}:guess-${randomHex(4)}`).toString('base64')}`, connection: 'close' },
    }).then((r) => r.status)));
    assert.ok(tries.every((s) => s === 401 || s === 429), `${tries}`);
    await sleep(100); // the counters are written after the answers
    const locked = await stack.api('GET', '/v1/webhooks', undefined, { key: k.auth });
    const p = assertProblem(locked, [429]);
    assert.ok(Number(locked.headers.get('retry-after')) > 0, 'Retry-After');
    assert.doesNotMatch(JSON.stringify(p), /secret|sha256/i);
    const ttl = Number(await redisCli(stack.redis, 'PTTL', 'wh:authfail:ip:127.0.0.1'));
    assert.ok(ttl > 0 && ttl <= 60000, `the window expires (${ttl} ms)`);
    // Another key from the same address is locked too (per address), unless
    // this api worker saw it succeed within the last second (docs/operations.md, "Secrets at rest").
    assertProblem(await stack.api('GET', '/v1/webhooks', undefined, { key: k2.auth }), [429]);
    // The window passing (forced here) lets the right secret in again.
    await redisCli(stack.redis, 'DEL', 'wh:authfail:ip:127.0.0.1');
    const ok = await stack.api('GET', '/v1/webhooks', undefined, { key: k.auth });
    assert.equal(ok.status, 200, ok.text);
  });

  test('a wrong-secret flood from one address throttles that address, never the owner elsewhere', async () => {
    const k = await companyKey(stack.api, 'CO_bf4');
    const from = (localAddress, secret) => rawRequest(stack.apiServer.baseUrl, {
      path: '/v1/webhooks',
      localAddress,
      headers: [['Authorization', `Basic ${Buffer.from(`${k.id}:${secret}`).toString('base64')}`]],
    });
    const flood = [];
    for (let i = 0; i < 14; i++) flood.push(from('127.0.0.2', `guess-${randomHex(4)}`));
    const tries = (await Promise.all(flood)).map((r) => r.status);
    assert.ok(tries.every((s) => s === 401 || s === 429), `${tries}`);
    await sleep(100); // the counters are written after the answers
    // The flooding address is throttled, even with the right secret...
    const locked = await from('127.0.0.2', k.secret);
    assertProblem(locked, [429]);
    assert.ok(Number(locked.headers.get('retry-after')) > 0, 'Retry-After');
    assert.ok(Number(await redisCli(stack.redis, 'GET', 'wh:authfail:ip:127.0.0.2')) >= 10);
    // ...the owner from another address is not, and no count follows the key id.
    const owner = await from('127.0.0.1', k.secret);
    assert.equal(owner.status, 200, owner.text);
    assert.equal(await redisCli(stack.redis, 'EXISTS', `wh:authfail:key:${k.id}`), '0');
    // A wrong secret from a third address is still only a 401.
    assert.equal((await from('127.0.0.3', 'nope')).status, 401);
  });
});

describe('CR/LF never reaches the wire', () => {
  let stack;
  let rcv;

  before(async () => {
    stack = await startStack({ dispatchers: 1 });
    rcv = await startReceiver();
  });

  test('the api refuses CR, LF and NUL in header names, values and urls', async () => {
    const bad = [
      [{ headers: [{ name: 'X-A\r\nX-Injected', value: 'v' }] }, 'headers[0].name'],
      [{ headers: [{ name: 'X-A', value: 'v\r\nX-Injected: 1' }] }, 'headers[0].value'],
      [{ headers: [{ name: 'X-A', value: 'v\nX-Injected: 1' }] }, 'headers[0].value'],
      [{ headers: [{ name: 'X-A', value: 'v\rX' }] }, 'headers[0].value'],
      [{ headers: [{ name: 'X-A', value: 'v\u0000' }] }, 'headers[0].value'],
      [{ headers: [{ name: 'X-A:', value: 'v' }] }, 'headers[0].name'],
      [{ url: `http://127.0.0.1:${rcv.port}/a\r\nX-Injected: 1` }, 'url'],
      [{ url: `http://127.0.0.1:${rcv.port}/a b` }, 'url'],
    ];
    for (const [fields, field] of bad) {
      const res = await stack.api('POST', '/v1/webhooks', { webhook: { company_sid: 'CO_crlf', url: rcv.url('/ok'), ...fields } });
      assertNamesField(assertProblem(res, [422]), field);
    }
  });

  test('direct stream entries whose header-bound fields carry CR/LF are dead-lettered, never sent', async () => {
    await createWebhook(stack, { company_sid: 'CO_crlf', url: rcv.url('/s') });
    const good = `evt_good_${randomHex(4)}`;
    await redisCli(stack.redis, 'XADD', KEYS.events, '*', 'company_sid', 'CO_crlf', 'event_type', 'call.ended', 'payload', '{}', 'event_sid', 'evt_x\r\nX-Injected: 1');
    await redisCli(stack.redis, 'XADD', KEYS.events, '*', 'company_sid', 'CO_crlf', 'event_type', 'call.ended\r\nX-Injected: 1', 'payload', '{}', 'event_sid', `evt_t_${randomHex(4)}`);
    await redisCli(stack.redis, 'XADD', KEYS.events, '*', 'company_sid', 'CO_crlf\r\nX: 1', 'event_type', 'call.ended', 'payload', '{}', 'event_sid', `evt_c_${randomHex(4)}`);
    await publishEvents(stack.redis, [{ company_sid: 'CO_crlf', event_type: 'call.ended', payload: '{}', event_sid: good }]);
    await rcv.waitFor(1);
    await waitQueuesIdle(stack.redis);
    await sleep(200);
    assert.equal(rcv.requests.length, 1);
    assert.equal(rcv.requests[0].headers['webhook-id'], good);
    for (const r of rcv.requests) assert.ok(!('x-injected' in r.headers));
    const dead = await deadLetters(stack.redis);
    assert.equal(dead.filter((d) => /valid|dotted/.test(d.fields.reason)).length, 3, JSON.stringify(dead.map((d) => d.fields.reason)));
  });

  test('a webhook record edited by hand to hold CR/LF fails its attempt instead of sending it', async () => {
    rcv.reset();
    const { webhook } = await createWebhook(stack, { company_sid: 'CO_hand', url: rcv.url('/h'), max_attempts: 1, headers: [{ name: 'X-Custom', value: 'AAAA' }] });
    // Edited inside Redis (binary-safe), same length so the msgpack string
    // header stays right; the change counters bumped as the api would.
    const key = `wh:webhook:${webhook.sid}`;
    const n = await redisCli(stack.redis, 'EVAL', "local v = redis.call('GET', KEYS[1]) local w, n = string.gsub(v, 'AAAA', 'A\\r\\nB') redis.call('SET', KEYS[1], w) redis.call('INCR', 'wh:webhooks:version') redis.call('INCR', 'wh:company:CO_hand:version') return n", '1', key);
    assert.equal(n, '1', 'value replaced in the record');
    await stack.api('POST', '/v1/events', { company_sid: 'CO_hand', event_type: 'call.ended', payload: {} });
    const log = await waitUntil(async () => {
      const l = await attemptLog(stack.redis, webhook.sid);
      return l.length ? l : null;
    }, { what: 'the failed attempt' });
    assert.match(log[0].fields.error, /header of the webhook is not valid/);
    assert.equal(rcv.requests.length, 0, 'nothing was sent');
  });
});

// Issue 18 item 2: every body is read by one linear walk (api/fields.c on
// common/json.c), so a long string costs what its bytes cost. Kore's own
// parser, used before, grew strings a byte at a time: a 300 KB label took
// 7-20 s and a 900 KB url stalled a worker for minutes.
describe('long strings and deep nesting in request bodies', () => {
  let stack;
  let hook;
  let keySid;
  const big = 'x'.repeat(900 * 1024);
  // ASan makes every byte cost more; the bound is about the algorithm.
  const boundMs = process.env.E2E_API_PRELOAD ? 300 : 50;

  before(async () => {
    stack = await startStack({ dispatchers: 0 });
    ({ webhook: hook } = await createWebhook(stack, { company_sid: 'CO_long', url: 'https://example.com/long' }));
    const k = await stack.api('GET', `/v1/webhooks/${hook.sid}/signing-keys`);
    keySid = k.json.signing_keys[0].sid;
  });

  // The answer to one request, checked through the usual client, and the
  // time from its first byte sent to the first byte of the answer on a
  // connection made beforehand, so that the client's own work is not
  // counted: the fastest of three tries (the machine may be busy with
  // other work; the old parser took seconds every time).
  async function timed(method, path, body) {
    const text = JSON.stringify(body);
    const res = await stack.api(method, path, text, { timeoutMs: 60000 });
    const payload = Buffer.from(text);
    const request = Buffer.concat([Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: x\r\n`
      + `Authorization: Basic ${Buffer.from(stack.apiServer.bootstrapKey).toString('base64')}\r\n`
      + `Content-Type: application/json\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n`), payload]);
    const { port, hostname } = new URL(stack.apiServer.baseUrl);
    let ms = Infinity;
    for (let i = 0; i < 3; i++) {
      const sock = net.connect(Number(port), hostname);
      await once(sock, 'connect');
      const t0 = performance.now();
      sock.write(request);
      const [first] = await once(sock, 'data');
      ms = Math.min(ms, performance.now() - t0);
      sock.destroy();
      assert.match(first.toString('latin1'), new RegExp(`^HTTP/1.1 ${res.status} `));
    }
    return { res, ms };
  }

  test('a 900 KB string field answers at once on every JSON route', async () => {
    const cases = [
      ['POST', '/v1/webhooks', { webhook: { company_sid: 'CO_long', url: 'https://example.com/a', label: big } }, 422, 'label'],
      ['POST', '/v1/webhooks', { webhook: { company_sid: 'CO_long', url: `https://example.com/${big}` } }, 422, 'url'],
      ['PATCH', `/v1/webhooks/${hook.sid}`, { webhook: { url: `https://example.com/${big}` } }, 422, 'url'],
      ['PATCH', `/v1/webhooks/${hook.sid}`, { webhook: { headers: [{ name: 'X-A', value: big }] } }, 422, 'headers[0].value'],
      ['PATCH', `/v1/webhooks/${hook.sid}`, { webhook: { event_types: [big] } }, 422, 'event_types'],
      ['POST', `/v1/webhooks/${hook.sid}/signing-keys`, { signing_key: { label: big } }, 422, 'label'],
      ['PATCH', `/v1/webhooks/${hook.sid}/signing-keys/${keySid}`, { signing_key: { label: big } }, 422, 'label'],
      ['POST', '/v1/api-keys', { api_key: { company_sid: 'CO_long', label: big } }, 422, 'label'],
      ['POST', `/v1/webhooks/${hook.sid}/~recover`, { since: big, until: '2026-01-01T00:00:00Z' }, 422, 'since'],
      ['POST', `/v1/webhooks/${hook.sid}/deliveries/evt_x/~redeliver`, { note: big }, 422, 'note'],
      ['POST', '/v1/events', { company_sid: 'CO_long', event_type: 'call.ended', payload: { s: big } }, 413, null],
      ['POST', '/v1/events', { company_sid: big, event_type: 'call.ended', payload: {} }, 413, null],
      ['POST', '/v1/events:batch', { events: [{ company_sid: 'CO_long', event_type: big, payload: {} }] }, 422, 'events[0]'],
    ];
    for (const [method, path, body, status, field] of cases) {
      const { res, ms } = await timed(method, path, body);
      const p = assertProblem(res, [status]);
      if (field) assertNamesField(p, field);
      if (process.env.E2E_VERBOSE) console.log(`${method} ${path} (${field}): ${ms.toFixed(1)} ms`);
      assert.ok(ms <= boundMs, `${method} ${path} (${field}): ${ms.toFixed(1)} ms`);
    }
  });

  test('a 900 KB member name answers at once, named (cut short) as unknown', async () => {
    const { res, ms } = await timed('POST', '/v1/webhooks', { webhook: { url: 'https://example.com/b', company_sid: 'CO_long', [big]: 1 } });
    const p = assertProblem(res, [422]);
    assert.ok(p.errors.some((e) => e.field.startsWith('xxxx') && /not a known field/.test(e.message)), JSON.stringify(p.errors));
    assert.ok(ms <= boundMs, `${ms.toFixed(1)} ms`);
  });

  // Members are listed once and looked up by name; the checks that compare
  // members with each other stop once the answer's 16 errors are full, so
  // the cost stays linear (a quadratic repeat check took seconds here).
  test('a body of 80 000 members (and 32 header objects) answers at once', async () => {
    const members = Object.fromEntries(Array.from({ length: 80000 }, (_, i) => [i.toString(36), 0]));
    const headers = Array.from({ length: 32 }, (_, i) => ({ name: `X-H${i}`, value: 'v' }));
    const { res, ms } = await timed('POST', '/v1/webhooks', { webhook: { company_sid: 'CO_long', url: 'https://example.com/m', headers, ...members } });
    const p = assertProblem(res, [422]);
    assert.equal(p.errors.length, 16, 'the errors are capped');
    assert.ok(p.errors.every((e) => /not a known field/.test(e.message)), JSON.stringify(p.errors));
    assert.ok(ms <= 5 * boundMs, `${ms.toFixed(1)} ms`);
  });

  test('bodies nested deeper than 64 levels: 400 "nested too deep", naming the limit', async () => {
    const nest = (n) => '['.repeat(n) + ']'.repeat(n);
    // {"webhook":{"label":[[...]]}}: 2 + n levels.
    const hookBody = (n) => `{"webhook":{"company_sid":"CO_long","url":"https://example.com/c","label":${nest(n)}}}`;
    let r = await stack.api('POST', '/v1/webhooks', hookBody(63));
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.detail, /nested too deep/);
    assert.match(r.json.detail, /\b64\b/);
    // Within the limit the body is read and the field judged.
    assertNamesField(assertProblem(await stack.api('POST', '/v1/webhooks', hookBody(62)), [422]), 'label');
    for (const path of [`/v1/webhooks/${hook.sid}/signing-keys`, '/v1/api-keys', `/v1/webhooks/${hook.sid}/~recover`]) {
      r = await stack.api('POST', path, `{"x":${nest(64)}}`);
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.match(r.json.detail, /nested too deep.*64/);
    }
    // An event's payload: the body is one level more than the payload.
    const event = (n) => `{"company_sid":"CO_long","event_type":"call.ended","payload":${nest(n)}}`;
    assert.equal((await stack.api('POST', '/v1/events', event(63))).status, 202);
    r = await stack.api('POST', '/v1/events', event(64));
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.detail, /nested too deep.*64/);
    r = await stack.api('POST', '/v1/events:batch', `{"events":[${event(62)}]}`);
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.detail, /nested too deep.*64/);
    // Not JSON at all is still said as such.
    assert.match((await stack.api('POST', '/v1/webhooks', '{"webhook":')).json.detail, /not valid JSON/);
  });
});
