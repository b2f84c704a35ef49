// SSRF guard (issue 7): a webhook may only reach public addresses unless the
// operator opens more (WH_ALLOW_PRIVATE_TARGETS=1, or WH_ALLOW_CIDRS).
//   - The api refuses URLs whose host is a private IP literal in any
//     notation a resolver accepts (decimal, octal, hex, short forms,
//     IPv4-mapped IPv6 ...), naming the field.
//   - The dispatcher checks the address it is about to connect to, after
//     DNS: a name that resolves to 127.0.0.1 (localhost, from /etc/hosts)
//     and literals the api let through (because its own policy was open)
//     are refused at connect time, recorded as failed attempts with the
//     reason, and never reach the receiver.
//   - With the guard off the same targets are delivered to; WH_ALLOW_CIDRS
//     opens exactly the ranges listed.
// Also: no redirect is followed (a 302 is a failed attempt).

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  attemptLog,
  createWebhook,
  randomHex,
  sleep,
  startReceiver,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
} from './lib/harness.js';
import { assertNamesField, assertProblem, checkSigned } from './lib/checks.js';

useHarness();

// Every notation of a loopback or private address a resolver accepts.
const literals = (port) => [
  `http://127.0.0.1:${port}/a`,
  `http://127.1:${port}/a`,
  `http://2130706433:${port}/a`, // decimal
  `http://0177.0.0.1:${port}/a`, // octal
  `http://0x7f.0.0.1:${port}/a`, // hex
  `http://0x7f000001:${port}/a`,
  `http://127.0.0.1.:${port}/a`, // rooted
  `http://[::1]:${port}/a`,
  `http://[::ffff:127.0.0.1]:${port}/a`, // IPv4-mapped
  `http://[::ffff:7f00:1]:${port}/a`,
  `http://[64:ff9b::7f00:1]:${port}/a`, // NAT64 of 127.0.0.1
  `http://[2002:7f00:1::]:${port}/a`, // 6to4 of 127.0.0.1
  `http://0.0.0.0:${port}/a`,
  `http://10.1.2.3:${port}/a`,
  `http://172.16.0.1:${port}/a`,
  `http://192.168.1.1:${port}/a`,
  `http://169.254.169.254/latest/meta-data/`, // cloud metadata
  `http://100.64.0.1/a`, // CGNAT
  `http://224.0.0.1/a`, // multicast
  `http://255.255.255.255/a`,
  `http://198.18.0.1/a`, // benchmarking
  `http://[fc00::1]/a`, // ULA
  `http://[fe80::1]/a`, // link-local
];

async function publish(stack, company) {
  const res = await stack.api('POST', '/v1/events', { company_sid: company, event_type: 'call.ended', payload: { n: randomHex(3) } });
  assert.equal(res.status, 202, res.text);
  return res.json.event.event_sid;
}

describe('SSRF guard on', () => {
  let stack;
  let rcv;

  before(async () => {
    stack = await startStack({ dispatchers: 1, env: { WH_ALLOW_PRIVATE_TARGETS: '0' } });
    rcv = await startReceiver();
  });

  test('the api refuses private literals in every notation, naming url', async () => {
    for (const url of literals(rcv.port)) {
      const res = await stack.api('POST', '/v1/webhooks', { webhook: { company_sid: 'CO_ssrf', url } });
      const p = assertProblem(res, [422]);
      assertNamesField(p, 'url');
      assert.match(JSON.stringify(p.errors), /refused/, `${url}: ${res.text}`);
    }
    // And on PATCH.
    const ok = await stack.api('POST', '/v1/webhooks', { webhook: { company_sid: 'CO_ssrf', url: 'https://example.com/hook' } });
    assert.equal(ok.status, 201, ok.text);
    const res = await stack.api('PATCH', `/v1/webhooks/${ok.json.webhook.sid}`, { webhook: { url: 'http://[::ffff:10.0.0.1]/x' } });
    assertNamesField(assertProblem(res, [422]), 'url');
  });

  test('a name resolving to 127.0.0.1 (localhost) is refused at connect time', async () => {
    const { webhook } = await createWebhook(stack, { company_sid: 'CO_ssrf_dns', url: `http://localhost:${rcv.port}/dns`, max_attempts: 1 });
    const sid = await publish(stack, 'CO_ssrf_dns');
    const log = await waitUntil(async () => {
      const l = await attemptLog(stack.redis, webhook.sid);
      return l.length >= 1 ? l : null;
    }, { what: 'the refused attempt in the log' });
    assert.equal(log[0].fields.event_sid, sid);
    assert.match(log[0].fields.error, /target refused: loopback/);
    assert.equal(log[0].fields.outcome, 'dead');
    await waitQueuesIdle(stack.redis);
    await sleep(200);
    assert.equal(rcv.requests.length, 0, 'nothing reached the receiver');
  });
});

