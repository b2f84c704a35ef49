// Acceptance tests of the delivery engine (issue 5), one delivery at a time:
// retry with backoff until success, exhaustion into the dead letters,
// Retry-After within [scheduled, 2 x scheduled], timeouts, connection
// refused and reset, a disabled webhook parked, rotation with two keys.
// Every attempt is checked the way a customer checks it (Streem-Sent-At
// within 500 ms of arrival, both signature schemes) and every outcome in
// the attempt log wh:attempts:<webhook_sid>.
//
// Timing model (docs/operations.md: WH_RETRY_SCALE multiplies the backoff): with
// WH_RETRY_SCALE=0.001 the first gaps are 5 ms and 300 ms (+-20% jitter),
// plus up to one 100 ms period of the Lua mover and the read loop.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { Webhook } from 'standardwebhooks';
import {
  attemptLog,
  createWebhook,
  deadLetters,
  freePort,
  publishEvents,
  queueState,
  randomHex,
  sleep,
  startReceiver,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
} from './lib/harness.js';
import { headerValue, signStreem, verifyStreem } from './lib/streem.js';
import { RFC3339_MS_Z, checkSigned } from './lib/checks.js';

useHarness();

// Up to one mover period (100 ms) plus the read loop and a loaded CI box.
const MOVER_MS = 100;
const SLACK_MS = 150;

const newEventSid = (tag) => `evt_${tag}_${randomHex(8)}`;

function event(company, eventSid, payload = `{"call_sid":"CA_${randomHex(4)}"}`) {
  return { company_sid: company, event_type: 'call.ended', payload, event_sid: eventSid };
}

function assertAttempt(entry, want, where) {
  const f = entry.fields;
  assert.equal(f.event_sid, want.eventSid, `${where}: event_sid`);
  assert.equal(f.attempt, String(want.attempt), `${where}: attempt`);
  assert.equal(f.outcome, want.outcome, `${where}: outcome (${JSON.stringify(f)})`);
  if (want.status !== undefined) assert.equal(f.status, String(want.status), `${where}: status`);
  if (want.error instanceof RegExp) assert.match(f.error ?? '', want.error, `${where}: error`);
  else if (want.error !== undefined) assert.equal(f.error ?? '', want.error, `${where}: error`);
  assert.match(f.latency_ms ?? '', /^\d+$/, `${where}: latency_ms is a number of ms`);
  assert.match(f.at ?? '', RFC3339_MS_Z, `${where}: at`);
  assert.ok(Math.abs(Date.parse(f.at) - Date.now()) < 60000, `${where}: at is recent: ${f.at}`);
  assert.ok('answer' in f, `${where}: has an answer field`);
  if (want.answer !== undefined) assert.equal(f.answer, want.answer, `${where}: answer`);
}

async function waitAttempts(redis, sid, n, timeoutMs = 10000) {
  return waitUntil(
    async () => {
      const log = await attemptLog(redis, sid);
      return log.length >= n ? log : null;
    },
    { timeoutMs, what: `${n} entries in the attempt log of ${sid}` },
  );
}

async function waitDead(redis, eventSid, timeoutMs = 10000) {
  return waitUntil(
    async () => {
      const d = await deadLetters(redis, { eventSid });
      return d.length ? d : null;
    },
    { timeoutMs, what: `a dead letter for ${eventSid}` },
  );
}

// ---------------------------------------------------------------------------

