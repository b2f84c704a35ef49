// Clock-skew evidence (issue 24): each attempt keeps the receiver's Date
// header and the skew it implies (receiver_date, clock_skew_ms in the
// attempt log and the API), and a 401/403 from a receiver whose clock is
// surely more than 500 ms off says so in the attempt's error. Date has
// one-second resolution, so the receivers here are 5 s off (clearly
// beyond it) or on time.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { attemptLog, createWebhook, startStack, useHarness, waitUntil } from './lib/harness.js';

useHarness();

// Answers status with a Date offset_ms from the real time (none: no Date).
function receiver() {
  const server = http.createServer((req, res) => {
    const [, status, offset] = req.url.split('/');
    req.resume();
    req.on('end', () => {
      if (offset === 'none') res.sendDate = false;
      else res.setHeader('Date', new Date(Date.now() + Number(offset)).toUTCString());
      res.writeHead(Number(status));
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port })));
}

let rcv;
let stack;

before(async () => {
  rcv = await receiver();
  stack = await startStack({ dispatchers: 1 });
});

after(() => {
  rcv?.server.closeAllConnections();
  rcv?.server.close();
});

async function attemptTo(path) {
  const co = `CO_clk${Math.random().toString(36).slice(2, 7)}`;
  const { webhook } = await createWebhook(stack, { company_sid: co, url: `http://127.0.0.1:${rcv.port}/${path}`, max_attempts: 1 });
  const res = await stack.api('POST', '/v1/events', { company_sid: co, event_type: 'call.ended', payload: {} });
  assert.equal(res.status, 202, res.text);
  const [line] = await waitUntil(async () => {
    const l = await attemptLog(stack.redis, webhook.sid);
    return l.length ? l : null;
  }, { timeoutMs: 15000, what: `the attempt to /${path}` });
  const api = await stack.api('GET', `/v1/webhooks/${webhook.sid}/attempts`);
  assert.equal(api.status, 200, api.text);
  return { line: line.fields, shown: api.json.attempts[0] };
}

describe('clock skew evidence', () => {
  test('a 401 from a receiver 5 s ahead says its clock is off; the skew is kept', async () => {
    const { line, shown } = await attemptTo('401/5000');
    assert.match(line.error, /^HTTP 401; the receiver's clock is \d+ ms ahead of ours/);
    const skew = Number(line.clock_skew_ms);
    assert.ok(skew > 3500 && skew < 6500, `skew ${skew}`);
    assert.equal(shown.clock_skew_ms, skew);
    assert.equal(shown.receiver_date, line.receiver_date);
    assert.match(shown.receiver_date, /GMT$/);
  });

  test('a 403 from a receiver 5 s behind says so too', async () => {
    const { line } = await attemptTo('403/-5000');
    assert.match(line.error, /^HTTP 403; the receiver's clock is \d+ ms behind ours/);
    assert.ok(Number(line.clock_skew_ms) < -3500);
  });

  test('on time: a plain HTTP 401; a 500 from a skewed receiver is not blamed on the clock; no Date, no evidence', async () => {
    const onTime = await attemptTo('401/0');
    assert.equal(onTime.line.error, 'HTTP 401');
    assert.ok(Math.abs(Number(onTime.line.clock_skew_ms)) <= 1500, onTime.line.clock_skew_ms);
    const other = await attemptTo('500/5000');
    assert.equal(other.line.error, 'HTTP 500');
    const none = await attemptTo('401/none');
    assert.equal(none.line.error, 'HTTP 401');
    assert.equal(none.line.receiver_date, undefined);
    assert.equal(none.shown.receiver_date, null);
    assert.equal(none.shown.clock_skew_ms, null);
  });
});