describe('SSRF guard: api open, dispatcher closed (what DNS rebinding would get)', () => {
  let stack;
  let rcv;

  before(async () => {
    stack = await startStack({ dispatchers: 1, apiEnv: { WH_ALLOW_PRIVATE_TARGETS: '1' }, dispatcherEnv: { WH_ALLOW_PRIVATE_TARGETS: '0' } });
    rcv = await startReceiver();
  });

  test('every loopback notation is refused when connecting', async () => {
    // (The rooted "127.0.0.1." does not resolve for curl: nothing to refuse.)
    const urls = literals(rcv.port).filter((u) => /127|::1|2130706433|0177|0x7f|7f00|0\.0\.0\.0/.test(u) && !u.includes('127.0.0.1.:'));
    const hooks = [];
    for (const [i, url] of urls.entries()) {
      const company = `CO_rb_${i}`;
      const { webhook } = await createWebhook(stack, { company_sid: company, url, max_attempts: 1, timeout_ms: 1000 });
      hooks.push({ webhook, url, sid: await publish(stack, company) });
    }
    await waitQueuesIdle(stack.redis, { timeoutMs: 15000 });
    for (const h of hooks) {
      const log = await attemptLog(stack.redis, h.webhook.sid);
      assert.equal(log.length, 1, `${h.url}: one attempt`);
      assert.match(log[0].fields.error, /^target refused: /, `${h.url}: ${log[0].fields.error}`);
    }
    assert.equal(rcv.requests.length, 0, 'nothing reached the receiver');
  });
});

describe('SSRF guard off, and WH_ALLOW_CIDRS', () => {
  test('with WH_ALLOW_PRIVATE_TARGETS=1 the same targets are delivered to', async () => {
    const stack = await startStack({ dispatchers: 1, env: { WH_ALLOW_PRIVATE_TARGETS: '1' } });
    const rcv = await startReceiver();
    const urls = [`http://localhost:${rcv.port}/a`, `http://2130706433:${rcv.port}/a`, `http://0177.0.0.1:${rcv.port}/a`, `http://0x7f.0.0.1:${rcv.port}/a`, `http://127.1:${rcv.port}/a`];
    const sids = [];
    for (const [i, url] of urls.entries()) {
      const { keys } = await createWebhook(stack, { company_sid: `CO_open_${i}`, url });
      sids.push({ keys, sid: await publish(stack, `CO_open_${i}`) });
    }
    await rcv.waitFor(urls.length);
    for (const { keys, sid } of sids) {
      const req = rcv.requests.find((r) => r.headers['webhook-id'] === sid);
      assert.ok(req, `${sid} delivered`);
      checkSigned(req, keys, sid, 'guard off');
    }
  });

  test('WH_ALLOW_CIDRS opens exactly the listed ranges', async () => {
    const stack = await startStack({ dispatchers: 1, env: { WH_ALLOW_PRIVATE_TARGETS: '0', WH_ALLOW_CIDRS: '127.0.0.0/8, 10.9.0.0/16' } });
    const rcv = await startReceiver();
    const { webhook, keys } = await createWebhook(stack, { company_sid: 'CO_cidr', url: `http://127.0.0.1:${rcv.port}/in` });
    const sid = await publish(stack, 'CO_cidr');
    await rcv.waitFor(1);
    checkSigned(rcv.requests[0], keys, sid, 'allowed range');
    assert.equal(webhook.url, `http://127.0.0.1:${rcv.port}/in`);
    // Outside the list: still refused, at creation.
    for (const url of ['http://10.8.0.1/x', 'http://192.168.0.1/x', 'http://[::1]/x']) {
      const res = await stack.api('POST', '/v1/webhooks', { webhook: { company_sid: 'CO_cidr', url } });
      assertNamesField(assertProblem(res, [422]), 'url');
    }
    const inside = await stack.api('POST', '/v1/webhooks', { webhook: { company_sid: 'CO_cidr', url: 'http://10.9.3.4/x' } });
    assert.equal(inside.status, 201, inside.text);
  });

  test('a bad WH_ALLOW_CIDRS stops the program with one line naming it', async () => {
    const { runToExit, BIN } = await import('./lib/harness.js');
    const r = await runToExit(BIN.dispatcher, { env: { WH_ALLOW_CIDRS: '10.0.0.0/33', WH_REDIS_URL: 'redis://127.0.0.1:1' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /WH_ALLOW_CIDRS/);
  });
});

describe('redirects are not followed', () => {
  test('a 302 is a failed attempt; the Location target is never called', async () => {
    const stack = await startStack({ dispatchers: 1 });
    const target = await startReceiver();
    const rcv = await startReceiver({ status: 302, headers: { location: target.url('/stolen') } });
    const { webhook } = await createWebhook(stack, { company_sid: 'CO_redir', url: rcv.url('/r'), max_attempts: 1 });
    await publish(stack, 'CO_redir');
    await rcv.waitFor(1);
    await waitQueuesIdle(stack.redis);
    const log = await attemptLog(stack.redis, webhook.sid);
    assert.equal(log[0].fields.status, '302');
    assert.equal(log[0].fields.outcome, 'dead');
    await sleep(200);
    assert.equal(target.requests.length, 0, 'the redirect target was not called');
  });
});
