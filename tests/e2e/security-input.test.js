// Hostile input (issue 7): API key brute force is slowed (429 after
// WH_AUTH_FAILURES_MAX failures per address or key id per minute, shared by
// every api worker), an unknown key id and a wrong secret look the same,
// and CR/LF never reaches the wire: not from the api (header names and
// values, urls), not from a direct stream entry (the fields that become
// headers), not from a webhook record edited by hand in Redis.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
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
import { assertNamesField, assertProblem, companyKey } from './lib/checks.js';

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
    const ttl = Number(await redisCli(stack.redis, 'PTTL', `wh:authfail:key:${k.id}`));
    assert.ok(ttl > 0 && ttl <= 60000, `the window expires (${ttl} ms)`);
    // Another key from the same address is locked too (per address), unless
    // this api worker saw it succeed within the last second (docs/operations.md, "Secrets at rest").
    assertProblem(await stack.api('GET', '/v1/webhooks', undefined, { key: k2.auth }), [429]);
    // The window passing (forced here) lets the right secret in again.
    await redisCli(stack.redis, 'DEL', `wh:authfail:key:${k.id}`, 'wh:authfail:ip:127.0.0.1');
    const ok = await stack.api('GET', '/v1/webhooks', undefined, { key: k.auth });
    assert.equal(ok.status, 200, ok.text);
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