describe('delivery: retries, dead letters, failures (WH_RETRY_SCALE=0.001)', () => {
  let stack;

  before(async () => {
    stack = await startStack({ dispatchers: 1, env: { WH_RETRY_SCALE: '0.001' } });
  });

  test('fails twice (500) then 2xx: 3 attempts, same webhook-id, re-signed, growing gaps, logged', async () => {
    const company = 'CO_retry1';
    const big = 'x'.repeat(3000);
    const rcv = await startReceiver({
      respond: (r) => (r.index < 2 ? { status: 500, body: `fail-${r.index + 1}` } : { status: 200, body: big }),
    });
    const { webhook, keys } = await createWebhook(stack, {
      company_sid: company,
      label: 'retry',
      url: rcv.url('/retry'),
      headers: [{ name: 'X-Tenant', value: 'acme', include_in_request_signature: true }],
    });
    const eventSid = newEventSid('retry');
    await publishEvents(stack.redis, [event(company, eventSid)]);

    const reqs = await rcv.waitFor(3, 10000);
    const log = await waitAttempts(stack.redis, webhook.sid, 3);
    // The success scheduled nothing more.
    const q = await queueState(stack.redis);
    assert.equal(q.retry, 0, `nothing scheduled after the success: ${JSON.stringify(q)}`);

    assert.equal(reqs.length, 3, 'exactly 3 attempts');
    const bodies = reqs.map((r, i) => checkSigned(r, keys, eventSid, `attempt ${i + 1}`));
    assert.equal(reqs[0].headers['streem-signature-headers'], 'Streem-Sent-At:X-Tenant');

    // Re-signed at each sending: a fresh sent_at each time, matching the gaps.
    const sent = bodies.map((b) => Date.parse(b.sent_at));
    const recv = reqs.map((r) => r.receivedAt);
    const gaps = [recv[1] - recv[0], recv[2] - recv[1]];
    for (let i = 1; i < 3; i++) {
      assert.ok(sent[i] > sent[i - 1], `sent_at of attempt ${i + 1} (${bodies[i].sent_at}) after attempt ${i}'s (${bodies[i - 1].sent_at})`);
      assert.ok(
        Math.abs(sent[i] - sent[i - 1] - (recv[i] - recv[i - 1])) <= 100,
        `sent_at moved with the attempt: delta sent ${sent[i] - sent[i - 1]} ms vs delta arrival ${recv[i] - recv[i - 1]} ms`,
      );
      assert.notEqual(reqs[i].headers['streem-signature'], reqs[i - 1].headers['streem-signature'], 'a new signature');
    }
    // 5 s and 5 min scaled by 0.001, +-20%, plus the mover period.
    assert.ok(gaps[0] >= 4 && gaps[0] <= 6 + MOVER_MS + SLACK_MS, `first gap ${gaps[0]} ms within [4, ${6 + MOVER_MS + SLACK_MS}] (5 ms +-20% + mover)`);
    assert.ok(gaps[1] >= 240 && gaps[1] <= 360 + MOVER_MS + SLACK_MS, `second gap ${gaps[1]} ms within [240, ${360 + MOVER_MS + SLACK_MS}] (300 ms +-20% + mover)`);
    assert.ok(gaps[1] > gaps[0], `gaps increase: ${gaps}`);

    assert.equal(log.length, 3, `3 attempt log entries: ${JSON.stringify(log)}`);
    assertAttempt(log[0], { eventSid, attempt: 1, outcome: 'retrying', status: 500, error: /\S/, answer: 'fail-1' }, 'log 1');
    assertAttempt(log[1], { eventSid, attempt: 2, outcome: 'retrying', status: 500, error: /\S/, answer: 'fail-2' }, 'log 2');
    assertAttempt(log[2], { eventSid, attempt: 3, outcome: 'succeeded', status: 200, error: '', answer: big.slice(0, 1024) }, 'log 3');
    for (const [i, e] of log.entries()) {
      const at = Date.parse(e.fields.at);
      assert.ok(at >= recv[i] - 50 && at <= recv[i] + 2000, `log ${i + 1}: at ${e.fields.at} is when attempt ${i + 1} ended`);
      assert.ok(Number(e.fields.latency_ms) < 1000, `log ${i + 1}: latency ${e.fields.latency_ms} ms of a receiver that answers at once`);
    }

    await waitQueuesIdle(stack.redis);
    await sleep(300);
    assert.equal(rcv.requests.length, 3, 'no 4th attempt');
  });

  test('max_attempts 2, always 500: 2 attempts, then a dead letter with the history', async () => {
    const company = 'CO_retry2';
    const rcv = await startReceiver({ status: 500, body: 'boom' });
    const { webhook, keys } = await createWebhook(stack, { company_sid: company, label: 'dead', url: rcv.url('/dead'), max_attempts: 2 });
    const eventSid = newEventSid('dead');
    const payload = '{"call_sid":"CA_dead","n":12345678901234567890}';
    await publishEvents(stack.redis, [{ company_sid: company, event_type: 'call.ended', payload, event_sid: eventSid }]);

    const reqs = await rcv.waitFor(2, 10000);
    const [dead] = await waitDead(stack.redis, eventSid);
    reqs.forEach((r, i) => checkSigned(r, keys, eventSid, `attempt ${i + 1}`));

    const f = dead.fields;
    for (const name of ['reason', 'event_sid', 'webhook_sid', 'company_sid', 'event_type', 'attempts', 'last_status', 'last_error', 'first_attempt_at', 'dead_at', 'payload', 'task']) {
      assert.ok(name in f, `dead letter has ${name}: ${JSON.stringify(Object.keys(f))}`);
    }
    assert.match(f.reason, /\S/, 'a reason');
    assert.doesNotMatch(f.reason, /disabled/, `reason is exhaustion, not ${f.reason}`);
    assert.equal(f.event_sid, eventSid);
    assert.equal(f.webhook_sid, webhook.sid);
    assert.equal(f.company_sid, company);
    assert.equal(f.event_type, 'call.ended');
    assert.equal(f.attempts, '2');
    assert.equal(f.last_status, '500');
    assert.match(f.last_error, /\S/, 'last_error says what failed');
    assert.equal(f.payload, payload, 'payload byte for byte');
    assert.ok(f.task.length > 0, 'the task is kept (for replay)');
    assert.match(f.first_attempt_at, RFC3339_MS_Z);
    assert.match(f.dead_at, RFC3339_MS_Z);
    const first = Date.parse(f.first_attempt_at);
    const deadAt = Date.parse(f.dead_at);
    assert.ok(Math.abs(first - reqs[0].receivedAt) <= 500, `first_attempt_at ${f.first_attempt_at} is the first attempt's time`);
    assert.ok(deadAt >= reqs[1].receivedAt - 50 && deadAt - reqs[1].receivedAt <= 2000, `dead_at ${f.dead_at} is after the last attempt`);

    const log = await waitAttempts(stack.redis, webhook.sid, 2);
    assert.equal(log.length, 2, 'two attempts logged');
    assertAttempt(log[0], { eventSid, attempt: 1, outcome: 'retrying', status: 500, answer: 'boom' }, 'log 1');
    assertAttempt(log[1], { eventSid, attempt: 2, outcome: 'dead', status: 500, answer: 'boom' }, 'log 2');

    await waitQueuesIdle(stack.redis);
    await sleep(500); // a third attempt would be due ~300 ms after the second
    assert.equal(rcv.requests.length, 2, 'no third attempt');
    assert.equal((await deadLetters(stack.redis, { eventSid })).length, 1, 'one dead letter');
  });

  test('a disabled webhook: the delivery is parked in the dead letters, never sent', async () => {
    const company = 'CO_retry3';
    const rcv = await startReceiver();
    const { webhook } = await createWebhook(stack, { company_sid: company, label: 'off', url: rcv.url('/off'), enabled: false });
    assert.equal(webhook.enabled, false);
    const eventSid = newEventSid('off');
    await publishEvents(stack.redis, [event(company, eventSid)]);
    const [dead] = await waitDead(stack.redis, eventSid);
    assert.equal(dead.fields.reason, 'webhook disabled');
    assert.equal(dead.fields.webhook_sid, webhook.sid);
    await waitQueuesIdle(stack.redis);
    assert.equal(rcv.requests.length, 0, 'nothing sent to a disabled webhook');
  });

  test('a receiver that never answers: timeout_ms 200 ends each attempt after ~200 ms, retried, then dead', async () => {
    const company = 'CO_retry4';
    const rcv = await startReceiver({ delayMs: 600000 });
    const { webhook, keys } = await createWebhook(stack, { company_sid: company, label: 'slow', url: rcv.url('/slow'), timeout_ms: 200, max_attempts: 2 });
    const eventSid = newEventSid('tmo');
    await publishEvents(stack.redis, [event(company, eventSid)]);

    const [dead] = await waitDead(stack.redis, eventSid, 10000);
    assert.equal(rcv.requests.length, 2, 'the timed-out attempt was retried once (max_attempts 2)');
    rcv.requests.forEach((r, i) => checkSigned(r, keys, eventSid, `attempt ${i + 1}`));
    const log = await waitAttempts(stack.redis, webhook.sid, 2);
    for (const [i, e] of log.entries()) {
      assertAttempt(e, { eventSid, attempt: i + 1, outcome: i === 0 ? 'retrying' : 'dead', status: 0, error: /time/i }, `log ${i + 1}`);
      const ms = Number(e.fields.latency_ms);
      assert.ok(ms >= 190 && ms <= 200 + 400, `log ${i + 1}: latency ${ms} ms is about timeout_ms 200`);
    }
    const gap = rcv.requests[1].receivedAt - rcv.requests[0].receivedAt;
    assert.ok(gap >= 200 && gap <= 200 + 6 + MOVER_MS + SLACK_MS + 200, `the retry came after the timeout plus the backoff: ${gap} ms`);
    assert.match(dead.fields.last_error, /time/i, 'dead letter says it timed out');
    assert.equal(dead.fields.last_status, '0');
    await waitQueuesIdle(stack.redis);
  });

  test('connection refused: retried until max_attempts, each failure logged', async () => {
    const company = 'CO_retry5';
    const port = await freePort(); // nothing listens there
    const { webhook } = await createWebhook(stack, { company_sid: company, label: 'closed', url: `http://127.0.0.1:${port}/x`, max_attempts: 3 });
    const eventSid = newEventSid('refused');
    await publishEvents(stack.redis, [event(company, eventSid)]);
    const [dead] = await waitDead(stack.redis, eventSid, 10000);
    const log = await waitAttempts(stack.redis, webhook.sid, 3);
    assert.equal(log.length, 3, `three attempts: ${JSON.stringify(log.map((e) => e.fields))}`);
    log.forEach((e, i) =>
      assertAttempt(e, { eventSid, attempt: i + 1, outcome: i < 2 ? 'retrying' : 'dead', status: 0, error: /refused|connect/i }, `log ${i + 1}`),
    );
    assert.equal(dead.fields.attempts, '3');
    assert.match(dead.fields.last_error, /refused|connect/i);
    await waitQueuesIdle(stack.redis);
  });

  test('connection refused, then the receiver comes up: a later attempt succeeds', async () => {
    const company = 'CO_retry6';
    const port = await freePort();
    const got = [];
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        got.push({ headers: req.headers, body: Buffer.concat(chunks), receivedAt: Date.now() });
        res.writeHead(204).end();
      });
    });
    try {
      const { webhook, keys } = await createWebhook(stack, { company_sid: company, label: 'late', url: `http://127.0.0.1:${port}/late`, max_attempts: 6 });
      const eventSid = newEventSid('late');
      await publishEvents(stack.redis, [event(company, eventSid)]);
      await waitAttempts(stack.redis, webhook.sid, 1);
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
      const log = await waitUntil(
        async () => {
          const l = await attemptLog(stack.redis, webhook.sid);
          return l.some((e) => e.fields.outcome !== 'retrying') ? l : null;
        },
        { timeoutMs: 10000, what: 'the attempt that succeeds' },
      );
      const last = log[log.length - 1];
      assert.ok(log.length >= 2, 'at least one refused attempt before');
      assertAttempt(log[0], { eventSid, attempt: 1, outcome: 'retrying', status: 0, error: /refused|connect/i }, 'log 1');
      log.slice(0, -1).forEach((e, i) => assertAttempt(e, { eventSid, attempt: i + 1, outcome: 'retrying', status: 0 }, `log ${i + 1}`));
      assertAttempt(last, { eventSid, attempt: log.length, outcome: 'succeeded', status: 204, error: '' }, 'last log');
      assert.equal(got.length, 1, 'the receiver got it once');
      checkSigned({ ...got[0], text: got[0].body.toString('utf8') }, keys, eventSid, 'late delivery');
      await waitQueuesIdle(stack.redis);
    } finally {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('connection reset twice, then answered: retried, 3 attempts', async () => {
    const company = 'CO_retry7';
    let connections = 0;
    const answered = [];
    const sockets = new Set();
    // A bare TCP server: the first two connections are reset (RST) as soon
    // as the request arrives, later ones get a minimal HTTP 200.
    const server = net.createServer((sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => {});
      const n = ++connections;
      let buf = Buffer.alloc(0);
      sock.on('data', (chunk) => {
        if (n <= 2) {
          sock.resetAndDestroy();
          return;
        }
        buf = Buffer.concat([buf, chunk]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] || 0);
        if (buf.length < end + 4 + len) return;
        answered.push({ head, body: buf.subarray(end + 4, end + 4 + len) });
        buf = buf.subarray(end + 4 + len);
        sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok');
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { webhook } = await createWebhook(stack, {
        company_sid: company,
        label: 'reset',
        url: `http://127.0.0.1:${server.address().port}/reset`,
        max_attempts: 5,
      });
      const eventSid = newEventSid('reset');
      await publishEvents(stack.redis, [event(company, eventSid)]);
      const log = await waitUntil(
        async () => {
          const l = await attemptLog(stack.redis, webhook.sid);
          return l.some((e) => e.fields.outcome !== 'retrying') ? l : null;
        },
        { timeoutMs: 10000, what: 'the attempt that succeeds or dies' },
      );
      assert.equal(log.length, 3, `3 attempts: ${JSON.stringify(log.map((e) => e.fields))}`);
      assertAttempt(log[0], { eventSid, attempt: 1, outcome: 'retrying', status: 0, error: /reset|recv|send|empty reply/i }, 'log 1');
      assertAttempt(log[1], { eventSid, attempt: 2, outcome: 'retrying', status: 0, error: /reset|recv|send|empty reply/i }, 'log 2');
      assertAttempt(log[2], { eventSid, attempt: 3, outcome: 'succeeded', status: 200, error: '', answer: 'ok' }, 'log 3');
      assert.equal(answered.length, 1, 'one answered request');
      assert.match(answered[0].head, new RegExp(`\\r\\nwebhook-id: ${eventSid}\\r\\n`, 'i'), 'same webhook-id on the retry');
      await waitQueuesIdle(stack.redis);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('rotation: two keys -> two signatures in each scheme, each verified by its own key', async (t) => {
    const company = 'CO_retry8';
    const rcv = await startReceiver({ respond: (r) => (r.index === 0 ? { status: 500 } : { status: 200 }) });
    const { webhook } = await createWebhook(stack, { company_sid: company, label: 'rotate', url: rcv.url('/rotate') });

    // POST .../signing-keys comes with issue 3; until it exists, skip.
    let res = await stack.api('POST', `/v1/webhooks/${webhook.sid}/signing-keys`, { signing_key: { label: 'next' } });
    if (res.status === 400 || res.status === 422) {
      res = await stack.api('POST', `/v1/webhooks/${webhook.sid}/signing-keys`, { label: 'next' });
    }
    if (res.status === 404 || res.status === 405) {
      t.skip('needs signing-key creation (issue 3)');
      return;
    }
    assert.ok(res.status === 201 || res.status === 200, `key created: ${res.status} ${res.text}`);
    const k = await stack.api('GET', `/v1/webhooks/${webhook.sid}/signing-keys`);
    const keys = k.json?.signing_keys || [];
    assert.equal(keys.length, 2, `two keys: ${k.text}`);

    const eventSid = newEventSid('rot');
    await publishEvents(stack.redis, [event(company, eventSid)]);
    const reqs = await rcv.waitFor(2, 10000); // a first attempt and its retry
    for (const [i, req] of reqs.entries()) {
      const where = `attempt ${i + 1}`;
      checkSigned(req, keys, eventSid, where);
      const h = req.headers;
      const streemSigs = headerValue(h, 'Streem-Signature').split(',');
      const v1Sigs = headerValue(h, 'webhook-signature').split(' ');
      assert.equal(streemSigs.length, 2, `${where}: two Streem signatures`);
      assert.equal(v1Sigs.length, 2, `${where}: two v1 signatures`);
      const names = headerValue(h, 'Streem-Signature-Headers').split(':');
      const pairs = names.map((n) => [n, headerValue(h, n)]);
      const ts = h['webhook-timestamp'];
      for (const key of keys) {
        const v = verifyStreem({ headers: h, body: req.body, secrets: [key.shared_secret], now: req.receivedAt });
        assert.ok(v.ok, `${where}: Streem signature of ${key.sid} alone: ${v.reason}`);
        assert.doesNotThrow(() => new Webhook(key.standard_webhooks_secret).verify(req.body, h), `${where}: v1 of ${key.sid}`);
        // Each key's signature is exactly one of the entries.
        const hex = signStreem(key.shared_secret, pairs, req.body);
        assert.equal(streemSigs.filter((s) => s === hex).length, 1, `${where}: one Streem entry is ${key.sid}'s`);
        const mac = crypto
          .createHmac('sha256', Buffer.from(key.shared_secret, 'utf8'))
          .update(Buffer.concat([Buffer.from(`${eventSid}.${ts}.`), req.body]))
          .digest('base64');
        assert.equal(v1Sigs.filter((s) => s === `v1,${mac}`).length, 1, `${where}: one v1 entry is ${key.sid}'s`);
      }
    }
    await waitQueuesIdle(stack.redis);
  });
});

// ---------------------------------------------------------------------------

// Retry-After on 429/503 is honoured within [scheduled, 2 x scheduled].
// WH_RETRY_SCALE=0.08 makes the first backoff 400 ms +-20% (320-480 ms), so
// 2 x scheduled is 640-960 ms, always under the 1 s asked for: an honoured
// "Retry-After: 1" gives a gap of at least 640 ms, an ignored one at most
// ~480 ms + mover; "Retry-After: 3600" must be clamped to <= 960 ms. A 500
// with Retry-After is an ordinary failure (the header only counts on 429
// and 503).
describe('delivery: Retry-After (WH_RETRY_SCALE=0.08)', () => {
  let stack;

  before(async () => {
    stack = await startStack({ dispatchers: 1, env: { WH_RETRY_SCALE: '0.08' } });
  });

  test('honoured on 429/503 within [scheduled, 2 x scheduled], ignored on 500', async () => {
    const company = 'CO_retryafter';
    const httpDate = () => new Date(Date.now() + 2000).toUTCString(); // IMF-fixdate
    const cases = {
      a: { n: 4, status: 503, retryAfter: () => '1' },
      b: { n: 2, status: 429, retryAfter: () => '3600' },
      c: { n: 2, status: 503, retryAfter: httpDate },
      d: { n: 4, status: 500, retryAfter: () => '1' },
    };
    const seen = new Map(); // event_sid -> attempts so far
    const rcv = await startReceiver({
      respond: (r) => {
        const id = r.headers['webhook-id'];
        const n = (seen.get(id) || 0) + 1;
        seen.set(id, n);
        const c = cases[/^evt_ra([a-d])_/.exec(id)?.[1]];
        if (!c || n > 1) return { status: 200 };
        return { status: c.status, headers: { 'retry-after': c.retryAfter() } };
      },
    });
    const { keys } = await createWebhook(stack, { company_sid: company, label: 'ra', url: rcv.url('/ra') });
    const events = [];
    for (const [name, c] of Object.entries(cases)) {
      for (let i = 0; i < c.n; i++) events.push(event(company, `evt_ra${name}_${i}_${randomHex(4)}`));
    }
    await publishEvents(stack.redis, events);
    await rcv.waitFor(events.length * 2, 15000);
    await waitQueuesIdle(stack.redis);

    const gaps = { a: [], b: [], c: [], d: [] };
    for (const e of events) {
      const reqs = rcv.requests.filter((r) => r.headers['webhook-id'] === e.event_sid);
      assert.equal(reqs.length, 2, `${e.event_sid}: two attempts`);
      reqs.forEach((r, i) => checkSigned(r, keys, e.event_sid, `${e.event_sid} attempt ${i + 1}`));
      gaps[/^evt_ra([a-d])_/.exec(e.event_sid)[1]].push(reqs[1].receivedAt - reqs[0].receivedAt);
    }
    diag(gaps);
    const upper = 960 + MOVER_MS + 400;
    for (const g of gaps.a) assert.ok(g >= 638 && g <= upper, `503 + Retry-After: 1 -> gap ${g} ms in [640, ${upper}] (clamped to 2 x scheduled)`);
    for (const g of gaps.b) assert.ok(g >= 638 && g <= upper, `429 + Retry-After: 3600 -> gap ${g} ms clamped to 2 x scheduled (<= 960 ms + mover)`);
    for (const g of gaps.c) assert.ok(g >= 638 && g <= upper, `503 + Retry-After: <HTTP-date in 1-2 s> -> gap ${g} ms in [640, ${upper}]`);
    for (const g of gaps.d) assert.ok(g >= 318 && g <= 480 + MOVER_MS + 400, `500 + Retry-After -> ordinary backoff: gap ${g} ms in [320, ${480 + MOVER_MS + 400}]`);
    const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(mean(gaps.d) < 0.8 * mean(gaps.a), `Retry-After ignored on 500: mean gap ${mean(gaps.d)} ms vs ${mean(gaps.a)} ms honoured on 503`);
  });
});

function diag(gaps) {
  if (process.env.E2E_VERBOSE === '1') process.stderr.write(`retry-after gaps (ms): ${JSON.stringify(gaps)}\n`);
}
